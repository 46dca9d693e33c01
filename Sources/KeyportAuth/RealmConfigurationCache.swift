import KeyportModel
import KeyportStore
import Synchronization

/// A realm's settings, its clients, its keys and its clients' client scopes as a token request
/// needs them, read once per change of the realm's `configuration` version.
///
/// Every request reads the realm's versions first (one indexed row, which also carries the
/// authorization version the role cache needs); cached rows are used only when they were read
/// at that same configuration version, and rows are always read after the version, so a change
/// that commits in between can only make the next request read again. Switching docker-v2 off,
/// disabling a client or rotating a key is therefore seen by the very next request, on every
/// node sharing the database. Bounded: at most `maxRealms` realms and `maxClientsPerRealm`
/// client lookups (found or not) per realm are kept; names nobody has are never cached.
public final class RealmConfigurationCache: Sendable {
    public struct Current: Sendable {
        public let realm: Realm
        public let versions: RealmVersions
    }

    struct Entry {
        let realm: Realm
        let configuration: Int64
        /// By clientId's bytes; `.some(nil)`: known not to exist at this version.
        var clients: [[UInt8]: Client?] = [:]
        var keys: [RealmKey]?
        /// By client (its row's id): its client scopes with their protocol mappers.
        var clientScopes: [String: [AssignedClientScope]] = [:]
    }

    let store: any IdentityStore
    public let maxRealms: Int
    public let maxClientsPerRealm: Int
    /// Keyed by the name's bytes, as the database compares them: Swift's `String` equality would
    /// take a canonically equivalent spelling (`\u{212A}eyport` for `Keyport`) as the same name.
    private let state = Mutex<[[UInt8]: Entry]>([:])

    public init(store: any IdentityStore, maxRealms: Int = 10_000, maxClientsPerRealm: Int = 1_000) {
        self.store = store
        self.maxRealms = max(1, maxRealms)
        self.maxClientsPerRealm = max(0, maxClientsPerRealm)
    }

    public func removeAll() { state.withLock { $0.removeAll() } }
    public func remove(realmNamed name: String) { _ = state.withLock { $0.removeValue(forKey: Array(name.utf8)) } }

    /// The realm named `name` as it is now, with its versions; nil when there is none.
    public func realm(named name: String) async throws -> Current? {
        let key = Array(name.utf8)
        if let cachedId = state.withLock({ $0[key]?.realm.id }), let versions = try await store.realmVersions(realmId: cachedId) {
            let hit = state.withLock { s -> Realm? in
                guard let entry = s[key], entry.realm.id == cachedId, entry.configuration == versions.configuration else { return nil }
                return entry.realm
            }
            if let hit { return Current(realm: hit, versions: versions) }
        }
        // Versions first, then the row: what is stored can only be older than the version it is stored under.
        guard let versions = try await store.realmVersions(realmName: name),
              let realm = try await store.realm(id: versions.realmId), realm.name == name
        else { return nil }
        state.withLock { s in
            if s[key] == nil, s.count >= maxRealms { s.removeAll(keepingCapacity: true) }
            s[key] = Entry(realm: realm, configuration: versions.configuration)
        }
        return Current(realm: realm, versions: versions)
    }

    /// The client `clientId` of `current`'s realm, as of `current`'s configuration version or later.
    public func client(clientId: String, in current: Current) async throws -> Client? {
        let name = Array(current.realm.name.utf8), id = Array(clientId.utf8), version = current.versions.configuration
        if let hit = state.withLock({ s -> Client?? in
            guard let entry = s[name], entry.configuration == version else { return nil }
            return entry.clients[id]
        }) { return hit }
        let client = try await store.client(clientId: clientId, realmId: current.realm.id)
        state.withLock { s in
            guard var entry = s[name], entry.configuration == version, entry.clients.count < maxClientsPerRealm else { return }
            entry.clients[id] = .some(client)
            s[name] = entry
        }
        return client
    }

    /// The realm's keys (every status), as of `current`'s configuration version or later.
    public func keys(in current: Current) async throws -> [RealmKey] {
        let name = Array(current.realm.name.utf8), version = current.versions.configuration
        if let hit = state.withLock({ s -> [RealmKey]? in
            guard let entry = s[name], entry.configuration == version else { return nil }
            return entry.keys
        }) { return hit }
        let keys = try await store.realmKeys(realmId: current.realm.id)
        state.withLock { s in
            guard var entry = s[name], entry.configuration == version else { return }
            entry.keys = keys
            s[name] = entry
        }
        return keys
    }

    /// A client's client scopes with their protocol mappers, as of the realm's configuration
    /// version now (every OpenID Connect token, refresh and userinfo answer needs them; decoding
    /// the mappers was a quarter of userinfo). Migration 0030's triggers move the version with any
    /// change to a scope or to a client's assignments. Kept only beside a realm entry of the same
    /// version (the request's own realm lookup makes it), at most `maxClientsPerRealm` per realm.
    public func clientScopes(ofClient clientId: String, realm: Realm) async throws -> [AssignedClientScope] {
        guard let versions = try await store.realmVersions(realmId: realm.id) else {
            return try await store.clientScopes(ofClient: clientId, realmId: realm.id)
        }
        let name = Array(realm.name.utf8), version = versions.configuration
        func entry(_ s: [[UInt8]: Entry]) -> Entry? {
            guard let entry = s[name], entry.realm.id == realm.id, entry.configuration == version else { return nil }
            return entry
        }
        if let hit = state.withLock({ entry($0)?.clientScopes[clientId] }) { return hit }
        // Read after the version: what is kept can only be older than the version it is kept under.
        let scopes = try await store.clientScopes(ofClient: clientId, realmId: realm.id)
        state.withLock { s in
            guard var kept = entry(s), kept.clientScopes.count < maxClientsPerRealm else { return }
            kept.clientScopes[clientId] = scopes
            s[name] = kept
        }
        return scopes
    }
}
