import Foundation
import KeyportAuth
import KeyportHTTP
import KeyportJSON
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
    public func accessToken(realm: Realm, user: User, client: Client, scopes: TokenScopes, sessionId: String?,
                            authTime: Timestamp? = nil) async throws -> String {
        let contents = TokenContents(store: store)
        let effective = try await store.effectiveRoles(userId: user.id, realmId: realm.id)
        let roles = try await contents.roles(effective, client: client, realm: realm, applied: scopes.applied)
        var clientIdOf: [String: String] = [:]
        for owner in Set(roles.compactMap(\.clientId)) {
            clientIdOf[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner
        }
        var claims: [String: JSONValue] = [:]
        var audiences: [String] = []
        try await contents.applyMappers(scopes.applied.flatMap(\.protocolMappers) + client.protocolMappers, into: &claims, audiences: &audiences,
                                        target: .accessToken, user: user, roles: roles, clientIdOf: clientIdOf, client: client, realm: realm)
        let now = environment.now().secondsSince1970
        // The token's own claims, which no mapper replaces. Keyport always names an audience
        // (the client itself when the scopes name none): its verifier, and relying parties, read one.
        if audiences.isEmpty { audiences = [client.clientId] }
        claims["exp"] = .number(Double(now + Int64(realm.accessTokenLifespan)))
        claims["iat"] = .number(Double(now))
        claims["jti"] = .string(environment.newID())
        claims["iss"] = .string(issuer(for: realm))
        claims["aud"] = audiences.count == 1 ? .string(audiences[0]) : .array(audiences.map { .string($0) })
        claims["sub"] = .string(user.id)
        claims["typ"] = "Bearer"
        claims["azp"] = .string(client.clientId)
        if let sessionId { claims["sid"] = .string(sessionId) }
        claims["scope"] = .string(scopes.claim)
        if let authTime { claims["auth_time"] = .number(Double(authTime.secondsSince1970)) }
        let keys = try await keyRing.keys(realmId: realm.id)
        guard let signer = keys.signer(for: .rs256) else { throw TokenServiceError.noActiveKey(realm.name) }
        let token = try JWS.sign(JSONValue.object(claims), with: signer.signer, kid: signer.key.id)
        onIssued()
        return token
    }

    /// The client scopes a token request applies (`TokenContents.scopes`).
    public func scopes(client: Client, realm: Realm, requested: String?, lenient: Bool = false) async throws -> TokenScopes {
        try await TokenContents(store: store).scopes(client: client, realm: realm, requested: requested, lenient: lenient)
    }

    /// What userinfo answers for a verified token: `sub`, and the claims of the token's scopes'
    /// mappers that go to userinfo.
    public func userInfo(user: User, realm: Realm, clientId: String, scope: String) async throws -> JSONValue {
        var claims: [String: JSONValue] = [:]
        var audiences: [String] = []
        if let client = try await store.client(clientId: clientId, realmId: realm.id) {
            let contents = TokenContents(store: store)
            let scopes = try await contents.scopes(client: client, realm: realm, requested: scope, lenient: true)
            let effective = try await store.effectiveRoles(userId: user.id, realmId: realm.id)
            let roles = try await contents.roles(effective, client: client, realm: realm, applied: scopes.applied)
            var clientIdOf: [String: String] = [:]
            for owner in Set(roles.compactMap(\.clientId)) { clientIdOf[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner }
            try await contents.applyMappers(scopes.applied.flatMap(\.protocolMappers) + client.protocolMappers, into: &claims, audiences: &audiences,
                                            target: .userInfo, user: user, roles: roles, clientIdOf: clientIdOf, client: client, realm: realm)
        }
        claims["sub"] = .string(user.id)
        return .object(claims)
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
