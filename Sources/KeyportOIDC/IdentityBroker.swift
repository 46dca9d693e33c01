import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import KeycloakRepresentations
import KeyportAuth
import KeyportFederation
import KeyportHTTP
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportStore
import KeyportTokens

/// Signing people in through another OpenID provider (Keycloak's identity brokering): the login
/// page's "Sign in with …" links, the redirect to the provider, its answer at
/// `/realms/{realm}/broker/{alias}/endpoint`, and what the sign-in makes of the person.
///
/// What protects each step. To the provider: the authorization code flow with PKCE (S256), a
/// `state` and a `nonce` made for this sign-in and kept, with the PKCE verifier and the request
/// being served, in a cookie signed by the realm for this browser only (a callback without it,
/// or with another state, is refused: nobody can sign a victim in to the attacker's account by
/// sending a link). Back: the `iss` parameter, when the provider sends it, must be its issuer
/// (RFC 9207, mix-ups); each provider has its own redirect URI; the code is exchanged on the back
/// channel and the ID token verified (`UpstreamSignIn`). The person: found by the link keyed by
/// (provider, upstream `sub`), never by username or email; a first sign-in creates a user only
/// when neither its username nor its email belongs to someone, and otherwise links to that
/// account only after its password is entered (`login-actions/broker-link`); reserved usernames
/// (`service-account-…`) are refused.
struct IdentityBroker: Sendable {
    let oidc: OIDCController

    var store: any IdentityStore { oidc.store }
    var tokens: TokenService { oidc.tokens }
    var browser: BrowserSignIn { BrowserSignIn(oidc: oidc) }
    var now: Timestamp { tokens.environment.now() }

    static let cookie = "KEYPORT_BROKER"
    static let stateType = "keyport-broker"
    static let linkType = "keyport-broker-link"
    /// A signed cookie longer than this might be dropped by a browser (4 KB per cookie).
    static let maxCookie = 3_800

    func addRoutes(to router: Router<KeyportRequestContext>) {
        let broker = router.group("/realms/{realm}/broker/{alias}")
        broker.get("login") { request, context in try await start(request, context) }
        broker.get("endpoint") { request, context in try await callback(request, context) }
        router.post("/realms/{realm}/login-actions/broker-link") { request, context in try await link(request, context) }
    }

    // MARK: The login page's links

    /// The providers the login page offers: those people can sign in through, not hidden.
    func loginButtons(realm: Realm, auth: AuthorizationRequest) async throws -> [BrowserPages.ProviderLink] {
        try await store.identityProviders(realmId: realm.id).filter { $0.offersSignIn && !$0.hideOnLogin && $0.config["hideOnLoginPage"] != "true" }
            .map { BrowserPages.ProviderLink(alias: $0.alias, name: $0.displayName ?? $0.alias, url: startURL(realm: realm, alias: $0.alias, auth: auth)) }
    }

    func startURL(realm: Realm, alias: String, auth: AuthorizationRequest) -> String {
        browser.formAction("\(tokens.issuer(for: realm))/broker/\(UpstreamSignIn.formEncode(alias))/login", carrying: auth.formFields)
    }

    func redirectURI(realm: Realm, alias: String) -> String { "\(tokens.issuer(for: realm))/broker/\(UpstreamSignIn.formEncode(alias))/endpoint" }

    // MARK: To the provider

    /// What the browser keeps while it is at the provider: signed by the realm, for one sign-in.
    struct PendingSignIn: RealmSigned {
        var typ: String
        var iss: String
        /// The provider's alias and internal id.
        var alias: String
        var pid: String
        var state: String
        var nonce: String
        /// The PKCE verifier.
        var cv: String
        /// The authorization request being served (`formAction`'s encoding).
        var fields: String
        var exp: Int64
    }

    func start(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await browser.pageRealm(context) else { return browser.notFoundPage }
        let parameters = BrowserSignIn.posted(request, body: FormParameters(pairs: []))
        let auth: AuthorizationRequest
        switch try await browser.checked(parameters, realm: realm) {
        case .success(let request): auth = request
        case .failure(let response): return response
        }
        guard let alias = context.pathParameter("alias"), alias.utf8.count <= 255 else { return browser.errorPage("Could not find identity provider", realm: realm) }
        return try await redirectToProvider(alias: alias, auth: auth, realm: realm, request: request)
    }

