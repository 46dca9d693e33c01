import Foundation
import Hummingbird
import KeyportAuth
import KeyportEvents
import KeyportFederation
import KeyportHTTP
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportPasswords
import KeyportStore
import KeyportTokens

/// A realm's OpenID Connect: the token endpoint (authorization_code, password,
/// client_credentials and refresh_token grants), JWKS, discovery, userinfo, introspection and
/// logout, plus the realm's public description at `/realms/{realm}`. A browser's sign-in (the
/// authorization endpoint and its pages) is `BrowserSignIn`.
public struct OIDCController: Sendable {
    let store: any IdentityStore
    let tokens: TokenService
    let authenticator: PasswordAuthenticator
    let events: EventRecorder
    let clients: ClientAuthenticator
    /// The back channel of sign-ins through other identity providers (`IdentityBroker`).
    let upstream: UpstreamSignIn
    /// Hashes the new password a person chooses at sign-in (`BrowserSignIn`).
    let hasher: PasswordHasher
    /// Wrong device user codes per address (`DeviceSignIn`).
    let deviceCodeAttempts = DeviceCodeAttempts()
    /// Brokered sign-ins whose answer came back once (`IdentityBroker`).
    let spentBrokerStates = SpentBrokerStates()
    /// Realms by name, read again whenever a realm's configuration version moves (the token
    /// service's, which the server shares with every door).
    var realms: RealmConfigurationCache { tokens.realms }

    /// `federation` checks client assertions (`federated-jwt`); the server passes the one it
    /// shares with the registry door, so both keep one cache of identity providers' keys.
    public init(store: any IdentityStore, tokens: TokenService, authenticator: PasswordAuthenticator, events: EventRecorder, hasher: PasswordHasher,
                federation: FederatedJWTVerifier? = nil) {
        self.store = store
        self.tokens = tokens
        self.authenticator = authenticator
        self.events = events
        self.hasher = hasher
        let now = tokens.environment.now
        let federation = federation ?? FederatedJWTVerifier(keys: JWKSCache(now: now))
        self.clients = ClientAuthenticator(store: store, federation: federation, now: now,
                                           audience: { [tokens] realm in tokens.issuer(for: realm) })
        self.upstream = UpstreamSignIn(verifier: federation)
    }

    public func addRoutes(to router: Router<KeyportRequestContext>) {
        router.get("/realms/{realm}") { _, context in try await realmDescription(context) }
        router.get("/realms/{realm}/.well-known/openid-configuration") { _, context in try await discovery(context) }
        let oidc = router.group("/realms/{realm}/protocol/openid-connect")
        oidc.post("token") { request, context in try await token(request, context) }
        oidc.get("certs") { _, context in try await certs(context) }
        oidc.get("userinfo") { request, context in try await userinfo(request, context) }
        oidc.post("userinfo") { request, context in try await userinfo(request, context) }
        oidc.post("token/introspect") { request, context in try await introspect(request, context) }
        oidc.post("logout") { request, context in try await logout(request, context) }
        oidc.post("revoke") { request, context in try await revoke(request, context) }
        BrowserSignIn(oidc: self).addRoutes(to: router)
        IdentityBroker(oidc: self).addRoutes(to: router)
    }

    func realm(_ context: KeyportRequestContext) async throws -> Realm {
        guard let realm = try await enabledRealm(context) else { throw OAuthError.realmNotFound }
        return realm
    }

    /// The path's realm as it is now, if it exists and is enabled (one indexed read of its
    /// versions when nothing changed).
    func enabledRealm(_ context: KeyportRequestContext) async throws -> Realm? {
        guard let name = context.pathParameter("realm"), name.utf8.count <= 255,
              let realm = try await realms.realm(named: name)?.realm, realm.enabled
        else { return nil }
        return realm
    }

    // MARK: Token endpoint

    struct TokenResponse: Encodable {
        let access_token: String
        let expires_in: Int
        let refresh_expires_in: Int
        let refresh_token: String?
        let token_type = "Bearer"
        let not_before_policy = 0
        let session_state: String?
        let scope: String
        var id_token: String? = nil

        enum CodingKeys: String, CodingKey {
            case access_token, expires_in, refresh_expires_in, refresh_token, token_type, session_state, scope, id_token
            case not_before_policy = "not-before-policy"
        }
    }

