import Foundation
import KeyportKeys
import KeyportModel
import KeyportStore
import Synchronization

/// A realm's keys ready for use. Parsing a PEM private key costs far more than a token
/// signature, so parsed keys are cached by key id (a key's material never changes); the
/// status (active, passive, disabled) is read from the store every time, so a rotation or a
/// disabled key takes effect at once.
public final class RealmKeyRing: Sendable {
    let store: any IdentityStore
    private let cache = Mutex<[String: SigningKey]>([:])

    public init(store: any IdentityStore) {
        self.store = store
    }

    /// Forgets every parsed key: each is parsed again from its stored PEM on next use.
    public func removeAll() { cache.withLock { $0.removeAll() } }
    public func remove(keyIds: [String]) { cache.withLock { for id in keyIds { $0[id] = nil } } }

    public struct Keys: Sendable {
        public let entries: [(key: RealmKey, signer: SigningKey)]

        /// The key that signs for `algorithm`: among the active ones the highest priority, then
        /// the newest, then the greatest id — one answer on every node, whatever the row order.
        public func signer(for algorithm: SigningAlgorithm) -> (key: RealmKey, signer: SigningKey)? {
            entries.filter { $0.key.algorithm == algorithm && $0.key.status == .active }.max { a, b in
                (a.key.priority, a.key.createdAt.millisecondsSince1970, a.key.id) < (b.key.priority, b.key.createdAt.millisecondsSince1970, b.key.id)
            }
        }

        /// Active and passive keys verify; disabled keys do not.
        public func verifier(kid: String) -> SigningKey? {
            entries.first { ($0.key.id == kid || $0.key.libtrustKeyID == kid) && $0.key.status != .disabled }?.signer
        }

        public var usable: [(key: RealmKey, signer: SigningKey)] { entries.filter { $0.key.status != .disabled } }
    }

    public func keys(realmId: String) async throws -> Keys {
        keys(from: try await store.realmKeys(realmId: realmId))
    }

    /// Keys from rows already read (a cache of the realm's configuration hands them over).
    public func keys(from stored: [RealmKey]) -> Keys {
        var entries: [(RealmKey, SigningKey)] = []
        for key in stored {
            if let cached = cache.withLock({ $0[key.id] }) {
                entries.append((key, cached))
                continue
            }
            // A key that cannot be read is skipped rather than failing every token of the realm.
            guard let signer = try? SigningKey(key) else { continue }
            cache.withLock { $0[key.id] = signer }
            entries.append((key, signer))
        }
        return Keys(entries: entries)
    }
}
