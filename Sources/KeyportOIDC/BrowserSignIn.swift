import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportKeys
import KeyportModel
import KeyportPasswords
import KeyportStore
import KeyportTokens

/// A person signing in with a browser (OpenID Connect's authorization code flow): the
/// authorization endpoint, the login and update-password pages, the single sign-on session
/// behind the session cookie, and logout started by the relying party.
///
/// What protects each step: the login forms carry a CSRF value that must equal the login cookie
/// (double submit); the update-password page stands on a short-lived ticket signed by the realm
/// that binds the user, the credential the password proved and that CSRF value; a new session
/// cookie is made at every sign-in (no fixation); cookies are `HttpOnly`, `SameSite=Lax`, scoped to
/// the realm's path and `Secure` behind https; every page forbids framing and runs no script.
struct BrowserSignIn: Sendable {
    let oidc: OIDCController

    var store: any IdentityStore { oidc.store }
    var tokens: TokenService { oidc.tokens }
    var now: Timestamp { tokens.environment.now() }

    func addRoutes(to router: Router<KeyportRequestContext>) {
        let oidc = router.group("/realms/{realm}/protocol/openid-connect")
        oidc.get("auth") { request, context in try await authorize(request, context) }
        oidc.post("auth") { request, context in try await authorize(request, context) }
        oidc.get("logout") { request, context in try await logout(request, FormParameters.query(of: request), context) }
        let actions = router.group("/realms/{realm}/login-actions")
        actions.post("authenticate") { request, context in try await authenticate(request, context) }
        actions.post("update-password") { request, context in try await updatePassword(request, context) }
        addDeviceRoutes(to: router)
    }

    // MARK: Authorization endpoint

    func authorize(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        let parameters = request.method == .post ? try await FormParameters.body(of: request, context: context) : FormParameters.query(of: request)
        let auth: AuthorizationRequest
        switch try await checked(parameters, realm: realm) {
        case .success(let request): auth = request
        case .failure(let response): return response
        }
        let current = try await liveSession(request, realm: realm)
        if auth.action == .updatePassword {
            // Changing the password asks for the current one first, whatever the session: a
            // browser left signed in is not enough to take the account over.
            return try await loginPage(realm: realm, auth: auth, request: request, username: current?.user.username ?? auth.loginHint ?? "",
                             message: "Please re-authenticate to continue.", isError: false)
        }
        let now = self.now
        let tooOld = auth.maxAge.map { maxAge in current.map { $0.session.authTime.adding(seconds: maxAge) < now } ?? false } ?? false
        if let current, !auth.prompt.contains("login"), !tooOld {
            return try await approve(auth, session: current.session, user: current.user, realm: realm, context: context, cookies: [])
        }
        if auth.prompt.contains("none") {
            return redirect(auth, realm: realm, error: "login_required", description: "Login required")
        }
        if let hint = auth.identityProviderHint, try await store.identityProvider(alias: hint, realmId: realm.id)?.offersSignIn == true {
            // Keycloak's kc_idp_hint: straight to that provider (an unknown one shows the login page).
            return try await IdentityBroker(oidc: oidc).redirectToProvider(alias: hint, auth: auth, realm: realm, request: request)
        }
        return try await loginPage(realm: realm, auth: auth, request: request, username: auth.loginHint ?? "", message: nil)
    }

    enum Checked {
        case success(AuthorizationRequest)
        case failure(Response)
    }

    /// The request's parameters checked (`AuthorizationRequest`), and its scopes: an error page
    /// or an error redirect when they fail.
    func checked(_ parameters: FormParameters, realm: Realm) async throws -> Checked {
        do {
            let auth = try await AuthorizationRequest.parse(parameters, realm: realm, issuer: tokens.issuer(for: realm), base: tokens.issuer.baseURL, store: store)
            do {
                _ = try await tokens.scopes(client: auth.client, realm: realm, requested: auth.scope)
            } catch let error as OAuthError {
                return .failure(redirect(auth, realm: realm, error: error.error, description: error.description))
            }
            return .success(auth)
        } catch AuthorizationRequest.Failure.page(let message) {
            return .failure(errorPage(message, realm: realm))
        } catch AuthorizationRequest.Failure.redirect(let target) {
            return .failure(found(target.location))
        }
    }

