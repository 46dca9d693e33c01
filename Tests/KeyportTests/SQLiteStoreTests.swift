import Foundation
import GRDB
import KeyportModel
@testable import KeyportSQLite
import KeyportSQL
import KeyportStore
import KeyportAuth
import Testing

/// What is particular to the SQLite backend: the file, its pragmas and the migrations.
@Suite("SQLite store")
struct SQLiteStoreTests {
    func path() -> String { temporaryDirectory().appendingPathComponent("keyport.db").path }

    @Test func theShippedMigrationsAreNumberedInOrderAndNamedVerbNoun() {
        let migrations = Migration.shipped
        #expect(!migrations.isEmpty)
        #expect(migrations.map(\.version) == Array(1...migrations.count))
        for m in migrations {
            #expect(m.name.hasPrefix(String(format: "%04d_", m.version)))
            #expect(m.name.split(separator: "_").count >= 3)
        }
        // The embedded copies are the files in Migrations/sqlite.
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Paths.repository.appendingPathComponent("Migrations/sqlite").path)) ?? []
        #expect(files.filter { $0.hasSuffix(".sql") }.sorted() == migrations.map { "\($0.name).sql" })
    }

    /// The hot lookups run on the calling thread through the store's own connections, taken with
    /// a try. Blocking on GRDB's pool instead deadlocked within seconds (Swift's tasks and GRDB's
    /// reader queues share libdispatch's threads): far more concurrent lookups than threads,
    /// beside writes and pool reads, must all finish and see only committed values.
    @Test func hotLookupsBesideWritesAndPoolReadsAllFinish() async throws {
        // A deadlock holds every thread of Swift's pool, so no task-based time limit can fire:
        // a plain thread ends the run with a message instead of letting it hang.
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            if finished.wait(timeout: .now() + 120) == .timedOut {
                FileHandle.standardError.write(Data("hotLookupsBesideWritesAndPoolReadsAllFinish: no progress in 120 s — the hot lookups deadlocked\n".utf8))
                abort()
            }
        }
        defer { finished.signal() }
        let store = try SQLiteStore.open(path: path(), now: { 1 })
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let user = try await f.user("erin", in: realm, password: "$argon2id$0")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for i in 1...50 {
                    try await store.setCredential(Credential(id: f.env.newID(), userId: user.id, secret: Sensitive("$argon2id$\(i)"), createdAt: f.env.now()),
                                                  revokeTokensBefore: nil)
                }
            }
            for task in 0..<400 {
                group.addTask {
                    if task % 5 == 0 {
                        // A pool read (a transaction on GRDB's readers) in the same crowd.
                        #expect(try await store.users(realmId: realm.id, matching: UserQuery(), page: .all).count == 1)
                    }
                    let found = try #require(try await store.userWithPassword(username: "erin", realmId: realm.id))
                    #expect(found.password?.secret.revealed.hasPrefix("$argon2id$") == true)
                    #expect(try await store.realmVersions(realmId: realm.id) != nil)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.userWithPassword(username: "erin", realmId: realm.id)?.password?.secret.revealed == "$argon2id$50")
        // Closed: the hot connections are closed too, and a lookup is an outage, not a crash.
        try store.close()
        await #expect(throws: StoreError.self) { _ = try await store.userWithPassword(username: "erin", realmId: realm.id) }
    }

    /// Rows are read by position: each entity's column list (KeyportSQL) must name every column
    /// of its table, so a migration that adds one fails here until the mapping reads it.
    @Test(arguments: [
        ("realms", RealmSQL.columns), ("users", UserSQL.columns), ("credentials", UserSQL.credentialColumns),
        ("clients", ClientSQL.columns), ("roles", RoleSQL.columns), ("realm_groups", GroupSQL.columns), ("realm_keys", KeySQL.columns),
        ("events", EventSQL.columns), ("sessions", SessionSQL.columns), ("personal_access_tokens", PersonalAccessTokenSQL.columns),
        ("login_failures", LoginFailureSQL.columns), ("admin_events", AdminEventSQL.columns), ("client_scopes", ClientScopeSQL.columns),
    ])
    func eachColumnListIsItsTable(table: String, list: SQLColumns) throws {
        let p = path()
        _ = try SQLiteStore.migrateDatabase(path: p, now: { 1 })
        let columns = try DatabaseQueue(path: p).read { db in try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String } }
        #expect(Set(columns) == Set(list.names) && columns.count == list.count, "\(table): \(columns) vs \(list.names)")
    }

    /// Rows are read straight off SQLite's statement (not through GRDB's `Row`), with GRDB's
    /// conversions; arguments are bound by hand: an empty string is text, not NULL, an empty
    /// blob a blob, and text ends at a NUL (as GRDB binds it when the same value is written).
    @Test func rowsAndArgumentsKeepGRDBsConversions() async throws {
        let queue = try DatabaseQueue()
        try await queue.read { db in
            let sql = """
                SELECT 'abc', CAST('héllo' AS BLOB), 42, 2.0, 2.9, NULL, x'00ff', x'ff', 0, 0.5, 'yes',
                       typeof(?), typeof(?), ?, ?, ?, ?, typeof(?), length(CAST(? AS BLOB))
                """
            let arguments: [any SQLBindable] = ["", [UInt8](), "é✓", Int64.max, true, [UInt8]([0, 1, 255]), String?.none, "a\u{0}b"]
            let read = try db.one(SQLStatement(sql, arguments)) { row in
                (row.text(0), row.text(1), row.integer(2), row.integer(3), row.integer(4), row.text(5), row.integer(5), row.bytes(6),
                 row.text(7), row.boolean(8), row.boolean(9), row.boolean(10), row.integer(10), row.text(2), row.bytes(0),
                 row.text(11), row.text(12), row.text(13), row.integer(14), row.boolean(15), row.bytes(16), row.text(17), row.integer(18))
            }
            let r = try #require(read)
            #expect(r.0 == "abc" && r.1 == "héllo" && r.2 == 42 && r.3 == 2 && r.4 == 2)
            #expect(r.5 == nil && r.6 == nil && r.7 == [0, 255])
            #expect(r.8 == nil, "a blob that is not UTF-8 is no text")
            #expect(r.9 == false && r.10 == true && r.11 == nil && r.12 == nil, "booleans from numbers only")
            #expect(r.13 == nil, "GRDB reads no text from an integer")
            #expect(r.14 == Array("abc".utf8))
            #expect(r.15 == "text" && r.16 == "blob", "the empty string and the empty blob are not NULL")
            #expect(r.17 == "é✓" && r.18 == Int64.max && r.19 == true && r.20 == [0, 1, 255])
            #expect(r.21 == "null" && r.22 == 1, "text is bound up to its first NUL, as GRDB binds it in writes")
            #expect(try db.all(SQLStatement("SELECT value FROM json_each('[1,2,3]')")) { $0.int(0) } == [1, 2, 3])
            #expect(try db.count(SQLStatement("SELECT count(*) FROM json_each('[1,2]') WHERE value > ?", [0])) == 2)
            #expect(try db.exists(SQLStatement("SELECT 1 WHERE ? = 'x'", ["x"])) && !(try db.exists(SQLStatement("SELECT 1 WHERE 0"))))
            // A wrong number of arguments is an error, never a silent NULL.
            #expect(throws: DatabaseError.self) { try db.one(SQLStatement("SELECT ?, ?", ["one"])) { $0.text(0) } }
        }
        // What a write stores, a read with the same value finds (a name with a NUL included).
        try await queue.write { db in
            try db.run(SQLStatement("CREATE TABLE names (name TEXT PRIMARY KEY)"))
            try db.run(SQLStatement("INSERT INTO names VALUES (?)", ["x\u{0}y"]))
            #expect(try db.exists(SQLStatement("SELECT 1 FROM names WHERE name = ?", ["x\u{0}y"])))
            #expect(try db.all(SQLStatement("SELECT name FROM names")) { $0.string(0) } == ["x"])
        }
    }

    @Test func migrationsAreAppliedOnceAndRecorded() throws {
        let p = path()
        let first = try SQLiteStore.migrateDatabase(path: p, now: { 1 })
        #expect(first.applied.count == Migration.shipped.count)
        let second = try SQLiteStore.migrateDatabase(path: p, now: { 2 })
        #expect(second.applied.isEmpty)
        let queue = try DatabaseQueue(path: p)
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version") }
        #expect(rows.map { $0["version"] as Int } == Migration.shipped.map(\.version))
        #expect(rows.allSatisfy { ($0["applied_at"] as Int64) == 1 })
        #expect(rows.map { $0["checksum"] as String } == Migration.shipped.map(\.checksum))
    }

    @Test func anEditedShippedMigrationIsRefused() throws {
        let p = path()
        _ = try SQLiteStore.migrateDatabase(path: p, now: { 1 })
        var edited = Migration.shipped
        edited[0] = Migration(version: edited[0].version, name: edited[0].name, sql: edited[0].sql + "\n-- edited")
        #expect(throws: StoreError.unavailable(MigrationError.edited(version: 1, name: edited[0].name).description)) {
            _ = try SQLiteStore.open(path: p, migrations: MigrationRunner(migrations: edited), now: { 1 })
        }
    }

    @Test func aDatabaseFromANewerKeyportIsRefused() throws {
        let p = path()
        _ = try SQLiteStore.migrateDatabase(path: p, now: { 1 })
        let older = Array(Migration.shipped.dropLast())
        #expect(throws: StoreError.unavailable(MigrationError.unknownVersion(Migration.shipped.count).description)) {
            _ = try SQLiteStore.open(path: p, migrations: MigrationRunner(migrations: older), now: { 1 })
        }
    }

    /// Migration 0018 gives realms made before it Keycloak's built-in clients and roles, with
    /// fresh ids, and leaves what a realm already has alone.
    @Test func realmsFromBeforeGetKeycloaksBuiltInsOnce() async throws {
        let p = path()
        let before = Array(Migration.shipped.prefix { $0.version < 18 })
        _ = try SQLiteStore.open(path: p, migrations: MigrationRunner(migrations: before), now: { 1 })
        let queue = try DatabaseQueue(path: p)
        try await queue.write { db in
            for realm in ["old", "mine"] {
                try db.execute(sql: "INSERT INTO realms (id, name, created_at) VALUES (?, ?, 1)", arguments: ["r-\(realm)", realm])
                try db.execute(sql: "INSERT INTO roles (id, realm_id, name) VALUES (?, ?, ?)", arguments: ["d-\(realm)", "r-\(realm)", "default-roles-\(realm)"])
                try db.execute(sql: "INSERT INTO clients (id, realm_id, client_id, created_at) VALUES (?, ?, 'realm-management', 1)", arguments: ["m-\(realm)", "r-\(realm)"])
                try db.execute(sql: "INSERT INTO roles (id, realm_id, client_id, name) VALUES (?, ?, ?, 'realm-admin')", arguments: ["a-\(realm)", "r-\(realm)", "m-\(realm)"])
            }
            // A realm that has its own `account` client keeps it as it is.
            try db.execute(sql: "INSERT INTO clients (id, realm_id, client_id, public_client, created_at) VALUES ('mine-account', 'r-mine', 'account', 0, 1)")
        }
        let store = try SQLiteStore.open(path: p, now: { 1 })
        for realm in ["old", "mine"] {
            let clients = try await store.clients(realmId: "r-\(realm)", page: .all).map(\.clientId)
            #expect(Set(clients) == ["realm-management", "account", "account-console", "security-admin-console", "broker"], "\(realm)")
        }
        #expect(try await store.client(id: "mine-account", realmId: "r-mine")?.publicClient == false)
        let account = try #require(try await store.client(clientId: "account", realmId: "r-old"))
        #expect(account.publicClient && !account.directAccessGrantsEnabled)
        #expect(try await store.client(clientId: "broker", realmId: "r-old")?.attributes["bearer-only"] == "true")
        let accountRoles = try await store.roles(realmId: "r-old", clientId: account.id, search: nil, page: .all).map(\.name)
        #expect(Set(accountRoles) == Set(BuiltInRoles.accountRoles.map(\.name)))
        let defaults = try await store.composites(of: "d-old", realmId: "r-old").map(\.name)
        #expect(Set(defaults) == ["view-profile", "manage-account"])
        #expect(try await store.composites(of: "a-old", realmId: "r-old").map(\.name).contains("impersonation"))
        let ids = try await queue.read { db in try String.fetchAll(db, sql: "SELECT id FROM roles UNION ALL SELECT id FROM clients") }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count >= 5 })
    }

    @Test func aFailingMigrationLeavesTheSchemaAsItWas() throws {
        let p = path()
        let broken = Migration.shipped + [Migration(version: Migration.shipped.count + 1, name: "9999_create_broken",
                                                    sql: "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;")]
        #expect(throws: StoreError.self) { _ = try SQLiteStore.open(path: p, migrations: MigrationRunner(migrations: broken), now: { 1 }) }
        let queue = try DatabaseQueue(path: p)
        #expect(try queue.read { db in try db.tableExists("half") } == false)
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM schema_migrations") } == Migration.shipped.count)
    }

    @Test func theFileIsWALWithForeignKeysAndOwnerOnly() async throws {
        let p = path()
        let store = try SQLiteStore.open(path: p, now: { 1 })
        let (journal, foreignKeys, busy) = try await store.writer.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA foreign_keys"), try Int.fetchOne(db, sql: "PRAGMA busy_timeout"))
        }
        #expect(journal == "wal")
        #expect(foreignKeys == 1)
        #expect((busy ?? 0) >= 1000)
        let mode = try FileManager.default.attributesOfItem(atPath: p)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try store.integrityCheck() == ["ok"])
        #expect(store.writer is DatabasePool)
    }

    @Test func deletingARealmLeavesNoRowInAnyTable() async throws {
        let store = try SQLiteStore.open(path: path(), now: { 1 })
        let f = Fixtures(store)
        let keep = try await f.realm("keep")
        let gone = try await f.realm("gone")
        for realm in [keep, gone] {
            let client = try await f.client("registry", in: realm)
            let role = try await f.role("r", in: realm, client: client)
            let other = try await f.role("o", in: realm)
            try await store.addComposites(parentId: other.id, childIds: [role.id], realmId: realm.id)
            let group = try await f.group("g", in: realm)
            try await f.group("sub", in: realm, parent: group)
            try await store.grantGroupRoles(groupId: group.id, roleIds: [role.id], realmId: realm.id)
            try await f.user("u", in: realm, roles: [role], groups: [group], password: "x")
            try await store.recordEvent(Event(id: f.env.newID(), realmId: realm.id, time: f.env.now(), type: "LOGIN"))
        }
        let tables = ["realms", "users", "credentials", "clients", "roles", "role_composites", "user_roles", "realm_groups",
                      "group_members", "group_roles", "realm_keys", "events"]
        func counts() async throws -> [String: Int] {
            try await store.writer.read { db in
                try Dictionary(uniqueKeysWithValues: tables.map { ($0, try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? 0) })
            }
        }
        let before = try await counts()
        try await store.deleteRealm(id: gone.id)
        let after = try await counts()
        for table in tables where table != "realm_keys" {
            #expect(after[table]! * 2 == before[table]!, "\(table): \(before[table]!) → \(after[table]!)")
        }
        let dangling = try store.writer.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
        #expect(dangling.isEmpty)
    }
}
