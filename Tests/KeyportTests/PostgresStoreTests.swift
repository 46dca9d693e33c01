import Foundation
import KeyportModel
@testable import KeyportPostgres
import KeyportStore
import Testing

/// What is particular to PostgreSQL: several nodes — here two stores with pools of their own —
/// racing on one database, and the options that reach it. Runs when `KEYPORT_TEST_POSTGRES_URL`
/// is set (`scripts/test` starts a throwaway cluster).
/// A run that promises PostgreSQL (`scripts/test` sets `KEYPORT_TEST_REQUIRE_POSTGRES`) fails
/// loudly without it, instead of passing on SQLite alone.
@Suite("PostgreSQL is there when the run requires it")
struct PostgresRequiredTests {
    @Test func theRunHasItsPostgreSQLWhenItRequiresIt() {
        guard ProcessInfo.processInfo.environment["KEYPORT_TEST_REQUIRE_POSTGRES"] == "1" else { return }
        #expect(StoreBackend.postgresURL != nil, "KEYPORT_TEST_REQUIRE_POSTGRES=1 but KEYPORT_TEST_POSTGRES_URL is not set: the PostgreSQL half of the suite would be skipped")
        #expect(StoreBackend.allCases.contains(.postgres))
    }
}

@Suite("PostgreSQL store: several nodes", .enabled(if: StoreBackend.postgresURL != nil))
struct PostgresStoreTests {
    /// Two stores on one fresh schema: two nodes.
    func twoNodes(clock: TestClock = TestClock()) async throws -> (PostgresStore, PostgresStore) {
        var configuration = try PostgresStore.Configuration(url: try #require(StoreBackend.postgresURL), maximumConnections: 3)
        configuration.tlsMode = "disable"
        configuration.schema = "nodes_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        // Both start at once on the empty schema: one migrates, the other waits and finds it done.
        async let a = PostgresStore.open(configuration, now: { clock.now.millisecondsSince1970 })
        async let b = PostgresStore.open(configuration, now: { clock.now.millisecondsSince1970 })
        return try await (a, b)
    }

    @Test func twoNodesStartingTogetherMigrateOnce() async throws {
        let (a, b) = try await twoNodes()
        let ready = (await a.isReady(), await b.isReady())
        #expect(ready == (true, true))
        let applied = try await a.withConnection { db in try await db.rows("SELECT version FROM schema_migrations").map { $0.int("version") } }
        #expect(applied == PostgresStore.shippedMigrations.map(\.version))
    }

    @Test func aNodeCutOffFromTheDatabaseIsNotReady() async throws {
        let (a, b) = try await twoNodes()
        #expect(await a.isReady())
        a.close()
        // The probe answers (within its two seconds), it does not hang; the other node is unaffected.
        #expect(await a.isReady() == false)
        #expect(await b.isReady())
    }

    /// Issue 24, item 14: a wrong password says so at once, not "unreachable" after 30 seconds.
    @Test func aWrongPasswordIsNamedAtOnce() async throws {
        var configuration = try PostgresStore.Configuration(url: try #require(StoreBackend.postgresURL), maximumConnections: 2)
        configuration.tlsMode = "disable"
        configuration.password = "certainly-not-the-password"
        let clock = ContinuousClock()
        let started = clock.now
        do {
            _ = try await PostgresStore.open(configuration, now: { 0 })
            Issue.record("opened with a wrong password")
        } catch let error as StoreError {
            #expect("\(error)".contains("authentication failed"), "\(error)")
        }
        // Not a speed measurement: a guard that it fails on the first answer instead of waiting out
        // the 30 seconds of retries meant for an unreachable server (a loaded machine takes seconds).
        #expect(clock.now - started < .seconds(25))
    }

    /// Issue 24, item 11: a statement the database does not answer (here `pg_sleep`, as a hung
    /// primary would behave) ends at the deadline with `unavailable`, and its connection is
    /// closed, never handed to the next request.
    @Test func aStatementPastItsDeadlineFailsAndItsConnectionIsDiscarded() async throws {
        let (a, _) = try await twoNodes()
        let before = try await a.withConnection { db in try await db.rows("SELECT pg_backend_pid() AS pid")[0].int("pid") }
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: StoreError.self) {
            try await a.withConnection(deadline: .seconds(1)) { db in try await db.execute("SELECT pg_sleep(30)") }
        }
        #expect(clock.now - started < .seconds(10), "answered at the deadline, not when the database did")
        // The pool still serves, on connections other than the abandoned one.
        var pids: Set<Int> = []
        for _ in 0..<4 { pids.insert(try await a.withConnection { db in try await db.rows("SELECT pg_backend_pid() AS pid")[0].int("pid") }) }
        #expect(await a.isReady())
        _ = before
        #expect(!pids.isEmpty)
    }

    @Test func failuresOnTwoNodesAreAllCountedAndLockAtTheFactor() async throws {
        let (a, b) = try await twoNodes()
        let f = Fixtures(a)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 1_000
        policy.quickLoginCheckMilliSeconds = 0
        let time = f.env.now(), fixed = policy
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                let node = i.isMultiple(of: 2) ? a : b
                group.addTask { _ = try await node.recordLoginFailure(userId: user.id, realmId: realm.id, at: time, policy: fixed, ipAddress: nil) }
            }
            try await group.waitForAll()
        }
        #expect(try await b.loginFailures(userId: user.id, realmId: realm.id)?.numFailures == 40)
    }

    @Test func editsOnTwoNodesAtOnceAllSurvive() async throws {
        let (a, b) = try await twoNodes()
        let f = Fixtures(a)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<30 {
                let node = i.isMultiple(of: 2) ? a : b
                group.addTask { _ = try await node.updateUser(id: user.id, realmId: realm.id) { $0.attributes["k\(i)"] = ["\(i)"] } }
            }
            try await group.waitForAll()
        }
        #expect(try await a.user(id: user.id, realmId: realm.id)?.attributes.count == 30)
    }

    @Test func aChangeOnOneNodeMovesTheVersionTheOtherReads() async throws {
        let (a, b) = try await twoNodes()
        let f = Fixtures(a)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        let role = Role(id: f.env.newID(), realmId: realm.id, name: "dev")
        try await a.createRole(role)
        let before = try #require(try await b.realmVersions(realmId: realm.id))
        try await a.grantUserRoles(userId: user.id, roleIds: [role.id], realmId: realm.id)
        let after = try #require(try await b.realmVersions(realmId: realm.id))
        #expect(after.authorization != before.authorization && after.configuration == before.configuration)
        _ = try await a.updateRealm(id: realm.id) { $0.accessTokenLifespan = 60 }
        #expect(try await b.realmVersions(realmId: realm.id)?.configuration != after.configuration)
    }

    @Test func sameEmailOnTwoNodesAtOnceOnlyOnce() async throws {
        let (a, b) = try await twoNodes()
        let f = Fixtures(a)
        let realm = try await f.realm("acme")
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<10 {
                let node = i.isMultiple(of: 2) ? a : b
                group.addTask {
                    var user = User(id: UUID().uuidString, realmId: realm.id, username: "u\(i)", enabled: true, createdAt: Timestamp(millisecondsSince1970: 1))
                    user.email = "same@example.com"
                    do { try await node.createUser(UserSeed(user: user)); return true } catch StoreError.conflict(.email) { return false }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 1)
    }
}

