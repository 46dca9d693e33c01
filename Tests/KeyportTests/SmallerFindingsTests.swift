import Foundation
import GRDB
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore
import KeyportSQLite
@testable import KeyportServer
import Testing

/// The smaller findings of the attacker's pass, one test each.
@Suite("Smaller findings")
struct SmallerFindingsTests {
    /// Ids are version 4 UUIDs in Keycloak's lower-case form, written by byte: the same text as
    /// Foundation's UUID for the same bytes, the version and variant bits set.
    @Test func newIDsAreLowerCaseVersion4UUIDs() throws {
        let fixed: [UInt8] = [0x00, 0x1f, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7, 0x08, 0x19, 0x2a, 0x3b, 0x4c, 0x5d, 0x6e, 0xff]
        let env = TimeAndRandomness(now: { Timestamp(millisecondsSince1970: 0) }, randomBytes: { Array(fixed.prefix($0)) })
        let id = env.newID()
        #expect(id == "001fa2b3-c4d5-46f7-8819-2a3b4c5d6eff")
        var b = fixed
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let foundation = UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
        #expect(id == foundation.uuidString.lowercased())
        let live = TimeAndRandomness.live.newID()
        #expect(live.utf8.count == 36 && UUID(uuidString: live) != nil && live == live.lowercased() && live != TimeAndRandomness.live.newID())
    }

