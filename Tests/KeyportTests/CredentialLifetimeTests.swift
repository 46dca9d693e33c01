import Foundation
import Hummingbird
import KeyportAuth
import KeyportDockerV2
import KeyportEvents
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore
import HTTPTypes
@testable import KeyportServer
import Testing

/// Issue 24: no credential outlives what issued it (items 3 and 9), successes cannot fill the
/// disk (item 5), names have one spelling and one length (item 10), token answers are not
/// cached (item 12).
@Suite("Credential lifetimes, event bounds and names")
struct CredentialLifetimeTests {
    static let path = "/realms/acme/account/personal-access-tokens"

    /// Item 3: self-service needs a person's own recent password login.
    @Test func selfServiceTokensNeedARecentLoginOfAPerson() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", password: "Alice-pw-1", roles: ["team-a-dev"])
            let body: JSONValue = ["name": "laptop", "client": "registry.acme.io"]

            // A service account's client_credentials token (what a leaked secret gives): refused.
            let robot = try await api.createClient("acme", ["clientId": "ci-robot", "publicClient": false, "serviceAccountsEnabled": true], token: r.admin)
            let secret = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(robot)/client-secret", token: r.admin)["value"]?.stringValue)
            let robotToken = try #require(try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                                             form: [("grant_type", "client_credentials"), ("client_id", "ci-robot"), ("client_secret", secret)])["access_token"]?.stringValue)
            let refusedRobot = try await api.call(.post, Self.path, token: robotToken, json: body)
            #expect(refusedRobot.status == .forbidden, "\(refusedRobot.text)")
            // Its token is its own client's, not the account console's: nothing of the account API.
            #expect(try await api.call(.get, Self.path, token: robotToken).status == .forbidden)

