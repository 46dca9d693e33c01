import KeyportModel
import KeyportStore

/// A user's effective roles, computed once per change of its realm's authorization data.
///
/// Each request reads the realm's `authorizationVersion` (one indexed row) before anything else;
/// the cached roles are used only when they were computed at that same version. The store moves
/// the version in the transaction of every change that could alter a user's effective roles, so
/// a revoked role is never honoured once its revocation has committed — on every node reading
/// the same database. Bounded: past `capacity` users the oldest entry goes.
public final class EffectiveRolesCache: Sendable {
    struct Key: Hashable, Sendable { let realmId: String; let userId: String }
    struct Entry: Sendable { let version: Int64; let roles: [Role] }

    let store: any IdentityStore
    private let entries: BoundedCache<Key, Entry>

    public let capacity: Int

    public init(store: any IdentityStore, capacity: Int = 20_000) {
        self.store = store
        self.capacity = capacity
        self.entries = BoundedCache(capacity: capacity)
    }

    public func removeAll() { entries.removeAll() }
    public func removeAll(realmId: String) { entries.removeAll { $0.realmId == realmId } }

    public func roles(userId: String, realmId: String) async throws -> [Role] {
        // Read before computing: a change that commits in between moves the version past this
        // one, so what is stored below can only be found by requests that began before it.
        try await roles(userId: userId, realmId: realmId, version: try await store.authorizationVersion(realmId: realmId))
    }

    /// With the realm's authorization version already read at this request (before anything else).
    public func roles(userId: String, realmId: String, version: Int64) async throws -> [Role] {
        let key = Key(realmId: realmId, userId: userId)
        if let entry = entries[key], entry.version == version { return entry.roles }
        let roles = try await store.effectiveRoles(userId: userId, realmId: realmId)
        entries.set(Entry(version: version, roles: roles), for: key)
        return roles
    }

    public var count: Int { entries.count }
}
