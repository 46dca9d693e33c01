import struct Foundation.Date

/// Time and randomness, injected everywhere they are used so that expiry, lockout and ids
/// are testable without sleeping or guessing.
public struct TimeAndRandomness: Sendable {
    public var now: @Sendable () -> Timestamp
    /// Cryptographically secure random bytes.
    public var randomBytes: @Sendable (Int) -> [UInt8]

    public init(now: @escaping @Sendable () -> Timestamp, randomBytes: @escaping @Sendable (Int) -> [UInt8]) {
        self.now = now
        self.randomBytes = randomBytes
    }

    /// The wall clock and the system CSPRNG.
    public static let live = TimeAndRandomness(
        now: { Timestamp(millisecondsSince1970: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) },
        randomBytes: { count in
            // Eight bytes per draw: the system generator asks the kernel on every call, and a byte
            // per call made ids and token ids cost a system call per byte.
            var generator = SystemRandomNumberGenerator()
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count + 7)
            while bytes.count < count {
                withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
            }
            return Array(bytes.prefix(count))
        }
    )

    /// A new random (version 4) UUID in its lower-case string form, as Keycloak's ids are.
    public func newID() -> String { Self.uuid(random: randomBytes(16)) }

    /// The version 4 UUID made of 16 random bytes (the version and variant bits are set here):
    /// 8-4-4-4-12 lower-case hex digits, written by byte (Foundation's UUID string and a
    /// lowercasing showed in the token path's profile).
    public static func uuid(random bytes: [UInt8]) -> String {
        var b = Array(bytes.prefix(16))
        while b.count < 16 { b.append(0) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return String(unsafeUninitializedCapacity: 36) { out in
            var at = 0
            for (index, byte) in b.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { out[at] = UInt8(ascii: "-"); at += 1 }
                out[at] = Hex.digits[Int(byte >> 4)]
                out[at + 1] = Hex.digits[Int(byte & 0x0F)]
                at += 2
            }
            return at
        }
    }
}
