import Foundation
import DockerV2Grammar
import Hummingbird
import KeyportAccessTokens
import KeyportAuth
import KeyportEvents
import KeyportFederation
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore
import KeyportTokens

/// `{hostname}/realms/{realm}/protocol/docker-v2/auth`: the token realm of a registry.
///
/// - `GET` with HTTP Basic credentials (every client; `offline_token=true` from `docker login`
///   also asks for an identity token);
/// - `POST`, form-encoded, OAuth2's flow (distribution's `oauth.md`): `grant_type=password`
///   (containerd tries it first) and `grant_type=refresh_token` with an identity token (the
///   Docker engine, once `docker login` has stored one instead of the password).
///
/// The pipeline, one step per type: parse the request (`ScopeParser`) → authenticate the user
/// (`PasswordAuthenticator`, or the identity token's session through `SessionTokens`) →
/// authorize each scope (`RegistryAuthorizer`, with the user's roles as they are now) → issue
/// the token (`RegistryTokenIssuer`). Every request with credentials, granted or not, is an
/// event (within the realm's event settings and the recorder's rate for failures).
public struct DockerV2Controller: Sendable {
    let store: any IdentityStore
    let authenticator: PasswordAuthenticator
    let authorizer: RegistryAuthorizer
    let issuer: RegistryTokenIssuer
    let events: EventRecorder
    let environment: TimeAndRandomness
    let realmIssuer: RealmIssuer
    let sessions: SessionTokens
    let personalAccessTokens: PersonalAccessTokens
    /// The realm's settings, clients and keys, read once per change of its configuration version.
    let configuration: RealmConfigurationCache
    /// Checks a CI job's JWT given as a `federated-jwt` client's password.
    let federation: FederatedJWTVerifier
    let onIssued: @Sendable () -> Void

    public init(store: any IdentityStore, authenticator: PasswordAuthenticator, authorizer: RegistryAuthorizer, issuer: RegistryTokenIssuer,
                events: EventRecorder, environment: TimeAndRandomness, realmIssuer: RealmIssuer, federation: FederatedJWTVerifier? = nil,
                configuration: RealmConfigurationCache? = nil, onIssued: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.issuer = issuer
        self.events = events
        self.environment = environment
        self.realmIssuer = realmIssuer
        self.sessions = SessionTokens(store: store, environment: environment)
        self.personalAccessTokens = PersonalAccessTokens(store: store, environment: environment)
        self.configuration = configuration ?? RealmConfigurationCache(store: store)
        self.federation = federation ?? FederatedJWTVerifier(keys: JWKSCache(now: environment.now))
        self.onIssued = onIssued
    }

    public static let path: RouterPath = "/realms/{realm}/protocol/docker-v2/auth"

    /// Forgets what this controller keeps of `cache` (realm settings, clients and keys read for
    /// tokens): of every realm, or of the realm named `realm`.
    public func removeCached(_ cache: ServerCache, realm: String? = nil) {
        switch cache {
        case .realm, .keys:
            if let realm { configuration.remove(realmNamed: realm) } else { configuration.removeAll() }
        case .user: break
        }
    }

    /// The registry notifications' endpoint, sharing this endpoint's view of realms and clients.
    public func notifications() -> RegistryNotifications {
        RegistryNotifications(store: store, configuration: configuration, events: events, environment: environment)
    }

    public func addRoutes(to router: Router<KeyportRequestContext>) {
        router.get(Self.path) { request, context in try await tokenByGet(request, context) }
        router.post(Self.path) { request, context in try await tokenByPost(request, context) }
    }

    /// What every token request names: an enabled realm with docker-v2 on, and its registry client.
    struct Endpoint {
        /// The realm with the versions read at this request.
        let current: RealmConfigurationCache.Current
        var realm: Realm { current.realm }
        let client: Client
        let settings: DockerClientSettings
        let requested: [ResourceScope]
    }

