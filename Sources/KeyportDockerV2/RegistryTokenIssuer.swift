import Foundation
import DockerV2Grammar
import KeyportAuth
import KeyportKeys
import KeyportModel
import KeyportTokens

/// Signs the token a registry accepts: header with `kid` (the libtrust key id) and, unless the
/// client says `docker.token.x5c: false`, `x5c` (registry 2.x and 3.x verify that against their
/// bundle; without it they look `kid` up in the bundle or, registry 3.x, the JWKS); `aud` as a
/// string, `access` as granted.
public struct RegistryTokenIssuer: Sendable {
    let keyRing: RealmKeyRing
    let environment: TimeAndRandomness
    let recent: RecentTokens?

    /// `reuseSeconds`: for that long a token is handed again to the same subject asking the same
    /// registry for exactly the same granted access (0: sign every time).
    public init(keyRing: RealmKeyRing, environment: TimeAndRandomness, reuseSeconds: Int = 10) {
        self.keyRing = keyRing
        self.environment = environment
        self.recent = reuseSeconds > 0 ? RecentTokens(seconds: reuseSeconds) : nil
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

    /// `storedKeys`: the realm's key rows when this request has them already (a cache of its configuration).
    public func issue(realm: Realm, issuer: String, service: String, subject: String, access: [ResourceScope], algorithm: SigningAlgorithm,
                      x5c: Bool = true, storedKeys: [RealmKey]? = nil) async throws -> Issued {
        let keys = if let storedKeys { keyRing.keys(from: storedKeys) } else { try await keyRing.keys(realmId: realm.id) }
        guard let signer = keys.signer(for: algorithm) else { throw Failure.noActiveKey(algorithm) }
        let now = environment.now().secondsSince1970
        let lifespan = max(Self.minimumLifespan, realm.accessTokenLifespan)
        let reuseKey = RecentTokens.Key(realmId: realm.id, keyId: signer.key.id, issuer: issuer, service: service, subject: subject,
                                        access: access, lifespan: lifespan, x5c: x5c)
        if let recent, let token = recent.find(reuseKey, now: now) {
            // The same access, decided now, for the same subject: the token signed moments ago says
            // exactly that, and lives a little less (its expires_in is what remains).
            return Issued(token: token.token, claims: token.claims, expiresIn: Int(token.claims.exp - now), issuedAt: Self.rfc3339(seconds: token.claims.iat))
        }
        let claims = Claims(iss: issuer, sub: subject, aud: service, exp: now + Int64(lifespan), nbf: now, iat: now,
                            jti: Base64URL.encode(environment.randomBytes(16)), access: access)
        let token = try JWS.sign(claims, with: signer.signer, kid: signer.key.libtrustKeyID, x5c: x5c)
        recent?.keep(reuseKey, token: token, claims: claims)
        return Issued(token: token, claims: claims, expiresIn: lifespan, issuedAt: Self.rfc3339(seconds: now))
    }

    static func rfc3339(seconds: Int64) -> String { Timestamp(secondsSince1970: seconds).rfc3339() }
}

/// Registry tokens signed in the last few seconds, by what they grant: a `docker push` asks for
/// the same access several times in a row, and an RSA signature costs more than the rest of the
/// request. The key holds the access *as decided at this request*, so reuse never grants more
/// than the user may do now; the realm key's id is part of it, so a rotated key is used at once.
/// A token is reused only while at least `minimumLifespan` of its life remains. Bounded.
final class RecentTokens: Sendable {
    struct Key: Hashable, Sendable {
        let realmId: String
        let keyId: String
        let issuer: String
        let service: String
        let subject: String
        let access: [ResourceScope]
        let lifespan: Int
        /// A client switched to tokens without `x5c` gets them at once.
        let x5c: Bool
    }
    struct Entry: Sendable {
        let token: String
        let claims: RegistryTokenIssuer.Claims
    }

    let seconds: Int64
    private let entries = BoundedCache<Key, Entry>(capacity: 10_000)

    init(seconds: Int) { self.seconds = Int64(seconds) }

    func find(_ key: Key, now: Int64) -> Entry? {
        guard let entry = entries[key] else { return nil }
        let age = now - entry.claims.iat
        guard age >= 0, age <= seconds, entry.claims.exp - now >= Int64(RegistryTokenIssuer.minimumLifespan) else { return nil }
        return entry
    }

    func keep(_ key: Key, token: String, claims: RegistryTokenIssuer.Claims) {
        entries.set(Entry(token: token, claims: claims), for: key)
    }
}