    /// A query value keeps only RFC 3986's unreserved characters; everything else is `%XX` of
    /// its UTF-8, so a client's `state` comes back exactly as sent (and a Location header stays ASCII).
    @Test func queryValuesArePercentEncodedByByte() throws {
        #expect(PercentEncoding.unreserved("aZ09-._~") == "aZ09-._~")
        #expect(PercentEncoding.unreserved("a b&c=d/é+%") == "a%20b%26c%3Dd%2F%C3%A9%2B%25")
        #expect(PercentEncoding.unreserved("") == "")
        let query = try #require(URLComponents(string: "https://app.example/cb?" + PercentEncoding.unreserved("x") + "=" +
                                                 PercentEncoding.unreserved("s t&é=1"))?.queryItems)
        #expect(query == [URLQueryItem(name: "x", value: "s t&é=1")])
    }

    /// Realms are found by the bytes of their name, cached or not: a canonically equivalent
    /// spelling (the Kelvin sign for `K`) names no realm, before and after the realm is cached.
    @Test func aRealmsNameIsMatchedByteForByte() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("Kube", token: admin)
            let kelvin = "/realms/%E2%84%AAube"
            #expect(try await api.call(.get, "\(kelvin)/.well-known/openid-configuration").status == .notFound)
            #expect(try await api.call(.get, "/realms/Kube/.well-known/openid-configuration").status == .ok)
            #expect(try await api.call(.get, "/realms/Kube/protocol/openid-connect/auth?client_id=account").status != .notFound)
            #expect(try await api.call(.get, "\(kelvin)/.well-known/openid-configuration").status == .notFound)
            #expect(try await api.call(.get, "\(kelvin)/protocol/openid-connect/auth?client_id=account").status == .notFound)
            #expect(try await api.call(.get, "\(kelvin)/protocol/docker-v2/auth?service=registry").status == .notFound)
        }
    }

    @Test func accessTokensStopWhenTheirSessionIsLoggedOut() async throws {
        try await APIHarness.run { api in
            let login = try await api.login()
            let access = try #require(login["access_token"]?.stringValue)
            let refresh = try #require(login["refresh_token"]?.stringValue)
            #expect(try await api.call(.get, "/admin/realms", token: access).status == .ok)
            #expect(try await api.call(.get, "/realms/master/protocol/openid-connect/userinfo", token: access).status == .ok)
            #expect(try await api.call(.post, "/realms/master/protocol/openid-connect/logout", form: [("client_id", "admin-cli"), ("refresh_token", refresh)]).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms", token: access).status == .unauthorized)
            #expect(try await api.call(.get, "/realms/master/protocol/openid-connect/userinfo", token: access).status == .unauthorized)
            // Another session of the same user is untouched.
            #expect(try await api.call(.get, "/admin/realms", token: try await api.token()).status == .ok)
        }
    }

    @Test func serverInfoAnswersAdministratorsOnly() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            #expect(try await api.call(.get, "/admin/serverinfo", token: admin).status == .ok)
            try await api.createRealm("acme", token: admin)
            _ = try await api.createUser("acme", "plain", password: "Plain-pw-1", token: admin)
            let plain = try await api.token(realm: "acme", username: "plain", password: "Plain-pw-1")
            #expect(try await api.call(.get, "/admin/serverinfo", token: plain).status == .forbidden)
        }
    }

    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let patch = try await api.call(.patch, "/admin/realms/master", token: admin, json: [:])
            #expect(patch.status == .methodNotAllowed)
            #expect(patch.headers[.allow] == "DELETE, GET, PUT")
            let health = try await api.call(.delete, "/health/ready")
            #expect(health.status == .methodNotAllowed && health.headers[.allow] == "GET")
            #expect(try await api.call(.get, "/no/such/path").status == .notFound)
        }
    }

    @Test func roleNamesWithSpacesAndNonASCIIAreReadAndDeletedByName() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            for (name, encoded) in [("a b", "a%20b"), ("ä", "%C3%A4"), ("%2F", "%252F"), ("x+y", "x+y")] {
                #expect(try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": .string(name)]).status == .created)
                let read = try await api.call(.get, "/admin/realms/acme/roles/\(encoded)", token: admin)
                #expect(read.status == .ok && read["name"]?.stringValue == name, "\(name): \(read.text)")
                #expect(try await api.call(.delete, "/admin/realms/acme/roles/\(encoded)", token: admin).status == .noContent, "\(name)")
            }
        }
    }

    @Test func longRealmNamesGetAClearAnswerWithoutSQL() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            for length in [242, 250, 255] {
                let response = try await api.call(.post, "/admin/realms", token: admin, json: ["realm": .string(String(repeating: "r", count: length))])
                #expect(response.status == .badRequest)
                #expect(response["errorMessage"]?.stringValue == "Realm name is longer than 241 characters")
            }
            try await api.createRealm(String(repeating: "r", count: 241), token: admin)
        }
    }

    @Test func groupsNestAtMost64LevelsAndDeepSearchesAnswer() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            var parent = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "g1"]).createdID)
            let top = parent
            for level in 2...64 {
                parent = try #require(try await api.call(.post, "/admin/realms/acme/groups/\(parent)/children", token: admin,
                                                         json: ["name": .string("g\(level)")]).createdID)
            }
            let tooDeep = try await api.call(.post, "/admin/realms/acme/groups/\(parent)/children", token: admin, json: ["name": "g65"])
            #expect(tooDeep.status == .badRequest)
            // Nor by moving a subtree under the deepest group.
            let other = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "other"]).createdID)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(parent)/children", token: admin, json: ["id": .string(other)]).status == .badRequest)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(other)/children", token: admin, json: ["id": .string(top)]).status == .badRequest)
            let search = try await api.call(.get, "/admin/realms/acme/groups?search=g64", token: admin)
            #expect(search.status == .ok)
        }
    }

    /// Debian 12's sqlite3 (3.40) misreported the old mapping tables; the rebuilt ones check clean.
    @Test func theSystemSQLiteFindsAPopulatedDatabaseSound() async throws {
        let sqlite = ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let binary = try #require(sqlite, "sqlite3 is installed by scripts/install-deps --test")
        let path = temporaryDirectory().appendingPathComponent("keyport.db").path
        let config = KeyportConfiguration(mode: .development, httpPort: 0, databasePath: path, hostname: "http://keyport.test",
                                          bootstrapAdminUsername: "admin", bootstrapAdminPassword: "admin-pw")
        let server = try await KeyportServer.make(configuration: config, environment: testEnvironment())
        try await server.application.test(.router) { client in
            let api = APIHarness(client: client, server: server, clock: TestClock())
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let group = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "g"]).createdID)
            _ = try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "r"])
            let role = try await api.role("acme", "r", token: admin)
            _ = try await api.call(.post, "/admin/realms/acme/groups/\(group)/role-mappings/realm", token: admin, json: [role])
            let user = try await api.createUser("acme", "u", token: admin, extra: ["groups": ["/g"], "realmRoles": ["r"]])
            _ = user
        }
        let (_, output) = try Spawn.output(binary, [path, "PRAGMA integrity_check; PRAGMA foreign_key_check;"])
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(output)")
    }
}