    func realm(_ context: KeyportRequestContext) async throws -> RealmConfigurationCache.Current {
        // Whether docker-v2 is on for the realm is checked at every request: no restart needed
        // (the configuration cache is checked against the realm's version at each request).
        let realmName = context.pathParameter("realm") ?? ""
        guard realmName.utf8.count <= 255, let current = try await configuration.realm(named: realmName) else {
            throw DockerV2Error.notFound("realm_not_found", "Realm '\(String(realmName.prefix(80)))' does not exist")
        }
        let realm = current.realm
        guard realm.enabled else { throw DockerV2Error.notFound("realm_disabled", "Realm '\(realm.name)' is disabled") }
        guard realm.dockerV2Enabled else {
            throw DockerV2Error.notFound("docker_v2_disabled", "The docker-v2 protocol is not enabled for realm '\(realm.name)'")
        }
        return current
    }

    func endpoint(realm current: RealmConfigurationCache.Current, service: String?, scopes: [String]) async throws -> Endpoint {
        guard let service, !service.isEmpty else { throw DockerV2Error.serviceMissing }
        let requested: [ResourceScope]
        do {
            requested = try ScopeParser.parse(scopes)
        } catch {
            throw DockerV2Error.badRequest("invalid_scope", error.description, code: "UNSUPPORTED")
        }
        guard service.utf8.count <= 255, let client = try await configuration.client(clientId: service, in: current), client.protocolName == .dockerV2 else {
            throw DockerV2Error.unknownClient
        }
        guard client.enabled else { throw DockerV2Error.clientDisabled }
        return Endpoint(current: current, client: client, settings: DockerClientSettings(client), requested: requested)
    }

    // MARK: GET

    func tokenByGet(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let current = try await realm(context)
        let realm = current.realm
        let query = FormParameters.query(of: request)
        let endpoint = try await endpoint(realm: current, service: query["service"], scopes: query.all("scope"))
        guard let credentials = BasicCredentials(header: request.headers[.authorization]) else {
            if !endpoint.settings.anonymousGrants.isEmpty { return try await grantAnonymously(endpoint) }
            // Not stored: it costs the caller nothing, so a row each would let anyone fill the disk.
            events.suppress(.unauthenticated)
            throw DockerV2Error.unauthorized("Authentication required: log in with a username and password of realm '\(realm.name)'",
                                             requested: endpoint.requested, realmName: realm.name)
        }
        let caller = try await authenticate(endpoint, username: credentials.username, password: credentials.password,
                                            grantType: nil, context: context)
        // `docker login` asks for an identity token to keep instead of the password.
        let wantsIdentityToken = parseBoolean(query["offline_token"]) == true
        return try await grant(endpoint, caller: caller, issueIdentityToken: wantsIdentityToken, grantType: nil, answerScope: false, context: context)
    }

    /// A request without credentials, where the client allows some access to anyone: a token for
    /// the requested access within the anonymous grants, `sub` empty. Not stored as an event (a
    /// row per request would let anyone fill the disk); counted in `/metrics` instead.
    func grantAnonymously(_ endpoint: Endpoint) async throws -> Response {
        let decision = try await authorizer.decide(realm: endpoint.realm, client: endpoint.client, user: nil, requested: endpoint.requested,
                                                   authorizationVersion: endpoint.current.versions.authorization,
                                                   settings: endpoint.settings)
        let issued = try await issue(endpoint, subject: "", access: decision.access)
        events.suppress(.anonymous)
        return try response(issued, identityToken: nil, answerScope: false)
    }

    // MARK: POST

