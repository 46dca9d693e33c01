import Crypto
import Foundation
import KeyportKeys

/// The bearer secrets Keyport hands out that are not JWTs (refresh tokens, docker-v2 identity
/// tokens, personal access tokens): 256 random bits, base64url, behind a prefix that says what
/// they are (so secret scanners can find a leaked one). Only their SHA-256 is stored: with 256
/// bits of entropy a fast hash is enough — nobody can guess a preimage — so checking one costs
/// microseconds, and a copy of the database cannot be replayed.
public enum OpaqueToken {
    /// Longer is not ours, and is refused before any hashing.
    public static let maxLength = 512

    public static func make(prefix: String, randomBytes: (Int) -> [UInt8]) -> String {
        prefix + Base64URL.encode(randomBytes(32))
    }

    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `token` has the form `make` gives without a prefix (43 base64url characters:
    /// 256 bits) — a refresh token, a login CSRF value — whether or not anything stands behind it.
    public static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 43 && token.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }
}
