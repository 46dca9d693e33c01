import KeyportModel
import KeyportStore

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

    /// Keycloak's one-string form of a role (a mapper's `role`): a realm role's name, or
    /// `clientId.roleName` — tried at each dot, since client ids and role names may hold dots.
    /// `lookup` finds a role by name in a client (by `clientId`) or, given nil, in the realm.
    public static func resolve<Found>(qualified text: String,
                                      lookup: (_ name: String, _ client: String?) async throws -> Found?) async throws -> Found? {
        guard !text.isEmpty, text.utf8.count <= 512 else { return nil }
        if let role = try await lookup(text, nil) { return role }
        var index = text.startIndex
        while let dot = text[index...].firstIndex(of: ".") {
            if let role = try await lookup(String(text[text.index(after: dot)...]), String(text[..<dot])) { return role }
            index = text.index(after: dot)
        }
        return nil
    }
}

extension IdentityStore {
    /// A mapper's role (`RoleNames.resolve(qualified:)`) in this realm.
    public func role(qualifiedName text: String, realmId: String) async throws -> Role? {
        try await RoleNames.resolve(qualified: text) { name, clientId in
            guard let clientId else { return try await self.role(named: name, realmId: realmId, clientId: nil) }
            guard let client = try await self.client(clientId: clientId, realmId: realmId) else { return nil }
            return try await self.role(named: name, realmId: realmId, clientId: client.id)
        }
    }
}