    /// The browser to the provider's authorization endpoint, with this sign-in's cookie.
    func redirectToProvider(alias: String, auth: AuthorizationRequest, realm: Realm, request: Request) async throws -> Response {
        guard let provider = try await store.identityProvider(alias: alias, realmId: realm.id) else {
            return browser.errorPage("Could not find identity provider", realm: realm, status: .notFound)
        }
        guard auth.action == nil else {
            // A password change is made with the password, not through another provider.
            return browser.errorPage("An application action (kc_action) cannot be done through an identity provider.", realm: realm)
        }
        if let problem = provider.signInProblem {
            return browser.errorPage("Signing in through \(provider.displayName ?? provider.alias) is not possible: \(problem).", realm: realm)
        }
        let random = tokens.environment.randomBytes
        let state = Base64URL.encode(Data(random(32))), nonce = Base64URL.encode(Data(random(32))), verifier = Base64URL.encode(Data(random(32)))
        let fields = auth.formFields.map { "\($0.0)=\(UpstreamSignIn.formEncode($0.1))" }.joined(separator: "&")
        let pending = PendingSignIn(typ: Self.stateType, iss: tokens.issuer(for: realm), alias: provider.alias, pid: provider.id, state: state,
                                    nonce: nonce, cv: verifier, fields: fields, exp: now.secondsSince1970 + Int64(realm.accessCodeLifespanLogin))
        let signed = try await sign(pending, realm: realm)
        guard signed.utf8.count <= Self.maxCookie else {
            return browser.errorPage("The sign-in request is too large to continue through an identity provider.", realm: realm)
        }
        var query: [(String, String)] = [
            ("client_id", provider.clientId ?? ""), ("response_type", "code"), ("redirect_uri", redirectURI(realm: realm, alias: provider.alias)),
            ("scope", provider.defaultScope), ("state", state), ("nonce", nonce),
            ("code_challenge", Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8))))), ("code_challenge_method", "S256"),
        ]
        if provider.config["loginHint"] == "true", let hint = auth.loginHint { query.append(("login_hint", hint)) }
        if auth.prompt.contains("login") { query.append(("prompt", "login")) }
        let authorization = provider.authorizationURL ?? ""
        let location = authorization + (authorization.contains("?") ? "&" : "?")
            + query.map { "\($0.0)=\(UpstreamSignIn.formEncode($0.1))" }.joined(separator: "&")
        return browser.found(location, cookies: [browser.cookieHeader(Self.cookie, signed, realm: realm, maxAge: realm.accessCodeLifespanLogin)])
    }

    // MARK: Back from the provider

    func callback(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await browser.pageRealm(context) else { return browser.notFoundPage }
        let query = FormParameters.query(of: request)
        let clear = browser.cookieHeader(Self.cookie, "", realm: realm, maxAge: 0)
        let expired = "Your login attempt timed out. Login will start from the beginning."
        // This browser's pending sign-in, for this provider and this state.
        guard let alias = context.pathParameter("alias"), alias.utf8.count <= 255,
              let text = BrowserCookies.value(Self.cookie, in: request), text.utf8.count <= Self.maxCookie,
              let pending: PendingSignIn = try await verified(text, type: Self.stateType, realm: realm), pending.typ == Self.stateType,
              pending.alias == alias, let state = query["state"], query.all("state").count == 1,
              constantTimeEquals(Array(state.utf8), Array(pending.state.utf8))
        else { return withCookies(browser.errorPage(expired, realm: realm), [clear]) }
        let auth: AuthorizationRequest
        switch try await browser.checked(FormParameters(encoded: pending.fields), realm: realm) {
        case .success(let request): auth = request
        case .failure(let response): return withCookies(response, [clear])
        }
        guard let provider = try await store.identityProvider(alias: alias, realmId: realm.id), provider.id == pending.pid, provider.offersSignIn else {
            return withCookies(try await browser.loginPage(realm: realm, auth: auth, request: request, username: "",
                                                           message: "That identity provider is not available."), [clear])
        }
        let providerName = provider.displayName ?? provider.alias
        func failed(_ message: String, detail: String, status: HTTPResponse.Status = .ok) async throws -> Response {
            record(realm: realm, type: "IDENTITY_PROVIDER_LOGIN_ERROR", client: auth.client, user: nil, error: "identity_provider_login_failure",
                   details: ["identity_provider": provider.alias, "reason": String(detail.prefix(255))], context: context)
            return withCookies(try await browser.loginPage(realm: realm, auth: auth, request: request, username: "", message: message, status: status), [clear])
        }
        if let error = query["error"] {
            let said = String(error.prefix(64).filter { $0.isLetter || $0 == "_" })
            return try await failed(said == "access_denied" ? "Sign in with \(providerName) was cancelled." : "Sign in with \(providerName) failed.",
                                    detail: "The provider answered error=\(said)")
        }
        // RFC 9207: an answer that names its issuer must name this provider's.
        if let issuer = query["iss"], !FederatedJWTVerifier.same(issuer, provider.issuer ?? "") {
            return try await failed("Sign in with \(providerName) failed.", detail: "The answer's iss is not the provider's issuer (mix-up)")
        }
        guard let code = query["code"], query.all("code").count == 1, (1...4_096).contains(code.utf8.count) else {
            return try await failed("Sign in with \(providerName) failed.", detail: "The answer carries no code")
        }
        guard oidc.spentBrokerStates.spend(OpaqueToken.hash(pending.state), until: pending.exp, now: now.secondsSince1970) else {
            return try await failed("Your login attempt timed out. Login will start from the beginning.", detail: "The same sign-in came back twice")
        }
        let claims: [String: JSONValue]
        do {
            claims = try await oidc.upstream.signIn(code: code, redirectURI: redirectURI(realm: realm, alias: provider.alias), codeVerifier: pending.cv,
                                                    nonce: pending.nonce, provider: provider, now: now, partition: realm.id)
        } catch let failure as UpstreamSignIn.Failure {
            if failure.kind == .unavailable {
                return try await failed("\(providerName) cannot be reached now: try again later.", detail: failure.detail, status: .serviceUnavailable)
            }
            return try await failed("Unexpected error when authenticating with identity provider", detail: failure.detail)
        }
        let response = try await signIn(claims: BrokeredClaims(claims), provider: provider, auth: auth, realm: realm, request: request, context: context)
        return withCookies(response, [clear])
    }

    /// The person the provider vouched for: the linked user, a new one, or the page that links
    /// an existing account.
    func signIn(claims: BrokeredClaims, provider: IdentityProvider, auth: AuthorizationRequest, realm: Realm, request: Request,
                context: KeyportRequestContext) async throws -> Response {
        let subject = claims.first("sub") ?? ""
        guard (try? ObjectRules.plain(subject, what: "sub")) != nil else {
            record(realm: realm, type: "IDENTITY_PROVIDER_LOGIN_ERROR", client: auth.client, user: nil, error: "identity_provider_login_failure",
                   details: ["identity_provider": provider.alias, "reason": "The ID token's sub holds control characters"], context: context)
            return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "",
                                               message: "Unexpected error when authenticating with identity provider")
        }
        var upstreamUsername = Self.upstreamUsername(claims)
        if (try? ObjectRules.plain(upstreamUsername, what: "username")) == nil { upstreamUsername = subject }
        let details = ["identity_provider": provider.alias, "identity_provider_identity": String(upstreamUsername.prefix(255))]
        if let user = try await store.linkedUser(providerId: provider.id, upstreamUserId: subject, realmId: realm.id) {
            guard user.enabled else {
                record(realm: realm, type: "LOGIN_ERROR", client: auth.client, user: user, error: "user_disabled", details: details, context: context)
                return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "", message: BrowserSignIn.failureMessage(.userDisabled))
            }
            guard user.requiredActions.isEmpty else {
                return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "", message: BrowserSignIn.failureMessage(.accountNotFullySetUp))
            }
            let changes = try await mapping(claims, provider: provider, realm: realm, user: user, isNew: false)
            do {
                if !changes.isEmpty { try await store.apply(changes) }
            } catch is StoreError {
                // A role or group a mapper names went meanwhile: not signed in with stale access.
                return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "",
                                                   message: "Your login attempt timed out. Login will start from the beginning.")
            }
            return try await approve(user, auth: auth, realm: realm, request: request, context: context, details: details, proof: nil)
        }
        return try await firstSignIn(claims: claims, subject: subject, upstreamUsername: upstreamUsername, provider: provider, auth: auth,
                                     realm: realm, request: request, context: context, details: details)
    }

    func firstSignIn(claims: BrokeredClaims, subject: String, upstreamUsername: String, provider: IdentityProvider, auth: AuthorizationRequest,
                     realm: Realm, request: Request, context: KeyportRequestContext, details: [String: String]) async throws -> Response {
        let username = User.normalize(upstreamUsername)
        let email = claims.first("email").flatMap { $0.isEmpty ? nil : $0 }
        var existing = try await store.user(username: username, realmId: realm.id)
        if existing == nil, let email, !realm.duplicateEmailsAllowed {
            existing = try await store.user(email: email, realmId: realm.id).first
        }
        if let existing {
            // Never merged: the person proves the account is theirs first.
            return try await linkPage(existing: existing, subject: subject, upstreamUsername: upstreamUsername, provider: provider,
                                      auth: auth, realm: realm, request: request, message: nil)
        }
        var rep = UserRepresentation()
        rep.username = username
        let provisioning = self.provisioning
        var user: User
        do {
            user = try provisioning.newUser(rep, id: tokens.environment.newID(), realmId: realm.id, createdAt: now, enabledByDefault: true)
        } catch let invalid as InvalidObject {
            record(realm: realm, type: "IDENTITY_PROVIDER_FIRST_LOGIN_ERROR", client: auth.client, user: nil, error: "invalid_user",
                   details: details.merging(["reason": String(invalid.description.prefix(255))]) { $1 }, context: context)
            return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "",
                                               message: "Your \(provider.displayName ?? provider.alias) account cannot be used here: \(invalid.description)")
        }
        // The profile the provider gave, each field only if it is a valid one.
        if let email { setEmail(email, of: &user, claims: claims, provider: provider) }
        setProfile(&user) { $0.firstName = claims.first("given_name") }
        setProfile(&user) { $0.lastName = claims.first("family_name") }
        let outcome = try await mapped(claims, provider: provider, realm: realm, user: user, isNew: true)
        user = outcome.user
        let seed = Provisioning.newUserSeed(user, defaultRoleId: try await store.role(named: realm.defaultRoleName, realmId: realm.id, clientId: nil)?.id,
                                            roleIds: outcome.grant, groupIds: outcome.join)
        do {
            try await store.apply([.createUser(seed), .linkFederatedIdentity(FederatedIdentity(
                realmId: realm.id, providerId: provider.id, userId: user.id, upstreamUserId: subject, upstreamUsername: upstreamUsername))])
        } catch is StoreError {
            // Someone took the name (or the link), or a mapped group went, meanwhile: start again.
            return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "",
                                               message: "Your login attempt timed out. Login will start from the beginning.")
        }
        record(realm: realm, type: "REGISTER", client: auth.client, user: user, error: nil,
               details: details.merging(["register_method": "broker", "username": user.username]) { $1 }, context: context)
        return try await approve(user, auth: auth, realm: realm, request: request, context: context, details: details, proof: nil)
    }

    func approve(_ user: User, auth: AuthorizationRequest, realm: Realm, request: Request, context: KeyportRequestContext,
                 details: [String: String], proof: LoginProof?) async throws -> Response {
        guard let (session, cookie) = try await browser.startBrowserSession(user, proof: proof, realm: realm, request: request, context: context) else {
            return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "", message: BrowserSignIn.failureMessage(.invalidCredentials))
        }
        return try await browser.approve(auth, session: session, user: user, realm: realm, context: context, cookies: [cookie], details: details)
    }

    // MARK: Linking an existing account

    /// What the link page stands on: signed by the realm, for ten minutes, for this browser (its
    /// CSRF value), the account it would link and the provider's account (no claims: small
    /// enough for any proxy's URL limit, and no personal data in a URL).
    struct LinkTicket: RealmSigned {
        var typ: String
        var iss: String
        var alias: String
        var pid: String
        var sub: String
        var name: String
        /// The existing user's id.
        var uid: String
        var exp: Int64
        var csrf: String
    }

    func linkPage(existing: User, subject: String, upstreamUsername: String, provider: IdentityProvider,
                  auth: AuthorizationRequest, realm: Realm, request: Request, message: String?) async throws -> Response {
        let csrf = browser.loginCSRF(request)
        let ticket = LinkTicket(typ: Self.linkType, iss: tokens.issuer(for: realm), alias: provider.alias, pid: provider.id, sub: subject,
                                name: upstreamUsername, uid: existing.id,
                                exp: now.secondsSince1970 + 600, csrf: OpaqueToken.hash(csrf.value))
        let signed = try await sign(ticket, realm: realm)
        let html = BrowserPages.linkAccount(realmName: realm.displayName ?? realm.name, providerName: provider.displayName ?? provider.alias,
                                            action: browser.formAction(browser.actionURL(realm, "broker-link"),
                                                                       carrying: auth.formFields + [("csrf", csrf.value), ("ticket", signed)]),
                                            username: existing.username, message: message)
        return BrowserPages.response(html, headers: browser.loginCookie(csrf, realm: realm))
    }

    func link(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await browser.pageRealm(context) else { return browser.notFoundPage }
        let form = try await browser.posted(request, context)
        let auth: AuthorizationRequest
        switch try await browser.checked(form, realm: realm) {
        case .success(let request): auth = request
        case .failure(let response): return response
        }
        let timedOut = "Your login attempt timed out. Login will start from the beginning."
        guard browser.csrfMatches(form, request), form.all("ticket").count == 1, let text = form["ticket"], text.utf8.count <= 32_768,
              let ticket: LinkTicket = try await verified(text, type: Self.linkType, realm: realm),
              ticket.csrf == OpaqueToken.hash(BrowserCookies.value(BrowserCookies.login, in: request) ?? ""),
              let provider = try await store.identityProvider(alias: ticket.alias, realmId: realm.id), provider.id == ticket.pid, provider.offersSignIn,
              let existing = try await store.user(id: ticket.uid, realmId: realm.id)
        else { return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "", message: timedOut) }
        let password = Sensitive(form["password"] ?? "")
        let (outcome, proof) = try await oidc.authenticator.authenticateProving(realm: realm, username: existing.username, password: password,
                                                                                ipAddress: context.clientAddress)
        let details = ["identity_provider": provider.alias, "identity_provider_identity": ticket.name]
        guard case .authenticated(let user) = outcome, user.id == existing.id, let proof else {
            if case .failed(let reason, let user) = outcome {
                record(realm: realm, type: "LOGIN_ERROR", client: auth.client, user: user, error: reason.rawValue, details: details, context: context)
            }
            return try await linkPage(existing: existing, subject: ticket.sub, upstreamUsername: ticket.name, provider: provider,
                                      auth: auth, realm: realm, request: request, message: "Invalid username or password.")
        }
        // Linked only: the account keeps what it holds, and the provider's mappers that run at
        // every sign-in apply from its next sign-in through the provider, with what that says.
        do {
            try await store.apply([.linkFederatedIdentity(FederatedIdentity(realmId: realm.id, providerId: provider.id, userId: user.id,
                                                                            upstreamUserId: ticket.sub, upstreamUsername: ticket.name))])
        } catch StoreError.conflict(let rule) where rule == .userAlreadyLinked || rule == .upstreamAccountLinked {
            return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "",
                                               message: "That account is linked to another \(provider.displayName ?? provider.alias) account already.")
        } catch is StoreError {
            return try await browser.loginPage(realm: realm, auth: auth, request: request, username: "",
                                               message: "Your login attempt timed out. Login will start from the beginning.")
        }
        record(realm: realm, type: "FEDERATED_IDENTITY_LINK", client: auth.client, user: user, error: nil, details: details, context: context)
        return try await approve(user, auth: auth, realm: realm, request: request, context: context, details: details, proof: proof)
    }

    // MARK: Mappers

    struct Mapped {
        var user: User
        var grant: [String] = []
        var revoke: [String] = []
        var join: [String] = []
        var leave: [String] = []
    }

    /// The writes the provider's mappers ask for at this sign-in of an existing user (those that
    /// run at every sign-in: `FORCE`), with the profile when the provider itself is `FORCE`.
    func mapping(_ claims: BrokeredClaims, provider: IdentityProvider, realm: Realm, user: User, isNew: Bool) async throws -> [StoreChange] {
        var outcome = try await mapped(claims, provider: provider, realm: realm, user: user, isNew: isNew)
        // An email another user has (duplicates not allowed) is not taken: the rest goes on.
        if let email = outcome.user.email, email != user.email, !realm.duplicateEmailsAllowed,
           try await store.user(email: email, realmId: realm.id).contains(where: { $0.id != user.id }) {
            outcome.user.email = user.email
            outcome.user.emailVerified = user.emailVerified
        }
        var changes: [StoreChange] = []
        if outcome.user != user {
            // Only the fields the provider changed, written over the row as it is in the write:
            // an administrator's change made meanwhile to anything else stays.
            let before = user, updated = outcome.user
            let attributeKeys = Set(before.attributes.keys).union(updated.attributes.keys).filter { before.attributes[$0] != updated.attributes[$0] }
            changes.append(.updateUser(id: user.id, realmId: realm.id) { stored in
                if updated.email != before.email { stored.email = updated.email }
                if updated.emailVerified != before.emailVerified { stored.emailVerified = updated.emailVerified }
                if updated.firstName != before.firstName { stored.firstName = updated.firstName }
                if updated.lastName != before.lastName { stored.lastName = updated.lastName }
                var attributes = stored.attributes
                for key in attributeKeys { attributes[key] = updated.attributes[key] }
                if let checked = try? ObjectRules.multiAttributes(attributes) { stored.attributes = checked }
            })
        }
        if !outcome.grant.isEmpty { changes.append(.grantUserRoles(userId: user.id, roleIds: outcome.grant, realmId: realm.id)) }
        if !outcome.revoke.isEmpty { changes.append(.revokeUserRoles(userId: user.id, roleIds: outcome.revoke, realmId: realm.id)) }
        changes += outcome.join.map { .addMember(groupId: $0, userId: user.id, realmId: realm.id) }
        changes += outcome.leave.map { .removeMember(groupId: $0, userId: user.id, realmId: realm.id) }
        return changes
    }

    /// What the mappers make of `user`: every mapper for a new user; for an existing one, only
    /// those that run at every sign-in. A role or group that no longer exists is skipped (the
    /// sign-in goes on; the mapper needs fixing).
    func mapped(_ claims: BrokeredClaims, provider: IdentityProvider, realm: Realm, user: User, isNew: Bool) async throws -> Mapped {
        var out = Mapped(user: user)
        if !isNew, provider.syncMode == "FORCE" {
            if let email = claims.first("email"), !email.isEmpty { setEmail(email, of: &out.user, claims: claims, provider: provider) }
            setProfile(&out.user) { $0.firstName = claims.first("given_name") }
            setProfile(&out.user) { $0.lastName = claims.first("family_name") }
        }
        let held = isNew ? Set<String>() : Set(try await store.userRoles(userId: user.id, realmId: realm.id).map(\.id))
        let memberOf = isNew ? Set<String>() : Set(try await store.groupsOfUser(userId: user.id, realmId: realm.id).map(\.group.id))
        for mapper in try await store.identityProviderMappers(providerId: provider.id, realmId: realm.id) {
            guard let kind = mapper.kind, isNew || mapper.runsAtEverySignIn(provider: provider) else { continue }
            let matches = claims.match(mapper)
            switch kind {
            case .hardcodedRole, .claimToRole:
                // The role the mapper was saved with (by id): never one that took its name since.
                guard let id = mapper.targetId, let role = try await store.role(id: id, realmId: realm.id) else { continue }
                if matches, !held.contains(role.id), !out.grant.contains(role.id) { out.grant.append(role.id) }
                if !matches, held.contains(role.id), kind == .claimToRole { out.revoke.append(role.id) }
            case .hardcodedGroup, .claimToGroup:
                guard let id = mapper.targetId, let group = try await store.group(id: id, realmId: realm.id)?.group else { continue }
                if matches, !memberOf.contains(group.id), !out.join.contains(group.id) { out.join.append(group.id) }
                if !matches, memberOf.contains(group.id), kind == .claimToGroup { out.leave.append(group.id) }
            case .userAttribute:
                let attribute = mapper.config["user.attribute"] ?? ""
                let values = Array(claims.values(mapper.config["claim"] ?? "").prefix(ObjectRules.maxAttributeValues + 1))
                switch attribute {
                case "email": if let v = values.first { setEmail(v, of: &out.user, claims: claims, provider: provider) }
                case "firstName": if let v = values.first { setProfile(&out.user) { $0.firstName = v } }
                case "lastName": if let v = values.first { setProfile(&out.user) { $0.lastName = v } }
                case "username": break
                default:
                    var attributes = out.user.attributes
                    if values.isEmpty { if !isNew { attributes[attribute] = nil } } else { attributes[attribute] = values }
                    setProfile(&out.user) { $0.attributes = attributes.mapValues(StringList.init) }
                }
            }
        }
        return out
    }

    // MARK: Helpers

    var provisioning: Provisioning { Provisioning(randomBytes: tokens.environment.randomBytes) }

    /// A new email from the provider, verified only when the provider is trusted for emails and
    /// did not say it is unverified (`email_verified`); the same email again changes nothing.
    func setEmail(_ email: String, of user: inout User, claims: BrokeredClaims, provider: IdentityProvider) {
        guard User.normalize(email) != user.email else { return }
        let verified = provider.trustEmail && claims.first("email_verified") != "false"
        setProfile(&user) { $0.email = email; $0.emailVerified = verified }
    }

    /// One change of the profile, made only if the result is a valid user (the admin API's rules:
    /// an email that is one, names and attributes within their bounds); otherwise the user stays.
    func setProfile(_ user: inout User, _ change: (inout UserRepresentation) -> Void) {
        var rep = UserRepresentation()
        change(&rep)
        var changed = user
        if (try? provisioning.merge(rep, into: &changed, now: now)) != nil { user = changed }
    }

    /// Keycloak's username for a brokered person: `preferred_username`, else the email, else `sub`.
    static func upstreamUsername(_ claims: BrokeredClaims) -> String {
        for name in ["preferred_username", "email", "sub"] {
            if let v = claims.first(name), !v.isEmpty { return String(v.prefix(255)) }
        }
        return ""
    }

    func sign<T: Encodable>(_ claims: T, realm: Realm) async throws -> String {
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        guard let signer = keys.signer(for: .rs256) else { throw TokenServiceError.noActiveKey(realm.name) }
        return try JWS.sign(claims, with: signer.signer, kid: signer.key.id)
    }

    /// A ticket or cookie this realm signed, of `type`, for this realm's issuer, not expired.
    func verified<T: RealmSigned>(_ text: String, type: String, realm: Realm) async throws -> T? {
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        guard let (_, value) = try? JWS.verify(text, as: T.self, keyFor: { keys.verifier(kid: $0) }),
              value.typ == type, value.iss == tokens.issuer(for: realm), value.exp >= now.secondsSince1970
        else { return nil }
        return value
    }

    func withCookies(_ response: Response, _ cookies: [String]) -> Response {
        var response = response
        for cookie in cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }

    func record(realm: Realm, type: String, client: Client?, user: User?, error: String?, details: [String: String], context: KeyportRequestContext) {
        var all = details
        all["auth_method"] = "openid-connect"
        oidc.events.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: now, type: type, clientId: client?.clientId,
                                 userId: user?.id, ipAddress: context.clientAddress, error: error, details: all), in: realm)
    }
}

