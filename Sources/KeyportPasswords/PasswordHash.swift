import Foundation
import KeyportModel

/// A stored password hash, parsed from its PHC string
/// (`$argon2id$v=19$m=7168,t=5,p=1$<salt>$<hash>`, salt and hash in unpadded base64).
/// The parameters travel with the hash, so changing a realm's policy never breaks a password.
public struct PasswordHash: Sendable, Equatable {
    public enum Variant: String, Sendable, Equatable {
        case argon2id, argon2i, argon2d
    }

    public var variant: Variant
    /// 0x13 (19) for Argon2 v1.3, 0x10 (16) for v1.0.
    public var version: Int
    public var memoryKiB: Int
    public var iterations: Int
    public var parallelism: Int
    public var salt: [UInt8]
    public var hash: [UInt8]

    public init(variant: Variant = .argon2id, version: Int = 0x13, memoryKiB: Int, iterations: Int, parallelism: Int, salt: [UInt8], hash: [UInt8]) {
        self.variant = variant
        self.version = version
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
        self.salt = salt
        self.hash = hash
    }

    public var phcString: String {
        "$\(variant.rawValue)$v=\(version)$m=\(memoryKiB),t=\(iterations),p=\(parallelism)$\(Self.base64(salt))$\(Self.base64(hash))"
    }

    /// Parses a PHC string; `nil` when it is not one Keyport can check.
    public init?(phc: String) {
        let parts = phc.split(separator: "$", omittingEmptySubsequences: false)
        // "", variant, v=19, m=..,t=..,p=.., salt, hash
        guard parts.count == 6, parts[0].isEmpty, let variant = Variant(rawValue: String(parts[1])) else { return nil }
        guard parts[2].hasPrefix("v="), let version = Int(parts[2].dropFirst(2)), version == 0x13 || version == 0x10 else { return nil }
        var params: [String: Int] = [:]
        for pair in parts[3].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let value = Int(kv[1]), value > 0 else { return nil }
            params[String(kv[0])] = value
        }
        guard let m = params["m"], let t = params["t"], let p = params["p"],
              let salt = Self.unbase64(parts[4]), let hash = Self.unbase64(parts[5]),
              salt.count >= 8, (4...1024).contains(hash.count),
              // Refuse absurd costs from a stored (possibly imported) hash before computing them.
              m <= Argon2Parameters.memoryRange.upperBound, t <= 1024, p <= 255, m >= 8 * p
        else { return nil }
        self.init(variant: variant, version: version, memoryKiB: m, iterations: t, parallelism: p, salt: salt, hash: hash)
    }

    /// Whether this hash was made with exactly the policy's parameters.
    public func matches(_ policy: Argon2Parameters) -> Bool {
        variant == .argon2id && version == 0x13 && memoryKiB == policy.memoryKiB && iterations == policy.iterations
            && parallelism == policy.parallelism && hash.count == policy.hashLength && salt.count == policy.saltLength
    }

    static func base64(_ bytes: [UInt8]) -> String {
        var s = Data(bytes).base64EncodedString()
        while s.hasSuffix("=") { s.removeLast() }
        return s
    }

    static func unbase64(_ text: Substring) -> [UInt8]? {
        var s = String(text)
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/") }) else { return nil }
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}
