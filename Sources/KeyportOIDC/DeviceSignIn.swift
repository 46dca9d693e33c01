import Foundation
import HTTPTypes
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportPasswords
import KeyportStore
import Synchronization

/// The OAuth 2.0 Device Authorization Grant (RFC 8628) as Keycloak offers it: a client with
/// `oauth2.device.authorization.grant.enabled` asks for a device code and a user code, a person
/// enters the user code at `/realms/{realm}/device`, signs in, reads what is asked and by whom,
/// and approves or denies; the device polls the token endpoint meanwhile.
///
/// Against guessing and phishing: user codes are 8 letters from 20 (2^34.6, only 10,000 can wait
/// in a realm), an address that enters wrong codes is stopped after `DeviceCodeAttempts.limit`,
/// every form carries the CSRF value, and the approval page names the client, the account and
/// the scopes, and warns never to enter a code someone else gave.
extension BrowserSignIn {
    static let userCodeAlphabet = Array("BCDFGHJKLMNPQRSTVWXZ")

    func addDeviceRoutes(to router: Router<KeyportRequestContext>) {
        router.post("/realms/{realm}/protocol/openid-connect/auth/device") { request, context in try await startDevice(request, context) }
        router.get("/realms/{realm}/device") { request, context in try await devicePage(request, context) }
        router.post("/realms/{realm}/device") { request, context in try await deviceCodeEntered(request, context) }
        router.post("/realms/{realm}/device/authenticate") { request, context in try await deviceAuthenticate(request, context) }
        router.post("/realms/{realm}/device/decision") { request, context in try await deviceDecision(request, context) }
    }

    // MARK: The device's request (RFC 8628 §3.1, §3.2)

    struct DeviceAuthorizationResponse: Encodable {
        let device_code, user_code, verification_uri, verification_uri_complete: String
        let expires_in, interval: Int
    }

    func startDevice(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let realm = try await oidc.realm(context)
        let form = try await FormParameters.body(of: request, context: context)
        let client = try await oidc.clients.authenticate(form: form, request: request, realm: realm)
        guard client.attributes["oauth2.device.authorization.grant.enabled"] == "true" else {
            throw OAuthError(.badRequest, "unauthorized_client", "Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. The flow is disabled for the client.")
        }
        let scope = String((form["scope"] ?? "").prefix(2048))
        _ = try await tokens.scopes(client: client, realm: realm, requested: scope)
        let now = self.now
        let lifespan = realm.keptSetting("oauth2DeviceCodeLifespan", fallback: 600, bounds: 60...86_400)
        let interval = realm.keptSetting("oauth2DevicePollingInterval", fallback: 5, bounds: 1...600)
        let deviceCode = OpaqueToken.make(prefix: "", randomBytes: tokens.environment.randomBytes)
        for _ in 0..<3 {
            let userCode = makeUserCode()
            let authorization = DeviceAuthorization(
                deviceCodeHash: OpaqueToken.hash(deviceCode), userCodeHash: OpaqueToken.hash(Self.normalized(userCode) ?? ""), realmId: realm.id,
                clientId: client.id, scope: scope, createdAt: now, expiresAt: now.adding(seconds: lifespan), interval: interval)
            let stored: Bool
            do {
                stored = try await store.createDeviceAuthorization(authorization)
            } catch StoreError.conflict {
                continue  // That user code waits already: draw another.
            }
            guard stored else {
                throw OAuthError(.serviceUnavailable, "slow_down", "Too many device sign-ins are waiting in this realm; try again later",
                                 headers: [.retryAfter: "30"])
            }
            let uri = "\(tokens.issuer(for: realm))/device"
            return try JSONBody.response(DeviceAuthorizationResponse(
                device_code: deviceCode, user_code: userCode, verification_uri: uri,
                verification_uri_complete: RedirectURIs.adding([("user_code", userCode)], to: uri), expires_in: lifespan, interval: interval))
        }
        throw OAuthError(.serviceUnavailable, "slow_down", "Try again", headers: [.retryAfter: "1"])
    }

    /// `XXXX-XXXX` from the alphabet (no vowels: no words, no 0/O or 1/I to confuse).
    func makeUserCode() -> String {
        let alphabet = Self.userCodeAlphabet
        let letters = tokens.environment.randomBytes(16).lazy.filter { Int($0) < 240 }.prefix(8).map { alphabet[Int($0) % alphabet.count] }
        var code = String(letters)
        while code.count < 8 { code.append(alphabet[Int(tokens.environment.randomBytes(1)[0]) % alphabet.count]) }
        return String(code.prefix(4)) + "-" + String(code.dropFirst(4))
    }