@Suite("A database outage")
struct DatabaseOutageTests {
    /// Every route that needs the database answers 503 with Retry-After — never a 500.
    @Test func everyRouteAnswers503WithRetryAfter() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let store = try #require(api.server.services.store as? SQLiteStore)
            try store.close()
            // Routes that need no database: liveness, metrics, and docker-v2's POST (405 until identity tokens).
            // The console's redirects and its compiled-in files need none either; its page does (below).
            let exempt: Set<String> = ["GET /health/live", "GET /metrics", "POST /realms/{realm}/protocol/docker-v2/auth",
                                       "GET /admin", "GET /admin/{realm}/console", "GET /admin/{realm}/console/{asset}",
                                       "GET /realms/{realm}/account", "GET /realms/{realm}/account/resources/{asset}"]
            for page in ["/admin/master/console/", "/realms/master/account/"] {
                let consolePage = try await api.call(.get, page)
                #expect(consolePage.status == .serviceUnavailable && consolePage.headers[.retryAfter] != nil, "\(page): \(consolePage.status)")
            }
            #expect(try await api.call(.get, "/realms/master/account/resources/account.js").status == .ok)
            #expect(try await api.call(.get, "/admin/master/console/console.js").status == .ok, "the console's files need no database")
            var checked = 0
            for (method, pattern) in api.server.services.routes where !exempt.contains("\(method) \(pattern)") {
                let path = pattern.replacingOccurrences(of: "{realm}", with: "master")
                    .replacingOccurrences(of: "**", with: "x")
                    .replacing(/\{[^}]+\}/, with: "00000000-0000-4000-8000-000000000000")
                let httpMethod = HTTPRequest.Method(method)!
                let body: JSONValue? = [.post, .put].contains(httpMethod) ? [:] : nil
                let response = try await api.call(httpMethod, path, token: admin, json: body,
                                                  headers: [.authorization: "Bearer \(admin)"])
                if pattern.hasPrefix("/health") {
                    #expect(response.status == .serviceUnavailable)
                    continue
                }
                #expect(response.status == .serviceUnavailable, "\(method) \(pattern): \(response.status) \(response.text)")
                #expect(response.headers[.retryAfter] != nil, "\(method) \(pattern)")
                checked += 1
            }
            #expect(checked > 80)
        }
    }
}

/// Form and query decoding by hand (Foundation's took a fifth of a request with many scopes).
@Suite("Form decoding")
struct FormDecodingTests {
    @Test(arguments: [("a", "a"), ("a+b", "a b"), ("a%20b", "a b"), ("%41%42", "AB"), ("%e2%82%ac", "€"), ("%E2%82%AC", "€"),
                      ("%", "%"), ("%4", "%4"), ("%zz", "%zz"), ("100%", "100%"), ("a%2Bb+c", "a+b c"), ("", ""), ("%%41", "%%41"),
                      ("%ff", "\u{FFFD}"), ("x+%", "x %")])
    func decodes(_ text: String, _ expected: String) {
        #expect(FormParameters(encoded: "k=\(text)")["k"] == expected, "\(text)")
    }

    /// Whatever Foundation encodes, the decoder gives back.
    @Test func randomTextSurvivesEncodingAndDecoding() {
        var random = SplitMix(seed: 7)
        let alphabet = Array("ab +%&=/:0123456789é€🐳".unicodeScalars)
        for _ in 0..<3_000 {
            let text = String(String.UnicodeScalarView((0..<random.next(upTo: 12)).map { _ in alphabet[random.next(upTo: alphabet.count)] }))
            let encoded = text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(FormParameters(encoded: "k=\(encoded)")["k"] == text, "\(text)")
        }
    }
}