    // MARK: Login form

    func authenticate(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        let form = try await posted(request, context)
        let auth: AuthorizationRequest
        switch try await checked(form, realm: realm) {
        case .success(let request): auth = request
        case .failure(let response): return response
        }
        let username = String((form["username"] ?? "").prefix(255))
        guard csrfMatches(form, request) else {
            return try await loginPage(realm: realm, auth: auth, request: request, username: username,
                             message: "Your login attempt timed out. Login will start from the beginning.")
        }
        guard !username.isEmpty else { return try await loginPage(realm: realm, auth: auth, request: request, username: "", message: "Invalid username or password.") }
        let password = Sensitive(form["password"] ?? "")
        let (outcome, proof) = try await oidc.authenticator.authenticateProving(realm: realm, username: username, password: password,
                                                                                ipAddress: context.clientAddress)
        switch outcome {
        case .authenticated(let user):
            guard let proof else { throw OAuthError.invalidUserCredentials }
            if auth.action == .updatePassword {
                return try await updatePasswordPage(realm: realm, auth: auth, request: request, ticket: try await ticket(for: user, proof: proof, realm: realm, request: request),
                                                    message: "Choose a new password.", isError: false)
            }
            return try await signIn(user, proof: proof, auth: auth, realm: realm, request: request, context: context, username: username)
        case .failed(.accountNotFullySetUp, let user?) where proof != nil && user.requiredActions.allSatisfy({ $0 == RequiredAction.updatePassword }):
            // A temporary password: the person chooses a new one before anything is issued.
            return try await updatePasswordPage(realm: realm, auth: auth, request: request, ticket: try await ticket(for: user, proof: proof!, realm: realm, request: request),
                                                message: "You need to change your password to activate your account.", isError: false)
        case .failed(let reason, let user):
            record(realm: realm, type: "LOGIN_ERROR", client: auth.client, user: user, error: reason.rawValue, username: username, context: context)
            // The same words for an unknown user, a wrong password and a locked account; a
            // disabled account is said only after its right password (as Keycloak).
            return try await loginPage(realm: realm, auth: auth, request: request, username: username, message: Self.failureMessage(reason))
        }
    }

    /// A right password: a new browser session (a new cookie, the browser's previous session
    /// ended), then the code.
    func signIn(_ user: User, proof: LoginProof?, auth: AuthorizationRequest, realm: Realm, request: Request, context: KeyportRequestContext,
                username: String) async throws -> Response {
        guard let (session, cookie) = try await startBrowserSession(user, proof: proof, realm: realm, request: request, context: context) else {
            return try await loginPage(realm: realm, auth: auth, request: request, username: username, message: Self.failureMessage(.invalidCredentials))
        }
        return try await approve(auth, session: session, user: user, realm: realm, context: context, cookies: [cookie])
    }

    /// The one way a browser session starts (the login form, the device page): a new cookie, the
    /// browser's previous session in this realm ended in the same write. Nil when the credential
    /// the password proved changed meanwhile (a reset, a logout): nothing is written then.
    func startBrowserSession(_ user: User, proof: LoginProof?, realm: Realm, request: Request,
                             context: KeyportRequestContext) async throws -> (session: BrowserSession, setCookie: String)? {
        let cookie = OpaqueToken.make(prefix: "", randomBytes: tokens.environment.randomBytes)
        let now = self.now
        let session = BrowserSession(id: tokens.environment.newID(), realmId: realm.id, userId: user.id, cookieHash: OpaqueToken.hash(cookie),
                                     authTime: now, lastSeen: now, expiresAt: now.adding(seconds: realm.ssoSessionMaxLifespan),
                                     ipAddress: context.clientAddress)
        do {
            try await store.createBrowserSession(session, proof: proof, replacing: try await cookieSession(request, realm: realm)?.id)
        } catch StoreError.conflict(.credentialChanged) {
            return nil
        }
        return (session, cookieHeader(BrowserCookies.session, cookie, realm: realm, maxAge: nil))
    }

