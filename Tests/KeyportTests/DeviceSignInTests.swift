import Foundation
import HTTPTypes
import Hummingbird
import KeyportJSON
import Testing

/// The OAuth 2.0 Device Authorization Grant (RFC 8628): a device polls, a person approves in a browser.
@Suite("Devices sign in through a person's browser (RFC 8628)")
struct DeviceSignInTests {
    let signIn = BrowserSignInTests()

    func setUp(_ api: APIHarness) async throws -> String {
        let admin = try await signIn.setUp(api)
        _ = try await api.createClient("acme", ["clientId": "tv", "name": "Living-room TV", "publicClient": true,
                                                "attributes": ["oauth2.device.authorization.grant.enabled": "true"]], token: admin)
        return admin
    }

    func start(_ api: APIHarness, client: String = "tv", scope: String = "openid") async throws -> APIResponse {
        try await api.call(.post, "/realms/acme/protocol/openid-connect/auth/device", form: [("client_id", client), ("scope", scope)])
    }

    func poll(_ api: APIHarness, _ deviceCode: String, client: String = "tv") async throws -> APIResponse {
        try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("client_id", client), ("device_code", deviceCode)])
    }

    /// Enters `userCode` at the verification page, signs alice in if asked, and decides.
    func approve(_ browser: TestBrowser, _ userCode: String, decision: String = "approve") async throws -> APIResponse {
        let entry = try await browser.send(.get, "/realms/acme/device?user_code=\(userCode)")
        #expect(entry.status == .ok && entry.text.contains("value=\"\(userCode)\""))
        var page = try await browser.submit(entry, [("user_code", userCode)])
        if page.text.contains("Sign in to your account") {
            page = try await browser.submit(page, [("username", "alice"), ("password", "alice-pw-1")])
        }
        #expect(page.text.contains("Living-room TV") && page.text.contains("alice") && page.text.contains("Never enter a code"), "\(page.text)")
        return try await browser.submit(page, [("decision", decision)])
    }

    @Test func aDeviceIsApprovedInTheBrowserAndGetsTokensOnce() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let started = try await start(api)
            #expect(started.status == .ok, "\(started.text)")
            let userCode = try #require(started["user_code"]?.stringValue)
            let deviceCode = try #require(started["device_code"]?.stringValue)
            #expect(userCode.range(of: #"^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$"#, options: .regularExpression) != nil)
            #expect(started["verification_uri"]?.stringValue == "http://keyport.test/realms/acme/device")
            #expect(started["verification_uri_complete"]?.stringValue == "http://keyport.test/realms/acme/device?user_code=\(userCode)")
            #expect(started["expires_in"] == .number(600) && started["interval"] == .number(5))
            // Polling: pending; too soon again is slow_down; after the interval, pending again.
            #expect(try await poll(api, deviceCode)["error"]?.stringValue == "authorization_pending")
            #expect(try await poll(api, deviceCode)["error"]?.stringValue == "slow_down")
            api.clock.advance(seconds: 11)
            #expect(try await poll(api, deviceCode)["error"]?.stringValue == "authorization_pending")
            // Another client cannot use the code.
            #expect(try await poll(api, deviceCode, client: "spa")["error"]?.stringValue == "invalid_grant")

            let browser = TestBrowser(api)
            let done = try await approve(browser, userCode.lowercased().replacingOccurrences(of: "-", with: ""))
            #expect(done.text.contains("Device Login Successful"))
            api.clock.advance(seconds: 20)
            let tokens = try await poll(api, deviceCode)
            #expect(tokens.status == .ok && tokens["id_token"] != nil && tokens["refresh_token"] != nil, "\(tokens.text)")
            #expect(try jwtClaims(tokens["access_token"]?.stringValue)["azp"]?.stringValue == "tv")
            api.clock.advance(seconds: 20)
            #expect(try await poll(api, deviceCode)["error"]?.stringValue == "invalid_grant")
            // A second device: the browser is signed in, so only the approval page; denied.
            let second = try await start(api)
            let denied = try await approve(browser, try #require(second["user_code"]?.stringValue), decision: "deny")
            #expect(denied.text.contains("Device Login Denied"))
            #expect(try await poll(api, try #require(second["device_code"]?.stringValue))["error"]?.stringValue == "access_denied")
        }
    }

    @Test func codesExpireClientsMustBeAllowedAndGuessingIsStopped() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let refused = try await start(api, client: "spa")
            #expect(refused.status == .badRequest && refused["error"]?.stringValue == "unauthorized_client")
            #expect(try await start(api, scope: "openid nope")["error"]?.stringValue == "invalid_scope")
            let started = try await start(api)
            let userCode = try #require(started["user_code"]?.stringValue)
            // A forged approval (no CSRF cookie) approves nothing.
            let forged = try await api.call(.post, "/realms/acme/device/decision", form: [("user_code", userCode), ("decision", "approve"), ("csrf", "x")])
            #expect(forged.status == .ok && forged.text.contains("timed out"))
            // Ten wrong codes from one address, and then even the right one is refused for a while.
            let browser = TestBrowser(api)
            let entry = try await browser.send(.get, "/realms/acme/device")
            for _ in 0..<10 {
                let wrong = try await browser.submit(entry, [("user_code", "BBBB-BBBB")])
                #expect(wrong.text.contains("Invalid code, please try again."))
            }
            let stopped = try await browser.submit(entry, [("user_code", userCode)])
            #expect(stopped.text.contains("Too many wrong codes"))
            api.clock.advance(seconds: 601)
            // The window passed; the code has expired meanwhile (600 s).
            #expect(try await browser.submit(entry, [("user_code", userCode)]).text.contains("Invalid code"))
            #expect(try await poll(api, try #require(started["device_code"]?.stringValue))["error"]?.stringValue == "expired_token")
        }
    }

    @Test func discoveryNamesTheDeviceEndpoint() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let d = try await api.call(.get, "/realms/acme/.well-known/openid-configuration")
            #expect(d["device_authorization_endpoint"]?.stringValue == "http://keyport.test/realms/acme/protocol/openid-connect/auth/device")
            #expect(d["grant_types_supported"]?.strings.contains("urn:ietf:params:oauth:grant-type:device_code") == true)
        }
    }
}
