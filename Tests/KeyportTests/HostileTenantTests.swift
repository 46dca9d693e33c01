import Foundation
import GRDB
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportModel
@testable import KeyportPasswords
import KeyportProvisioning
import KeyportRealmExchange
import KeyportAuth
@testable import KeyportServer
import Synchronization
import Testing

/// A tenant's realm admin (or an anonymous caller) must not be able to crash, stall or starve
/// the server for everyone else.
@Suite("A tenant cannot hurt another")
struct HostileTenantTests {
    static let numericFields = ["accessTokenLifespan", "ssoSessionIdleTimeout", "failureFactor", "waitIncrementSeconds",
                                "maxFailureWaitSeconds", "quickLoginCheckMilliSeconds", "minimumQuickLoginWaitSeconds",
                                "maxDeltaTimeSeconds", "eventsExpiration"]
    static let hostileValues = ["9223372036854775807", "-1", "10000000000000000"]

    @Test func everyRealmNumberIsBoundedThroughTheAPI() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("tenant", token: admin)
            for field in Self.numericFields {
                for value in Self.hostileValues {
                    let response = try await api.call(.put, "/admin/realms/tenant", token: admin, raw: #"{"\#(field)": \#(value)}"#)
                    #expect(response.status == .badRequest, "\(field)=\(value): \(response.status)")
                    #expect(response["errorMessage"]?.stringValue?.contains(field) == true, "\(field)=\(value): \(response.text)")
                }
            }
            for value in Self.hostileValues {
                let response = try await api.call(.put, "/admin/realms/tenant", token: admin, raw: #"{"passwordHashing": {"memory": \#(value)}}"#)
                #expect(response.status == .badRequest && response.text.contains("memory"), "\(response.text)")
            }
            // The realm is as it was, and the server still answers everyone.
            #expect(try await api.call(.get, "/admin/realms/tenant", token: admin)["eventsExpiration"] == nil)
            #expect(try await api.call(.get, "/health/ready").status == .ok)
        }
    }

    @Test func everyRealmNumberIsBoundedThroughImport() async throws {
        let store = try await StoreBackend.sqlite.makeStore()
        let importer = KeyportServer.realmImporter(store: store, provisioner: RealmProvisioner(environment: testEnvironment()))
        for field in Self.numericFields {
            for value in Self.hostileValues {
                let file = #"{"realm": "tenant", "\#(field)": \#(value)}"#
                do {
                    _ = try await importer.prepare(Data(file.utf8))
                    Issue.record("\(field)=\(value) was accepted")
                } catch {
                    #expect("\(error)".contains(field), "\(field)=\(value): \(error)")
                }
            }
        }
        #expect(try await store.realms().isEmpty)
    }

    @Test func arithmeticOnExtremeSettingsNeverTraps() {
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 1
        policy.waitIncrementSeconds = Int.max
        policy.maxFailureWaitSeconds = Int.max
        policy.minimumQuickLoginWaitSeconds = Int.max
        policy.quickLoginCheckMilliSeconds = Int.max
        policy.maxDeltaTimeSeconds = Int.max
        var failures = LoginFailures(userId: "u", realmId: "r", numFailures: Int.max - 1, lastFailure: Timestamp(millisecondsSince1970: .min))
        for _ in 0..<3 { failures = failures.recordingFailure(at: Timestamp(millisecondsSince1970: .max), policy: policy, ipAddress: nil) }
        #expect(failures.numFailures == Int.max)
        #expect(Timestamp(millisecondsSince1970: 0).adding(seconds: Int.max).millisecondsSince1970 == .max)
        #expect(Timestamp(millisecondsSince1970: 0).adding(seconds: -Int.max).millisecondsSince1970 == .min)
        #expect(Timestamp(secondsSince1970: .max).millisecondsSince1970 == .max)
    }