    /// What a failed sign-in says, as Keycloak: one message for an unknown user, a wrong password
    /// and a locked account; a disabled one is named only after its right password.
    static func failureMessage(_ reason: LoginFailure) -> String {
        switch reason {
        case .userDisabled: "Account is disabled, contact your admin."
        case .accountNotFullySetUp: "Account is not fully set up"
        default: "Invalid username or password."
        }
    }

    /// The browser is signed in: a code for the client, back to its redirect URI.
    func approve(_ auth: AuthorizationRequest, session: BrowserSession, user: User, realm: Realm, context: KeyportRequestContext,
                 cookies: [String], details: [String: String] = [:]) async throws -> Response {
        let code = OpaqueToken.make(prefix: "", randomBytes: tokens.environment.randomBytes)
        let now = self.now
        do {
            try await store.createAuthorizationCode(AuthorizationCode(
                codeHash: OpaqueToken.hash(code), realmId: realm.id, clientId: auth.client.id, userId: user.id, browserSessionId: session.id,
                redirectUri: auth.redirectUri, scope: auth.scope, nonce: auth.nonce, codeChallenge: auth.codeChallenge,
                codeChallengeMethod: auth.codeChallengeMethod, createdAt: now, expiresAt: now.adding(seconds: realm.accessCodeLifespan)))
        } catch StoreError.invalid, StoreError.notFound {
            // The browser session (or the client) went meanwhile: a logout in another tab.
            return redirect(auth, realm: realm, error: "login_required", description: "Login required")
        }
        try await store.touchBrowserSession(id: session.id, at: now, ipAddress: context.clientAddress)
        record(realm: realm, type: "LOGIN", client: auth.client, user: user, error: nil, username: user.username, context: context, details: details)
        var target = AuthorizationRedirect(uri: auth.redirectUri, mode: auth.responseMode, issuer: tokens.issuer(for: realm), state: auth.state)
        target.code = code
        target.sessionState = session.id
        // Only the update-password page leads here with an action: it was done.
        if auth.action != nil { target.actionStatus = "success" }
        return found(target.location, cookies: cookies)
    }

    // MARK: Update password (a temporary password's first sign-in)

    /// What the update-password page stands on: signed by the realm, for five minutes, for this
    /// browser (its CSRF value) and the credential the password proved.
    struct Ticket: Codable {
        var typ: String
        var iss: String
        var sub: String
        var cred: String
        var chk: Int64
        var exp: Int64
        var csrf: String
    }

    static let ticketType = "keyport-update-password"

    func ticket(for user: User, proof: LoginProof, realm: Realm, request: Request) async throws -> String {
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        guard let signer = keys.signer(for: .rs256) else { throw TokenServiceError.noActiveKey(realm.name) }
        let claims = Ticket(typ: Self.ticketType, iss: tokens.issuer(for: realm), sub: user.id, cred: proof.credentialId ?? "",
                            chk: proof.checkedAt.millisecondsSince1970, exp: now.secondsSince1970 + 300,
                            csrf: OpaqueToken.hash(BrowserCookies.value(BrowserCookies.login, in: request) ?? ""))
        return try JWS.sign(claims, with: signer.signer, kid: signer.key.id)
    }

