import Foundation
import KeyportKeys
import KeyportModel
import KeyportTokens

/// Signs the token a registry accepts: header with `kid` (the libtrust key id) and `x5c`
/// (so registry 2.x and 3.x both find the key), `aud` as a string, `access` as granted.
public struct RegistryTokenIssuer: Sendable {
    let keyRing: RealmKeyRing
    let environment: TimeAndRandomness

    public init(keyRing: RealmKeyRing, environment: TimeAndRandomness) {
        self.keyRing = keyRing
        self.environment = environment
    }

    public struct Claims: Codable, Sendable, Equatable {
        public let iss: String
        public let sub: String
        public let aud: String
        public let exp: Int64
        public let nbf: Int64
        public let iat: Int64
        public let jti: String
        public let access: [ResourceScope]
    }

    public struct Issued: Sendable {
        public let token: String
        public let claims: Claims
        public let expiresIn: Int
        /// RFC 3339, UTC.
        public let issuedAt: String
    }

    public enum Failure: Error, Equatable {
        case noActiveKey(SigningAlgorithm)
    }

    /// Registries and clients treat less than 60 s as 60 s; say so honestly.
    public static let minimumLifespan = 60

    public func issue(realm: Realm, issuer: String, service: String, subject: String, access: [ResourceScope], algorithm: SigningAlgorithm) async throws -> Issued {
        let keys = try await keyRing.keys(realmId: realm.id)
        guard let signer = keys.signer(for: algorithm) else { throw Failure.noActiveKey(algorithm) }
        let now = environment.now().secondsSince1970
        let lifespan = max(Self.minimumLifespan, realm.accessTokenLifespan)
        let claims = Claims(iss: issuer, sub: subject, aud: service, exp: now + Int64(lifespan), nbf: now, iat: now,
                            jti: Base64URL.encode(environment.randomBytes(16)), access: access)
        let token = try JWS.sign(claims, with: signer.signer, kid: signer.key.libtrustKeyID, x5c: true)
        return Issued(token: token, claims: claims, expiresIn: lifespan, issuedAt: Self.rfc3339(seconds: now))
    }

    static func rfc3339(seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