/// The database options, as libpq and JDBC write URLs (no server needed).
@Suite("PostgreSQL options")
struct PostgresOptionsTests {
    @Test func theDatabaseURLIsReadAsLibpqAndJDBCWriteIt() throws {
        let c = try PostgresStore.Configuration(url: "postgresql://kp:s3cret@db.example.com:6432/identity?sslmode=verify-full&currentSchema=keyport&sslrootcert=/etc/ca.pem")
        #expect(c.host == "db.example.com" && c.port == 6432 && c.database == "identity" && c.username == "kp" && c.password == "s3cret")
        #expect(c.tlsMode == "verify-full" && c.schema == "keyport" && c.tlsRootCertificates == "/etc/ca.pem")
        let jdbc = try PostgresStore.Configuration(url: "jdbc:postgresql://db/keyport", username: "u", password: "p")
        #expect(jdbc.host == "db" && jdbc.port == 5432 && jdbc.username == "u" && jdbc.password == "p")
        #expect(throws: StoreError.self) { try PostgresStore.Configuration(url: "mysql://db/keyport", username: "u") }
        #expect(throws: StoreError.self) { try PostgresStore.Configuration(url: "postgresql://db/keyport?sslmode=maybe", username: "u") }
        #expect(throws: StoreError.self) { try PostgresStore.Configuration(url: "postgresql://db/keyport") }
        #expect(throws: StoreError.self) { try PostgresStore.Configuration(url: "postgresql://u@db/k?currentSchema=a;drop") }
    }
}