    func updatePassword(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        let form = try await posted(request, context)
        let auth: AuthorizationRequest
        switch try await checked(form, realm: realm) {
        case .success(let request): auth = request
        case .failure(let response): return response
        }
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        guard csrfMatches(form, request), let text = form["ticket"],
              let (_, ticket) = try? JWS.verify(text, as: Ticket.self, keyFor: { keys.verifier(kid: $0) }),
              ticket.typ == Self.ticketType, ticket.iss == tokens.issuer(for: realm), ticket.exp >= now.secondsSince1970,
              ticket.csrf == OpaqueToken.hash(BrowserCookies.value(BrowserCookies.login, in: request) ?? ""),
              let user = try await store.user(id: ticket.sub, realmId: realm.id), user.enabled,
              user.notBefore.millisecondsSince1970 <= ticket.chk,
              // The password it proved is still the user's (a ticket sets one password, once).
              try await store.credentials(userId: user.id).contains(where: { $0.id == ticket.cred && $0.type == Credential.password })
        else {
            return try await loginPage(realm: realm, auth: auth, request: request, username: "",
                             message: "Your login attempt timed out. Login will start from the beginning.")
        }
        let new = form["password-new"] ?? "", confirm = form["password-confirm"] ?? ""
        func again(_ message: String) -> Response {
            BrowserPages.response(BrowserPages.updatePassword(
                realmName: realm.displayName ?? realm.name, message: message, isError: true,
                action: formAction(actionURL(realm, "update-password"), carrying: auth.formFields + [("csrf", form["csrf"] ?? ""), ("ticket", text)]),
                cancel: cancelURL(auth, realm: realm)))
        }
        guard !new.isEmpty else { return again("Please specify password.") }
        guard new == confirm else { return again("Passwords don't match.") }
        guard new.utf8.count <= 1024 else { return again("Invalid password: it is too long.") }
        do {
            try PasswordPolicy(realm.passwordPolicy).check(new, username: user.username, email: user.email)
        } catch {
            return again("Invalid password: \(error.description)")
        }
        let hash = try await oidc.hasher.hash(Sensitive(new), parameters: realm.passwordHashing, partition: realm.id)
        let now = self.now
        let credential = Credential(id: tokens.environment.newID(), userId: user.id, secret: hash, createdAt: now)
        let checkedAt = ticket.chk
        do {
            try await store.apply([
                .updateUser(id: user.id, realmId: realm.id) { user in
                    // The password the ticket proved is still the user's: nothing moved notBefore since.
                    guard user.notBefore.millisecondsSince1970 <= checkedAt else { throw StoreError.conflict(.credentialChanged) }
                    user.requiredActions.removeAll { $0 == RequiredAction.updatePassword }
                    user.notBefore = max(user.notBefore, now)
                },
                .setCredential(credential, revokeTokensBefore: now),
                .deleteSessions(userId: user.id, realmId: realm.id),
            ])
        } catch StoreError.conflict(.credentialChanged) {
            return try await loginPage(realm: realm, auth: auth, request: request, username: "",
                             message: "Your login attempt timed out. Login will start from the beginning.")
        }
        record(realm: realm, type: "UPDATE_PASSWORD", client: auth.client, user: user, error: nil, username: user.username, context: context)
        guard let updated = try await store.user(id: user.id, realmId: realm.id), updated.enabled, updated.requiredActions.isEmpty else {
            return try await loginPage(realm: realm, auth: auth, request: request, username: user.username, message: "Account is not fully set up")
        }
        return try await signIn(updated, proof: LoginProof(userId: user.id, credentialId: credential.id, checkedAt: now), auth: auth, realm: realm,
                                request: request, context: context, username: user.username)
    }

    func updatePasswordPage(realm: Realm, auth: AuthorizationRequest, request: Request, ticket: String, message: String?, isError: Bool) async throws -> Response {
        BrowserPages.response(BrowserPages.updatePassword(
            realmName: realm.displayName ?? realm.name, message: message, isError: isError,
            action: formAction(actionURL(realm, "update-password"),
                               carrying: auth.formFields + [("csrf", BrowserCookies.value(BrowserCookies.login, in: request) ?? ""), ("ticket", ticket)]),
            cancel: cancelURL(auth, realm: realm)))
    }

    /// Back to the application that asked for an action, told it was cancelled (no code).
    func cancelURL(_ auth: AuthorizationRequest, realm: Realm) -> String? {
        guard auth.action != nil else { return nil }
        var target = AuthorizationRedirect(uri: auth.redirectUri, mode: auth.responseMode, issuer: tokens.issuer(for: realm), state: auth.state)
        target.actionStatus = "cancelled"
        return target.location
    }