    func token(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let realm = try await realm(context)
        let form = try await FormParameters.body(of: request, context: context)
        guard let grant = form["grant_type"], !grant.isEmpty else { throw OAuthError.invalidRequest("Missing form parameter: grant_type") }
        let authenticated = try await clients.authenticateDetailed(form: form, request: request, realm: realm)
        let client = authenticated.client
        switch grant {
        case "authorization_code":
            return try await codeGrant(form: form, realm: realm, client: client, context: context)
        case "urn:ietf:params:oauth:grant-type:device_code":
            return try await BrowserSignIn(oidc: self).deviceGrant(form: form, realm: realm, client: client, context: context)
        case "password":
            return try await passwordGrant(form: form, realm: realm, client: client, context: context)
        case "client_credentials":
            let scopes = try await tokens.scopes(client: client, realm: realm, requested: form["scope"])
            return try await clientCredentialsGrant(realm: realm, client: client, scopes: scopes, federated: authenticated.federated, context: context)
        case "refresh_token":
            return try await refreshGrant(form: form, realm: realm, client: client, context: context)
        default:
            throw OAuthError(.badRequest, "unsupported_grant_type", "Unsupported grant_type")
        }
    }

    func passwordGrant(form: FormParameters, realm: Realm, client: Client, context: KeyportRequestContext) async throws -> Response {
        guard client.directAccessGrantsEnabled else {
            throw OAuthError(.badRequest, "unauthorized_client", "Client not allowed for direct access grants")
        }
        guard let username = form["username"], !username.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: username") }
        let password = Sensitive(form["password"] ?? "")
        let (outcome, proof) = try await authenticator.authenticateProving(realm: realm, username: username, password: password,
                                                                             ipAddress: context.clientAddress)
        switch outcome {
        case .failed(let reason, let user):
            record(realm: realm, type: "LOGIN_ERROR", client: client, user: user, error: reason.rawValue, username: username, context: context)
            if reason == .accountNotFullySetUp { throw OAuthError(.badRequest, "invalid_grant", "Account is not fully set up") }
            throw OAuthError.invalidUserCredentials
        case .authenticated(let user):
            // Checked once the password is (the flood of guesses goes to the hashing queue first, as
            // before): an optional scope the client lacks is refused, and no session starts.
            let scopes = try await tokens.scopes(client: client, realm: realm, requested: form["scope"])
            let offline = try await offlineRequested(scopes, user: user, realm: realm)
            let refresh: String, session: Session
            do {
                (refresh, session) = try await tokens.sessions.start(realm: realm, user: user, clientId: client.id, scope: scopes.requested,
                                                                     offline: offline, ipAddress: context.clientAddress, proof: proof)
            } catch StoreError.conflict(.credentialChanged) {
                // The password was replaced (or the user logged out) while this login was checked.
                record(realm: realm, type: "LOGIN_ERROR", client: client, user: user, error: LoginFailure.invalidCredentials.rawValue,
                       username: username, context: context)
                throw OAuthError.invalidUserCredentials
            }
            let issued = try await tokens.issue(realm: realm, user: user, client: client, scopes: scopes, sessionId: session.id,
                                                authTime: session.createdAt, idToken: .init(nonce: nil))
            record(realm: realm, type: "LOGIN", client: client, user: user, error: nil, username: username, context: context)
            return try JSONBody.response(TokenResponse(access_token: issued.accessToken, expires_in: realm.accessTokenLifespan,
                                                       refresh_expires_in: refreshExpiresIn(offline: offline, realm: realm), refresh_token: refresh,
                                                       session_state: session.id, scope: scopes.claim, id_token: issued.idToken))
        }
    }

    /// Whether a token request asks for an offline token (Keycloak's `offline_access` scope) — a
    /// refresh token that outlives the sign-in, by the realm's offline-session settings — and may:
    /// the user must hold the `offline_access` role (Keycloak's `not_allowed` otherwise).
    func offlineRequested(_ scopes: TokenScopes, user: User, realm: Realm) async throws -> Bool {
        guard scopes.requested.split(separator: " ").contains(Substring(BuiltInRoles.offlineAccess)) else { return false }
        let roles = try await store.effectiveRoles(userId: user.id, realmId: realm.id)
        guard roles.contains(where: { $0.clientId == nil && $0.name == BuiltInRoles.offlineAccess }) else {
            throw OAuthError(.badRequest, "not_allowed", "Offline tokens not allowed for the user or client")
        }
        return true
    }

    func refreshExpiresIn(offline: Bool, realm: Realm) -> Int { offline ? realm.offlineSessionIdleTimeout : realm.refreshTokenLifespan }

