import KeyportAuth
import KeyportModel
import KeyportStore

/// Decides what a user may do with the resources it asked for: the intersection of the
/// request with the grants of the client's roles among the user's effective roles.
/// Denial is a value (an entry with fewer or no actions), never an error.
public struct RegistryAuthorizer: Sendable {
    let roles: EffectiveRolesCache
    let onInvalidGrant: @Sendable (String) -> Void
    /// A user's parsed grants on one client, kept while the realm's authorization version stays
    /// where it was when they were parsed (any role, mapping, group or composite change moves it).
    let parsed: BoundedCache<GrantsKey, UserGrants>

    struct GrantsKey: Hashable, Sendable { let realmId: String; let userId: String; let clientId: String }
    struct UserGrants: Sendable {
        let version: Int64
        let roleNames: [String]
        let grants: [RegistryGrant]
    }

    public init(store: any IdentityStore, onInvalidGrant: @escaping @Sendable (String) -> Void = { _ in }) {
        self.init(roles: EffectiveRolesCache(store: store), onInvalidGrant: onInvalidGrant)
    }

    /// With a shared cache of effective roles (checked against the realm's authorization version at each request).
    public init(roles: EffectiveRolesCache, onInvalidGrant: @escaping @Sendable (String) -> Void = { _ in }) {
        self.roles = roles
        self.onInvalidGrant = onInvalidGrant
        self.parsed = BoundedCache(capacity: roles.capacity)
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
    /// `settings`: the client's, when this request has parsed them already.
    public func decide(realm: Realm, client: Client, user: User?, requested: [ResourceScope],
                       limitedTo tokenGrants: [RegistryGrant]? = nil, authorizationVersion: Int64? = nil,
                       settings: DockerClientSettings? = nil) async throws -> Decision {
        let settings = settings ?? DockerClientSettings(client)
        let username = user?.username ?? ""
        var decision: Decision
        switch settings.authorization {
        case .allowAll where user != nil:
            decision = Decision(access: requested, roles: [], grants: ["allow-all"], matched: requested.isEmpty ? [] : ["allow-all"])
        case .allowAll, .roles:
            var roleNames: [String] = []
            var grants: [RegistryGrant] = []
            if let user {
                let userGrants = try await self.grants(of: user, on: client, in: realm, version: authorizationVersion)
                roleNames = userGrants.roleNames
                grants = userGrants.grants
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

    /// The grants of `user`'s effective roles of `client`, parsed once per authorization version.
    func grants(of user: User, on client: Client, in realm: Realm, version: Int64?) async throws -> UserGrants {
        let key = GrantsKey(realmId: realm.id, userId: user.id, clientId: client.id)
        if let version, let hit = parsed[key], hit.version == version { return hit }
        let effective = if let version {
            try await roles.roles(userId: user.id, realmId: realm.id, version: version)
        } else {
            try await roles.roles(userId: user.id, realmId: realm.id)
        }
        let clientRoles = effective.filter { $0.clientId == client.id }
        var grants: [RegistryGrant] = []
        for role in clientRoles {
            for text in role.attributes[RegistryGrant.attribute] ?? [] {
                do { grants.append(try RegistryGrant(parsing: text)) } catch { onInvalidGrant(error.description) }
            }
        }
        let result = UserGrants(version: version ?? -1, roleNames: clientRoles.map(\.name).sorted(), grants: grants)
        if let version { parsed.set(result, for: key) }
        return result
    }

    /// Each requested resource keeps the requested actions some grant allows, in request order.
    public static func intersect(_ requested: [ResourceScope], grants: [RegistryGrant], username: String) -> [ResourceScope] {
        requested.map { resource in
            let allowed = resource.actions.filter { action in grants.contains { $0.allows(action, on: resource, username: username) } }
            return ResourceScope(type: resource.type, name: resource.name, actions: allowed)
        }
    }
}
