import Foundation
import KeyportModel
import KeyportStore

/// A realm's issuer URL, `{public base URL}/realms/{name}`, built in this one place for every
/// token a realm issues (OIDC, docker-v2) and every check of one. The base is read at each use:
/// with `--http-port 0` it is known only once the server is bound.
public struct RealmIssuer: Sendable {
    let base: @Sendable () -> String

    public init(base: @escaping @Sendable () -> String) { self.base = base }

    /// The public base URL, without a trailing slash.
    public var baseURL: String { base() }
    public func url(for realm: Realm) -> String { "\(base())/realms/\(realm.name)" }
}

/// A bearer token that passed every check, with the realm and user it stands for.
public struct VerifiedToken: Sendable {
    public let realm: Realm
    public let user: User
    public let claims: AccessTokenClaims
}

/// Why a bearer token was refused (the caller answers 401 for all of them alike).
public enum VerificationFailure: Error, Equatable {
    case malformed, unknownRealm, badSignature, expired, userGone, revoked
}

/// The one check of a realm's access tokens, shared by the admin API, userinfo and
/// introspection. It reports failure one way, by throwing: `VerificationFailure` for a token
/// that does not pass (the caller answers 401), a store error when the store cannot answer
/// (the server answers 503, never 401).
public struct AccessTokenVerifier: Sendable {
    let store: any IdentityStore
    let keyRing: RealmKeyRing
    let issuer: RealmIssuer
    let now: @Sendable () -> Timestamp

    public init(store: any IdentityStore, keyRing: RealmKeyRing, issuer: RealmIssuer, now: @escaping @Sendable () -> Timestamp) {
        self.store = store
        self.keyRing = keyRing
        self.issuer = issuer
        self.now = now
    }

    /// Accepts a bearer token only if a realm of this server signed it with a usable key, it
    /// has not expired, and its user still exists, is enabled and has not been revoked since.
    public func verify(_ token: String) async throws -> VerifiedToken {
        guard let parsed = try? JWS.parse(token),
              let unverified = try? JSONDecoder().decode(AccessTokenClaims.self, from: parsed.payload)
        else { throw VerificationFailure.malformed }
        let prefix = "\(issuer.baseURL)/realms/"
        guard unverified.iss.hasPrefix(prefix), let realm = try await store.realm(named: String(unverified.iss.dropFirst(prefix.count))), realm.enabled else {
            throw VerificationFailure.unknownRealm
        }
        let keys = try await keyRing.keys(realmId: realm.id)
        // The payload read above is the one signed: checked once, decoded once.
        guard (try? JWS.verifySignature(of: parsed, keyFor: { keys.verifier(kid: $0) })) != nil else {
            throw VerificationFailure.badSignature
        }
        let claims = unverified
        guard claims.typ == "Bearer", claims.iss == issuer.url(for: realm) else { throw VerificationFailure.malformed }
        let now = self.now().secondsSince1970
        guard claims.exp > now, claims.iat <= now + 60 else { throw VerificationFailure.expired }
        guard let user = try await store.user(id: claims.sub, realmId: realm.id) else { throw VerificationFailure.userGone }
        guard user.enabled, claims.iat * 1000 + 999 >= user.notBefore.millisecondsSince1970 else { throw VerificationFailure.revoked }
        // Keycloak checks the session too: a logged-out session's access tokens stop at once.
        // The session is a refresh-token session, or (signed in with a browser) the browser's.
        if let sid = claims.sid {
            if let session = try await store.session(id: sid, realmId: realm.id) {
                guard session.userId == user.id else { throw VerificationFailure.revoked }
            } else {
                guard let browser = try await store.browserSession(id: sid, realmId: realm.id), browser.userId == user.id else {
                    throw VerificationFailure.revoked
                }
            }
        }
        return VerifiedToken(realm: realm, user: user, claims: claims)
    }
}
