import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import KeyportJSON
import KeyportKeys
import Synchronization
import Testing

/// A browser, as far as Keyport can tell: it keeps cookies by name and path, follows nothing by
/// itself, and reads the hidden fields of the page it was given.
final class TestBrowser: @unchecked Sendable {
    let api: APIHarness
    var cookies: [String: (value: String, path: String)] = [:]
    var lastPage: APIResponse?

    init(_ api: APIHarness) { self.api = api }

    func send(_ method: HTTPRequest.Method, _ path: String, form: [(String, String)]? = nil) async throws -> APIResponse {
        let pathOnly = String(path.split(separator: "?", maxSplits: 1).first ?? "")
        let header = cookies.filter { pathOnly.hasPrefix($0.value.path) }.map { "\($0.key)=\($0.value.value)" }.sorted().joined(separator: "; ")
        var headers: HTTPFields = [:]
        if !header.isEmpty { headers[.cookie] = header }
        let response = try await api.call(method, path, form: form, headers: headers)
        for set in response.headers[values: .setCookie] {
            let parts = set.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            let pair = parts[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let path = parts.first { $0.hasPrefix("Path=") }.map { String($0.dropFirst(5)) } ?? "/"
            if parts.contains("Max-Age=0") { cookies[pair[0]] = nil } else { cookies[pair[0]] = (pair[1], path) }
        }
        lastPage = response
        return response
    }

    /// The hidden fields (none: Keyport's forms carry their state in the action) and the action of the page's form.
    static func form(of page: APIResponse) -> (action: String, fields: [(String, String)]) {
        let html = page.text
        var fields: [(String, String)] = []
        let pattern = try! NSRegularExpression(pattern: #"<input type="hidden" name="([^"]*)" value="([^"]*)">"#)
        for match in pattern.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            let name = String(html[Range(match.range(at: 1), in: html)!])
            let value = String(html[Range(match.range(at: 2), in: html)!]).replacingOccurrences(of: "&quot;", with: "\"")
                .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&amp;", with: "&")
            fields.append((name, value))
        }
        let action = try! NSRegularExpression(pattern: #"<form[^>]* action="([^"]*)""#)
        let found = action.firstMatch(in: html, range: NSRange(html.startIndex..., in: html)).map { String(html[Range($0.range(at: 1), in: html)!]) } ?? ""
        let url = found.replacingOccurrences(of: "&amp;", with: "&")
        let path = URLComponents(string: url).map { $0.percentEncodedPath + ($0.percentEncodedQuery.map { "?" + $0 } ?? "") } ?? url
        return (path, fields)
    }

    /// `action` with the fields its `session_code` carries changed by `change`.
    static func rewritingCarried(_ action: String, _ change: ((String, String)) -> (String, String)) -> String {
        let parts = action.components(separatedBy: "?session_code=")
        let carried = FormParametersForTest(String(decoding: Base64URL.decode(parts[1]) ?? Data(), as: UTF8.self))
        let changed = carried.pairs.map(change)
        return parts[0] + "?session_code=" + Base64URL.encode(Data(urlEncoded(changed).utf8))
    }

    /// Submits the page's form with `extra` fields.
    func submit(_ page: APIResponse, _ extra: [(String, String)]) async throws -> APIResponse {
        let (action, fields) = Self.form(of: page)
        return try await send(.post, action, form: fields + extra)
    }
}

func query(_ location: String?) -> [String: String] {
    guard let location, let components = URLComponents(string: location) else { return [:] }
    var items = components.queryItems ?? []
    if let fragment = components.fragment { items += URLComponents(string: "?" + fragment)?.queryItems ?? [] }
    return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
}

func urlEncoded(_ pairs: [(String, String)]) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
}

/// A form body's fields (as the server reads them).
struct FormParametersForTest {
    let pairs: [(String, String)]
    var fields: [String: String] { Dictionary(pairs, uniquingKeysWith: { a, _ in a }) }
    init(_ body: String) {
        pairs = body.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
    }
    subscript(_ name: String) -> String? { fields[name] }
}

func jwtClaims(_ token: String?) throws -> JSONValue {
    let payload = try #require(token?.split(separator: ".").dropFirst().first.flatMap { Base64URL.decode(String($0)) })
    return try JSONDecoder().decode(JSONValue.self, from: payload)
}

@Suite("People sign in with a browser: authorization code, PKCE, login pages, SSO and logout")
struct BrowserSignInTests {
    static let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-keyport-test"
    static var challenge: String { Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8)))) }

    /// A realm `acme` (display name "ACME Corp") with alice and two clients: confidential `web`
    /// (https://web.acme.test/cb) and public `spa` (https://spa.acme.test/*, PKCE S256 required).
    func setUp(_ api: APIHarness) async throws -> String {
        let admin = try await api.token()
        try await api.createRealm("acme", token: admin, extra: ["displayName": "ACME Corp"])
        _ = try await api.createClient("acme", ["clientId": "web", "publicClient": false, "secret": "web-secret",
                                                "redirectUris": ["https://web.acme.test/cb"],
                                                "attributes": ["post.logout.redirect.uris": "https://web.acme.test/bye##+"]], token: admin)
        _ = try await api.createClient("acme", ["clientId": "spa", "publicClient": true, "redirectUris": ["https://spa.acme.test/*"],
                                                "attributes": ["pkce.code.challenge.method": "S256"]], token: admin)
        _ = try await api.createUser("acme", "alice", password: "alice-pw-1", token: admin,
                                     extra: ["email": "alice@acme.test", "firstName": "Alice", "lastName": "Liddell"])
        return admin
    }

    func authorizePath(client: String = "web", redirect: String = "https://web.acme.test/cb", extra: [(String, String)] = []) -> String {
        "/realms/acme/protocol/openid-connect/auth?" + urlEncoded([("client_id", client), ("redirect_uri", redirect), ("response_type", "code"),
                                                                  ("scope", "openid"), ("state", "st-1"), ("nonce", "n-1")] + extra)
    }

    func exchange(_ api: APIHarness, code: String, client: String = "web", redirect: String = "https://web.acme.test/cb",
                  extra: [(String, String)] = []) async throws -> APIResponse {
        var form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("client_id", client)]
        if client == "web" { form.append(("client_secret", "web-secret")) }
        return try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: form + extra)
    }

    /// Signs alice in through the form; returns the redirect's parameters.
    func signIn(_ browser: TestBrowser, path: String? = nil, password: String = "alice-pw-1") async throws -> [String: String] {
        let page = try await browser.send(.get, path ?? authorizePath())
        #expect(page.status == .ok, "\(page.text)")
        let done = try await browser.submit(page, [("username", "alice"), ("password", password)])
        #expect(done.status == .found, "\(done.status) \(done.text)")
        return query(done.location)
    }

    @Test func aPersonSignsInAndTheClientGetsTokensForTheCode() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let browser = TestBrowser(api)
            let page = try await browser.send(.get, authorizePath())
            // The login page: the realm's name, a labelled form, and headers that forbid framing and script.
            #expect(page.status == .ok && page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.text.contains("ACME Corp") && page.text.contains("<label for=\"username\">") && page.text.contains("autocomplete=\"current-password\""))
            let csp = page.headers[.contentSecurityPolicy] ?? ""
            #expect(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"))
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY" && page.headers[.cacheControl]?.contains("no-store") == true)
            #expect(!page.text.contains("src=") && !page.text.contains("<script") && !page.text.contains("href=\"http"))
            let login = page.headers[values: .setCookie].first { $0.hasPrefix("KEYPORT_LOGIN=") } ?? ""
            #expect(login.contains("HttpOnly") && login.contains("SameSite=Lax") && login.contains("Path=/realms/acme/"))

            let done = try await browser.submit(page, [("username", "alice"), ("password", "alice-pw-1")])
            #expect(done.status == .found)
            let location = try #require(done.location)
            #expect(location.hasPrefix("https://web.acme.test/cb?"))
            let answer = query(location)
            #expect(answer["state"] == "st-1" && answer["iss"] == "http://keyport.test/realms/acme" && answer["session_state"] != nil)
            let session = done.headers[values: .setCookie].first { $0.hasPrefix("KEYPORT_SESSION=") } ?? ""
            #expect(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/realms/acme/") && !session.contains("Secure"))

            let tokens = try await exchange(api, code: try #require(answer["code"]))
            #expect(tokens.status == .ok, "\(tokens.text)")
            let access = try #require(tokens["access_token"]?.stringValue)
            let id = try jwtClaims(tokens["id_token"]?.stringValue)
            #expect(id["typ"]?.stringValue == "ID" && id["aud"]?.stringValue == "web" && id["azp"]?.stringValue == "web")
            #expect(id["nonce"]?.stringValue == "n-1" && id["sid"]?.stringValue == answer["session_state"])
            #expect(id["iss"]?.stringValue == "http://keyport.test/realms/acme" && id["auth_time"] != nil)
            #expect(id["preferred_username"]?.stringValue == "alice" && id["email"]?.stringValue == "alice@acme.test")
            let atHash = Base64URL.encode(Data(Array(SHA256.hash(data: Data(access.utf8))).prefix(16)))
            #expect(id["at_hash"]?.stringValue == atHash)
            #expect(try jwtClaims(access)["sid"]?.stringValue == answer["session_state"])
            let me = try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access)
            #expect(me.status == .ok && me["preferred_username"]?.stringValue == "alice")
            // The refresh token lives with the browser session, and gives a new ID token.
            let refreshed = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "refresh_token"), ("client_id", "web"), ("client_secret", "web-secret"), ("refresh_token", tokens["refresh_token"]?.stringValue ?? "")])
            #expect(refreshed.status == .ok && refreshed["id_token"] != nil && refreshed["session_state"]?.stringValue == answer["session_state"])

            // A second use of the code fails and ends what the first use started.
            let replay = try await exchange(api, code: answer["code"]!)
            #expect(replay.status == .badRequest && replay["error"]?.stringValue == "invalid_grant")
            let afterReplay = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "refresh_token"), ("client_id", "web"), ("client_secret", "web-secret"), ("refresh_token", tokens["refresh_token"]?.stringValue ?? "")])
            #expect(afterReplay.status == .badRequest && afterReplay["error_description"]?.stringValue == "Session not active")
            // The access token of the first use too, and the browser's sign-in it came from.
            #expect(try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access).status == .unauthorized)
            #expect(query(try await browser.send(.get, authorizePath(extra: [("prompt", "none")])).location)["error"] == "login_required")
        }
    }

    @Test func singleSignOnPromptAndMaxAge() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            // No session: prompt=none comes back with login_required, never a page.
            let anonymous = TestBrowser(api)
            let none = try await anonymous.send(.get, authorizePath(extra: [("prompt", "none")]))
            #expect(none.status == .found && query(none.location)["error"] == "login_required" && query(none.location)["state"] == "st-1")

            let browser = TestBrowser(api)
            _ = try await signIn(browser)
            // A second client signs the browser in without the form, PKCE and all.
            let spa = "/realms/acme/protocol/openid-connect/auth?" + urlEncoded([
                ("client_id", "spa"), ("redirect_uri", "https://spa.acme.test/app/cb"), ("response_type", "code"), ("scope", "openid"),
                ("code_challenge", Self.challenge), ("code_challenge_method", "S256"), ("response_mode", "fragment")])
            let silent = try await browser.send(.get, spa)
            #expect(silent.status == .found && silent.location?.hasPrefix("https://spa.acme.test/app/cb#") == true)
            let code = try #require(query(silent.location)["code"])
            let tokens = try await exchange(api, code: code, client: "spa", redirect: "https://spa.acme.test/app/cb", extra: [("code_verifier", Self.verifier)])
            #expect(tokens.status == .ok && tokens["id_token"] != nil)
            // prompt=none with the session: a code, no page.
            let quiet = try await browser.send(.get, authorizePath(extra: [("prompt", "none")]))
            #expect(quiet.status == .found && query(quiet.location)["code"] != nil)
            // prompt=login and a max_age the session is past: the form again.
            #expect(try await browser.send(.get, authorizePath(extra: [("prompt", "login")])).status == .ok)
            api.clock.advance(seconds: 120)
            #expect(try await browser.send(.get, authorizePath(extra: [("max_age", "60")])).status == .ok)
            #expect(try await browser.send(.get, authorizePath(extra: [("max_age", "600")])).status == .found)
            // Idle past ssoSessionIdleTimeout (30 minutes): signed out.
            api.clock.advance(seconds: 1801)
            let idle = try await browser.send(.get, authorizePath(extra: [("prompt", "none")]))
            #expect(query(idle.location)["error"] == "login_required")
        }
    }

    @Test func everySignInMakesANewSessionCookieAndTheRealmsMaximumHolds() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            // No fixation: a sign-in in a browser that has a session cookie gets a new one, and the old one is dead.
            let browser = TestBrowser(api)
            _ = try await signIn(browser)
            let first = try #require(browser.cookies["KEYPORT_SESSION"]?.value)
            _ = try await signIn(browser, path: authorizePath(extra: [("prompt", "login")]))
            let second = try #require(browser.cookies["KEYPORT_SESSION"]?.value)
            #expect(first != second)
            let planted = TestBrowser(api)
            planted.cookies["KEYPORT_SESSION"] = (first, "/realms/acme/")
            #expect(query(try await planted.send(.get, authorizePath(extra: [("prompt", "none")])).location)["error"] == "login_required")
            // The realm's ssoSessionMaxLifespan ends a session however active it is.
            #expect(try await api.call(.put, "/admin/realms/acme", token: admin, json: ["ssoSessionMaxLifespan": 3600]).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme", token: admin)["ssoSessionMaxLifespan"] == .number(3600))
            let active = TestBrowser(api)
            _ = try await signIn(active)
            for _ in 0..<3 {
                api.clock.advance(seconds: 1000)
                #expect(query(try await active.send(.get, authorizePath(extra: [("prompt", "none")])).location)["code"] != nil)
            }
            api.clock.advance(seconds: 700)
            #expect(query(try await active.send(.get, authorizePath(extra: [("prompt", "none")])).location)["error"] == "login_required")
        }
    }

    @Test func redirectURIsAreNeverOpen() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            _ = try await api.createClient("acme", ["clientId": "wild", "publicClient": true,
                                                    "redirectUris": ["https://app.acme.test*", "*", "/relative/*", "http://127.0.0.1/cb"]], token: admin)
            let browser = TestBrowser(api)
            for (client, uri) in [("web", "https://evil.test/cb"), ("web", "https://web.acme.test/cb/"), ("web", "https://web.acme.test/cb#x"),
                                  ("web", "https://web.acme.test.evil.test/cb"), ("wild", "https://app.acme.test.evil.test/"),
                                  ("wild", "https://app.acme.test@evil.test/"), ("wild", "https://app.acme.test/../x"), ("wild", "https://evil.test/"),
                                  ("wild", "javascript:alert(1)"), ("wild", "/relative/x"), ("nope", "https://web.acme.test/cb")] {
                let answer = try await browser.send(.get, authorizePath(client: client, redirect: uri))
                #expect(answer.status == .badRequest && answer.location == nil, "\(client) \(uri): \(answer.status)")
                #expect(answer.headers[.contentType]?.hasPrefix("text/html") == true)
            }
            // What is registered works: a path under the wildcard, a port, a loopback port.
            for uri in ["https://app.acme.test/x/cb", "https://app.acme.test:8443/cb", "https://app.acme.test?x=1", "http://127.0.0.1:53123/cb"] {
                let answer = try await browser.send(.get, authorizePath(client: "wild", redirect: uri))
                #expect(answer.status == .ok, "\(uri): \(answer.status) \(answer.text)")
            }
            // A redirect URI that passes but a request that does not: the error goes back there.
            let badType = try await browser.send(.get, authorizePath(extra: [("response_type", "token")]).replacingOccurrences(of: "response_type=code&", with: ""))
            #expect(badType.status == .found && query(badType.location)["error"] == "unsupported_response_type")
            let twice = try await browser.send(.get, authorizePath() + "&state=again")
            #expect(twice.status == .found && query(twice.location)["error"] == "invalid_request")
            let badScope = try await browser.send(.get, authorizePath(extra: [("scope", "openid nope")]).replacingOccurrences(of: "scope=openid&", with: ""))
            #expect(badScope.status == .found && query(badScope.location)["error"] == "invalid_scope")
        }
    }

    @Test func pkceIsEnforcedByTheClientsSettingAndACodeIsTriedOnce() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let browser = TestBrowser(api)
            let spa: ([(String, String)]) -> String = { extra in
                "/realms/acme/protocol/openid-connect/auth?" + urlEncoded([("client_id", "spa"), ("redirect_uri", "https://spa.acme.test/cb"),
                                                                          ("response_type", "code"), ("scope", "openid")] + extra)
            }
            // The client says S256: a request without it, or with plain, is refused.
            #expect(query(try await browser.send(.get, spa([])).location)["error"] == "invalid_request")
            #expect(query(try await browser.send(.get, spa([("code_challenge", Self.verifier), ("code_challenge_method", "plain")])).location)["error"] == "invalid_request")
            // A client without the setting: plain is still refused, S256 taken, none allowed.
            #expect(query(try await browser.send(.get, authorizePath(extra: [("code_challenge", Self.verifier)])).location)["error"] == "invalid_request")
            let answer = try await signIn(browser, path: spa([("code_challenge", Self.challenge), ("code_challenge_method", "S256")]))
            let code = try #require(answer["code"])
            // A wrong verifier spends the code: the right one afterwards finds nothing.
            let wrong = try await exchange(api, code: code, client: "spa", redirect: "https://spa.acme.test/cb", extra: [("code_verifier", String(repeating: "a", count: 43))])
            #expect(wrong.status == .badRequest && wrong["error_description"]?.stringValue == "PKCE verification failed: Code mismatch")
            let right = try await exchange(api, code: code, client: "spa", redirect: "https://spa.acme.test/cb", extra: [("code_verifier", Self.verifier)])
            #expect(right.status == .badRequest && right["error"]?.stringValue == "invalid_grant")
            // Missing verifier; another client; another redirect URI; an expired code.
            let code2 = try #require(query(try await browser.send(.get, spa([("code_challenge", Self.challenge), ("code_challenge_method", "S256")])).location)["code"])
            #expect(try await exchange(api, code: code2, client: "spa", redirect: "https://spa.acme.test/cb")["error_description"]?.stringValue == "PKCE code verifier not specified")
            let code3 = try #require(query(try await browser.send(.get, authorizePath()).location)["code"])
            let stolen = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "authorization_code"), ("code", code3), ("redirect_uri", "https://web.acme.test/cb"), ("client_id", "spa")])
            #expect(stolen["error"]?.stringValue == "invalid_grant")
            let code4 = try #require(query(try await browser.send(.get, authorizePath()).location)["code"])
            #expect(try await exchange(api, code: code4, redirect: "https://web.acme.test/other")["error_description"]?.stringValue == "Incorrect redirect_uri")
            let code5 = try #require(query(try await browser.send(.get, authorizePath()).location)["code"])
            api.clock.advance(seconds: 61)
            #expect(try await exchange(api, code: code5)["error"]?.stringValue == "invalid_grant")
        }
    }

    @Test func theLoginFormSaysWhatKeycloakSaysAndRefusesForgedPosts() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            try await api.call(.put, "/admin/realms/acme", token: admin, json: ["bruteForceProtected": true, "failureFactor": 2])
            let bobId = try await api.createUser("acme", "bob", password: "bob-pw-1", token: admin)
            let browser = TestBrowser(api)
            let page = try await browser.send(.get, authorizePath())
            // Unknown user, wrong password, and a locked account read the same.
            let unknown = try await browser.submit(page, [("username", "nobody"), ("password", "x")])
            #expect(unknown.status == .ok && unknown.text.contains("Invalid username or password.") && unknown.text.contains("role=\"alert\""))
            #expect(unknown.text.contains("aria-invalid=\"true\""))
            for _ in 0..<2 { _ = try await browser.submit(page, [("username", "alice"), ("password", "wrong")]) }
            let locked = try await browser.submit(page, [("username", "alice"), ("password", "alice-pw-1")])
            #expect(locked.status == .ok && locked.text.contains("Invalid username or password.") && locked.location == nil)
            // Disabled: said only after the right password.
            try await api.call(.put, "/admin/realms/acme/users/\(bobId)", token: admin, json: ["enabled": false])
            #expect(try await browser.submit(page, [("username", "bob"), ("password", "wrong")]).text.contains("Invalid username or password."))
            #expect(try await browser.submit(page, [("username", "bob"), ("password", "bob-pw-1")]).text.contains("Account is disabled"))
            // Login CSRF: a post from another site (no cookie, or another value) signs no one in.
            try await api.call(.put, "/admin/realms/acme/users/\(bobId)", token: admin, json: ["enabled": true])
            let (action, fields) = TestBrowser.form(of: page)
            let forged = try await api.call(.post, action, form: fields + [("username", "bob"), ("password", "bob-pw-1")])
            #expect(forged.status == .ok && forged.location == nil && forged.text.contains("timed out"))
            // A form whose carried CSRF value is another's, and one that names a second value.
            let swapped = TestBrowser.rewritingCarried(action) { $0.0 == "csrf" ? ("csrf", String(repeating: "A", count: 43)) : $0 }
            let mismatch = try await browser.send(.post, swapped, form: fields + [("username", "bob"), ("password", "bob-pw-1")])
            #expect(mismatch.location == nil && mismatch.text.contains("timed out"))
            let second = try await browser.send(.post, action, form: [("username", "bob"), ("password", "bob-pw-1"), ("csrf", "x")])
            #expect(second.location == nil && second.text.contains("timed out"))
            // Escaped: a state that is markup stays text.
            let markup = try await browser.send(.get, authorizePath(extra: [("login_hint", "\"><script>alert(1)</script>")]))
            #expect(!markup.text.contains("<script>") && markup.text.contains("&lt;script&gt;"))
        }
    }

    @Test func aTemporaryPasswordIsChangedAtFirstSignIn() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            let carol = try await api.createUser("acme", "carol", token: admin)
            try await api.call(.put, "/admin/realms/acme/users/\(carol)/reset-password", token: admin, json: ["type": "password", "value": "temp-pw-1", "temporary": true])
            let browser = TestBrowser(api)
            let page = try await browser.send(.get, authorizePath())
            let update = try await browser.submit(page, [("username", "carol"), ("password", "temp-pw-1")])
            #expect(update.status == .ok && update.text.contains("Update password") && update.text.contains("autocomplete=\"new-password\""))
            let mismatch = try await browser.submit(update, [("password-new", "new-pw-1"), ("password-confirm", "new-pw-2")])
            #expect(mismatch.text.contains("Passwords don&#39;t match."))
            // A ticket from another browser (another CSRF cookie) is refused.
            let other = TestBrowser(api)
            _ = try await other.send(.get, authorizePath())
            let (action, fields) = TestBrowser.form(of: update)
            let stolen = try await other.send(.post, action, form: fields + [("password-new", "evil-pw-1"), ("password-confirm", "evil-pw-1")])
            #expect(stolen.location == nil && stolen.text.contains("timed out"))
            let done = try await browser.submit(update, [("password-new", "carol-new-1"), ("password-confirm", "carol-new-1")])
            #expect(done.status == .found && query(done.location)["code"] != nil, "\(done.text)")
            #expect(try await exchange(api, code: query(done.location)["code"]!).status == .ok)
            // The new password is the one; the same ticket cannot set another.
            func grant(_ password: String) async throws -> APIResponse {
                try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                    ("grant_type", "password"), ("client_id", "web"), ("client_secret", "web-secret"), ("username", "carol"), ("password", password)])
            }
            #expect(try await grant("carol-new-1").status == .ok)
            #expect(try await grant("temp-pw-1").status == .unauthorized)
            let again = try await browser.submit(update, [("password-new", "other-pw-1"), ("password-confirm", "other-pw-1")])
            #expect(again.location == nil && again.text.contains("timed out"))
            #expect(try await grant("carol-new-1").status == .ok)
        }
    }

    @Test func logoutEndsTheBrowserSessionAndEverythingItSignedIn() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            let browser = TestBrowser(api)
            let answer = try await signIn(browser)
            let tokens = try await exchange(api, code: try #require(answer["code"]))
            let idToken = try #require(tokens["id_token"]?.stringValue)
            let access = try #require(tokens["access_token"]?.stringValue)
            // A hint from another realm is refused, and nothing ends.
            try await api.createRealm("other", token: admin)
            _ = try await api.createClient("other", ["clientId": "web", "publicClient": false, "secret": "s", "redirectUris": ["https://web.acme.test/cb"]], token: admin)
            _ = try await api.createUser("other", "alice", password: "alice-pw-1", token: admin)
            let foreign = try await api.call(.post, "/realms/other/protocol/openid-connect/token", form: [
                ("grant_type", "password"), ("client_id", "web"), ("client_secret", "s"), ("username", "alice"), ("password", "alice-pw-1"), ("scope", "openid")])
            let foreignHint = try #require(foreign["id_token"]?.stringValue)
            let refused = try await browser.send(.get, "/realms/acme/protocol/openid-connect/logout?" + urlEncoded([("id_token_hint", foreignHint)]))
            #expect(refused.status == .badRequest && refused.location == nil)
            #expect(try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access).status == .ok)
            // The session cookie of one realm means nothing in another.
            let elsewhere = try await browser.send(.get, "/realms/other/protocol/openid-connect/auth?" + urlEncoded([
                ("client_id", "web"), ("redirect_uri", "https://web.acme.test/cb"), ("response_type", "code"), ("prompt", "none")]))
            #expect(query(elsewhere.location)["error"] == "login_required")
            // An unregistered post-logout URI is refused.
            let open = try await browser.send(.get, "/realms/acme/protocol/openid-connect/logout?" + urlEncoded([
                ("id_token_hint", idToken), ("post_logout_redirect_uri", "https://evil.test/")]))
            #expect(open.status == .badRequest && open.location == nil)
            // The relying party's logout: back to its page with its state; the session and its tokens end.
            let out = try await browser.send(.get, "/realms/acme/protocol/openid-connect/logout?" + urlEncoded([
                ("id_token_hint", idToken), ("post_logout_redirect_uri", "https://web.acme.test/bye"), ("state", "s-9")]))
            #expect(out.status == .found && out.location == "https://web.acme.test/bye?state=s-9")
            #expect(browser.cookies["KEYPORT_SESSION"] == nil)
            #expect(try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access).status == .unauthorized)
            let refresh = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "refresh_token"), ("client_id", "web"), ("client_secret", "web-secret"), ("refresh_token", tokens["refresh_token"]?.stringValue ?? "")])
            #expect(refresh["error_description"]?.stringValue == "Session not active")
            #expect(query(try await browser.send(.get, authorizePath(extra: [("prompt", "none")])).location)["error"] == "login_required")

            // Without a hint the person confirms on a page of ours; a forged confirmation does nothing.
            _ = try await signIn(browser)
            let confirm = try await browser.send(.get, "/realms/acme/protocol/openid-connect/logout?" + urlEncoded([
                ("client_id", "web"), ("post_logout_redirect_uri", "https://web.acme.test/cb")]))
            #expect(confirm.status == .ok && confirm.text.contains("Do you want to log out?"))
            let forged = try await api.call(.post, "/realms/acme/protocol/openid-connect/logout", form: [("confirmLogout", "true"), ("client_id", "web")],
                                            headers: [.cookie: "KEYPORT_SESSION=\(browser.cookies["KEYPORT_SESSION"]?.value ?? "")"])
            #expect(forged.status == .ok && forged.text.contains("Do you want to log out?"))
            #expect(query(try await browser.send(.get, authorizePath(extra: [("prompt", "none")])).location)["code"] != nil)
            let confirmed = try await browser.submit(confirm, [("confirmLogout", "true")])
            #expect(confirmed.status == .found && confirmed.location == "https://web.acme.test/cb")
            #expect(query(try await browser.send(.get, authorizePath(extra: [("prompt", "none")])).location)["error"] == "login_required")
        }
    }

    @Test func anAdminSeesOneSessionPerBrowserAndCanEndIt() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            let alice = try #require(try await api.call(.get, "/admin/realms/acme/users?username=alice&exact=true", token: admin).items.first?["id"]?.stringValue)
            let browser = TestBrowser(api)
            let answer = try await signIn(browser)
            // Signed in, no client has used it yet: the session is listed already.
            let before = try await api.call(.get, "/admin/realms/acme/users/\(alice)/sessions", token: admin)
            #expect(before.items.count == 1 && before.items.first?["id"]?.stringValue == answer["session_state"])
            let web = try await exchange(api, code: try #require(answer["code"]))
            let spaPath = "/realms/acme/protocol/openid-connect/auth?" + urlEncoded([
                ("client_id", "spa"), ("redirect_uri", "https://spa.acme.test/cb"), ("response_type", "code"),
                ("code_challenge", Self.challenge), ("code_challenge_method", "S256")])
            let spaCode = try #require(query(try await browser.send(.get, spaPath).location)["code"])
            #expect(try await exchange(api, code: spaCode, client: "spa", redirect: "https://spa.acme.test/cb", extra: [("code_verifier", Self.verifier)]).status == .ok)
            let listed = try await api.call(.get, "/admin/realms/acme/users/\(alice)/sessions", token: admin)
            #expect(listed.items.count == 1, "\(listed.text)")
            let session = try #require(listed.items.first)
            #expect(session["id"]?.stringValue == answer["session_state"] && session["username"]?.stringValue == "alice")
            #expect(Set(session["clients"]?.objectValue?.values.compactMap(\.stringValue) ?? []) == ["web", "spa"])
            // Ending it ends the browser's sign-in and every client's refresh token.
            #expect(try await api.call(.delete, "/admin/realms/acme/sessions/\(answer["session_state"]!)", token: admin).status == .noContent)
            let refresh = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "refresh_token"), ("client_id", "web"), ("client_secret", "web-secret"), ("refresh_token", web["refresh_token"]?.stringValue ?? "")])
            #expect(refresh["error_description"]?.stringValue == "Session not active")
            #expect(query(try await browser.send(.get, authorizePath(extra: [("prompt", "none")])).location)["error"] == "login_required")
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(alice)/sessions", token: admin).items.isEmpty)
        }
    }

    @Test func logoutTellsTheClientsItSignedInOverTheBackChannel() async throws {
        // A relying party's back-channel endpoint, listening on a real port.
        let received = Mutex<[String]>([])
        let router = Router()
        router.post("/bc") { request, context -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 65_536)
            received.withLock { $0.append(String(buffer: body)) }
            return .ok
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { relyingParty in
            try await APIHarness.run { api in
                let admin = try await setUp(api)
                let web = try #require(try await api.call(.get, "/admin/realms/acme/clients?clientId=web", token: admin).items.first?["id"]?.stringValue)
                try await api.call(.put, "/admin/realms/acme/clients/\(web)", token: admin, json: [
                    "attributes": ["backchannel.logout.url": .string("http://127.0.0.1:\(relyingParty.port!)/bc"),
                                   "post.logout.redirect.uris": "https://web.acme.test/bye"]])
                let browser = TestBrowser(api)
                let answer = try await signIn(browser)
                let tokens = try await exchange(api, code: try #require(answer["code"]))
                let out = try await browser.send(.get, "/realms/acme/protocol/openid-connect/logout?" + urlEncoded([
                    ("id_token_hint", try #require(tokens["id_token"]?.stringValue)), ("post_logout_redirect_uri", "https://web.acme.test/bye")]))
                #expect(out.status == .found)
                let bodies = received.withLock { $0 }
                #expect(bodies.count == 1)
                let token = try #require(bodies.first.flatMap { FormParametersForTest($0)["logout_token"] })
                let claims = try jwtClaims(token)
                #expect(claims["aud"]?.stringValue == "web" && claims["sid"]?.stringValue == answer["session_state"])
                #expect(claims["iss"]?.stringValue == "http://keyport.test/realms/acme" && claims["nonce"] == nil)
                #expect(claims["events"]?["http://schemas.openid.net/event/backchannel-logout"] != nil)
                let alice = try await api.call(.get, "/admin/realms/acme/users?username=alice&exact=true", token: admin).items.first?["id"]?.stringValue
                #expect(claims["sub"]?.stringValue == alice)
                // A client the browser never signed in is not told.
                _ = try await signIn(browser)
                _ = try await browser.send(.get, "/realms/acme/protocol/openid-connect/logout?" + urlEncoded([("id_token_hint", tokens["id_token"]!.stringValue!)]))
                #expect(received.withLock { $0.count } == 1)
                // An administrator ending the session, or logging the user out, tells the client too.
                let again = try await signIn(browser)
                _ = try await exchange(api, code: try #require(again["code"]))
                #expect(try await api.call(.delete, "/admin/realms/acme/sessions/\(again["session_state"]!)", token: admin).status == .noContent)
                #expect(received.withLock { $0.count } == 2)
                let third = try await signIn(TestBrowser(api))
                _ = try await exchange(api, code: try #require(third["code"]))
                #expect(try await api.call(.post, "/admin/realms/acme/users/\(alice ?? "")/logout", token: admin).status == .noContent)
                #expect(received.withLock { $0.count } == 3)
                #expect(try jwtClaims(received.withLock { $0.last }.flatMap { FormParametersForTest($0)["logout_token"] })["sid"]?.stringValue == third["session_state"])
            }
        }
    }

    @Test func behindHttpsCookiesAreSecureAndStateAndNonceComeBackExactly() async throws {
        try await APIHarness.run(hostname: "https://keyport.test") { api in
            _ = try await setUp(api)
            let browser = TestBrowser(api)
            let state = "a b&c=d/é?#\u{1F511}"
            let nonce = "n <\"'> ü"
            let page = try await browser.send(.get, authorizePath(extra: [("state", state), ("nonce", nonce)])
                .replacingOccurrences(of: "state=st-1&nonce=n-1&", with: ""))
            let login = page.headers[values: .setCookie].first { $0.hasPrefix("KEYPORT_LOGIN=") } ?? ""
            #expect(login.contains("; Secure"))
            let done = try await browser.submit(page, [("username", "alice"), ("password", "alice-pw-1")])
            let session = done.headers[values: .setCookie].first { $0.hasPrefix("KEYPORT_SESSION=") } ?? ""
            #expect(session.contains("; Secure") && session.contains("HttpOnly"))
            let answer = query(done.location)
            #expect(answer["state"] == state && answer["iss"] == "https://keyport.test/realms/acme")
            let tokens = try await exchange(api, code: try #require(answer["code"]))
            #expect(try jwtClaims(tokens["id_token"]?.stringValue)["nonce"]?.stringValue == nonce)
        }
    }

    @Test func offlineAccessGivesARefreshTokenThatOutlivesTheSignIn() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            let alice = try #require(try await api.call(.get, "/admin/realms/acme/users?username=alice&exact=true", token: admin).items.first?["id"]?.stringValue)
            func refresh(_ token: String?) async throws -> APIResponse {
                try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                    ("grant_type", "refresh_token"), ("client_id", "web"), ("client_secret", "web-secret"), ("refresh_token", token ?? "")])
            }
            // The password grant with offline_access: an offline token, by the realm's offline settings.
            let password = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "password"), ("client_id", "web"), ("client_secret", "web-secret"), ("username", "alice"),
                ("password", "alice-pw-1"), ("scope", "openid offline_access")])
            #expect(password.status == .ok && password["refresh_token"]?.stringValue?.hasPrefix("kpit_") == true, "\(password.text)")
            #expect(password["refresh_expires_in"] == .number(2_592_000) && password["scope"]?.stringValue?.contains("offline_access") == true)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(alice)/consents", token: admin).items.first?["clientId"]?.stringValue == "web")
            // Through a browser: the offline token outlives the browser's logout, the online one does not.
            let browser = TestBrowser(api)
            let online = try await exchange(api, code: try #require(try await signIn(browser)["code"]))
            let code = try #require(query(try await browser.send(.get, authorizePath(extra: [("scope", "openid offline_access")])
                .replacingOccurrences(of: "scope=openid&", with: "")).location)["code"])
            let offline = try await exchange(api, code: code)
            #expect(offline["refresh_token"]?.stringValue?.hasPrefix("kpit_") == true, "\(offline.text)")
            _ = try await browser.send(.get, "/realms/acme/protocol/openid-connect/logout?" + urlEncoded([("id_token_hint", online["id_token"]?.stringValue ?? "")]))
            #expect(try await refresh(online["refresh_token"]?.stringValue)["error_description"]?.stringValue == "Session not active")
            let refreshed = try await refresh(offline["refresh_token"]?.stringValue)
            #expect(refreshed.status == .ok && refreshed["refresh_expires_in"] == .number(2_592_000))
            // The client's logout with it ends it.
            #expect(try await api.call(.post, "/realms/acme/protocol/openid-connect/logout", form: [
                ("client_id", "web"), ("client_secret", "web-secret"), ("refresh_token", offline["refresh_token"]?.stringValue ?? "")]).status == .noContent)
            #expect(try await refresh(offline["refresh_token"]?.stringValue)["error_description"]?.stringValue == "Session not active")
        }
    }

    @Test func aClientRevokesItsRefreshTokenRFC7009() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let revoke = "/realms/acme/protocol/openid-connect/revoke"
            let tokens = try await exchange(api, code: try #require(try await signIn(TestBrowser(api))["code"]))
            let refreshToken = try #require(tokens["refresh_token"]?.stringValue)
            let access = try #require(tokens["access_token"]?.stringValue)
            // Another client may not; an access token is not revoked one by one; an unknown token is a success.
            _ = try await api.createClient("acme", ["clientId": "other", "publicClient": false, "secret": "other-secret"], token: try await api.token())
            #expect(try await api.call(.post, revoke, form: [("client_id", "other"), ("client_secret", "other-secret"), ("token", refreshToken)])["error"]?.stringValue == "unauthorized_client")
            #expect(try await api.call(.post, revoke, form: [("client_id", "web"), ("client_secret", "web-secret"), ("token", access)])["error"]?.stringValue == "unsupported_token_type")
            #expect(try await api.call(.post, revoke, form: [("client_id", "web"), ("client_secret", "web-secret"), ("token", "nope")]).status == .ok)
            #expect(try await api.call(.post, revoke, form: [("client_id", "web"), ("client_secret", "wrong"), ("token", refreshToken)]).status == .unauthorized)
            // Its own client revokes it: the refresh token is dead.
            #expect(try await api.call(.post, revoke, form: [("client_id", "web"), ("client_secret", "web-secret"), ("token", refreshToken),
                                                            ("token_type_hint", "refresh_token")]).status == .ok)
            let refreshed = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "refresh_token"), ("client_id", "web"), ("client_secret", "web-secret"), ("refresh_token", refreshToken)])
            #expect(refreshed["error_description"]?.stringValue == "Session not active")
        }
    }

    @Test func aClientThatRequiresConsentSignsNoOneInWithoutIt() async throws {
        try await APIHarness.run { api in
            let admin = try await setUp(api)
            let id = try await api.createClient("acme", ["clientId": "third-party", "publicClient": false, "secret": "s", "consentRequired": true,
                                                         "redirectUris": ["https://tp.test/cb"]], token: admin)
            let client = try await api.call(.get, "/admin/realms/acme/clients/\(id)", token: admin)
            #expect(client["consentRequired"]?.bool == true && client["attributes"]?["consent-required"] == nil)
            // Changing the attributes keeps the switch; only its own field changes it.
            try await api.call(.put, "/admin/realms/acme/clients/\(id)", token: admin, json: ["attributes": ["x": "y"]])
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(id)", token: admin)["consentRequired"]?.bool == true)
            let answer = try await TestBrowser(api).send(.get, authorizePath(client: "third-party", redirect: "https://tp.test/cb"))
            #expect(answer.status == .found && query(answer.location)["error"] == "consent_required")
            try await api.call(.put, "/admin/realms/acme/clients/\(id)", token: admin, json: ["consentRequired": false])
            #expect(try await TestBrowser(api).send(.get, authorizePath(client: "third-party", redirect: "https://tp.test/cb")).status == .ok)
        }
    }

    @Test func discoveryNamesTheBrowserEndpoints() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let d = try await api.call(.get, "/realms/acme/.well-known/openid-configuration")
            #expect(d["authorization_endpoint"]?.stringValue == "http://keyport.test/realms/acme/protocol/openid-connect/auth")
            #expect(d["end_session_endpoint"]?.stringValue == "http://keyport.test/realms/acme/protocol/openid-connect/logout")
            #expect(d["code_challenge_methods_supported"]?.strings.contains("S256") == true)
            #expect(d["response_types_supported"]?.strings == ["code"])
            #expect(d["grant_types_supported"]?.strings.contains("authorization_code") == true)
            #expect(d["authorization_response_iss_parameter_supported"]?.bool == true)
            #expect(d["revocation_endpoint"]?.stringValue == "http://keyport.test/realms/acme/protocol/openid-connect/revoke")
            #expect(d["backchannel_logout_supported"]?.bool == true && d["backchannel_logout_session_supported"]?.bool == true)
            #expect(d["scopes_supported"]?.strings.contains("profile") == true)
        }
    }
}