    // MARK: Logout (RP-initiated, OpenID Connect RP-Initiated Logout 1.0)

    /// The claims of an `id_token_hint` Keyport reads. Its expiry does not matter (a relying party
    /// logs out with an old one), its signature and issuer do.
    struct IDTokenHint: Decodable {
        let iss: String
        let sub: String
        let typ: String?
        let sid: String?
        let azp: String?
    }

    func logout(_ request: Request, _ parameters: FormParameters, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        for name in ["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "confirmLogout", "csrf"] {
            guard parameters.all(name).count <= 1, (parameters[name] ?? "").utf8.count <= 16_384 else { return errorPage("Invalid parameter: \(name)", realm: realm) }
        }
        var hint: IDTokenHint?
        if let text = parameters["id_token_hint"], !text.isEmpty {
            let keys = try await tokens.keyRing.keys(realmId: realm.id)
            guard let (_, claims) = try? JWS.verify(text, as: IDTokenHint.self, keyFor: { keys.verifier(kid: $0) }),
                  claims.iss == tokens.issuer(for: realm), claims.typ == "ID"
            else { return errorPage("Invalid IDToken", realm: realm) }
            hint = claims
        }
        var client: Client?
        if let clientId = parameters["client_id"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard clientId.utf8.count <= 255, let found = try await store.client(clientId: clientId, realmId: realm.id) else {
                return errorPage("Invalid parameter: client_id", realm: realm)
            }
            if let azp = hint?.azp, azp != clientId { return errorPage("Parameter client_id different from the authorized party", realm: realm) }
            client = found
        } else if let azp = hint?.azp {
            client = try await store.client(clientId: azp, realmId: realm.id)
        }
        var redirectTarget: String?
        if let uri = parameters["post_logout_redirect_uri"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let client else { return errorPage("Either the parameter client_id or id_token_hint is required when post_logout_redirect_uri is used.", realm: realm) }
            guard RedirectURIs.matches(uri, registered: RedirectURIs.registeredPostLogout(of: client, base: tokens.issuer.baseURL)) else { return errorPage("Invalid redirect uri", realm: realm) }
            redirectTarget = uri
        }
        let state = parameters["state"].flatMap { $0.isEmpty ? nil : $0 }
        // Without a hint, the browser's owner confirms on a page of ours (a link elsewhere must not
        // sign anyone out); with one, the relying party that holds it speaks for its user.
        let confirmed = hint != nil || (request.method == .post && parameters["confirmLogout"] == "true" && csrfMatches(parameters, request))
        if !confirmed {
            let csrf = loginCSRF(request)
            var fields: [(String, String)] = [("csrf", csrf.value)]
            if let client { fields.append(("client_id", client.clientId)) }
            if let redirectTarget { fields.append(("post_logout_redirect_uri", redirectTarget)) }
            if let state { fields.append(("state", state)) }
            return BrowserPages.response(BrowserPages.logoutConfirmation(
                realmName: realm.displayName ?? realm.name, action: formAction("\(tokens.issuer(for: realm))/protocol/openid-connect/logout", carrying: fields)),
                                         headers: loginCookie(csrf, realm: realm))
        }
        // The sessions that end: the browser's own, unless the hint names another user; and the
        // hint's session, when it is that user's.
        var ended: [BrowserSession] = []
        let own = try await cookieSession(request, realm: realm)
        let endsOwn = own.map { hint == nil || $0.userId == hint?.sub } ?? false
        if let own, endsOwn { ended.append(own) }
        if let hint, let sid = hint.sid, !ended.contains(where: { $0.id == sid }),
           let named = try await store.browserSession(id: sid, realmId: realm.id), named.userId == hint.sub {
            ended.append(named)
        }
        for session in ended {
            try await BackChannelLogout(tokens: tokens).end(session, realm: realm)
            let user = try await store.user(id: session.userId, realmId: realm.id)
            record(realm: realm, type: "LOGOUT", client: client, user: user, error: nil, username: user?.username ?? "", context: context)
        }
        // The browser's cookie is cleared only with its own session (or when it names none): a
        // link carrying someone else's hint must not sign this browser out.
        let clear = endsOwn || own == nil ? [cookieHeader(BrowserCookies.session, "", realm: realm, maxAge: 0)] : []
        if let redirectTarget {
            return found(RedirectURIs.adding(state.map { [("state", $0)] } ?? [], to: redirectTarget), cookies: clear)
        }
        return BrowserPages.response(BrowserPages.message(title: "You are logged out", realmName: realm.displayName ?? realm.name,
                                                          text: "You are logged out.", isError: false),
                                     headers: cookieFields(clear, realm: realm))
    }

