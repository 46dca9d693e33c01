import Foundation
import Hummingbird
import HummingbirdTesting
@testable import KeyportAuth
import KeyportEvents
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportPasswords
import KeyportSQL
import KeyportStore
@testable import KeyportServer
import Synchronization
import Testing

/// Issue 13: what the token path reuses (a right password, effective roles, a signed token) is
/// cut off at once by every change that must cut it — counted in Argon2 computations and read
/// from the tokens, with the clock injected.
@Suite("Reuse on the token path, and its immediate invalidation")
struct TokenPathReuseTests {
    static func hashes(_ api: APIHarness) async throws -> Int {
        let text = try await api.call(.get, "/metrics").text
        let line = text.split(separator: "\n").first { $0.hasPrefix("keyport_password_hash_duration_seconds_count") } ?? ""
        return Int(line.split(separator: " ").last ?? "") ?? -1
    }

    /// The Argon2 computations one request costs, and its status.
    static func cost(_ api: APIHarness, _ request: () async throws -> APIResponse) async throws -> (Int, HTTPResponse.Status) {
        let before = try await hashes(api)
        let response = try await request()
        return (try await hashes(api) - before, response.status)
    }

    @Test func aRightPasswordIsCheckedOnceAndAChangeCutsItOffAtOnce() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["team-a-dev"])
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .ok))
            #expect(try await Self.cost(api) { try await r.token("alice") } == (0, .ok), "remembered")
            #expect(try await Self.cost(api) { try await r.passwordGrant("alice") } == (0, .ok), "the POST path too")
            #expect(try await Self.cost(api) { try await r.token("ALICE") } == (0, .ok))
            // A wrong password never hits, however often.
            #expect(try await Self.cost(api) { try await r.token("alice", "nope") } == (1, .unauthorized))
            #expect(try await Self.cost(api) { try await r.token("alice", "nope") } == (1, .unauthorized))
            #expect(try await Self.cost(api) { try await r.token("alice") } == (0, .ok), "and evicts nothing")

            // A reset: the old password is refused on the very next request.
            _ = try await api.call(.put, "/admin/realms/acme/users/\(alice)/reset-password", token: r.admin,
                                   json: ["type": "password", "value": "pw2", "temporary": false])
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .unauthorized))
            #expect(try await Self.cost(api) { try await r.token("alice", "pw2") } == (1, .ok))
            #expect(try await Self.cost(api) { try await r.token("alice", "pw2") } == (0, .ok))

            // Disabled: refused, at the cost of a computed check; enabled again: computed once more.
            _ = try await api.call(.put, "/admin/realms/acme/users/\(alice)", token: r.admin, json: ["enabled": false])
            #expect(try await Self.cost(api) { try await r.token("alice", "pw2") } == (1, .unauthorized))
            _ = try await api.call(.put, "/admin/realms/acme/users/\(alice)", token: r.admin, json: ["enabled": true])
            #expect(try await Self.cost(api) { try await r.token("alice", "pw2") } == (1, .ok))

            // The credential deleted: nothing to match.
            let credential = try #require(try await api.call(.get, "/admin/realms/acme/users/\(alice)/credentials", token: r.admin).items.first?["id"]?.stringValue)
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(alice)/credentials/\(credential)", token: r.admin)
            #expect(try await Self.cost(api) { try await r.token("alice", "pw2") }.1 == .unauthorized)
        }
    }

    @Test func aLockoutRefusesARememberedPasswordAtTheCostOfAGuess() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin,
                                   json: ["bruteForceProtected": true, "failureFactor": 2, "quickLoginCheckMilliSeconds": 0])
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .ok))
            #expect(try await Self.cost(api) { try await r.token("alice") } == (0, .ok))
            _ = try await r.token("alice", "guess-1")
            _ = try await r.token("alice", "guess-2")
            // Locked: the right password is refused and costs what a wrong guess costs, so the
            // stopwatch cannot confirm a guess behind the lockout.
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .unauthorized))
            #expect(try await Self.cost(api) { try await r.token("alice", "guess-3") } == (1, .unauthorized))
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .unauthorized))
        }
    }

    @Test func theHashingPolicyAndTheLifespanBoundWhatIsRemembered() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .ok))
            // A policy change: the next login verifies and rehashes (2), then is remembered again.
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["passwordHashing": ["iterations": 6]])
            #expect(try await Self.cost(api) { try await r.token("alice") } == (2, .ok))
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .ok), "checked against the new hash")
            #expect(try await Self.cost(api) { try await r.token("alice") } == (0, .ok))
            // Remembered at most the realm's access-token lifespan (here 60 s; the server's bound is 120 s).
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["accessTokenLifespan": 60])
            #expect(try await Self.cost(api) { try await r.token("alice") } == (0, .ok))
            api.clock.advance(seconds: 121)
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .ok))
            api.clock.advance(seconds: 59)
            #expect(try await Self.cost(api) { try await r.token("alice") } == (0, .ok))
            api.clock.advance(seconds: 2)
            #expect(try await Self.cost(api) { try await r.token("alice") } == (1, .ok))
        }
    }

    @Test func aTokenIsReusedForSecondsForExactlyTheSameAccess() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["team-a-dev"])
            let push = ["repository:team-a/app:pull,push"]
            let first = try await r.token("alice", scopes: push)
            api.clock.advance(seconds: 4)
            let again = try await r.token("alice", scopes: push)
            #expect(again["token"] == first["token"], "signed 4 s ago for the same access")
            #expect(again["expires_in"]?.int == 296, "what remains of it")
            #expect(again["issued_at"] == first["issued_at"])
            #expect(try await r.token("alice", scopes: ["repository:team-a/app:pull"])["token"] != first["token"], "other access, other token")

            // The access is decided at each request: a revoked role means a new, smaller token at once.
            let role = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [role])
            let after = try await r.token("alice", scopes: push)
            #expect(after["token"] != first["token"])
            #expect(try r.access(after) == [["repository", "team-a/app"]])
            _ = try await api.call(.post, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [role])
            #expect(try await r.token("alice", scopes: push)["token"] == first["token"], "the same access again, still within the window")
            api.clock.advance(seconds: 7)
            #expect(try await r.token("alice", scopes: push)["token"] != first["token"], "older than 10 s: signed anew")

            // With the shortest lifespan no token is handed out with less than 60 s left.
            let admin = try await api.token()
            _ = try await api.call(.put, "/admin/realms/acme", token: admin, json: ["accessTokenLifespan": 60])
            let short = try await r.token("alice", scopes: push)
            api.clock.advance(seconds: 1)
            let next = try await r.token("alice", scopes: push)
            #expect(next["token"] != short["token"] && next["expires_in"]?.int == 60)
        }
    }

    @Test func aRolesEditedGrantsDecideTheVeryNextToken() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            let push = ["repository:team-a/app:pull,push"]
            #expect(try r.access(try await r.token("alice", scopes: push)) == [["repository", "team-a/app", "pull", "push"]])
            // The parsed grants are kept per user and authorization version: editing the role's
            // attribute moves the version, so the next request parses them again.
            let edited = try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)/roles/team-a-dev", token: r.admin,
                                            json: ["name": "team-a-dev", "attributes": ["docker.grant": ["repository:team-a/*:pull"]]])
            #expect(edited.status == .noContent)
            #expect(try r.access(try await r.token("alice", scopes: push)) == [["repository", "team-a/app", "pull"]])
            let gone = try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)/roles/team-a-dev", token: r.admin,
                                          json: ["name": "team-a-dev", "attributes": [:]])
            #expect(gone.status == .noContent)
            #expect(try r.access(try await r.token("alice", scopes: push)) == [["repository", "team-a/app"]])
        }
    }

    @Test func rolesAreComputedOncePerChange() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["reader"])
            let cache = EffectiveRolesCache(store: api.server.services.store)
            let realm = try #require(try await api.server.services.store.realm(named: "acme"))
            let before = try await cache.roles(userId: alice, realmId: realm.id)
            #expect(before.contains { $0.name == "reader" })
            // A group that carries a role: joining it is seen at once.
            let group = try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "devs"]).createdID!
            let dev = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            _ = try await api.call(.post, "/admin/realms/acme/groups/\(group)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [dev])
            #expect(!(try await cache.roles(userId: alice, realmId: realm.id)).contains { $0.name == "team-a-dev" })
            _ = try await api.call(.put, "/admin/realms/acme/users/\(alice)/groups/\(group)", token: r.admin)
            #expect(try await cache.roles(userId: alice, realmId: realm.id).contains { $0.name == "team-a-dev" })
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(alice)/groups/\(group)", token: r.admin)
            #expect(!(try await cache.roles(userId: alice, realmId: realm.id)).contains { $0.name == "team-a-dev" })
            #expect(cache.count == 1)
        }
    }

    @Test func anOperatorCanTurnTheCacheOffAndItStaysBounded() async throws {
        let clock = TestClock()
        let store = try await StoreBackend.sqlite.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let counted = CountedHashes()
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes, observe: { _ in counted.add() })
        let stored = try await hasher.hash(Sensitive("Right-pw-1"), parameters: realm.passwordHashing)
        try await f.user("alice", in: realm, password: stored.revealed)
        for (cache, expected) in [(VerifiedCredentialCache.off, [1, 1]), (VerifiedCredentialCache(seconds: 60), [1, 0])] {
            let authenticator = PasswordAuthenticator(store: store, hasher: hasher, now: { clock.now }, verified: cache)
            var costs: [Int] = []
            for _ in 0..<2 {
                let before = counted.value
                #expect(try await authenticator.authenticate(realm: realm, username: "alice", password: Sensitive("Right-pw-1")) != .failed(.invalidCredentials, user: nil))
                costs.append(counted.value - before)
            }
            #expect(costs == expected)
        }
        let small = VerifiedCredentialCache(seconds: 60, capacity: 3)
        for n in 0..<10 {
            small.remember(small.slot(realmId: "r", username: "u\(n)", password: Sensitive("p")), userId: "u\(n)", stored: Sensitive("h"),
                           policy: .keycloakDefault, now: clock.now, lifespan: 60)
        }
        #expect(small.count == 3)
        try await hasher.shutdown()
    }
}

