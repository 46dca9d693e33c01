import Foundation
import KeyportModel

/// Keycloak's exported password credential — `secretData` and `credentialData`, each a JSON
/// document inside a string — turned into the hash Keyport stores, for the algorithms
/// Keycloak writes: `argon2`, `pbkdf2-sha256`, `pbkdf2-sha512` and `pbkdf2` (HMAC-SHA1).
public enum KeycloakCredential {
    public struct Unsupported: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    struct SecretData: Decodable {
        let value: String
        let salt: String?
    }

    struct CredentialData: Decodable {
        let hashIterations: Int?
        let algorithm: String?
        let additionalParameters: [String: [String]]?
    }

    /// The stored form (PHC for Argon2, `$pbkdf2…$` for PBKDF2) of a Keycloak credential.
    /// Refused when checking it would cost more than `ceiling` allows: one tenant's imported
    /// hash must not make a login take minutes and starve every realm's logins.
    public static func storedHash(secretData: String, credentialData: String, ceiling: PasswordCostCeiling = .default) throws(Unsupported) -> String {
        guard let secret = try? JSONDecoder().decode(SecretData.self, from: Data(secretData.utf8)),
              let data = try? JSONDecoder().decode(CredentialData.self, from: Data(credentialData.utf8))
        else { throw Unsupported(description: "secretData and credentialData must be JSON documents") }
        guard let hash = Data(base64Encoded: secret.value).map(Array.init), !hash.isEmpty else {
            throw Unsupported(description: "the stored hash is not base64")
        }
        let salt = secret.salt.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? []
        let algorithm = data.algorithm ?? "pbkdf2-sha256"
        let iterations = data.hashIterations ?? 0
        if let digest = PBKDF2Hash.Digest(rawValue: algorithm) {
            guard iterations > 0, !salt.isEmpty else { throw Unsupported(description: "\(algorithm) needs hashIterations and a salt") }
            let stored = PBKDF2Hash(digest: digest, iterations: iterations, salt: salt, hash: hash).storedForm
            guard PBKDF2Hash(stored: stored) != nil else { throw Unsupported(description: "\(algorithm) parameters are out of range") }
            guard iterations <= ceiling.pbkdf2Iterations else {
                throw Unsupported(description: "\(algorithm) with \(iterations) iterations exceeds this server's ceiling of \(ceiling.pbkdf2Iterations)")
            }
            return stored
        }
        guard algorithm == "argon2" else { throw Unsupported(description: "unknown hash algorithm '\(algorithm)'") }
        let p = data.additionalParameters ?? [:]
        func number(_ key: String, _ fallback: Int) -> Int { p[key]?.first.flatMap(Int.init) ?? fallback }
        let variant: PasswordHash.Variant = switch p["type"]?.first ?? "id" {
        case "i": .argon2i
        case "d": .argon2d
        default: .argon2id
        }
        let version = (p["version"]?.first ?? "1.3") == "1.0" ? 0x10 : 0x13
        let stored = PasswordHash(variant: variant, version: version, memoryKiB: number("memory", 7168), iterations: iterations > 0 ? iterations : 5,
                                  parallelism: number("parallelism", 1), salt: salt, hash: hash).phcString
        guard let parsed = PasswordHash(phc: stored) else { throw Unsupported(description: "argon2 parameters are out of range") }
        guard ceiling.admits(memoryKiB: parsed.memoryKiB, iterations: parsed.iterations, parallelism: parsed.parallelism) else {
            throw Unsupported(description: "argon2 parameters (m=\(parsed.memoryKiB), t=\(parsed.iterations), p=\(parsed.parallelism)) exceed this server's ceiling (m=\(ceiling.memoryKiB), t=\(ceiling.iterations), p=\(ceiling.parallelism))")
        }
        return stored
    }
}

extension KeycloakCredential {
    /// A stored hash as Keycloak exports it: (`secretData`, `credentialData`), JSON inside
    /// strings, keys in Keycloak's order. `nil` for a value that is not a hash Keyport knows.
    public static func exported(stored: String) -> (secretData: String, credentialData: String)? {
        func json(_ pairs: [(String, String)]) -> String {
            "{" + pairs.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
        func quoted(_ s: String) -> String { "\"\(s)\"" }
        if let p = PBKDF2Hash(stored: stored) {
            return (json([("value", quoted(Data(p.hash).base64EncodedString())), ("salt", quoted(Data(p.salt).base64EncodedString())), ("additionalParameters", "{}")]),
                    json([("hashIterations", String(p.iterations)), ("algorithm", quoted(p.digest.rawValue)), ("additionalParameters", "{}")]))
        }
        guard let a = PasswordHash(phc: stored) else { return nil }
        let type = switch a.variant {
        case .argon2id: "id"
        case .argon2i: "i"
        case .argon2d: "d"
        }
        let parameters = json([("hashLength", "[\"\(a.hash.count)\"]"), ("memory", "[\"\(a.memoryKiB)\"]"), ("type", "[\"\(type)\"]"),
                               ("version", "[\"\(a.version == 0x10 ? "1.0" : "1.3")\"]"), ("parallelism", "[\"\(a.parallelism)\"]")])
        return (json([("value", quoted(Data(a.hash).base64EncodedString())), ("salt", quoted(Data(a.salt).base64EncodedString())), ("additionalParameters", "{}")]),
                json([("hashIterations", String(a.iterations)), ("algorithm", "\"argon2\""), ("additionalParameters", parameters)]))
    }

    /// Keycloak ≤ 3's credential fields, as the same stored form.
    public static func storedHash(legacyValue: String, salt: String?, iterations: Int?, algorithm: String?,
                                  ceiling: PasswordCostCeiling = .default) throws(Unsupported) -> String {
        let secret = "{\"value\":\"\(legacyValue)\"" + (salt.map { ",\"salt\":\"\($0)\"" } ?? "") + "}"
        let data = "{\"hashIterations\":\(iterations ?? 0),\"algorithm\":\"\(algorithm ?? "pbkdf2")\"}"
        return try storedHash(secretData: secret, credentialData: data, ceiling: ceiling)
    }
}