    /// A database written before the bounds (say, eventsExpiration = 10^16) starts, clamped, with a warning.
    @Test func aDatabaseHoldingOutOfRangeValuesStartsAndIsClamped() async throws {
        let path = temporaryDirectory().appendingPathComponent("keyport.db").path
        let config = KeyportConfiguration(mode: .development, httpPort: 0, databasePath: path, hostname: "http://keyport.test",
                                          bootstrapAdminUsername: "admin", bootstrapAdminPassword: "admin-pw")
        _ = try await KeyportServer.make(configuration: config, environment: testEnvironment())
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: """
                UPDATE realms SET events_expiration_seconds = 10000000000000000, max_delta_time_seconds = 9223372036854775807,
                  wait_increment_seconds = 9223372036854775807, minimum_quick_login_wait_seconds = 10000000000000000,
                  access_token_lifespan = 9223372036854775807, argon2_memory_kib = 1048576, argon2_iterations = 64,
                  brute_force_protected = 1
                """)
        }
        try queue.close()
        let clock = TestClock()
        let server = try await KeyportServer.make(configuration: config, environment: testEnvironment(clock: clock))
        let master = try #require(try await server.services.store.realm(named: "master"))
        #expect(master.eventsExpiration == RealmBounds.eventsExpirationSeconds.upperBound)
        #expect(master.bruteForce.maxDeltaTimeSeconds == RealmBounds.maxDeltaTimeSeconds.upperBound)
        #expect(master.accessTokenLifespan == RealmBounds.lifespanSeconds.upperBound)
        #expect(PasswordCostCeiling.default.admits(master.passwordHashing))
        // Retention and a failed login run on it without trapping.
        let retention = EventRetentionService(store: server.services.store, environment: testEnvironment(clock: clock),
                                              dockerEventsRetention: 3600, logger: .init(label: "test"))
        _ = try await retention.purgeOnce()
        let outcome = try await server.services.authenticator.authenticate(realm: master, username: "admin", password: Sensitive("wrong"))
        #expect(outcome == .failed(.invalidCredentials, user: try await server.services.store.user(username: "admin", realmId: master.id)))
    }

    @Test func argon2CostIsCappedByTheServersCeiling() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("tenant", token: admin, extra: ["dockerV2Enabled": true])
            // The realm policy: 1 GiB and 64 iterations are refused, with the ceiling named.
            let policy = try await api.call(.put, "/admin/realms/tenant", token: admin, json: ["passwordHashing": ["memory": 1_048_576, "iterations": 64]])
            #expect(policy.status == .badRequest)
            #expect(policy["errorMessage"]?.stringValue?.contains("ceiling") == true)
            // A Keycloak hash that would take minutes: refused at user creation.
            let secret = #"{"value":"\#(Data(repeating: 1, count: 32).base64EncodedString())","salt":"\#(Data(repeating: 2, count: 16).base64EncodedString())"}"#
            let data = #"{"hashIterations":1024,"algorithm":"argon2","additionalParameters":{"memory":["1048576"],"parallelism":["1"],"type":["id"],"version":["1.3"]}}"#
            let created = try await api.call(.post, "/admin/realms/tenant/users", token: admin, json: [
                "username": "slow", "enabled": true, "credentials": [["type": "password", "secretData": .string(secret), "credentialData": .string(data)]],
            ])
            #expect(created.status == .badRequest)
            #expect(created["errorMessage"]?.stringValue?.contains("ceiling") == true)
            // Such a hash already in the database (written before the ceiling): never computed.
            let id = try await api.createUser("tenant", "old", password: "Pw-old-1", token: admin)
            let store = api.server.services.store
            let credential = try #require(try await store.credentials(userId: id).first)
            let phc = PasswordHash(memoryKiB: 1_048_576, iterations: 1024, parallelism: 1, salt: Array(repeating: 3, count: 16), hash: Array(repeating: 4, count: 32)).phcString
            #expect(try await store.replaceCredentialSecret(id: credential.id, expected: credential.secret, with: Sensitive(phc)))
            // (Were it computed, this login would take about 25 minutes.)
            #expect(try await api.login(realm: "tenant", username: "old", password: "anything").status == .unauthorized)
        }
    }

    @Test func concurrentWrongPasswordsAreAllCountedAndTheLockHolds() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin, extra: [
                "bruteForceProtected": true, "failureFactor": 5, "quickLoginCheckMilliSeconds": 0, "waitIncrementSeconds": 600,
            ])
            let id = try await api.createUser("acme", "alice", password: "Right-pw-1", token: admin)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for i in 0..<50 { group.addTask { try await api.login(realm: "acme", username: "alice", password: "wrong-\(i)").status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .unauthorized })
            // Every guess met the counter: exactly failureFactor were counted, the rest met the lock.
            let status = try await api.call(.get, "/admin/realms/acme/attack-detection/brute-force/users/\(id)", token: try await api.token())
            #expect(status["numFailures"]?.int == 5)
            #expect(status["disabled"]?.bool == true)
            #expect(try await api.login(realm: "acme", username: "alice", password: "Right-pw-1").status == .unauthorized)
        }
    }

    @Test func aFloodAgainstOneRealmIsShedAndLeavesAnotherRealmsLoginsServed() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("noisy", token: admin)
            try await api.createRealm("quiet", token: admin)
            _ = try await api.createUser("quiet", "bob", password: "Bob-pw-1", token: admin)
            try await withThrowingTaskGroup(of: (Bool, HTTPResponse.Status, String?).self) { group in
                for i in 0..<300 {
                    group.addTask {
                        let r = try await api.login(realm: "noisy", username: "user\(i)", password: "x")
                        return (true, r.status, r.headers[.retryAfter])
                    }
                }
                group.addTask { (false, try await api.login(realm: "quiet", username: "bob", password: "Bob-pw-1").status, nil) }
                var shed = 0
                var quiet: HTTPResponse.Status?
                for try await (noisy, status, retryAfter) in group {
                    if noisy {
                        #expect(status == .unauthorized || status == .serviceUnavailable)
                        if status == .serviceUnavailable { shed += 1; #expect(retryAfter == "1") }
                    } else {
                        quiet = status
                    }
                }
                // The noisy realm's queue is bounded: the excess was refused at once, not queued.
                #expect(shed > 0)
                #expect(quiet == .ok)
            }
        }
    }

    @Test func theHashingQueueServesRealmsInTurn() throws {
        let scheduler = FairScheduler(slots: 1, maxQueuedPerPartition: 8, maxQueued: 100)
        let order = Mutex<[String]>([])
        #expect(scheduler.admit(partition: "A") { _ in } == .runNow, "the one slot")
        for i in 0..<8 {
            #expect(scheduler.admit(partition: "A") { _ in order.withLock { $0.append("A\(i)") } } == .queued)
        }
        // A's queue is full: one more A is refused at once, while B still queues.
        #expect(scheduler.admit(partition: "A") { _ in Issue.record("a refused job ran") } == .refused)
        #expect(scheduler.admit(partition: "B") { _ in order.withLock { $0.append("B") } } == .queued)
        #expect(scheduler.queuedCount == 9)
        // The slot, once its job is done, runs what waits, in turn, on its own thread.
        while let job = scheduler.next() { job(false) }
        let served = order.withLock { $0 }
        // B waited behind at most one of A's eight.
        #expect((served.firstIndex(of: "B") ?? 99) <= 1, "\(served)")
        #expect(served.count == 9)
        #expect(scheduler.queuedCount == 0)
        // The slot is free again.
        #expect(scheduler.admit(partition: "C") { _ in } == .runNow)
    }

    /// Issue 24, item 8: turns are shared by cost, not by count. A partition of jobs fifteen
    /// times as costly (an import at the cost ceiling) waits while a partition of cheap ones
    /// (logins) catches up; by turns they would alternate.
    @Test func theHashingQueueSharesTimeByCostNotTurns() throws {
        let scheduler = FairScheduler(slots: 1, maxQueuedPerPartition: 16, maxQueued: 100)
        let order = Mutex<[String]>([])
        #expect(scheduler.admit(partition: "busy", cost: 1) { _ in } == .runNow)
        for i in 0..<8 {
            #expect(scheduler.admit(partition: "import", cost: 15) { _ in order.withLock { $0.append("I\(i)") } } == .queued)
        }
        for i in 0..<8 {
            #expect(scheduler.admit(partition: "logins", cost: 1) { _ in order.withLock { $0.append("L\(i)") } } == .queued)
        }
        while let job = scheduler.next() { job(false) }
        let served = order.withLock { $0 }
        #expect(served.count == 16)
        // Every login before the import's second job.
        let secondImport = served.firstIndex(of: "I1") ?? -1
        #expect(served.filter { $0.hasPrefix("L") }.allSatisfy { served.firstIndex(of: $0)! < secondImport }, "\(served)")
        // A partition that was idle starts at the current virtual time: no credit for idling.
        #expect(scheduler.admit(partition: "late", cost: 1) { _ in } == .runNow)
    }

    /// Issue 24, item 8: many realms created at once with plain-text passwords are charged to
    /// the administrator creating them, and a realm that exists is refused before any hashing.
    @Test func aRealmThatExistsIsRefusedBeforeItsPasswordsAreHashed() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("taken", token: admin)
            func hashes() async throws -> Int {
                let text = try await api.call(.get, "/metrics").text
                return text.split(separator: "\n").first { $0.hasPrefix("keyport_password_hash_duration_seconds_count") }
                    .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            let before = try await hashes()
            #expect(before > 0, "the admin's login was hashed and counted")
            let users: [JSONValue] = (0..<20).map { ["username": .string("u\($0)"), "enabled": true,
                                                     "credentials": [["type": "password", "value": .string("Pw-\($0)-long-enough")]]] }
            let response = try await api.call(.post, "/admin/realms", token: admin, json: ["realm": "taken", "users": .array(users)])
            #expect(response.status == .conflict)
            #expect(try await hashes() == before, "nothing hashed for a request refused anyway")
        }
    }

    @Test func aShutDownHasherRefusesInsteadOfHanging() async throws {
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        try await hasher.shutdown()
        await #expect(throws: PasswordHashingOverloaded.self) {
            _ = try await hasher.hash(Sensitive("pw"), parameters: Argon2Parameters(memoryKiB: 1024, iterations: 1, parallelism: 1))
        }
    }
}

actor OrderLog {
    var entries: [String] = []
    func append(_ entry: String) { entries.append(entry) }
}