    func tokenByPost(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let current = try await realm(context)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
            throw DockerV2Error.badRequest("invalid_request", "The body must be application/x-www-form-urlencoded", code: "UNSUPPORTED")
        }
        let form = try await FormParameters.body(of: request, context: context)
        let endpoint = try await endpoint(realm: current, service: form["service"], scopes: form.all("scope"))
        switch form["grant_type"] ?? "" {
        case "password":
            guard let username = form["username"], !username.isEmpty, let password = form["password"].map(Sensitive.init) else {
                throw DockerV2Error.badRequest("invalid_request", "grant_type=password needs username and password", code: "UNSUPPORTED")
            }
            let caller = try await authenticate(endpoint, username: username, password: password, grantType: "password", context: context)
            return try await grant(endpoint, caller: caller, issueIdentityToken: form["access_type"] == "offline", grantType: "password",
                                   answerScope: true, context: context)
        case "refresh_token":
            guard let token = form["refresh_token"], !token.isEmpty else {
                throw DockerV2Error.badRequest("invalid_request", "grant_type=refresh_token needs refresh_token", code: "UNSUPPORTED")
            }
            return try await refresh(endpoint, identityToken: token, context: context)
        case "":
            throw DockerV2Error.badRequest("invalid_request", "grant_type must be provided", code: "UNSUPPORTED")
        default:
            throw DockerV2Error.badRequest("unsupported_grant_type", "Unsupported grant_type: use password or refresh_token", code: "UNSUPPORTED")
        }
    }

    /// An identity token in use: the session behind it, alive, for this registry; the user's
    /// roles as they are now decide the access. The token does not rotate (the Docker engine
    /// throws a new one away, moby#39718): the one it holds keeps working, and each use slides
    /// the realm's offline idle window.
    func refresh(_ endpoint: Endpoint, identityToken: String, context: KeyportRequestContext) async throws -> Response {
        let realm = endpoint.realm
        let session: Session, user: User
        do {
            guard endpoint.settings.identityTokens else { throw IdentityTokensOff() }
            (session, user) = try await sessions.live(token: identityToken, realm: realm, clientId: endpoint.client.id, offline: true,
                                                      authenticator: authenticator)
        } catch let failure as SessionTokens.Failure {
            record(endpoint, type: "REFRESH_TOKEN_ERROR", user: nil, username: nil, granted: nil, error: failure.rawValue,
                   extra: ["grant_type": "refresh_token"], context: context)
            throw DockerV2Error.invalidGrant(failure == .wrongClient
                ? "This identity token was issued for another registry: log in again (docker login)"
                : "The identity token is no longer valid (expired, revoked, or the password changed): log in again (docker login)")
        } catch is IdentityTokensOff {
            record(endpoint, type: "REFRESH_TOKEN_ERROR", user: nil, username: nil, granted: nil, error: "identity_tokens_disabled",
                   extra: ["grant_type": "refresh_token"], context: context)
            throw DockerV2Error.invalidGrant("Identity tokens are turned off for this registry: log in again (docker login)")
        }
        // Each use slides the idle window (30 days by default): a write at most once a minute per
        // token (or when the address changes) keeps that true without a write per registry request.
        let now = environment.now()
        if session.lastRefresh.adding(seconds: 60) <= now || (context.clientAddress != nil && context.clientAddress != session.ipAddress) {
            try await store.touchSession(id: session.id, at: now, ipAddress: context.clientAddress)
        }
        let decision = try await authorizer.decide(realm: realm, client: endpoint.client, user: user, requested: endpoint.requested,
                                                   authorizationVersion: try await authorizationVersion(endpoint, user: user),
                                                   settings: endpoint.settings)
        let issued = try await issue(endpoint, subject: user.username, access: decision.access)
        record(endpoint, type: "REFRESH_TOKEN", user: user, username: user.username, granted: decision.access, error: nil,
               extra: ["grant_type": "refresh_token", "refresh_token_type": "Offline", "identity_token_id": session.id], context: context)
        return try response(issued, identityToken: nil, answerScope: true)
    }

    struct IdentityTokensOff: Error {}

    // MARK: Shared steps

    /// Who presented credentials, and what limits their access beyond the user's own grants.
    struct Caller {
        /// What was presented; events name it (`credential_type`) unless it is a password.
        enum Credential: String {
            case password, clientSecret = "client-secret", personalAccessToken = "personal-access-token", federatedJWT = "federated-jwt"
        }
        let user: User
        let credential: Credential
        /// A personal access token's grants (`nil`: none beyond the user's).
        let tokenGrants: [RegistryGrant]?
        let details: [String: String]
        /// A password login's proof, for the identity token's session (`LoginProof`).
        var proof: LoginProof? = nil

        /// Only a password login may be traded for an identity token: a token made from a personal
        /// access token or a client secret would outlive its revocation and escape its limits, and
        /// one made from a CI job's JWT would outlive the job (docker keeps the JWT itself instead).
        var mayHoldIdentityToken: Bool { credential == .password }
    }

    /// The credentials of a registry client, in the order they are recognised: a personal access
    /// token (`kpat_…` as the password), a service account's client secret (the username is a
    /// confidential client's `clientId` with service accounts enabled, and no user has that
    /// name), else a user's password — with the same brute-force protection on every path and the
    /// same timing for every password.
    func authenticate(_ endpoint: Endpoint, username: String, password: Sensitive, grantType: String?, context: KeyportRequestContext) async throws -> Caller {
        let realm = endpoint.realm
        var details: [String: String] = grantType.map { ["grant_type": $0] } ?? [:]
        if password.revealed.hasPrefix(PersonalAccessTokens.prefix) {
            details["credential_type"] = Caller.Credential.personalAccessToken.rawValue
            switch try await personalAccessTokens.verify(secret: password.revealed, username: username, realm: realm, client: endpoint.client) {
            case .success(let verified):
                details["token_id"] = verified.token.id
                // A directory's person: the directory decides again (gone or disabled there: refused).
                guard let owner = try await authenticator.directoryStanding(of: verified.owner, realm: realm, token: password) else {
                    record(endpoint, type: "LOGIN_ERROR", user: verified.owner, username: username, granted: nil,
                           error: PersonalAccessTokens.Failure.userDisabled.rawValue, extra: details, context: context)
                    throw DockerV2Error.unauthorized(DockerV2Error.invalidCredentials, requested: endpoint.requested,
                                                     oauthError: grantType == nil ? nil : "invalid_grant")
                }
                do { try await personalAccessTokens.recordUse(verified.token, ipAddress: context.clientAddress) } catch {
                    // Last use is for people to read; a failed write must not refuse a right token.
                }
                return Caller(user: owner, credential: .personalAccessToken, tokenGrants: verified.grants, details: details)
            case .failure(let refusal):
                if let token = refusal.token { details["token_id"] = token.id }
                record(endpoint, type: "LOGIN_ERROR", user: refusal.owner, username: username, granted: nil, error: refusal.reason.rawValue,
                       extra: details, context: context)
                throw DockerV2Error.unauthorized(DockerV2Error.invalidCredentials, requested: endpoint.requested,
                                                 oauthError: grantType == nil ? nil : "invalid_grant")
            }
        }
        let outcome: LoginOutcome
        var proof: LoginProof?
        var credential = Caller.Credential.password
        let robot = username.utf8.count <= 255 ? try await configuration.client(clientId: username, in: endpoint.current) : nil
        if let robot, robot.federatedJWT, robot.protocolName == .openIDConnect, try await store.user(username: username, realmId: realm.id) == nil {
            return try await federatedCaller(endpoint, client: robot, token: password, details: details, context: context, grantType: grantType)
        }
        if let robot, PasswordAuthenticator.hasServiceAccountLogin(robot), try await store.user(username: username, realmId: realm.id) == nil {
            credential = .clientSecret
            details["credential_type"] = credential.rawValue
            outcome = try await authenticator.authenticate(realm: realm, serviceAccountOf: robot, secret: password, ipAddress: context.clientAddress)
        } else {
            (outcome, proof) = try await authenticator.authenticateProving(realm: realm, username: username, password: password,
                                                                         ipAddress: context.clientAddress)
        }
        switch outcome {
        case .authenticated(let user):
            return Caller(user: user, credential: credential, tokenGrants: nil, details: details, proof: proof)
        case .failed(let reason, let user):
            record(endpoint, type: "LOGIN_ERROR", user: user, username: username, granted: nil, error: reason.rawValue, extra: details, context: context)
            let message = reason == .accountNotFullySetUp
                ? "Account is not fully set up: change the temporary password first" : DockerV2Error.invalidCredentials
            throw DockerV2Error.unauthorized(message, requested: endpoint.requested, oauthError: grantType == nil ? nil : "invalid_grant")
        }
    }

    /// A `federated-jwt` client whose password is a CI job's (or workload's) JWT: the verifier
    /// decides, the client's service account's roles as they are now decide the access. Nothing
    /// here counts toward a lockout — anyone can send junk as a client's password — and nothing
    /// is cached: a JWT is checked at each of a push's token requests (a signature, and the
    /// issuer's keys from the shared cache), so none is accepted past its own `exp`.
    func federatedCaller(_ endpoint: Endpoint, client: Client, token: Sensitive, details: [String: String], context: KeyportRequestContext,
                         grantType: String?) async throws -> Caller {
        let realm = endpoint.realm
        var details = details
        details["credential_type"] = Caller.Credential.federatedJWT.rawValue
        let refuse = { (error: String, message: String) -> DockerV2Error in
            record(endpoint, type: "LOGIN_ERROR", user: nil, username: client.clientId, granted: nil, error: error, extra: details, context: context)
            return DockerV2Error.unauthorized(message, requested: endpoint.requested, oauthError: grantType == nil ? nil : "invalid_grant")
        }
        guard FederatedJWTVerifier.looksLikeJWT(token.revealed) else {
            throw refuse("invalid_client_credentials", "\(client.clientId) signs in with a JWT from its identity provider, not a password")
        }
        let alias = client.attributes[FederatedJWTVerifier.issuerAttribute] ?? ""
        let provider = alias.isEmpty || alias.utf8.count > 255 ? nil : try await store.identityProvider(alias: alias, realmId: realm.id)
        let verified: FederatedJWTVerifier.Verified
        let store = store, now = environment.now()
        do {
            verified = try await federation.verify(token.revealed, client: client, provider: provider, audience: realmIssuer.url(for: realm),
                                                   now: now, door: .registry, replay: { key, _ in
                !(try await store.clientAssertionUsed(key: key, realmId: realm.id, now: now))
            })
        } catch let refusal as FederatedJWTVerifier.Refusal {
            if refusal.kind == .issuerUnavailable {
                record(endpoint, type: "LOGIN_ERROR", user: nil, username: client.clientId, granted: nil, error: "identity_provider_unavailable",
                       extra: details, context: context)
                throw DockerV2Error.unavailable(refusal.description)
            }
            details["reason"] = refusal.detail
            // The reason is the caller's to read once the token is shown to be the issuer's;
            // before that, only the event has it.
            let said = refusal.description == refusal.detail ? ": \(refusal.description)" : ""
            throw refuse("invalid_client_credentials", DockerV2Error.invalidCredentials + said)
        }
        details.merge(verified.eventDetails) { _, new in new }
        guard client.enabled, client.serviceAccountsEnabled,
              let account = try await store.serviceAccountUser(clientId: client.id, realmId: realm.id), account.enabled
        else { throw refuse("invalid_client", "\(client.clientId) has no enabled service account") }
        return Caller(user: account, credential: .federatedJWT, tokenGrants: nil, details: details)
    }

    /// Authorizes with the user's roles as they are now, issues, and (when asked and allowed)
    /// starts the offline session an identity token stands for.
    func grant(_ endpoint: Endpoint, caller: Caller, issueIdentityToken: Bool, grantType: String?, answerScope: Bool,
               context: KeyportRequestContext) async throws -> Response {
        let user = caller.user
        let decision = try await authorizer.decide(realm: endpoint.realm, client: endpoint.client, user: user, requested: endpoint.requested,
                                                   limitedTo: caller.tokenGrants, authorizationVersion: try await authorizationVersion(endpoint, user: user),
                                                   settings: endpoint.settings)
        let issued = try await issue(endpoint, subject: user.username, access: decision.access)
        var details = caller.details
        var identityToken: String?
        if issueIdentityToken, caller.mayHoldIdentityToken, endpoint.settings.identityTokens {
            do {
                let (token, session) = try await sessions.start(realm: endpoint.realm, user: user, clientId: endpoint.client.id, scope: "",
                                                                offline: true, ipAddress: context.clientAddress, proof: caller.proof)
                identityToken = token
                details["identity_token_id"] = session.id
            } catch StoreError.conflict(.credentialChanged) {
                // The password was replaced (or the user logged out) while this login was checked.
                record(endpoint, type: "LOGIN_ERROR", user: user, username: user.username, granted: nil,
                       error: LoginFailure.invalidCredentials.rawValue, extra: details, context: context)
                throw DockerV2Error.unauthorized(DockerV2Error.invalidCredentials, requested: endpoint.requested,
                                                 oauthError: grantType == nil ? nil : "invalid_grant")
            }
        }
        record(endpoint, type: "LOGIN", user: user, username: user.username, granted: decision.access, error: nil, extra: details, context: context)
        return try response(issued, identityToken: identityToken, answerScope: answerScope)
    }

    /// The authorization version `user`'s roles are read at: the request's, except for a
    /// directory's person, who may just have been brought up to date by its sign-in or token use
    /// (groups, roles the directory decides) — read after that write.
    func authorizationVersion(_ endpoint: Endpoint, user: User) async throws -> Int64 {
        user.federationLink == nil ? endpoint.current.versions.authorization : try await store.authorizationVersion(realmId: endpoint.realm.id)
    }

    /// Signs (or reuses) the token for `subject` (a username, or empty for an anonymous request).
    func issue(_ endpoint: Endpoint, subject: String, access: [ResourceScope]) async throws -> RegistryTokenIssuer.Issued {
        let issued = try await issuer.issue(realm: endpoint.realm, issuer: realmIssuer.url(for: endpoint.realm), service: endpoint.client.clientId,
                                            subject: subject, access: access, algorithm: endpoint.settings.algorithm,
                                            x5c: endpoint.settings.x5c, storedKeys: try await configuration.keys(in: endpoint.current))
        onIssued()
        return issued
    }

    func response(_ issued: RegistryTokenIssuer.Issued, identityToken: String?, answerScope: Bool) throws -> Response {
        let scope = answerScope
            ? issued.claims.access.filter { !$0.actions.isEmpty }.map(\.description).joined(separator: " ") : nil
        // The registry's token answer (reference §5): `token` and `access_token` (the same JWT),
        // `expires_in`, `issued_at`, and on OAuth2's path `scope` and, when issued, `refresh_token`.
        // Written by hand: a JSONEncoder per request showed in the profile.
        let token = JSONText.quoted(issued.token)
        var json = "{\"token\":\(token),\"access_token\":\(token),"
            + "\"expires_in\":\(issued.expiresIn),\"issued_at\":\(JSONText.quoted(issued.issuedAt))"
        if let identityToken { json += ",\"refresh_token\":\(JSONText.quoted(identityToken))" }
        if let scope { json += ",\"scope\":\(JSONText.quoted(scope))" }
        return JSONBody.raw(json + "}")
    }

    func record(_ endpoint: Endpoint, type: String, user: User?, username: String?, granted: [ResourceScope]?, error: String?,
                extra: [String: String], context: KeyportRequestContext) {
        var details = ["auth_method": "docker-v2", "requested_access": endpoint.requested.map(\.description).joined(separator: " ")]
        if let username { details["username"] = String(username.prefix(255)) }
        if let granted { details["granted_access"] = granted.map(\.description).joined(separator: " ") }
        details.merge(extra) { _, new in new }
        events.record(Event(id: environment.newID(), realmId: endpoint.realm.id, time: environment.now(), type: type,
                            clientId: endpoint.client.clientId, userId: user?.id, ipAddress: context.clientAddress, error: error, details: details),
                      in: endpoint.realm)
    }
}