    func clientCredentialsGrant(realm: Realm, client: Client, scopes: TokenScopes, federated: FederatedJWTVerifier.Verified? = nil,
                                context: KeyportRequestContext) async throws -> Response {
        guard !client.publicClient, client.serviceAccountsEnabled,
              let account = try await store.serviceAccountUser(clientId: client.id, realmId: realm.id), account.enabled
        else { throw OAuthError(.badRequest, "unauthorized_client", "Client not enabled to retrieve service account") }
        let access = try await tokens.accessToken(realm: realm, user: account, client: client, scopes: scopes, sessionId: nil)
        // A federated client's login names the job that made it: issuer, subject, run claims, scopes.
        let extra = federated.map { $0.eventDetails.merging(["scope": scopes.claim]) { $1 } } ?? [:]
        record(realm: realm, type: "CLIENT_LOGIN", client: client, user: account, error: nil, username: account.username,
               extra: extra, context: context)
        return try JSONBody.response(TokenResponse(access_token: access, expires_in: realm.accessTokenLifespan, refresh_expires_in: 0,
                                                   refresh_token: nil, session_state: nil, scope: scopes.claim))
    }

    func refreshGrant(form: FormParameters, realm: Realm, client: Client, context: KeyportRequestContext) async throws -> Response {
        guard let refresh = form["refresh_token"], !refresh.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: refresh_token") }
        // An offline token (scope offline_access) carries the identity-token prefix.
        let offline = refresh.hasPrefix(SessionTokens.identityTokenPrefix)
        let session: Session, user: User
        do {
            (session, user) = try await tokens.sessions.live(token: refresh, realm: realm, clientId: client.id, offline: offline, authenticator: authenticator)
        } catch SessionTokens.Failure.wrongClient {
            throw OAuthError(.badRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
        } catch SessionTokens.Failure.notFullySetUp {
            throw OAuthError(.badRequest, "invalid_grant", "Account is not fully set up")
        } catch SessionTokens.Failure.userDisabled {
            throw OAuthError(.badRequest, "invalid_grant", "User disabled")
        } catch SessionTokens.Failure.unknown where !OpaqueToken.isWellFormed(offline ? String(refresh.dropFirst(SessionTokens.identityTokenPrefix.count)) : refresh) {
            throw OAuthError.invalidRefreshToken
        } catch is SessionTokens.Failure {
            // Keycloak's words for a refresh token whose session has ended (logged out, expired,
            // revoked): what python-keycloak and other long-running admins look for to log in
            // again. A token of our shape that matches no session has ended as far as anyone
            // outside can tell; a malformed one is "Invalid refresh token".
            throw OAuthError.sessionNotActive
        }
        let now = tokens.environment.now()
        try await store.touchSession(id: session.id, at: now, ipAddress: context.clientAddress)
        if let browser = session.browserSessionId { try await store.touchBrowserSession(id: browser, at: now, ipAddress: context.clientAddress) }
        // The scopes the session began with, as the client has them now.
        let scopes = try await tokens.scopes(client: client, realm: realm, requested: session.scope, lenient: true)
        let sid = session.browserSessionId ?? session.id
        let issued = try await tokens.issue(realm: realm, user: user, client: client, scopes: scopes, sessionId: sid,
                                            authTime: session.createdAt, idToken: .init(nonce: nil))
        return try JSONBody.response(TokenResponse(access_token: issued.accessToken, expires_in: realm.accessTokenLifespan,
                                                   refresh_expires_in: refreshExpiresIn(offline: offline, realm: realm), refresh_token: refresh,
                                                   session_state: sid, scope: scopes.claim, id_token: issued.idToken))
    }

    /// RFC 6749 §4.1.3 with PKCE (RFC 7636): a code is good once, for the client it was issued
    /// to, with the redirect URI and the verifier of its request. A code that fails a check is
    /// spent; a code used twice ends the session its first use started (§4.1.2).
    func codeGrant(form: FormParameters, realm: Realm, client: Client, context: KeyportRequestContext) async throws -> Response {
        guard let code = form["code"], !code.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: code") }
        let codeNotValid = OAuthError(.badRequest, "invalid_grant", "Code not valid")
        guard code.utf8.count <= OpaqueToken.maxLength else { throw codeNotValid }
        let hash = OpaqueToken.hash(code)
        guard let stored = try await store.authorizationCode(hash: hash), stored.realmId == realm.id else { throw codeNotValid }
        let now = tokens.environment.now()
        func refuse(_ error: OAuthError) async throws -> OAuthError {
            try await store.deleteAuthorizationCode(hash: hash)
            recordCode(realm: realm, client: client, userId: stored.userId, error: error.description, context: context)
            return error
        }
        // Only the client a code was issued to can use it, or (spent) set off its revocation.
        guard stored.clientId == client.id else {
            if stored.redeemedSessionId == nil { throw try await refuse(codeNotValid) }
            throw codeNotValid
        }
        if stored.redeemedSessionId == nil {
            guard form["redirect_uri"] == stored.redirectUri else { throw try await refuse(OAuthError(.badRequest, "invalid_grant", "Incorrect redirect_uri")) }
            if let challenge = stored.codeChallenge, let method = stored.codeChallengeMethod {
                guard let verifier = form["code_verifier"] else { throw try await refuse(OAuthError(.badRequest, "invalid_grant", "PKCE code verifier not specified")) }
                guard PKCE.verify(verifier: verifier, challenge: challenge, method: method) else {
                    throw try await refuse(OAuthError(.badRequest, "invalid_grant", "PKCE verification failed: Code mismatch"))
                }
            } else if form["code_verifier"] != nil {
                throw try await refuse(OAuthError(.badRequest, "invalid_grant", "PKCE code verifier specified but challenge not present in authorization"))
            }
        }
        guard let user = try await store.user(id: stored.userId, realmId: realm.id), user.enabled, user.requiredActions.isEmpty,
              let browser = try await store.browserSession(id: stored.browserSessionId, realmId: realm.id), browser.authTime >= user.notBefore
        else { throw try await refuse(codeNotValid) }
        let scopes = try await tokens.scopes(client: client, realm: realm, requested: stored.scope, lenient: true)
        // An offline token outlives the browser's sign-in: it is not tied to the browser session.
        let offline = try await offlineRequested(scopes, user: user, realm: realm)
        let (refresh, session) = tokens.sessions.prepare(realm: realm, user: user, clientId: client.id, scope: scopes.requested, offline: offline,
                                                         ipAddress: context.clientAddress, browserSession: offline ? nil : browser)
        switch try await store.redeemAuthorizationCode(hash: hash, session: session, at: now) {
        case .unknown:
            throw codeNotValid
        case .replayed:
            recordCode(realm: realm, client: client, userId: stored.userId, error: "Code used twice: its session is ended", context: context)
            throw codeNotValid
        case .redeemed:
            break
        }
        let issued = try await tokens.issue(realm: realm, user: user, client: client, scopes: scopes, sessionId: offline ? session.id : browser.id,
                                            authTime: browser.authTime, idToken: .init(nonce: stored.nonce))
        events.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: now, type: "CODE_TO_TOKEN", clientId: client.clientId,
                            userId: user.id, ipAddress: context.clientAddress, error: nil,
                            details: ["auth_method": "openid-connect", "grant_type": "authorization_code"]), in: realm)
        return try JSONBody.response(TokenResponse(access_token: issued.accessToken, expires_in: realm.accessTokenLifespan,
                                                   refresh_expires_in: refreshExpiresIn(offline: offline, realm: realm), refresh_token: refresh,
                                                   session_state: offline ? session.id : browser.id, scope: scopes.claim, id_token: issued.idToken))
    }

    func recordCode(realm: Realm, client: Client, userId: String?, error: String, context: KeyportRequestContext) {
        events.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: tokens.environment.now(), type: "CODE_TO_TOKEN_ERROR",
                            clientId: client.clientId, userId: userId, ipAddress: context.clientAddress, error: error,
                            details: ["auth_method": "openid-connect", "grant_type": "authorization_code"]), in: realm)
    }

    func record(realm: Realm, type: String, client: Client, user: User?, error: String?, username: String, extra: [String: String] = [:],
                context: KeyportRequestContext) {
        var details = ["auth_method": "openid-connect", "username": String(username.prefix(255)),
                       "grant_type": type == "CLIENT_LOGIN" ? "client_credentials" : "password"]
        details.merge(extra) { _, new in new }
        events.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: tokens.environment.now(), type: type,
                            clientId: client.clientId, userId: user?.id, ipAddress: context.clientAddress, error: error, details: details),
                      in: realm)
    }

    // MARK: Keys and discovery

    func certs(_ context: KeyportRequestContext) async throws -> Response {
        let realm = try await realm(context)
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        return try JSONBody.response(["keys": keys.usable.map { entry in
            var jwk = entry.signer.publicJWK
            jwk.kid = entry.key.id
            return jwk
        }])
    }

    func discovery(_ context: KeyportRequestContext) async throws -> Response {
        let realm = try await realm(context)
        let issuer = tokens.issuer(for: realm)
        let base = "\(issuer)/protocol/openid-connect"
        return try JSONBody.response(Discovery(
            issuer: issuer, authorization_endpoint: "\(base)/auth", device_authorization_endpoint: "\(base)/auth/device", token_endpoint: "\(base)/token",
            jwks_uri: "\(base)/certs",
            userinfo_endpoint: "\(base)/userinfo", introspection_endpoint: "\(base)/token/introspect", end_session_endpoint: "\(base)/logout",
            revocation_endpoint: "\(base)/revoke",
            grant_types_supported: ["authorization_code", "password", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
            response_types_supported: ["code"], response_modes_supported: ["query", "fragment"], subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: ["RS256"],
            userinfo_signing_alg_values_supported: SigningAlgorithm.allCases.map(\.rawValue) + ["none"],
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported: ["plain", "S256"],
            revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            scopes_supported: ["openid"] + (try await store.clientScopes(realmId: realm.id)).map(\.name).sorted(),
            claims_supported: ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username", "email",
                               "email_verified", "acr", "azp", "nonce", "sid", "at_hash", "exp", "iat"],
            claims_parameter_supported: false, request_parameter_supported: false, request_uri_parameter_supported: false,
            authorization_response_iss_parameter_supported: true, frontchannel_logout_supported: false, backchannel_logout_supported: true,
            backchannel_logout_session_supported: true))
    }

    struct Discovery: Encodable {
        let issuer, authorization_endpoint, device_authorization_endpoint, token_endpoint, jwks_uri, userinfo_endpoint, introspection_endpoint, end_session_endpoint: String
        let revocation_endpoint: String
        let grant_types_supported, response_types_supported, response_modes_supported, subject_types_supported: [String]
        let id_token_signing_alg_values_supported, userinfo_signing_alg_values_supported: [String]
        let token_endpoint_auth_methods_supported, code_challenge_methods_supported: [String]
        let revocation_endpoint_auth_methods_supported, introspection_endpoint_auth_methods_supported: [String]
        let scopes_supported, claims_supported: [String]
        let claims_parameter_supported, request_parameter_supported, request_uri_parameter_supported: Bool
        let authorization_response_iss_parameter_supported, frontchannel_logout_supported, backchannel_logout_supported: Bool
        let backchannel_logout_session_supported: Bool
    }

    func realmDescription(_ context: KeyportRequestContext) async throws -> Response {
        let realm = try await realm(context)
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        let issuer = tokens.issuer(for: realm)
        var body: JSONValue = [
            "realm": .string(realm.name), "token-service": .string("\(issuer)/protocol/openid-connect"),
            "account-service": .string("\(issuer)/account"), "tokens-not-before": 0,
        ]
        if let rsa = keys.signer(for: .rs256) { body["public_key"] = .string(rsa.signer.subjectPublicKeyInfoDER.base64EncodedString()) }
        return try JSONBody.response(body)
    }

    // MARK: Userinfo, introspection, logout

    func userinfo(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let realm = try await realm(context)
        guard let bearer = BearerToken.from(request) else { throw OAuthError.invalidToken("Missing bearer token") }
        let verified: VerifiedToken
        do { verified = try await tokens.verifyAccessToken(bearer) } catch is VerificationFailure { throw OAuthError.invalidToken() }
        guard verified.realm.id == realm.id else { throw OAuthError.invalidToken() }
        // The claims the token's client scopes send to userinfo, for the user as it is now.
        let answer: TokenService.UserInfo
        do {
            answer = try await tokens.userInfo(user: verified.user, realm: realm, clientId: verified.claims.azp, scope: verified.claims.scope)
        } catch let error as TokenServiceError {
            // The client's settings or the realm's keys cannot give the answer it registered for.
            throw OAuthError(.internalServerError, "server_error", error.description)
        }
        switch answer {
        case .json(let claims): return try JSONBody.response(claims)
        case .signed(let jwt):
            return Response(status: .ok, headers: [.contentType: "application/jwt", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: jwt)))
        }
    }

    func introspect(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let realm = try await realm(context)
        let form = try await FormParameters.body(of: request, context: context)
        _ = try await clients.authenticate(form: form, request: request, realm: realm, requireConfidential: true)
        guard let token = form["token"], !token.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: token") }
        if token.split(separator: ".").count == 3 {
            let verified: VerifiedToken
            do { verified = try await tokens.verifyAccessToken(token) } catch is VerificationFailure { return JSONBody.raw(#"{"active":false}"#) }
            guard verified.realm.id == realm.id else { return JSONBody.raw(#"{"active":false}"#) }
            // Every claim the token carries (its scopes' mappers' included), and Keycloak's extras.
            var object = try (try? JSONDecoder().decode(JSONValue.self, from: JWS.parse(token).payload)) ?? JSONValue.from(verified.claims)
            object["active"] = true
            object["client_id"] = .string(verified.claims.azp)
            object["username"] = .string(verified.user.username)
            object["token_type"] = "Bearer"
            return try JSONBody.response(object)
        }
        let session: Session, user: User
        do {
            (session, user) = try await tokens.sessions.live(token: token, realm: realm, clientId: nil, offline: token.hasPrefix(SessionTokens.identityTokenPrefix),
                                                             authenticator: authenticator)
        } catch is SessionTokens.Failure {
            return JSONBody.raw(#"{"active":false}"#)
        }
        let clientId = try await store.client(id: session.clientId, realmId: realm.id)?.clientId ?? ""
        let expiry = SessionTokens.end(of: session, in: realm)
        let object: JSONValue = [
            "active": true, "token_type": session.offline ? "Offline" : "Refresh", "sub": .string(user.id), "username": .string(user.username),
            "client_id": .string(clientId), "sid": .string(session.id), "iat": .number(Double(session.createdAt.secondsSince1970)),
            "exp": .number(Double(expiry.secondsSince1970)), "iss": .string(tokens.issuer(for: realm)), "scope": .string(session.scope),
        ]
        return try JSONBody.response(object)
    }

    /// RFC 7009 token revocation (Keycloak's `…/revoke`): a refresh or offline token ends its
    /// session, and with it the access tokens that name it. An unknown or spent token is a success
    /// (§2.2); another client's token is refused; access tokens are not revoked one by one here
    /// (`unsupported_token_type`, §2.2.1): end their session instead.
    func revoke(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let realm = try await realm(context)
        let form = try await FormParameters.body(of: request, context: context)
        let client = try await clients.authenticate(form: form, request: request, realm: realm)
        guard let token = form["token"], !token.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: token") }
        if token.split(separator: ".").count == 3 {
            throw OAuthError(.badRequest, "unsupported_token_type", "Access tokens are not revoked one by one: revoke the refresh token, or log the session out")
        }
        guard token.utf8.count <= OpaqueToken.maxLength, let session = try await store.session(refreshTokenHash: OpaqueToken.hash(token)),
              session.realmId == realm.id
        else { return Response(status: .ok) }
        guard session.clientId == client.id else { throw OAuthError(.badRequest, "unauthorized_client", "Unmatching clients") }
        try await store.deleteSession(id: session.id, realmId: realm.id)
        events.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: tokens.environment.now(), type: "REVOKE_GRANT",
                            clientId: client.clientId, userId: session.userId, ipAddress: context.clientAddress, error: nil,
                            details: ["auth_method": "openid-connect", "token_type": session.offline ? "Offline" : "Refresh"]), in: realm)
        return Response(status: .ok)
    }

    /// Keycloak's logout endpoint does both: a client ending its session with its refresh token,
    /// and a browser sent by a relying party (`BrowserSignIn.logout`).
    func logout(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let form = try await FormParameters.body(of: request, context: context)
        guard form["refresh_token"] != nil else { return try await BrowserSignIn(oidc: self).logout(request, BrowserSignIn.posted(request, body: form), context) }
        let realm = try await realm(context)
        let client = try await clients.authenticate(form: form, request: request, realm: realm)
        guard let refresh = form["refresh_token"], !refresh.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: refresh_token") }
        guard refresh.utf8.count <= OpaqueToken.maxLength, let session = try await store.session(refreshTokenHash: OpaqueToken.hash(refresh)),
              session.realmId == realm.id else {
            throw OAuthError.invalidRefreshToken
        }
        guard session.clientId == client.id else {
            throw OAuthError(.badRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
        }
        try await store.deleteSession(id: session.id, realmId: realm.id)
        return Response(status: .noContent)
    }
}