    /// A user code as typed (any case, with or without the dash or spaces), or nil.
    static func normalized(_ typed: String) -> String? {
        let letters = typed.uppercased().filter { !$0.isWhitespace && $0 != "-" }
        guard letters.count == 8, letters.allSatisfy({ userCodeAlphabet.contains($0) }) else { return nil }
        return letters
    }

    // MARK: The token endpoint's side (RFC 8628 §3.4, §3.5)

    func deviceGrant(form: FormParameters, realm: Realm, client: Client, context: KeyportRequestContext) async throws -> Response {
        guard let code = form["device_code"], !code.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: device_code") }
        guard code.utf8.count <= OpaqueToken.maxLength else { throw OAuthError(.badRequest, "invalid_grant", "Device code not valid") }
        let hash = OpaqueToken.hash(code)
        let now = self.now
        switch try await store.pollDeviceAuthorization(deviceCodeHash: hash, clientId: client.id, at: now) {
        case .unknown:
            throw OAuthError(.badRequest, "invalid_grant", "Device code not valid")
        case .expired:
            throw OAuthError(.badRequest, "expired_token", "Device code is expired")
        case .slowDown:
            throw OAuthError(.badRequest, "slow_down", "Slow down")
        case .denied:
            throw OAuthError(.badRequest, "access_denied", "The end user denied the authorization request")
        case .pending:
            throw OAuthError(.badRequest, "authorization_pending", "The authorization request is still pending")
        case .approved(let approved):
            // Spent by this poll: a device code is good once.
            guard approved.clientId == client.id, approved.realmId == realm.id, let userId = approved.userId,
                  let user = try await store.user(id: userId, realmId: realm.id), user.enabled, user.requiredActions.isEmpty,
                  let sessionId = approved.browserSessionId, let browser = try await store.browserSession(id: sessionId, realmId: realm.id),
                  browser.authTime >= user.notBefore
            else { throw OAuthError(.badRequest, "invalid_grant", "Device code not valid") }
            let scopes = try await tokens.scopes(client: client, realm: realm, requested: approved.scope, lenient: true)
            let offline = try await oidc.offlineRequested(scopes, user: user, realm: realm)
            let (refresh, session) = tokens.sessions.prepare(realm: realm, user: user, clientId: client.id, scope: scopes.requested, offline: offline,
                                                             ipAddress: context.clientAddress, browserSession: offline ? nil : browser)
            do {
                try await store.createSession(session)
            } catch StoreError.invalid, StoreError.notFound {
                throw OAuthError(.badRequest, "invalid_grant", "Device code not valid")  // the browser session ended meanwhile
            }
            let issued = try await tokens.issue(realm: realm, user: user, client: client, scopes: scopes, sessionId: offline ? session.id : browser.id,
                                                authTime: browser.authTime, idToken: .init(nonce: nil))
            record(realm: realm, type: "OAUTH2_DEVICE_CODE_TO_TOKEN", client: client, user: user, error: nil, username: user.username, context: context)
            return try JSONBody.response(OIDCController.TokenResponse(
                access_token: issued.accessToken, expires_in: realm.accessTokenLifespan, refresh_expires_in: oidc.refreshExpiresIn(offline: offline, realm: realm),
                refresh_token: refresh, session_state: offline ? session.id : browser.id, scope: scopes.claim, id_token: issued.idToken))
        }
    }

    // MARK: The person's pages

    func devicePage(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        let typed = String((FormParameters.query(of: request)["user_code"] ?? "").prefix(32))
        return codeEntryPage(realm: realm, request: request, userCode: typed, message: nil)
    }

    func codeEntryPage(realm: Realm, request: Request, userCode: String, message: String?) -> Response {
        let csrf = loginCSRF(request)
        let html = BrowserPages.page(title: "Device Login", realmName: realm.displayName ?? realm.name, body: BrowserPages.form(
            action: formAction("\(tokens.issuer(for: realm))/device", carrying: [("csrf", csrf.value)]),
            message: message ?? "Enter the code shown on your device.", isError: message != nil,
            fields: [BrowserPages.Field(name: "user_code", label: "Device code", type: "text", autocomplete: "one-time-code", value: userCode)],
            button: "Continue"))
        return BrowserPages.response(html, headers: loginCookie(csrf, realm: realm))
    }

