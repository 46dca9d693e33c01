#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which peers may tell Keyport, through `X-Forwarded-For`, who the client is
/// (`--proxy-trusted-addresses`, Keycloak's option of the same name). A peer outside these is the
/// client itself, whatever it writes in the header: a direct caller must not choose the address
/// that events and brute-force records show. Without the option, the loopback, private and
/// link-local ranges are trusted (where a reverse proxy of the same host or network stands);
/// Keycloak trusts every peer then — a deliberate difference.
public struct TrustedProxies: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        let bytes: [UInt8]
        let prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefix
            for (a, b) in zip(address, bytes) {
                if remaining <= 0 { return true }
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if a & mask != b & mask { return false }
                remaining -= 8
            }
            return true
        }
    }

    let ranges: [Range]

    public static let privateNetworks = try! TrustedProxies(parsing:
        "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,169.254.0.0/16,::1/128,fc00::/7,fe80::/10")

    /// `10.0.0.0/8,192.0.2.7,::1`: addresses or CIDR ranges, comma-separated.
    public init(parsing text: String) throws(ConfigurationError) {
        var ranges: [Range] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.address(parts[0]) else {
                throw ConfigurationError("--proxy-trusted-addresses: '\(item)' is not an IP address or a CIDR range")
            }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard let n = Int(parts[1]), (0...bytes.count * 8).contains(n) else {
                    throw ConfigurationError("--proxy-trusted-addresses: '\(item)' has a bad prefix length")
                }
                prefix = n
            }
            ranges.append(Range(bytes: bytes, prefix: prefix))
        }
        guard ranges.count <= 1_000 else { throw ConfigurationError("--proxy-trusted-addresses: at most 1,000 entries") }
        self.ranges = ranges
    }

    public func trusts(_ peer: String) -> Bool {
        guard let bytes = Self.address(peer) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client's address: when the peer is a trusted proxy, the last `X-Forwarded-For` entry
    /// (the address that proxy saw; what came before it is the caller's own claim), else the
    /// peer. Only a well-formed IPv4 or IPv6 address is taken from the header (never `unknown`).
    public func client(peer: String?, forwardedFor lines: [String]) -> String? {
        guard let peer, trusts(peer) else { return peer }
        guard let last = lines.last?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces),
              Self.address(last) != nil else { return peer }
        return last
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address in text, or nil.
    static func address(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
