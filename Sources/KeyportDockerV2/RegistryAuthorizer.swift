import KeyportAuth
import KeyportModel
import KeyportStore

/// Decides what a user may do with the resources it asked for: the intersection of the
/// request with the grants of the client's roles among the user's effective roles.
/// Denial is a value (an entry with fewer or no actions), never an error.
public struct RegistryAuthorizer: Sendable {
    let roles: EffectiveRolesCache
    let onInvalidGrant: @Sendable (String) -> Void

    public init(store: any IdentityStore, onInvalidGrant: @escaping @Sendable (String) -> Void = { _ in }) {
        self.init(roles: EffectiveRolesCache(store: store), onInvalidGrant: onInvalidGrant)
    }

    /// With a shared cache of effective roles (checked against the realm's authorization version at each request).
    public init(roles: EffectiveRolesCache, onInvalidGrant: @escaping @Sendable (String) -> Void = { _ in }) {
        self.roles = roles
        self.onInvalidGrant = onInvalidGrant
    }

    public struct Decision: Sendable, Equatable {
        public let access: [ResourceScope]
        /// The client roles that carried the grants considered (for `kpadm docker access` and events).
        public let roles: [String]
        public let grants: [String]
        /// The grants that allowed at least one requested action.
        public let matched: [String]
    }

    /// What `user` (nil: an anonymous request) may do with `requested`: the grants of its client
    /// roles plus the client's anonymous grants, and — for a personal access token that carries
    /// grants (`limitedTo`) — no more than those.
    /// `authorizationVersion`: the realm's, when this request has read it already.
    public func decide(realm: Realm, client: Client, user: User?, requested: [ResourceScope],
                       limitedTo tokenGrants: [RegistryGrant]? = nil, authorizationVersion: Int64? = nil) async throws -> Decision {
        let settings = DockerClientSettings(client)
        let username = user?.username ?? ""
        var decision: Decision
        switch settings.authorization {
        case .allowAll where user != nil:
            decision = Decision(access: requested, roles: [], grants: ["allow-all"], matched: requested.isEmpty ? [] : ["allow-all"])
        case .allowAll, .roles:
            var roleNames: [String] = []
            var grants: [RegistryGrant] = []
            if let user {
                let effective = if let authorizationVersion {
                    try await self.roles.roles(userId: user.id, realmId: realm.id, version: authorizationVersion)
                } else {
                    try await self.roles.roles(userId: user.id, realmId: realm.id)
                }
                let roles = effective.filter { $0.clientId == client.id }
                roleNames = roles.map(\.name).sorted()
                for role in roles {
                    for text in role.attributes[RegistryGrant.attribute] ?? [] {
                        do { grants.append(try RegistryGrant(parsing: text)) } catch { onInvalidGrant(error.description) }
                    }
                }
            }
            // What anyone may do, everyone may do.
            grants += settings.anonymousGrants
            let matched = grants.filter { grant in
                requested.contains { resource in resource.actions.contains { grant.allows($0, on: resource, username: username) } }
            }
            decision = Decision(access: Self.intersect(requested, grants: grants, username: username),
                                roles: roleNames, grants: grants.map(\.description), matched: matched.map(\.description))
        }
        if let tokenGrants {
            decision = Decision(access: Self.intersect(decision.access, grants: tokenGrants, username: username),
                                roles: decision.roles, grants: decision.grants, matched: decision.matched)
        }
        return decision
    }

    /// Each requested resource keeps the requested actions some grant allows, in request order.
    public static func intersect(_ requested: [ResourceScope], grants: [RegistryGrant], username: String) -> [ResourceScope] {
        requested.map { resource in
            let allowed = resource.actions.filter { action in grants.contains { $0.allows(action, on: resource, username: username) } }
            return ResourceScope(type: resource.type, name: resource.name, actions: allowed)
        }
    }
}
