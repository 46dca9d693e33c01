import Foundation
import HTTPTypes
import Hummingbird
import KeyportJSON
import Logging
@testable import KeyportServer
import Testing

/// The account console (`/realms/{realm}/account/`) and the account API it stands on: a person's
/// own sessions, identity tokens and registries, and the password change through the sign-in
/// pages (Keycloak's `kc_action=UPDATE_PASSWORD`).
@Suite("Account console and the account API")
struct AccountConsoleTests {
    static let account = "/realms/acme/account"

    @Test func theAccountConsoleIsServedAtKeycloaksPathAndItsClientSignsInThere() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let bare = try await api.call(.get, Self.account)
            #expect(bare.status == .found && bare.location?.hasSuffix("/realms/acme/account/") == true)
            let page = try await api.call(.get, "\(Self.account)/")
            #expect(page.status == .ok && page.text.contains("resources/account.js") && page.text.contains("data-realm=\"acme\""))
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            let script = try await api.call(.get, "\(Self.account)/resources/account.js")
            #expect(script.status == .ok && script.headers[.contentType]?.hasPrefix("text/javascript") == true && script.text.contains("account-console"))
            #expect(try await api.call(.get, "\(Self.account)/resources/dom.js").status == .ok)
            #expect(try await api.call(.get, "\(Self.account)/resources/account.html").status == .notFound)
            #expect(try await api.call(.get, "/realms/nowhere/account/").status == .notFound)

