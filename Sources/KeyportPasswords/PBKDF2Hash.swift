import Foundation

/// A PBKDF2 hash carried over from Keycloak (`pbkdf2`, `pbkdf2-sha256`, `pbkdf2-sha512`),
/// stored in PHC-like form: `$pbkdf2-sha256$i=27500,l=64$<salt>$<hash>`. Keyport never makes
/// new ones: a right password rehashes to the realm's Argon2id policy at the first login.
public struct PBKDF2Hash: Sendable, Equatable {
    public enum Digest: String, Sendable, CaseIterable {
        /// Keycloak's `pbkdf2` is HMAC-SHA1.
        case sha1 = "pbkdf2"
        case sha256 = "pbkdf2-sha256"
        case sha512 = "pbkdf2-sha512"
    }

    public var digest: Digest
    public var iterations: Int
    public var salt: [UInt8]
    public var hash: [UInt8]

    public init(digest: Digest, iterations: Int, salt: [UInt8], hash: [UInt8]) {
        self.digest = digest
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    /// The output length is the stored hash's length (Keycloak derives it the same way).
    public var storedForm: String {
        "$\(digest.rawValue)$i=\(iterations),l=\(hash.count)$\(PasswordHash.base64(salt))$\(PasswordHash.base64(hash))"
    }

    public init?(stored: String) {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, let digest = Digest(rawValue: String(parts[1])) else { return nil }
        var params: [String: Int] = [:]
        for pair in parts[2].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let value = Int(kv[1]), value > 0 else { return nil }
            params[String(kv[0])] = value
        }
        // Bounded so that an imported hash cannot make one login cost minutes.
        guard let i = params["i"], i <= 10_000_000, let salt = PasswordHash.unbase64(parts[3]), let hash = PasswordHash.unbase64(parts[4]),
              (8...128).contains(hash.count), params["l"] == nil || params["l"] == hash.count
        else { return nil }
        self.init(digest: digest, iterations: i, salt: salt, hash: hash)
    }
}