final class CountedHashes: Sendable {
    private let state = Mutex(0)
    func add() { state.withLock { $0 += 1 } }
    var value: Int { state.withLock { $0 } }
}

/// A connection is one task for its whole life, and Swift's task allocator keeps the slabs of
/// the deepest call a task made until it ends: each request runs in a child task of its own, so
/// an idle keep-alive connection does not hold the frames of its last login (a flood of 1,000
/// connections held 65 MiB so).
@Suite("Each request in a task of its own")
struct RequestTaskTests {
    /// Records the task a request reaches it in.
    struct TaskRecorder: RouterMiddleware {
        typealias Context = KeyportRequestContext
        let seen: @Sendable (Int) -> Void
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            seen(withUnsafeCurrentTask { $0?.hashValue } ?? 0)
            return try await next(request, context)
        }
    }

    @Test func eachRequestRunsInItsOwnChildTask() async throws {
        let outer = Mutex<[Int]>([]), inner = Mutex<[Int]>([])
        let router = Router(context: KeyportRequestContext.self)
        router.add(middleware: TaskRecorder { task in outer.withLock { $0.append(task) } })
        router.add(middleware: ObservabilityMiddleware(metrics: KeyportMetrics(), randomBytes: TimeAndRandomness.live.randomBytes,
                                                      proxyHeaders: .none, accessLog: false))
        router.get("/task") { _, _ -> String in
            inner.withLock { $0.append(withUnsafeCurrentTask { $0?.hashValue } ?? 0) }
            return "ok"
        }
        // Two requests on one keep-alive connection (the live test client keeps one open).
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/task", method: .get) { response in #expect(response.status == .ok) }
            }
        }
        let connection = outer.withLock { $0 }, handlers = inner.withLock { $0 }
        #expect(connection.count == 2 && handlers.count == 2 && !handlers.contains(0))
        #expect(Set(connection).count == 1, "one connection, one task: \(connection)")
        #expect(Set(handlers).isDisjoint(with: connection), "the handlers ran in the connection's task")
    }
}