            // The client: its pages are the redirect URIs, PKCE S256; restored at start when emptied.
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let console = try #require(try await store.client(clientId: "account-console", realmId: realm.id))
            #expect(console.redirectUris == ["/realms/acme/account/*"] && console.attributes["pkce.code.challenge.method"] == "S256")
            _ = try await store.updateClient(id: console.id, realmId: realm.id) { $0.redirectUris = [] }
            try await KeyportServer.giveConsoleClientsTheirPages(store: store, logger: Logger(label: "test"))
            #expect(try await store.client(clientId: "account-console", realmId: realm.id)?.redirectUris == ["/realms/acme/account/*"])
            _ = r
        }
    }

    /// An application the user signed in to holds the user's access token too: it must not mint
    /// registry credentials or end sessions with it.
    @Test func onlyTheAccountClientsTokensReachTheAccountAPI() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            _ = try await api.createClient("acme", ["clientId": "webapp", "publicClient": true, "directAccessGrantsEnabled": true], token: r.admin)
            let appToken = try #require(try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "password"), ("client_id", "webapp"), ("username", "alice"), ("password", "pw")])["access_token"]?.stringValue)
            for (method, path) in [(HTTPRequest.Method.get, "personal-access-tokens"), (.post, "personal-access-tokens"), (.get, "sessions"),
                                   (.delete, "sessions"), (.get, "identity-tokens"), (.get, "registries")] {
                let refused = try await api.call(method, "\(Self.account)/\(path)", token: appToken, json: ["name": "x", "client": "registry.acme.io"])
                #expect(refused.status == .forbidden, "\(method) \(path): \(refused.status)")
            }
            let own = try await api.token(realm: "acme", username: "alice", password: "pw")
            #expect(try await api.call(.get, "\(Self.account)/sessions", token: own).status == .ok)
        }
    }

    @Test func aUserSeesAndEndsItsOwnSessionsAndNobodyElses() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            try await r.user("bob")
            let first = try await api.token(realm: "acme", username: "alice", password: "pw")
            let second = try await api.token(realm: "acme", username: "alice", password: "pw")
            let listed = try await api.call(.get, "\(Self.account)/sessions", token: second)
            #expect(listed.items.count == 2)
            #expect(listed.items.filter { $0["current"]?.boolValue == true }.count == 1)
            #expect(listed.items.allSatisfy { $0["clients"]?.arrayValue?.first?["clientId"]?.stringValue == "admin-cli" })
            let other = try #require(listed.items.first { $0["current"]?.boolValue == false }?["id"]?.stringValue)

            // Bob cannot end alice's, and sees none of them.
            let bob = try await api.token(realm: "acme", username: "bob", password: "pw")
            #expect(try await api.call(.delete, "\(Self.account)/sessions/\(other)", token: bob).status == .notFound)
            #expect(try await api.call(.get, "\(Self.account)/sessions", token: bob).items.count == 1)

            // "Sign out everywhere else": the other session ends, this one stays.
            #expect(try await api.call(.delete, "\(Self.account)/sessions", token: second).status == .noContent)
            let left = try await api.call(.get, "\(Self.account)/sessions", token: second)
            #expect(left.items.count == 1 && left.items.first?["current"]?.boolValue == true)
            #expect(try await api.call(.delete, "\(Self.account)/sessions/\(other)", token: second).status == .notFound)
            #expect(try await api.call(.delete, "\(Self.account)/sessions?current=maybe", token: second).status == .badRequest)
            // The first token's session is gone: its refresh token no longer works.
            _ = first
            #expect(try await api.call(.delete, "\(Self.account)/sessions?current=true", token: second).status == .noContent)
            #expect(try await api.call(.get, "\(Self.account)/sessions", token: bob).items.count == 1)
        }
    }

    @Test func aUserRevokesTheIdentityTokensDockerLoginLeft() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            try await r.user("bob", roles: ["team-a-dev"])
            let laptop = try await r.login("alice")
            let ci = try await r.login("alice")
            let bobs = try await r.login("bob")
            let alice = try await api.token(realm: "acme", username: "alice", password: "pw")
            let listed = try await api.call(.get, "\(Self.account)/identity-tokens", token: alice)
            #expect(listed.items.count == 2 && listed.items.allSatisfy { $0["client"]?.stringValue == "registry.acme.io" })
            #expect(!listed.text.contains(laptop) && !listed.text.contains(ci), "never the token itself")
            let bob = try await api.token(realm: "acme", username: "bob", password: "pw")
            let bobsId = try #require(try await api.call(.get, "\(Self.account)/identity-tokens", token: bob).items.first?["id"]?.stringValue)
            #expect(try await api.call(.delete, "\(Self.account)/identity-tokens/\(bobsId)", token: alice).status == .notFound)
            #expect(try await r.refresh(bobs).status == .ok)

            // Revoking one: that machine is refused, the other keeps working.
            let before = try await r.refresh(laptop).status
            #expect(before == .ok)
            for item in listed.items {
                let id = try #require(item["id"]?.stringValue)
                #expect(try await api.call(.delete, "\(Self.account)/identity-tokens/\(id)", token: alice).status == .noContent)
                break
            }
            let statuses = [try await r.refresh(laptop).status, try await r.refresh(ci).status]
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses)")
            #expect(try await api.call(.get, "\(Self.account)/identity-tokens", token: alice).items.count == 1)
            // A sign-in session's id is not an identity token's.
            let session = try #require(try await api.call(.get, "\(Self.account)/sessions", token: alice).items.first?["id"]?.stringValue)
            #expect(try await api.call(.delete, "\(Self.account)/identity-tokens/\(session)", token: alice).status == .notFound)
        }
    }

    @Test func registriesListWhatTheUsersRolesAllowThere() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev", "reader"])
            try await r.user("bob")
            let alice = try await api.token(realm: "acme", username: "alice", password: "pw")
            let mine = try await api.call(.get, "\(Self.account)/registries", token: alice)
            #expect(mine.items.count == 1)
            #expect(mine.items.first?["client"]?.stringValue == "registry.acme.io" && mine.items.first?["authorization"]?.stringValue == "roles")
            #expect(Set(mine.items.first?["grants"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                == ["repository:team-a/*:pull,push", "repository:team-a/*:pull", "repository:library/**:pull"])
            let bob = try await api.token(realm: "acme", username: "bob", password: "pw")
            #expect(try await api.call(.get, "\(Self.account)/registries", token: bob).items.isEmpty)
            // docker-v2 off: no registry at all.
            #expect(try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["dockerV2Enabled": false]).status == .noContent)
            #expect(try await api.call(.get, "\(Self.account)/registries", token: alice).items.isEmpty)
        }
    }

    /// Keycloak's application-initiated action: the account console sends the browser to the
    /// authorization endpoint with `kc_action=UPDATE_PASSWORD`; the current password is asked for
    /// even with a live session, then the new one; the application hears `kc_action_status`.
    @Test func aPasswordChangeAsksForTheCurrentPasswordFirst() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", password: "alice-pw-1")
            _ = try await api.createClient("acme", ["clientId": "web", "publicClient": false, "secret": "web-secret",
                                                    "redirectUris": ["https://web.acme.test/cb"]], token: r.admin)
            func authorize(_ extra: [(String, String)]) -> String {
                "/realms/acme/protocol/openid-connect/auth?" + urlEncoded([("client_id", "web"), ("redirect_uri", "https://web.acme.test/cb"),
                                                                          ("response_type", "code"), ("scope", "openid"), ("state", "st-9")] + extra)
            }
            let browser = TestBrowser(api)
            let login = try await browser.send(.get, authorize([]))
            let signedIn = try await browser.submit(login, [("username", "alice"), ("password", "alice-pw-1")])
            #expect(signedIn.status == .found && query(signedIn.location)["kc_action_status"] == nil)

            // A live session is not enough: the form, with the username filled in.
            let again = try await browser.send(.get, authorize([("kc_action", "UPDATE_PASSWORD")]))
            #expect(again.status == .ok && again.text.contains("re-authenticate") && again.text.contains("value=\"alice\""), "\(again.status)")
            let wrong = try await browser.submit(again, [("username", "alice"), ("password", "not-it")])
            #expect(wrong.status == .ok && wrong.text.contains("Invalid username or password."))
            let update = try await browser.submit(wrong, [("username", "alice"), ("password", "alice-pw-1")])
            #expect(update.status == .ok && update.text.contains("Update password") && update.text.contains("kc_action_status=cancelled"))
            let done = try await browser.submit(update, [("password-new", "alice-pw-2"), ("password-confirm", "alice-pw-2")])
            #expect(done.status == .found)
            let answer = query(done.location)
            #expect(answer["kc_action_status"] == "success" && answer["code"] != nil && answer["state"] == "st-9", "\(done.location ?? "")")
            func grant(_ password: String) async throws -> HTTPResponse.Status {
                try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                    ("grant_type", "password"), ("client_id", "admin-cli"), ("username", "alice"), ("password", password)]).status
            }
            #expect(try await grant("alice-pw-2") == .ok)
            #expect(try await grant("alice-pw-1") == .unauthorized)

            // Unknown actions and prompt=none are refused back to the client.
            let unknown = try await browser.send(.get, authorize([("kc_action", "DELETE_ACCOUNT")]))
            #expect(query(unknown.location)["error"] == "invalid_request")
            let silent = try await browser.send(.get, authorize([("kc_action", "UPDATE_PASSWORD"), ("prompt", "none")]))
            #expect(query(silent.location)["error"] == "invalid_request")
        }
    }
}
