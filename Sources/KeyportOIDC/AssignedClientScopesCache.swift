import KeyportModel
import KeyportStore
import Synchronization

/// A client's client scopes (with their protocol mappers), read once per change of the realm's
/// `configuration` version.
///
/// Every OpenID Connect token request, refresh and userinfo answer needs them, and decoding the
/// scopes' mappers from JSON was a quarter of a userinfo request. Triggers move the realm's
/// configuration version in the same transaction as any change to a client scope (its mappers
/// and attributes included) or to a client's assignments (`0030_client_scopes_move_configuration`),
/// and the version is read before the rows, so a change is seen by the next request on every node
/// sharing the database. Bounded: at most `maxEntries` clients are kept, then all are dropped.
final class AssignedClientScopesCache: Sendable {
    struct Entry {
        let configuration: Int64
        let scopes: [AssignedClientScope]
    }

    let maxEntries: Int
    private let state = Mutex<[String: Entry]>([:])

    init(maxEntries: Int = 10_000) {
        self.maxEntries = max(1, maxEntries)
    }

    func removeAll(realmId: String? = nil) {
        state.withLock { s in
            guard let realmId else { return s.removeAll() }
            s = s.filter { !$0.key.hasPrefix(realmId + "\u{0}") }
        }
    }

    func scopes(ofClient clientId: String, realmId: String, store: any IdentityStore) async throws -> [AssignedClientScope] {
        guard let version = try await store.realmVersions(realmId: realmId)?.configuration else {
            return try await store.clientScopes(ofClient: clientId, realmId: realmId)
        }
        let key = realmId + "\u{0}" + clientId
        if let hit = state.withLock({ $0[key] }), hit.configuration == version { return hit.scopes }
        // Read after the version: what is kept can only be older than the version it is kept under.
        let scopes = try await store.clientScopes(ofClient: clientId, realmId: realmId)
        state.withLock { s in
            if s[key] == nil, s.count >= maxEntries { s.removeAll(keepingCapacity: true) }
            if let kept = s[key], kept.configuration > version { return }
            s[key] = Entry(configuration: version, scopes: scopes)
        }
        return scopes
    }
}