@Suite("The per-request log line, formatted without Foundation")
struct CheapLogFormattingTests {
    @Test func hexMillisecondsAndTimestampsAreExact() {
        #expect(Hex.lowercase([0, 15, 16, 255]) == "000f10ff")
        #expect(ObservabilityMiddleware.milliseconds(.milliseconds(12) + .microseconds(345)) == "12.34")
        #expect(ObservabilityMiddleware.milliseconds(.microseconds(5)) == "0.00")
        #expect(ObservabilityMiddleware.milliseconds(.microseconds(50)) == "0.05")
        #expect(ObservabilityMiddleware.milliseconds(.seconds(2)) == "2000.00")
        let stamp = LogfmtLogHandler.timestamp()
        #expect(stamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(stamp)")
        let expected = ISO8601DateFormatter().string(from: Date()).prefix(16)
        #expect(stamp.hasPrefix(expected) || stamp > String(expected), "\(stamp) vs \(expected)")
    }
}

@Suite("RFC 3339 without a date formatter")
struct RFC3339Tests {
    @Test(arguments: [Int64(0), 951_782_400_000, 1_764_447_338_123, 4_102_444_799_999, -1, -86_400_001, 253_402_300_799_000])
    func matchesFoundation(_ ms: Int64) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        #expect(Timestamp(millisecondsSince1970: ms).rfc3339(milliseconds: true) == formatter.string(from: date))
        formatter.formatOptions = [.withInternetDateTime]
        let floored = Date(timeIntervalSince1970: (Double(ms) / 1000).rounded(.down))
        #expect(Timestamp(millisecondsSince1970: ms).rfc3339() == formatter.string(from: floored))
    }
}

