import KeyportModel
import KeyportStore
import Synchronization

/// A user's effective roles, computed once per change of its realm's authorization data.
///
/// Each request reads the realm's `authorizationVersion` (one indexed row) before anything else;
/// the cached roles are used only when they were computed at that same version. The store moves
/// the version in the transaction of every change that could alter a user's effective roles, so
/// a revoked role is never honoured once its revocation has committed — on every node reading
/// the same database. Bounded: past `capacity` users the oldest entry goes.
public final class EffectiveRolesCache: Sendable {
    struct Key: Hashable { let realmId: String; let userId: String }
    struct Entry { let version: Int64; let roles: [Role] }

    let store: any IdentityStore
    public let capacity: Int
    private let state = Mutex<(entries: [Key: Entry], order: [Key], head: Int)>(([:], [], 0))

    public init(store: any IdentityStore, capacity: Int = 20_000) {
        self.store = store
        self.capacity = max(1, capacity)
    }

    public func roles(userId: String, realmId: String) async throws -> [Role] {
        // Read before computing: a change that commits in between moves the version past this
        // one, so what is stored below can only be found by requests that began before it.
        try await roles(userId: userId, realmId: realmId, version: try await store.authorizationVersion(realmId: realmId))
    }

    /// With the realm's authorization version already read at this request (before anything else).
    public func roles(userId: String, realmId: String, version: Int64) async throws -> [Role] {
        let key = Key(realmId: realmId, userId: userId)
        if let entry = state.withLock({ $0.entries[key] }), entry.version == version { return entry.roles }
        let roles = try await store.effectiveRoles(userId: userId, realmId: realmId)
        state.withLock { s in
            if s.entries.updateValue(Entry(version: version, roles: roles), forKey: key) != nil { return }
            if s.order.count < capacity {
                s.order.append(key)
            } else {
                s.entries[s.order[s.head]] = nil
                s.order[s.head] = key
                s.head = (s.head + 1) % capacity
            }
        }
        return roles
    }

    public var count: Int { state.withLock { $0.entries.count } }
}