            // A login older than five minutes (kept alive by refreshing): refused with a step-up answer.
            let login = try await api.login(realm: "acme", username: "alice", password: "Alice-pw-1")
            api.clock.advance(seconds: 6 * 60)
            let refreshed = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                               form: [("grant_type", "refresh_token"), ("client_id", "admin-cli"), ("refresh_token", login["refresh_token"]!.stringValue!)])
            let stale = try #require(refreshed["access_token"]?.stringValue, "\(refreshed.text)")
            let refused = try await api.call(.post, Self.path, token: stale, json: body)
            #expect(refused.status == .unauthorized)
            #expect(refused["error"]?.stringValue == "insufficient_user_authentication")
            #expect(refused.headers[.wwwAuthenticate]?.contains("max_age=300") == true)

            // A fresh login: made.
            let fresh = try await api.token(realm: "acme", username: "alice", password: "Alice-pw-1")
            #expect(try await api.call(.post, Self.path, token: fresh, json: body).status == .created)
        }
    }

    /// Item 3, by the other door: an administrator making a token for itself through the admin
    /// API follows the account API's rules (a recent login; the token ends with the password).
    @Test func aTokenForOneselfThroughTheAdminAPIIsSelfService() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
            let desk = try await r.user("desk", password: "Desk-pw-1", roles: ["team-a-dev"])
            _ = try await api.call(.post, "/admin/realms/acme/users/\(desk)/role-mappings/clients/\(management)", token: r.admin,
                                   json: [try await api.role("acme", "manage-users", client: management, token: r.admin)])
            let alice = try await r.user("alice")
            let login = try await api.login(realm: "acme", username: "desk", password: "Desk-pw-1")
            api.clock.advance(seconds: 6 * 60)
            let refreshed = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                               form: [("grant_type", "refresh_token"), ("client_id", "admin-cli"), ("refresh_token", login["refresh_token"]!.stringValue!)])
            let stale = try #require(refreshed["access_token"]?.stringValue)
            let admin = try await api.token()
            let body: JSONValue = ["name": "mine", "client": "registry.acme.io"]
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(desk)/personal-access-tokens", token: stale, json: body).status == .forbidden)
            // For someone else, the admin API's own rule (acting on users) decides, not the login's age.
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(alice)/personal-access-tokens", token: stale, json: body).status == .created)

            let fresh = try await api.token(realm: "acme", username: "desk", password: "Desk-pw-1")
            let made = try await api.call(.post, "/admin/realms/acme/users/\(desk)/personal-access-tokens", token: fresh, json: body)
            #expect(made.status == .created)
            let secret = try #require(made["token"]?.stringValue)
            #expect(try await r.token("desk", secret).status == .ok)
            #expect(try await api.call(.put, "/admin/realms/acme/users/\(desk)/reset-password", token: admin,
                                       json: ["type": "password", "value": "Desk-pw-2", "temporary": false]).status == .noContent)
            #expect(try await r.token("desk", secret).status == .unauthorized, "ends with the password, as a self-service token")
        }
    }

    /// Item 3: a new password ends what the old one made through self-service; what an
    /// administrator made stays. A regenerated secret ends the service account's tokens.
    @Test func aNewPasswordOrSecretEndsTheTokensTheOldOneMade() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", password: "Alice-pw-1", roles: ["team-a-dev"])
            let fresh = try await api.token(realm: "acme", username: "alice", password: "Alice-pw-1")
            let made = try await api.call(.post, Self.path, token: fresh, json: ["name": "self", "client": "registry.acme.io"])
            let selfMade = try #require(made["token"]?.stringValue)
            let adminMade = try await r.pat(for: alice, name: "from-admin")
            #expect(try await r.token("alice", selfMade).status == .ok)

            #expect(try await api.call(.put, "/admin/realms/acme/users/\(alice)/reset-password", token: r.admin,
                                       json: ["type": "password", "value": "Alice-pw-2", "temporary": false]).status == .noContent)
            #expect(try await r.token("alice", selfMade).status == .unauthorized, "made with the old password")
            #expect(try await r.token("alice", adminMade).status == .ok, "made by an administrator")
            let listed = try await api.call(.get, "/admin/realms/acme/users/\(alice)/personal-access-tokens", token: r.admin)
            #expect(listed.values("name") == ["from-admin"])

            let robot = try await api.createClient("acme", ["clientId": "ci-robot", "publicClient": false, "serviceAccountsEnabled": true], token: r.admin)
            let account = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(robot)/service-account-user", token: r.admin)["id"]?.stringValue)
            let robotPAT = try await r.pat(for: account, name: "deploy")
            #expect(try await r.token("ci-robot", robotPAT).status == .ok)
            #expect(try await api.call(.post, "/admin/realms/acme/clients/\(robot)/client-secret", token: r.admin).status == .ok)
            #expect(try await r.token("ci-robot", robotPAT).status == .unauthorized, "the old secret's tokens die with it")
        }
    }

    /// Item 9: a user renamed into `service-account-…` is refused, and the client's identity is
    /// found by its link, never by a name.
    @Test func noUserBecomesAClientsServiceAccountByName() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let robot = try await api.createClient("acme", ["clientId": "ci-robot", "publicClient": false, "serviceAccountsEnabled": true], token: r.admin)
            let mallory = try await r.user("mallory")
            let rename = try await api.call(.put, "/admin/realms/acme/users/\(mallory)", token: r.admin, json: ["username": "service-account-other"])
            #expect(rename.status == .badRequest)
            #expect(rename.text.contains("reserved"))
            // A client whose service account is turned on after a plain user took a similar name.
            let account = try await api.call(.get, "/admin/realms/acme/clients/\(robot)/service-account-user", token: r.admin)
            #expect(account["username"]?.stringValue == "service-account-ci-robot")
            let secret = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(robot)/client-secret", token: r.admin)["value"]?.stringValue)
            let grant = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                           form: [("grant_type", "client_credentials"), ("client_id", "ci-robot"), ("client_secret", secret)])
            let token = try #require(grant["access_token"]?.stringValue)
            #expect(decodeClaims(token)?["sub"]?.stringValue == account["id"]?.stringValue)
        }
    }

    /// Item 5: a PAT of a user with no roles, asked again and again: ten rows a minute, the
    /// rest counted into the next one stored; and a realm never holds more than its cap.
    @Test func successesAreBoundedPerUserAndClientAndARealmHasACeiling() async throws {
        let clock = TestClock()
        let store = try await StoreBackend.sqlite.makeStore(clock: clock)
        let realm = try await Fixtures(store, clock: clock).realm("acme")
        let recorder = EventRecorder(store: store, now: { clock.now }, successesPerMinute: 10, maxPerRealm: 1_000)
        func login(_ n: Int, user: String = "u1") -> Event {
            Event(id: "e-\(user)-\(n)-\(clock.now.millisecondsSince1970)", realmId: realm.id, time: clock.now, type: "LOGIN",
                  clientId: "registry", userId: user, ipAddress: nil, error: nil, details: ["username": user])
        }
        for n in 0..<500 { recorder.record(login(n), in: realm) }
        await recorder.waitUntilIdle()
        var stored = try await store.events(realmId: realm.id, matching: EventQuery(), page: .all)
        #expect(stored.count == 10)
        clock.advance(seconds: 60)
        recorder.record(login(1_000), in: realm)
        await recorder.waitUntilIdle()
        stored = try await store.events(realmId: realm.id, matching: EventQuery(), page: .all)
        #expect(stored.count == 11)
        #expect(stored.first?.details["repeated"] == "490", "the skipped ones are counted, not lost")

        // Many users (each within its own rate): the realm keeps its newest 1,000.
        for user in 0..<300 {
            clock.advance(seconds: 1)
            for n in 0..<5 { recorder.record(login(n, user: "user\(user)"), in: realm) }
        }
        await recorder.waitUntilIdle()
        stored = try await store.events(realmId: realm.id, matching: EventQuery(), page: .all)
        #expect(stored.count == 1_000)
        #expect(stored.contains { $0.details["username"] == "user299" })
        #expect(!stored.contains { $0.details["username"] == "u1" }, "the oldest went first")
    }

    /// Item 10: one spelling, one length, no line separators.
    @Test func namesHaveOneSpellingAndTheDatabasesLength() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let nfc = "jos\u{E9}", nfd = "jose\u{301}"
            _ = try await api.createUser("acme", nfc, password: "pw", token: r.admin)
            let twin = try await api.call(.post, "/admin/realms/acme/users", token: r.admin, json: ["username": .string(nfd), "enabled": true])
            #expect(twin.status == .conflict, "the NFD spelling is the same user")
            #expect(try await api.call(.post, "/admin/realms/acme/users", token: r.admin, json: ["username": "a\u{2028}b"]).status == .badRequest)

            let alice = try await r.user("alice")
            // 100 grapheme clusters of 4 scalars each: 400 characters to the database.
            let heavy = String(repeating: "e\u{301}\u{302}\u{303}", count: 100)
            let made = try await r.createToken(for: alice, ["name": .string(heavy), "client": "registry.acme.io"])
            #expect(made.status == .badRequest, "\(made.status) \(made.text)")
        }
    }

    /// Item 12: answers carrying tokens or secrets are never cached.
    @Test func tokenAndSecretAnswersAreNotCached() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            let login = try await api.login()
            #expect(login.headers[.cacheControl] == "no-store")
            #expect(login.headers[HTTPField.Name("Pragma")!] == "no-cache")
            #expect(try await r.token("alice").headers[.cacheControl] == "no-store")
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/client-secret", token: r.admin).headers[.cacheControl] == "no-store")
            #expect(try await api.call(.get, "/realms/acme/.well-known/openid-configuration").headers[.cacheControl] != "no-store")
        }
    }
}
