import Foundation
import Hummingbird
import KeyportAuth
import KeyportModel
import KeyportOIDC
@testable import KeyportServer
import Logging
import Testing

/// The admin console's server side: its page and files, the client it signs in as (relative
/// redirect URIs on this server, as Keycloak registers them), and realms made before it.
@Suite("Admin console")
struct AdminConsoleTests {
    @Test func relativeRedirectURIsArePathsOnThisServerOnly() {
        let base = "https://id.acme.test/auth"
        let resolved = RedirectURIs.resolved(["/admin/acme/console/*", "/*", "/", "//evil.test/*", "https://app.test/cb"], base: base)
        #expect(resolved == ["https://id.acme.test/auth/admin/acme/console/*", "/*", "/", "//evil.test/*", "https://app.test/cb"])
        #expect(RedirectURIs.matches("https://id.acme.test/auth/admin/acme/console/", registered: resolved))
        #expect(!RedirectURIs.matches("https://id.acme.test/auth/admin/other/console/", registered: resolved))
        #expect(!RedirectURIs.matches("https://id.acme.test.evil.test/auth/admin/acme/console/", registered: resolved))
        #expect(!RedirectURIs.matches("https://evil.test/", registered: resolved), "neither /* nor //host lets a code leave")
    }

    @Test func theConsoleSignsInAsItsClientWithPKCE() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let console = try await api.call(.get, "/admin/realms/acme/clients/\(try await api.clientUUID("acme", "security-admin-console", token: admin))", token: admin)
            #expect(console["redirectUris"]?.strings == ["/admin/acme/console/*"])
            #expect(console["attributes"]?["pkce.code.challenge.method"]?.stringValue == "S256")
            func authorize(_ redirect: String, pkce: Bool = true) async throws -> APIResponse {
                var pairs = [("client_id", "security-admin-console"), ("redirect_uri", redirect), ("response_type", "code"), ("scope", "openid")]
                if pkce { pairs += [("code_challenge", String(repeating: "a", count: 43)), ("code_challenge_method", "S256")] }
                return try await api.call(.get, "/realms/acme/protocol/openid-connect/auth?" + urlEncoded(pairs))
            }
            let page = try await authorize("http://keyport.test/admin/acme/console/")
            #expect(page.status == .ok && page.text.contains("password"), "the login page")
            #expect(try await authorize("http://keyport.test/admin/other/console/").text.contains("Invalid parameter: redirect_uri"))
            #expect(try await authorize("https://evil.test/admin/acme/console/").text.contains("Invalid parameter: redirect_uri"))
            let noPKCE = try await authorize("http://keyport.test/admin/acme/console/", pkce: false)
            #expect(noPKCE.status == .found && (noPKCE.headers[.location] ?? "").contains("error=invalid_request"), "PKCE is required")
        }
    }

    @Test func thePageAndItsFilesAreServedUnderAStrictPolicy() async throws {
        try await APIHarness.run { api in
            let page = try await api.call(.get, "/admin/master/console/")
            #expect(page.status == .ok)
            let policy = page.headers[.contentSecurityPolicy] ?? ""
            #expect(policy.contains("script-src 'self'") && policy.contains("connect-src 'self'") && !policy.contains("unsafe"))
            #expect(page.text.contains(#"data-realm="master""#) && page.text.contains(#"data-base="http://keyport.test""#))
            #expect(page.text.contains(#"<script type="module" src="console.js"></script>"#))
            let script = try await api.call(.get, "/admin/master/console/console.js")
            #expect(script.status == .ok && script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.text.contains("import { Session } from \"./auth.js\""))
            #expect(!script.text.contains("innerHTML"), "server values reach the page as text only")
            #expect(try await api.call(.get, "/admin/master/console/auth.js").text.contains("code_challenge_method: \"S256\""))
            #expect(try await api.call(.get, "/admin/master/console/console.css").headers[.contentType] == "text/css; charset=utf-8")
            #expect(try await api.call(.get, "/admin/master/console/console.html").status == .notFound)
            #expect(try await api.call(.get, "/admin/master/console/nope.js").status == .notFound)
            #expect(try await api.call(.get, "/admin/ghost/console/").status == .notFound)
            let bare = try await api.call(.get, "/admin/master/console")
            #expect(bare.status == .found && bare.headers[.location] == "http://keyport.test/admin/master/console/")
            #expect(try await api.call(.get, "/admin").headers[.location] == "http://keyport.test/admin/master/console/")
        }
    }

    @Test func realmsMadeBeforeTheConsoleGetItsPagesOnce() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let console = try #require(try await store.client(clientId: "security-admin-console", realmId: realm.id))
            _ = try await store.updateClient(id: console.id, realmId: realm.id) { client in
                client.redirectUris = []
                client.attributes["post.logout.redirect.uris"] = nil
            }
            try await KeyportServer.giveConsoleClientsTheirPages(store: store, logger: Logger(label: "test"))
            let upgraded = try #require(try await store.client(clientId: "security-admin-console", realmId: realm.id))
            #expect(upgraded.redirectUris == ["/admin/acme/console/*"])
            #expect(upgraded.attributes["post.logout.redirect.uris"] == "+")
            // An administrator's own choice stays.
            _ = try await store.updateClient(id: console.id, realmId: realm.id) { $0.redirectUris = ["https://console.acme.test/*"] }
            try await KeyportServer.giveConsoleClientsTheirPages(store: store, logger: Logger(label: "test"))
            #expect(try await store.client(clientId: "security-admin-console", realmId: realm.id)?.redirectUris == ["https://console.acme.test/*"])
        }
    }
}