    // MARK: Sessions and cookies

    /// The browser session the cookie names in this realm, whatever its state.
    func cookieSession(_ request: Request, realm: Realm) async throws -> BrowserSession? {
        guard let cookie = BrowserCookies.value(BrowserCookies.session, in: request), cookie.utf8.count <= OpaqueToken.maxLength,
              let session = try await store.browserSession(cookieHash: OpaqueToken.hash(cookie)), session.realmId == realm.id
        else { return nil }
        return session
    }

    /// The browser's single sign-on session, if it is live: not ended (idle or maximum), its user
    /// enabled, fully set up, and not logged out or reset since.
    func liveSession(_ request: Request, realm: Realm) async throws -> (session: BrowserSession, user: User)? {
        guard let session = try await cookieSession(request, realm: realm) else { return nil }
        guard session.end(in: realm) >= now else {
            try await store.deleteBrowserSession(id: session.id, realmId: realm.id)
            return nil
        }
        guard let user = try await store.user(id: session.userId, realmId: realm.id), user.enabled, user.requiredActions.isEmpty,
              session.authTime >= user.notBefore
        else { return nil }
        return (session, user)
    }

    /// The login forms' CSRF value: the browser's, or a new one (with the cookie to set).
    func loginCSRF(_ request: Request) -> (value: String, header: String?) {
        if let value = BrowserCookies.value(BrowserCookies.login, in: request), OpaqueToken.isWellFormed(value) { return (value, nil) }
        let value = OpaqueToken.make(prefix: "", randomBytes: tokens.environment.randomBytes)
        return (value, value)
    }

    func csrfMatches(_ form: FormParameters, _ request: Request) -> Bool {
        guard let cookie = BrowserCookies.value(BrowserCookies.login, in: request), let field = form["csrf"], !cookie.isEmpty,
              form.all("csrf").count == 1
        else { return false }
        return constantTimeEquals(Array(cookie.utf8), Array(field.utf8))
    }

    func loginPage(realm: Realm, auth: AuthorizationRequest, request: Request, username: String, message: String?, isError: Bool = true,
                   status: HTTPResponse.Status = .ok) async throws -> Response {
        let csrf = loginCSRF(request)
        // Re-entering the password for a change offers no other way in.
        let providers = auth.action == .updatePassword ? [] : try await IdentityBroker(oidc: oidc).loginButtons(realm: realm, auth: auth)
        let html = BrowserPages.login(realmName: realm.displayName ?? realm.name,
                                      action: formAction(actionURL(realm, "authenticate"), carrying: auth.formFields + [("csrf", csrf.value)]),
                                      username: username, message: message, isError: isError, providers: providers)
        return BrowserPages.response(html, status: status, headers: loginCookie(csrf, realm: realm))
    }

    func actionURL(_ realm: Realm, _ action: String) -> String { "\(tokens.issuer(for: realm))/login-actions/\(action)" }

    /// A form's action carrying `fields` (the authorization request, the CSRF value, a ticket) as
    /// one query parameter, `session_code` (Keycloak's name): the form itself holds only what the
    /// person types, so a script that fills in Keycloak's login form by its action works here too.
    func formAction(_ url: String, carrying fields: [(String, String)]) -> String {
        let encoded = fields.map { "\($0.0)=\(PercentEncoding.unreserved($0.1))" }.joined(separator: "&")
        return "\(url)?session_code=\(Base64URL.encode(Data(encoded.utf8)))"
    }

