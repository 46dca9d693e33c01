import Foundation
import KeyportAuth
import KeyportHTTP
import KeyportKeys
import KeyportModel
import KeyportStore
import KeyportTokens

/// Issues and verifies a realm's OIDC access tokens, and makes and checks refresh tokens.
/// The admin API trusts exactly what `verifyAccessToken` accepts.
public struct TokenService: Sendable {
    public let store: any IdentityStore
    public let keyRing: RealmKeyRing
    public let environment: TimeAndRandomness
    public let issuer: RealmIssuer
    let onIssued: @Sendable () -> Void

    public init(store: any IdentityStore, keyRing: RealmKeyRing, environment: TimeAndRandomness, issuer: RealmIssuer,
                onIssued: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.keyRing = keyRing
        self.environment = environment
        self.issuer = issuer
        self.onIssued = onIssued
    }

    public func issuer(for realm: Realm) -> String { issuer.url(for: realm) }

    // MARK: Issuing

    /// An access token for `user`, requested by `client`, with the user's effective roles.
    /// `authTime`: when the user presented its password (the session's start for a refresh).
    public func accessToken(realm: Realm, user: User, client: Client, scope: String, sessionId: String?,
                            authTime: Timestamp? = nil) async throws -> (token: String, claims: AccessTokenClaims) {
        let roles = try await store.effectiveRoles(userId: user.id, realmId: realm.id)
        var realmRoles: [String] = []
        var clientRoles: [String: [String]] = [:]
        var clientNames: [String: String] = [:]
        for role in roles {
            guard let owner = role.clientId else { realmRoles.append(role.name); continue }
            if clientNames[owner] == nil {
                clientNames[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner
            }
            clientRoles[clientNames[owner]!, default: []].append(role.name)
        }
        let now = environment.now().secondsSince1970
        let audiences = clientRoles.keys.sorted()
        let fullName = [user.firstName, user.lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        let claims = AccessTokenClaims(
            exp: now + Int64(realm.accessTokenLifespan), iat: now, jti: environment.newID(), iss: issuer(for: realm),
            aud: audiences.isEmpty ? .one(client.clientId) : (audiences.count == 1 ? .one(audiences[0]) : .many(audiences)),
            sub: user.id, azp: client.clientId, sid: sessionId, scope: scope,
            preferred_username: user.username, email: user.email, email_verified: user.email == nil ? nil : user.emailVerified,
            name: fullName.isEmpty ? nil : fullName, given_name: user.firstName, family_name: user.lastName,
            realm_access: .init(roles: realmRoles.sorted()),
            resource_access: clientRoles.isEmpty ? nil : clientRoles.mapValues { .init(roles: $0.sorted()) },
            auth_time: authTime?.secondsSince1970)
        let keys = try await keyRing.keys(realmId: realm.id)
        guard let signer = keys.signer(for: .rs256) else { throw TokenServiceError.noActiveKey(realm.name) }
        let token = try JWS.sign(claims, with: signer.signer, kid: signer.key.id)
        onIssued()
        return (token, claims)
    }

    /// The sessions behind refresh tokens (`KeyportAuth.SessionTokens`: one set of rules for
    /// OIDC refresh tokens and docker-v2 identity tokens).
    public var sessions: SessionTokens { SessionTokens(store: store, environment: environment) }

    // MARK: Verifying

    /// The shared verifier (`KeyportTokens.AccessTokenVerifier`).
    public var verifier: AccessTokenVerifier { AccessTokenVerifier(store: store, keyRing: keyRing, issuer: issuer, now: environment.now) }

    /// Throws `VerificationFailure` for a token that does not pass (see `AccessTokenVerifier`).
    public func verifyAccessToken(_ token: String) async throws -> VerifiedToken {
        try await verifier.verify(token)
    }
}

public enum TokenServiceError: Error, CustomStringConvertible {
    case noActiveKey(String)
    public var description: String {
        switch self {
        case .noActiveKey(let realm): "realm \(realm) has no active RS256 key"
        }
    }
}