@Suite("Event writes off the request path, in batches, bounded")
struct EventBatchTests {
    @Test func everyEventIsWrittenOrCountedAsDropped() async throws {
        let clock = TestClock()
        let store = try await StoreBackend.sqlite.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let full = CountedHashes()
        let recorder = EventRecorder(store: store, capacity: 50, now: { clock.now }, successesPerMinute: 1_000_000, successesPerMinutePerUser: 1_000_000, onSuppressed: { if $0 == .queueFull { full.add() } })
        for n in 0..<2_000 {
            recorder.record(Event(id: "e\(n)", realmId: realm.id, time: clock.now, type: "LOGIN", details: ["n": String(n)]), in: realm)
        }
        await recorder.waitUntilIdle()
        let stored = try await store.events(realmId: realm.id, matching: EventQuery(), page: .all).count
        #expect(stored + recorder.droppedCount == 2_000)
        #expect(full.value == recorder.droppedCount)
        #expect(stored >= 50, "at least a queue's worth is written")
        // A batch holding one row that cannot be written (its realm is gone) loses only that row.
        let gone = Realm(id: "no-such-realm", name: "gone", createdAt: clock.now)
        let roomy = EventRecorder(store: store, now: { clock.now })
        roomy.record(Event(id: "ok-1", realmId: realm.id, time: clock.now, type: "LOGIN"), in: realm)
        roomy.record(Event(id: "orphan", realmId: gone.id, time: clock.now, type: "LOGIN"), in: gone)
        roomy.record(Event(id: "ok-2", realmId: realm.id, time: clock.now, type: "LOGIN"), in: realm)
        await roomy.waitUntilIdle()
        let ids = Set(try await store.events(realmId: realm.id, matching: EventQuery(), page: .all).map(\.id))
        #expect(ids.contains("ok-1") && ids.contains("ok-2"))
    }
}

@Suite("Hand-written JSON")
struct JSONTextTests {
    @Test(arguments: ["plain", "with \"quotes\" and \\ backslash", "tab\tnew\nline\r", "\u{0}\u{1f}", "é 🐳 /x"])
    func quotedTextDecodesBackToItself(_ text: String) throws {
        let decoded = try JSONDecoder().decode([String].self, from: Data("[\(JSONText.quoted(text))]".utf8))
        #expect(decoded == [text])
        // Event details: a flat object, keys sorted, read back as it was.
        let members = ["z": text, "a": "plain", text: "key"]
        let object = JSONColumn.encode(members)
        #expect(try JSONDecoder().decode([String: String].self, from: Data(object.utf8)) == members)
        #expect(JSONColumn.decode([String: String].self, object, default: [:]) == members)
    }
}

@Suite("Basic credentials parsed by hand")
struct BasicCredentialsTests {
    /// What Foundation's decoder makes of the header (the parser it replaced on the hot path).
    static func reference(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func basic(_ text: String, scheme: String = "Basic ") -> String { scheme + Data(text.utf8).base64EncodedString() }

    static let headers: [String] = {
        var list: [String] = [basic("alice:s3cret:with:colons"), basic("é🐳:pw", scheme: "basic "), basic("u:", scheme: "BASIC  ") + " \t"]
        list += [basic(":"), basic("no-colon"), "Basic " + Data([0x61, 0x3A, 0xFF, 0xFE]).base64EncodedString()]
        list += ["Basic YWJj", "Basic YWI=", "Basic YQ==", "Basic YQ=", "Basic YQ", "Basic Y===", "Basic =YQ=", "Basic YW=j", "Basic YW J"]
        list += ["Bearer YTpi", "Basic", "Basic ", "Basicx YTpi", "", "Basic YTpi\n", "Basic -_pi", "Basic YT%i"]
        return list
    }()

    @Test(arguments: headers)
    func agreesWithFoundation(_ header: String) {
        let parsed = BasicCredentials(header: header).map { ($0.username, $0.password.revealed) }
        let expected = Self.reference(header)
        #expect(parsed?.0 == expected?.0 && parsed?.1 == expected?.1, "\(header)")
    }

    @Test func randomCredentialsRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let header = "Basic " + Data(bytes).base64EncodedString()
            let parsed = BasicCredentials(header: header).map { ($0.username, $0.password.revealed) }
            let expected = Self.reference(header)
            #expect(parsed?.0 == expected?.0 && parsed?.1 == expected?.1, "\(bytes)")
        }
    }
}
