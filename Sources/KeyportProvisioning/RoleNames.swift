/// Keycloak's `realmRoles` / `clientRoles` name lists (a user's, a group's, a composite's),
/// resolved by one rule whichever door reads them — the admin API, a realm file, a partial
/// import: at most `limit` names; realm roles first, then each client's, clients in name order
/// (the same lists resolve the same way every time); every name must exist. Where a door finds
/// a role (the store, the file itself, both) is its `lookup`; how it words a missing one is its own.
public enum RoleNames {
    public static let limit = 1_000

    public enum Failure: Error, Equatable {
        case tooMany
        /// `client` is the client's `clientId`, nil for a realm role.
        case unknown(name: String, client: String?)
    }

    public static func resolve<Found>(realm names: [String]?, clients: [String: [String]]?,
                                      lookup: (_ name: String, _ client: String?) async throws -> Found?) async throws -> [Found] {
        // Counted before anything is looked up, and without trusting one huge list to be small.
        var count = names?.count ?? 0
        for list in (clients ?? [:]).values {
            count += min(list.count, limit + 1)
            if count > limit { throw Failure.tooMany }
        }
        guard count <= limit else { throw Failure.tooMany }
        var found: [Found] = []
        for name in names ?? [] {
            guard let role = try await lookup(name, nil) else { throw Failure.unknown(name: name, client: nil) }
            found.append(role)
        }
        for (client, names) in (clients ?? [:]).sorted(by: { $0.key < $1.key }) {
            for name in names {
                guard let role = try await lookup(name, client) else { throw Failure.unknown(name: name, client: client) }
                found.append(role)
            }
        }
        return found
    }
}