/// What the realm signs for a browser to hand back (a pending sign-in, a link ticket): its kind,
/// the realm's issuer and when it ends, checked in the one verification (`IdentityBroker.verified`).
protocol RealmSigned: Codable {
    var typ: String { get }
    var iss: String { get }
    var exp: Int64 { get }
}

/// The pending sign-ins whose answer came back (by a hash of their `state`), so that one pending
/// sign-in sends at most one code to the provider's token endpoint: a replayed callback — the
/// same cookie, the same state, any code — costs nothing outbound. Bounded: past `capacity` the
/// expired go, then the oldest (a replay of an evicted state only reaches the provider, which
/// refuses a code twice). Kept per node.
final class SpentBrokerStates: Sendable {
    static let capacity = 10_000
    let spent = Mutex([String: Int64]())

    /// False when `key` was spent already.
    func spend(_ key: String, until expiry: Int64, now: Int64) -> Bool {
        spent.withLock { spent in
            if let until = spent[key], until >= now { return false }
            if spent.count >= Self.capacity {
                spent = spent.filter { $0.value >= now }
                if spent.count >= Self.capacity, let oldest = spent.min(by: { $0.value < $1.value })?.key { spent[oldest] = nil }
            }
            spent[key] = expiry
            return true
        }
    }
}
