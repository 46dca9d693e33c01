import Crypto
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
    /// Where clients' client scopes are kept (the server passes the one every door shares).
    let realms: RealmConfigurationCache

    public init(store: any IdentityStore, keyRing: RealmKeyRing, environment: TimeAndRandomness, issuer: RealmIssuer,
                realms: RealmConfigurationCache? = nil, onIssued: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.keyRing = keyRing
        self.environment = environment
        self.issuer = issuer
        self.onIssued = onIssued
        self.realms = realms ?? RealmConfigurationCache(store: store)
    }

    public func issuer(for realm: Realm) -> String { issuer.url(for: realm) }

    // MARK: Issuing

    /// An access token for `user`, requested by `client`, with the user's effective roles.
    /// `authTime`: when the user presented its password (the session's start for a refresh).
    public func accessToken(realm: Realm, user: User, client: Client, scopes: TokenScopes, sessionId: String?,
                            authTime: Timestamp? = nil) async throws -> String {
        try await issue(realm: realm, user: user, client: client, scopes: scopes, sessionId: sessionId, authTime: authTime, idToken: nil).accessToken
    }

    /// What a token response carries: the access token, and an ID token when the request asked
    /// for `openid` and `idToken` is given (with the authorization request's nonce).
    public struct Issued: Sendable {
        public let accessToken: String
        public let idToken: String?
    }

    /// The ID token's part of a request: its nonce, and whether to make one at all.
    public struct IDTokenRequest: Sendable {
        public let nonce: String?
        public init(nonce: String?) { self.nonce = nonce }
    }

    /// The tokens of one response. `sessionId` is the token's `sid`: the browser session for a
    /// browser sign-in, else the refresh-token session (nil for a service account).
    public func issue(realm: Realm, user: User, client: Client, scopes: TokenScopes, sessionId: String?, authTime: Timestamp?,
                      idToken: IDTokenRequest?) async throws -> Issued {
        let subject = try await mappingSubject(realm: realm, user: user, client: client, scopes: scopes)
        let now = environment.now().secondsSince1970
        var (claims, audiences) = try await subject.claims(for: .accessToken)
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
        let access = try JWS.sign(JSONValue.object(claims), with: signer.signer, kid: signer.key.id)
        onIssued()
        guard let idToken, scopes.claim.split(separator: " ").contains("openid") else { return Issued(accessToken: access, idToken: nil) }
        // OpenID Connect Core §2 and §3.1.3.6: the ID token names the client as its audience and
        // binds the access token by `at_hash` (the left half of its SHA-256).
        var id = try await subject.claims(for: .idToken).claims
        id["exp"] = claims["exp"]
        id["iat"] = claims["iat"]
        id["jti"] = .string(environment.newID())
        id["iss"] = claims["iss"]
        id["aud"] = .string(client.clientId)
        id["sub"] = .string(user.id)
        id["typ"] = "ID"
        id["azp"] = .string(client.clientId)
        if let sessionId { id["sid"] = .string(sessionId) }
        if let authTime { id["auth_time"] = .number(Double(authTime.secondsSince1970)) }
        if let nonce = idToken.nonce { id["nonce"] = .string(nonce) }
        id["at_hash"] = .string(Base64URL.encode(Data(Array(SHA256.hash(data: Data(access.utf8))).prefix(16))))
        let signed = try JWS.sign(JSONValue.object(id), with: signer.signer, kid: signer.key.id)
        return Issued(accessToken: access, idToken: signed)
    }

    /// The client scopes a token request applies (`TokenContents.scopes`).
    public func scopes(client: Client, realm: Realm, requested: String?, lenient: Bool = false) async throws -> TokenScopes {
        try await TokenContents(store: store, realms: realms).scopes(client: client, realm: realm, requested: requested, lenient: lenient)
    }

    /// What userinfo answers for a verified token: `sub`, and the claims of the token's scopes'
    /// mappers that go to userinfo.
    public func userInfo(user: User, realm: Realm, clientId: String, scope: String) async throws -> UserInfo {
        var claims: [String: JSONValue] = [:]
        let client = try await store.client(clientId: clientId, realmId: realm.id)
        if let client {
            let scopes = try await TokenContents(store: store, realms: realms).scopes(client: client, realm: realm, requested: scope, lenient: true)
            claims = try await mappingSubject(realm: realm, user: user, client: client, scopes: scopes).claims(for: .userInfo).claims
        }
        claims["sub"] = .string(user.id)
        // OpenID Connect Core §5.3.2: a client registered for signed answers gets a JWT naming
        // the issuer and the client as its audience (Keycloak's `user.info.response.signature.alg`).
        guard let client, let name = client.attributes[Self.userInfoSignatureAttribute], !name.isEmpty else { return .json(.object(claims)) }
        guard let algorithm = SigningAlgorithm(rawValue: name) else { throw TokenServiceError.unsupportedUserInfoAlgorithm(name) }
        guard let signer = try await keyRing.keys(realmId: realm.id).signer(for: algorithm) else {
            throw TokenServiceError.noActiveKeyFor(realm: realm.name, algorithm)
        }
        claims["iss"] = .string(issuer(for: realm))
        claims["aud"] = .string(client.clientId)
        return .signed(try JWS.sign(JSONValue.object(claims), with: signer.signer, kid: signer.key.id))
    }

    /// The client attribute (Keycloak's) naming the algorithm userinfo answers are signed with.
    public static let userInfoSignatureAttribute = "user.info.response.signature.alg"

    /// Userinfo's answer: JSON, or a JWT for a client that asked for signed answers.
    public enum UserInfo: Sendable {
        case json(JSONValue)
        case signed(String)
    }

    /// What every token of one request is mapped from: the user's roles the token may carry and
    /// the mappers of the applied scopes and of the client, read once for all of its tokens.
    struct MappingSubject {
        let contents: TokenContents
        let mappers: [ProtocolMapper]
        let user: User
        let roles: [Role]
        let clientIdOf: [String: String]
        let client: Client
        let realm: Realm

        func claims(for target: TokenContents.Target) async throws -> (claims: [String: JSONValue], audiences: [String]) {
            var claims: [String: JSONValue] = [:]
            var audiences: [String] = []
            try await contents.applyMappers(mappers, into: &claims, audiences: &audiences, target: target, user: user, roles: roles,
                                            clientIdOf: clientIdOf, client: client, realm: realm)
            return (claims, audiences)
        }
    }

    func mappingSubject(realm: Realm, user: User, client: Client, scopes: TokenScopes) async throws -> MappingSubject {
        let contents = TokenContents(store: store, realms: realms)
        let effective = try await store.effectiveRoles(userId: user.id, realmId: realm.id)
        let roles = try await contents.roles(effective, client: client, realm: realm, applied: scopes.applied)
        var clientIdOf: [String: String] = [:]
        for owner in Set(roles.compactMap(\.clientId)) {
            clientIdOf[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner
        }
        return MappingSubject(contents: contents, mappers: scopes.applied.flatMap(\.protocolMappers) + client.protocolMappers, user: user,
                              roles: roles, clientIdOf: clientIdOf, client: client, realm: realm)
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
    case noActiveKeyFor(realm: String, SigningAlgorithm)
    case unsupportedUserInfoAlgorithm(String)
    public var description: String {
        switch self {
        case .noActiveKey(let realm): "realm \(realm) has no active RS256 key"
        case .noActiveKeyFor(let realm, let algorithm): "realm \(realm) has no active \(algorithm.rawValue) key"
        case .unsupportedUserInfoAlgorithm(let name): "userinfo can be signed with RS256 or ES256, not \(name)"
        }
    }
}
