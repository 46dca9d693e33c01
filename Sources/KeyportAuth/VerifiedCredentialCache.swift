import Crypto
import KeyportModel

/// Remembers, for a short time, that a password was right — so the next token request with the
/// same Basic credentials (a `docker push` sends several) skips Argon2.
///
/// What is kept is never the password: each entry is found by an HMAC-SHA256 of (realm,
/// username, password) under a key made at random when the process starts (so a memory dump
/// yields digests that cannot be tested offline without that key, and a restart forgets all).
/// An entry holds the user's id, a SHA-256 of the stored password hash it was checked against
/// and the realm's hashing policy. A hit counts only when all three still match what the
/// database holds at that request — which the authenticator reads anyway — so a password
/// change or reset, a deleted credential and a policy change take effect on the very next
/// request, on every node sharing the database. Disabled users, lockouts and required actions
/// are checked after the match, as for a computed one. Only right passwords are stored, so a
/// wrong one can neither hit nor evict a right one.
public final class VerifiedCredentialCache: Sendable {
    public struct Entry: Sendable, Equatable {
        let userId: String
        let storedHashDigest: [UInt8]
        let policy: Argon2Parameters
        let expires: Timestamp
    }

    /// How long an entry lives at most (the realm's access-token lifespan caps it too); 0 turns
    /// the cache off.
    public let seconds: Int
    /// HMAC-SHA256 under the process's random key, its key schedule already done: each slot
    /// copies it (two SHA-256 blocks fewer per request).
    private let keyed: HMAC<SHA256>
    private let entries: BoundedCache<Slot, Entry>

    public init(seconds: Int = 120, capacity: Int = 10_000) {
        self.seconds = max(0, seconds)
        self.entries = BoundedCache(capacity: capacity)
        self.keyed = HMAC<SHA256>(key: SymmetricKey(size: .bits256))
    }

    public static let off = VerifiedCredentialCache(seconds: 0)
    public var isOn: Bool { seconds > 0 }
    /// Forgets every right password it remembered: the next request of each hashes again.
    public func removeAll() { entries.removeAll() }

    /// The keyed digest that stands for these credentials (32 bytes, held as four words: a
    /// cheaper dictionary key than `Data`).
    public struct Slot: Hashable, Sendable {
        let words: (UInt64, UInt64, UInt64, UInt64)
        public static func == (a: Slot, b: Slot) -> Bool { a.words == b.words }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }
    }

    func slot(realmId: String, username: String, password: Sensitive) -> Slot {
        var mac = keyed
        // Fed piece by piece (no joined copy of the password), each piece ended by a zero byte.
        Self.feed(realmId, to: &mac)
        Self.feed(User.normalize(username), to: &mac)
        Self.feed(password.revealed, to: &mac)
        return mac.finalize().withUnsafeBytes { raw in
            Slot(words: (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                         raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
        }
    }

    private static func feed(_ piece: String, to mac: inout HMAC<SHA256>) {
        if piece.utf8.withContiguousStorageIfAvailable({ mac.update(data: UnsafeRawBufferPointer($0)) }) == nil {
            mac.update(data: Array(piece.utf8))
        }
        withUnsafeBytes(of: UInt8(0)) { mac.update(data: $0) }
    }

    static func digest(_ stored: Sensitive) -> [UInt8] {
        let text = stored.revealed
        return text.utf8.withContiguousStorageIfAvailable { Array(SHA256.hash(data: UnsafeRawBufferPointer($0))) }
            ?? Array(SHA256.hash(data: Array(text.utf8)))
    }

    /// Whether these credentials were found right against exactly this stored hash, under this policy, recently.
    func hit(_ slot: Slot, userId: String, stored: Sensitive, policy: Argon2Parameters, now: Timestamp) -> Bool {
        guard isOn else { return false }
        guard let entry = entries[slot] else { return false }
        return entry.expires > now && entry.userId == userId && entry.policy == policy && entry.storedHashDigest == Self.digest(stored)
    }

    func remember(_ slot: Slot, userId: String, stored: Sensitive, policy: Argon2Parameters, now: Timestamp, lifespan: Int) {
        guard isOn else { return }
        let entry = Entry(userId: userId, storedHashDigest: Self.digest(stored), policy: policy,
                          expires: now.adding(seconds: min(seconds, max(1, lifespan))))
        entries.set(entry, for: slot)
    }

    func forget(_ slot: Slot) { entries.remove(slot) }

    public var count: Int { entries.count }
}