    /// The waiting authorization a typed user code names, counting a wrong one against the address.
    enum CodeLookup {
        case found(DeviceAuthorization, Client, code: String)
        case page(Response)
    }

    func lookUpCode(_ form: FormParameters, realm: Realm, request: Request, context: KeyportRequestContext) async throws -> CodeLookup {
        let typed = String((form["user_code"] ?? "").prefix(32))
        guard csrfMatches(form, request) else {
            return .page(codeEntryPage(realm: realm, request: request, userCode: typed, message: "Your login attempt timed out. Login will start from the beginning."))
        }
        let key = "\(realm.id)|\(context.clientAddress ?? "")"
        guard oidc.deviceCodeAttempts.reserve(key, now: now) else {
            return .page(codeEntryPage(realm: realm, request: request, userCode: "", message: "Too many wrong codes. Try again in a few minutes."))
        }
        guard let code = Self.normalized(typed), let found = try await store.deviceAuthorization(userCodeHash: OpaqueToken.hash(code)),
              found.realmId == realm.id, found.status == .pending, found.expiresAt >= now,
              let client = try await store.client(id: found.clientId, realmId: realm.id), client.enabled
        else {
            return .page(codeEntryPage(realm: realm, request: request, userCode: typed, message: "Invalid code, please try again."))
        }
        oidc.deviceCodeAttempts.refund(key)
        return .found(found, client, code: code)
    }

    func deviceCodeEntered(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        let form = try await posted(request, context)
        switch try await lookUpCode(form, realm: realm, request: request, context: context) {
        case .page(let page): return page
        case .found(let authorization, let client, let code):
            if let (_, user) = try await liveSession(request, realm: realm) {
                return consentPage(realm: realm, request: request, client: client, user: user, scope: authorization.scope, code: code)
            }
            return deviceLoginPage(realm: realm, request: request, code: code, username: "", message: nil)
        }
    }

    func deviceLoginPage(realm: Realm, request: Request, code: String, username: String, message: String?) -> Response {
        let csrf = loginCSRF(request)
        let html = BrowserPages.login(realmName: realm.displayName ?? realm.name,
                                      action: formAction("\(tokens.issuer(for: realm))/device/authenticate", carrying: [("user_code", code), ("csrf", csrf.value)]),
                                      username: username, message: message)
        return BrowserPages.response(html, headers: loginCookie(csrf, realm: realm))
    }

    func deviceAuthenticate(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        let form = try await posted(request, context)
        let (authorization, client, code): (DeviceAuthorization, Client, String)
        switch try await lookUpCode(form, realm: realm, request: request, context: context) {
        case .page(let page): return page
        case .found(let a, let c, let k): (authorization, client, code) = (a, c, k)
        }
        let username = String((form["username"] ?? "").prefix(255))
        guard !username.isEmpty else { return deviceLoginPage(realm: realm, request: request, code: code, username: "", message: "Invalid username or password.") }
        let (outcome, proof) = try await oidc.authenticator.authenticateProving(realm: realm, username: username, password: Sensitive(form["password"] ?? ""),
                                                                                ipAddress: context.clientAddress)
        guard case .authenticated(let user) = outcome, let proof else {
            var message = Self.failureMessage(.invalidCredentials)
            if case .failed(let reason, let user) = outcome {
                message = Self.failureMessage(reason)
                record(realm: realm, type: "LOGIN_ERROR", client: client, user: user, error: reason.rawValue, username: username, context: context)
            }
            return deviceLoginPage(realm: realm, request: request, code: code, username: username, message: message)
        }
        guard let (_, cookie) = try await startBrowserSession(user, proof: proof, realm: realm, request: request, context: context) else {
            return deviceLoginPage(realm: realm, request: request, code: code, username: username, message: Self.failureMessage(.invalidCredentials))
        }
        var response = consentPage(realm: realm, request: request, client: client, user: user, scope: authorization.scope, code: code)
        response.headers.append(HTTPField(name: .setCookie, value: cookie))
        return response
    }

