import KeyportModel
import KeyportStore

/// Decides what a user may do with the resources it asked for: the intersection of the
/// request with the grants of the client's roles among the user's effective roles.
/// Denial is a value (an entry with fewer or no actions), never an error.
public struct RegistryAuthorizer: Sendable {
    let store: any IdentityStore
    let onInvalidGrant: @Sendable (String) -> Void

    public init(store: any IdentityStore, onInvalidGrant: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
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

    public func decide(realm: Realm, client: Client, user: User, requested: [ResourceScope]) async throws -> Decision {
        switch DockerClientSettings(client).authorization {
        case .allowAll:
            return Decision(access: requested, roles: [], grants: ["allow-all"], matched: requested.isEmpty ? [] : ["allow-all"])
        case .roles:
            let roles = try await store.effectiveRoles(userId: user.id, realmId: realm.id).filter { $0.clientId == client.id }
            var grants: [RegistryGrant] = []
            for role in roles {
                for text in role.attributes[RegistryGrant.attribute] ?? [] {
                    do { grants.append(try RegistryGrant(parsing: text)) } catch { onInvalidGrant(error.description) }
                }
            }
            let matched = grants.filter { grant in
                requested.contains { resource in resource.actions.contains { grant.allows($0, on: resource, username: user.username) } }
            }
            return Decision(access: Self.intersect(requested, grants: grants, username: user.username),
                            roles: roles.map(\.name).sorted(), grants: grants.map(\.description), matched: matched.map(\.description))
        }
    }

    /// Each requested resource keeps the requested actions some grant allows, in request order.
    public static func intersect(_ requested: [ResourceScope], grants: [RegistryGrant], username: String) -> [ResourceScope] {
        requested.map { resource in
            let allowed = resource.actions.filter { action in grants.contains { $0.allows(action, on: resource, username: username) } }
            return ResourceScope(type: resource.type, name: resource.name, actions: allowed)
        }
    }
}
