import Crypto
import Foundation
import KeyportHTTP
import KeyportKeys
import KeyportModel
import KeyportPasswords
import KeyportStore

/// An OpenID Connect authorization request (`/protocol/openid-connect/auth`), checked as
/// Keycloak checks it. The login form carries the same parameters back, and they are checked
/// again: nothing a browser sends is trusted for having been seen before.
struct AuthorizationRequest: Sendable {
    let client: Client
    let redirectUri: String
    let responseMode: ResponseMode
    let scope: String
    let state: String?
    let nonce: String?
    let codeChallenge: String?
    let codeChallengeMethod: String?
    let prompt: Set<String>
    let maxAge: Int?
    let loginHint: String?
    /// An application-initiated action (Keycloak's `kc_action`): `UPDATE_PASSWORD`, after the
    /// password is entered again whatever the browser's session.
    let action: ApplicationAction?
    /// Keycloak's `kc_idp_hint`: sign in through that identity provider straight away.
    var identityProviderHint: String? = nil

    enum ApplicationAction: String, Sendable { case updatePassword = "UPDATE_PASSWORD" }

    enum ResponseMode: String, Sendable { case query, fragment }

    /// The parameters a login form carries to continue this request.
    var formFields: [(String, String)] {
        var fields: [(String, String)] = [("client_id", client.clientId), ("redirect_uri", redirectUri), ("response_type", "code"),
                                          ("response_mode", responseMode.rawValue), ("scope", scope)]
        if let state { fields.append(("state", state)) }
        if let nonce { fields.append(("nonce", nonce)) }
        if let codeChallenge { fields.append(("code_challenge", codeChallenge)) }
        if let codeChallengeMethod { fields.append(("code_challenge_method", codeChallengeMethod)) }
        if let action { fields.append(("kc_action", action.rawValue)) }
        return fields
    }

    /// Why a request fails. `page`: it cannot be trusted to redirect (unknown client, a redirect
    /// URI the client did not register): the browser gets an error page, never a redirect.
    /// `redirect`: the client and redirect URI are good, so the error goes back to the client.
    enum Failure: Error {
        case page(String)
        case redirect(AuthorizationRedirect)
    }

    /// The parameters Keyport reads, each at most once (RFC 6749 §3.1) and within its bound.
    static let bounds: [String: Int] = [
        "client_id": 255, "redirect_uri": RedirectURIs.maxLength, "response_type": 64, "response_mode": 32, "scope": 2048,
        "state": 2048, "nonce": 512, "code_challenge": 128, "code_challenge_method": 16, "prompt": 128, "max_age": 12,
        "login_hint": 255, "ui_locales": 128, "kc_action": 64, "kc_idp_hint": 255, "request": 0, "request_uri": 0,
    ]