@Suite("Role sources")
struct RoleSourcesTests {
    /// However the composites are shaped, the answer is bounded; a long chain is shortened.
    @Test func aDeepChainIsShortenedAndAHugeGraphTruncated() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            var ids: [String] = []
            for index in 0..<30 {
                try #require(try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": .string("r\(index)")]).status == .created)
                ids.append(try #require(try await store.role(named: "r\(index)", realmId: realm.id, clientId: nil)?.id))
                if index > 0 { try await store.addComposites(parentId: ids[index - 1], childIds: [ids[index]], realmId: realm.id) }
            }
            let userId = try await api.createUser("acme", "alice", token: admin)
            try await store.grantUserRoles(userId: userId, roleIds: [ids[0]], realmId: realm.id)
            let user = try #require(try await store.user(id: userId, realmId: realm.id))
            let answer = try await RoleSources(store: store).of(user: user, realm: realm)
            #expect(!answer.truncated)
            let last = try #require(answer.sources[ids[29]]?.first)
            #expect(last.hasPrefix("direct → … → composite realm role r9 → "), "\(last)")
            #expect(last.hasSuffix("composite realm role r28"))
            let small = try await RoleSources(store: store, maxSteps: 10).of(user: user, realm: realm)
            #expect(small.truncated)
            #expect(small.sources[ids[29]] == nil)
        }
    }

    /// A `manage-clients` administrator cannot reshape the admin console's client (a redirect
    /// elsewhere would catch a realm admin's code).
    @Test func theConsoleClientIsTheRealmAdminsToChange() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let helper = try await api.createUser("acme", "helper", password: "helper-pw-1", token: admin)
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            let manageClients = try await api.role("acme", "manage-clients", client: management, token: admin)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(helper)/role-mappings/clients/\(management)", token: admin, json: [manageClients])
            let token = try await api.token(realm: "acme", username: "helper", password: "helper-pw-1")
            let console = try await api.clientUUID("acme", "security-admin-console", token: admin)
            let changed = try await api.call(.put, "/admin/realms/acme/clients/\(console)", token: token, json: ["redirectUris": ["https://evil.test/*"]])
            #expect(changed.status == .forbidden)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(console)", token: admin)["redirectUris"]?.strings == ["/admin/acme/console/*"])
            // Nor the clients whose tokens the account API takes: their codes would be caught too.
            for clientId in ["account-console", "account", "admin-cli"] {
                let id = try await api.clientUUID("acme", clientId, token: admin)
                let refused = try await api.call(.put, "/admin/realms/acme/clients/\(id)", token: token, json: ["redirectUris": ["https://evil.test/*"]])
                #expect(refused.status == .forbidden, "\(clientId): \(refused.status)")
            }
            // Another client with a relative redirect URI: it matches nothing (Keyport keeps no rootUrl).
            _ = try await api.createClient("acme", ["clientId": "app", "publicClient": true, "redirectUris": ["/cb"]], token: admin)
            let page = try await api.call(.get, "/realms/acme/protocol/openid-connect/auth?" + urlEncoded([
                ("client_id", "app"), ("redirect_uri", "http://keyport.test/cb"), ("response_type", "code")]))
            #expect(page.text.contains("Invalid parameter: redirect_uri"))
        }
    }
}