    /// What a form posted: what its action carried (`formAction`), then its body. A name in both
    /// is there twice, which the checks refuse.
    static let maxSessionCode = 32_768
    func posted(_ request: Request, _ context: KeyportRequestContext) async throws -> FormParameters {
        Self.posted(request, body: try await FormParameters.body(of: request, context: context))
    }

    static func posted(_ request: Request, body: FormParameters) -> FormParameters {
        guard let code = FormParameters.query(of: request)["session_code"], code.utf8.count <= maxSessionCode,
              let data = Base64URL.decode(code)
        else { return body }
        return FormParameters(pairs: FormParameters(encoded: String(decoding: data, as: UTF8.self)).pairs + body.pairs)
    }

    func cookieHeader(_ name: String, _ value: String, realm: Realm, maxAge: Int?) -> String {
        BrowserCookies.header(name, value, path: BrowserCookies.path(realm: realm.name), secure: tokens.issuer.baseURL.hasPrefix("https://"), maxAge: maxAge)
    }

    /// The login cookie's header, when the CSRF value is new.
    func loginCookie(_ csrf: (value: String, header: String?), realm: Realm) -> HTTPFields {
        cookieFields(csrf.header.map { [cookieHeader(BrowserCookies.login, $0, realm: realm, maxAge: realm.accessCodeLifespanLogin)] } ?? [], realm: realm)
    }

    func cookieFields(_ cookies: [String], realm: Realm) -> HTTPFields {
        var fields = HTTPFields()
        for cookie in cookies { fields.append(HTTPField(name: .setCookie, value: cookie)) }
        return fields
    }

    func found(_ location: String, cookies: [String] = []) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store", BrowserPages.pragma: "no-cache", BrowserPages.referrerPolicy: "no-referrer"]
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .found, headers: headers)
    }

    func redirect(_ auth: AuthorizationRequest, realm: Realm, error: String, description: String) -> Response {
        var target = AuthorizationRedirect(uri: auth.redirectUri, mode: auth.responseMode, issuer: tokens.issuer(for: realm), state: auth.state)
        target.error = error
        target.description = description
        return found(target.location)
    }

    func errorPage(_ message: String, realm: Realm?, status: HTTPResponse.Status = .badRequest) -> Response {
        BrowserPages.response(BrowserPages.message(title: "We are sorry...", realmName: realm.map { $0.displayName ?? $0.name } ?? "Keyport",
                                                   text: message, isError: true), status: status)
    }

    var notFoundPage: Response { errorPage("Realm does not exist", realm: nil, status: .notFound) }

    func pageRealm(_ context: KeyportRequestContext) async throws -> Realm? {
        guard let realm = try await oidc.enabledRealm(context) else { return nil }
        return realm
    }

    func record(realm: Realm, type: String, client: Client?, user: User?, error: String?, username: String, context: KeyportRequestContext,
                details extra: [String: String] = [:]) {
        var details = extra.merging(["auth_method": "openid-connect", "username": String(username.prefix(255))]) { $1 }
        if type == "LOGIN" || type == "LOGIN_ERROR" { details["response_type"] = "code" }
        oidc.events.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: now, type: type, clientId: client?.clientId,
                                 userId: user?.id, ipAddress: context.clientAddress, error: error, details: details), in: realm)
    }
}

/// The browser's cookies: the session (single sign-on) and the login forms' CSRF value, each
/// scoped to its realm's path, so a realm never sees another's.
enum BrowserCookies {
    static let session = "KEYPORT_SESSION"
    static let login = "KEYPORT_LOGIN"

    /// The first value of cookie `name` among the request's `Cookie` headers.
    static func value(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name {
                    return pair[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    static func path(realm: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "/realms/\(realm.addingPercentEncoding(withAllowedCharacters: allowed) ?? "_")/"
    }

    static func header(_ name: String, _ value: String, path: String, secure: Bool, maxAge: Int?) -> String {
        var text = "\(name)=\(value); Path=\(path); HttpOnly; SameSite=Lax"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if secure { text += "; Secure" }
        return text
    }
}