    static func parse(_ parameters: FormParameters, realm: Realm, issuer: String, base: String, store: any IdentityStore) async throws -> AuthorizationRequest {
        func single(_ name: String) throws(Failure) -> String? {
            let values = parameters.all(name)
            guard values.count <= 1 else { throw Failure.page("Invalid parameter: \(name) (given more than once)") }
            return values.first.flatMap { $0.isEmpty ? nil : $0 }
        }
        // The client and the redirect URI first: until both are known good, nothing redirects.
        guard let clientId = try single("client_id") else { throw Failure.page("Missing parameter: client_id") }
        guard clientId.utf8.count <= 255, let client = try await store.client(clientId: clientId, realmId: realm.id),
              client.protocolName == .openIDConnect
        else { throw Failure.page("Client not found.") }
        guard client.enabled else { throw Failure.page("Client disabled.") }
        if client.attributes["bearer-only"] == "true" { throw Failure.page("Bearer-only applications are not allowed to initiate browser login.") }
        let redirectUri: String
        let registered = RedirectURIs.registered(of: client, base: base)
        if let given = try single("redirect_uri") {
            guard RedirectURIs.matches(given, registered: registered) else { throw Failure.page("Invalid parameter: redirect_uri") }
            redirectUri = given
        } else {
            // OIDC Core §3.1.2.1 makes it required; Keycloak lets a client with one plain
            // registered URI leave it out.
            let plain = registered.filter { !$0.hasSuffix("*") && RedirectURIs.isWellFormed($0) }
            guard registered.count == 1, let only = plain.first else { throw Failure.page("Invalid parameter: redirect_uri") }
            redirectUri = only
        }
        let modeText = try single("response_mode")
        let mode: ResponseMode
        switch modeText {
        case nil, "query": mode = .query
        case "fragment": mode = .fragment
        default:
            throw Failure.redirect(AuthorizationRedirect(uri: redirectUri, mode: .query, issuer: issuer,
                                                         state: parameters.all("state").first.flatMap { $0.utf8.count <= 2048 ? $0 : nil },
                                                         error: "invalid_request", description: "Invalid parameter: response_mode"))
        }
        // A state given twice is not echoed (which one?); the loop below says why it failed.
        let state = parameters.all("state").count == 1 ? try single("state").flatMap { $0.utf8.count <= 2048 ? $0 : nil } : nil
        func fail(_ error: String, _ description: String) -> Failure {
            .redirect(AuthorizationRedirect(uri: redirectUri, mode: mode, issuer: issuer, state: state, error: error, description: description))
        }
        for (name, limit) in bounds {
            for value in parameters.all(name) where value.utf8.count > limit {
                throw name == "request" || name == "request_uri"
                    ? fail(name == "request" ? "request_not_supported" : "request_uri_not_supported", "Parameter \(name) is not supported")
                    : fail("invalid_request", "Invalid parameter: \(name)")
            }
            guard parameters.all(name).count <= 1 else { throw fail("invalid_request", "Invalid parameter: \(name) (given more than once)") }
        }
        guard let responseType = try single("response_type") else { throw fail("invalid_request", "Missing parameter: response_type") }
        guard responseType == "code" else { throw fail("unsupported_response_type", "Client is not allowed to initiate browser login with given response_type.") }
        guard !client.consentRequired else {
            throw fail("consent_required", "The client requires consent, which Keyport does not ask for: turn consentRequired off to sign people in")
        }
        guard client.standardFlowEnabled else {
            throw fail("unauthorized_client", "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.")
        }
        let prompt = Set((try single("prompt") ?? "").split(separator: " ").map(String.init))
        if prompt.contains("none"), prompt.count > 1 { throw fail("invalid_request", "Invalid parameter: prompt") }
        var maxAge: Int?
        if let text = try single("max_age") {
            guard let value = Int(text), value >= 0 else { throw fail("invalid_request", "Invalid parameter: max_age") }
            maxAge = value
        }
        let (challenge, method) = try pkce(challenge: try single("code_challenge"), method: try single("code_challenge_method"), client: client, fail: fail)
        let scope = try single("scope") ?? ""
        guard scope.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F && $0.value < 0x7F }) else { throw fail("invalid_scope", "Invalid scopes: \(scope.prefix(64))") }
        let nonce = try single("nonce")
        var action: ApplicationAction?
        if let text = try single("kc_action") {
            guard let known = ApplicationAction(rawValue: text.uppercased()) else { throw fail("invalid_request", "Invalid parameter: kc_action (Keyport knows UPDATE_PASSWORD)") }
            guard !prompt.contains("none") else { throw fail("invalid_request", "Invalid parameter: kc_action cannot go with prompt=none") }
            action = known
        }
        return AuthorizationRequest(client: client, redirectUri: redirectUri, responseMode: mode, scope: scope, state: state, nonce: nonce,
                                    codeChallenge: challenge, codeChallengeMethod: method, prompt: prompt, maxAge: maxAge,
                                    loginHint: try single("login_hint"), action: action, identityProviderHint: try single("kc_idp_hint"))
    }

    /// PKCE (RFC 7636) as Keycloak enforces it: by the client's `pkce.code.challenge.method`
    /// (a challenge by that method is then required); without it a challenge is optional, and
    /// only `S256` is taken — `plain` protects nothing against a code seen on the way.
    static func pkce(challenge: String?, method: String?, client: Client, fail: (String, String) -> Failure) throws(Failure) -> (String?, String?) {
        let required = client.attributes["pkce.code.challenge.method"].flatMap { $0.isEmpty ? nil : $0 }
        guard let challenge else {
            if required != nil { throw fail("invalid_request", "Missing parameter: code_challenge_method") }
            if method != nil { throw fail("invalid_request", "Missing parameter: code_challenge") }
            return (nil, nil)
        }
        let effective = method ?? "plain"
        guard effective == "S256" || effective == "plain" else { throw fail("invalid_request", "Invalid parameter: code challenge method is not supported.") }
        if let required, required != effective { throw fail("invalid_request", "Invalid parameter: code challenge method is not configured one.") }
        if effective == "plain", required != "plain" { throw fail("invalid_request", "Invalid parameter: code challenge method is not configured one.") }
        guard PKCE.isValidVerifierOrChallenge(challenge) else { throw fail("invalid_request", "Invalid parameter: code_challenge") }
        return (challenge, effective)
    }
}

/// Where an authorization response goes, and what it says.
struct AuthorizationRedirect: Sendable {
    let uri: String
    let mode: AuthorizationRequest.ResponseMode
    let issuer: String
    let state: String?
    var error: String? = nil
    var description: String? = nil
    var code: String? = nil
    var sessionState: String? = nil
    /// Keycloak's `kc_action_status` (`success`, `cancelled`) after an application-initiated action.
    var actionStatus: String? = nil

    /// The redirect URI with the response's parameters, in Keycloak's order (the code last: scripts
    /// that read it from the whole URL find it there); `iss` always (RFC 9207).
    var location: String {
        var parameters: [(String, String)] = []
        if let error {
            parameters.append(("error", error))
            if let description { parameters.append(("error_description", description)) }
        }
        if let state { parameters.append(("state", state)) }
        if let sessionState { parameters.append(("session_state", sessionState)) }
        if let actionStatus { parameters.append(("kc_action_status", actionStatus)) }
        parameters.append(("iss", issuer))
        if let code { parameters.append(("code", code)) }
        return RedirectURIs.adding(parameters, to: uri, inFragment: mode == .fragment)
    }
}

/// RFC 7636's checks.
enum PKCE {
    /// 43 to 128 characters of `[A-Za-z0-9-._~]` (§4.1, §4.2).
    static func isValidVerifierOrChallenge(_ text: String) -> Bool {
        (43...128).contains(text.utf8.count) && text.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
        }
    }

    static func verify(verifier: String, challenge: String, method: String) -> Bool {
        guard isValidVerifierOrChallenge(verifier) else { return false }
        let expected = method == "S256" ? Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8)))) : verifier
        return constantTimeEquals(Array(expected.utf8), Array(challenge.utf8))
    }
}