    /// What the person approves: which application, for which account, with which scopes — and
    /// the warning against a code someone else sent.
    func consentPage(realm: Realm, request: Request, client: Client, user: User, scope: String, code: String) -> Response {
        let csrf = loginCSRF(request)
        let name = client.name.flatMap { $0.isEmpty ? nil : $0 } ?? client.clientId
        let scopes = scope.split(separator: " ").map(String.init).filter { $0 != "openid" }
        let action = BrowserPages.escape(formAction("\(tokens.issuer(for: realm))/device/decision", carrying: [("user_code", code), ("csrf", csrf.value)]))
        let body = """
            <p>The application <strong>\(BrowserPages.escape(name))</strong> (\(BrowserPages.escape(client.clientId))) asks to sign in to your \
            account <strong>\(BrowserPages.escape(user.username))</strong> on a device\(scopes.isEmpty ? "" : ", with access to: " + BrowserPages.escape(scopes.joined(separator: ", "))).</p>
            <div class="info" role="note">Only continue if you started this sign-in yourself, on your own device. Never enter a code that \
            someone else sent you.</div>
            <form action="\(action)" method="post"><button type="submit" name="decision" value="approve">Yes, sign in the device</button>\
            <button type="submit" name="decision" value="deny" class="secondary">No</button></form>
            """
        let html = BrowserPages.page(title: "Grant access to \(name)", realmName: realm.displayName ?? realm.name, body: body)
        return BrowserPages.response(html, headers: loginCookie(csrf, realm: realm))
    }

    func deviceDecision(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        guard let realm = try await pageRealm(context) else { return notFoundPage }
        let form = try await posted(request, context)
        let (authorization, client, code): (DeviceAuthorization, Client, String)
        switch try await lookUpCode(form, realm: realm, request: request, context: context) {
        case .page(let page): return page
        case .found(let a, let c, let k): (authorization, client, code) = (a, c, k)
        }
        guard let (session, user) = try await liveSession(request, realm: realm) else {
            return deviceLoginPage(realm: realm, request: request, code: code, username: "", message: nil)
        }
        let approve = form["decision"] == "approve"
        let decided: Bool
        do {
            decided = try await store.decideDeviceAuthorization(userCodeHash: authorization.userCodeHash, approve: approve, userId: user.id,
                                                                browserSessionId: session.id, at: now)
        } catch StoreError.invalid, StoreError.notFound {
            decided = false  // the browser session ended meanwhile
        }
        guard decided else { return codeEntryPage(realm: realm, request: request, userCode: "", message: "Invalid code, please try again.") }
        record(realm: realm, type: approve ? "OAUTH2_DEVICE_VERIFY_USER_CODE" : "OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR", client: client, user: user,
               error: approve ? nil : "consent_denied", username: user.username, context: context)
        let name = client.name.flatMap { $0.isEmpty ? nil : $0 } ?? client.clientId
        return BrowserPages.response(BrowserPages.message(
            title: approve ? "Device Login Successful" : "Device Login Denied", realmName: realm.displayName ?? realm.name,
            text: approve ? "\(name) is signed in. You can close this window and go back to your device." : "\(name) was not signed in.",
            isError: !approve))
    }
}

/// Wrong user codes per address and realm: past `limit` in `window`, every code from there is
/// refused until the window passes. An attempt is counted before its code is looked up (and
/// given back when the code was right), so parallel guesses cannot slip past the limit. At most
/// `capacity` addresses are remembered; past that the oldest window is forgotten.
public final class DeviceCodeAttempts: Sendable {
    struct Count: Sendable {
        var failures: Int
        var since: Timestamp
    }

    public static let limit = 10
    static let window = 600
    static let capacity = 10_000
    let counts = Mutex([String: Count]())

    public init() {}

    /// Counts one attempt; false when the address is stopped (nothing counted then).
    func reserve(_ key: String, now: Timestamp) -> Bool {
        counts.withLock { counts in
            var count = counts[key] ?? Count(failures: 0, since: now)
            if count.since.adding(seconds: Self.window) < now { count = Count(failures: 0, since: now) }
            guard count.failures < Self.limit else { return false }
            count.failures += 1
            if counts[key] == nil, counts.count >= Self.capacity,
               let oldest = counts.min(by: { $0.value.since < $1.value.since })?.key {
                counts[oldest] = nil
            }
            counts[key] = count
            return true
        }
    }

    /// The attempt was a right code: it does not count.
    func refund(_ key: String) {
        counts.withLock { counts in
            guard var count = counts[key] else { return }
            count.failures = max(0, count.failures - 1)
            counts[key] = count
        }
    }
}
