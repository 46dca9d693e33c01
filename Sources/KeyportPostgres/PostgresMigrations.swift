import Foundation
import KeyportSQL
import KeyportStore
import Logging
import PostgresNIO

extension PostgresStore {
    /// The session-level advisory lock that lets one node migrate: one per schema (the one
    /// configured, else the connection's), so Keyports in different schemas do not wait for each other.
    static let migrationLock = "hashtextextended('keyport.migrations/' || coalesce(?, current_schema(), ''), 0)"

    /// PostgreSQL's schema, in version order (`Migrations/postgres`).
    public static let shippedMigrations: [Migration] = embeddedMigrations.sorted { $0.version < $1.version }

    static let createLedger = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     BIGINT PRIMARY KEY,
            name        TEXT NOT NULL,
            checksum    TEXT NOT NULL,
            applied_at  BIGINT NOT NULL
        )
        """

    /// Applies what is missing, each migration in its own transaction, holding an advisory lock
    /// for the whole run: nodes starting together migrate one after the other, and the later ones
    /// find everything applied. Returns the migrations applied by this call.
    @discardableResult
    func migrate(schema: String?, now: @escaping @Sendable () -> Int64) async throws -> [Migration] {
        // Waiting on the lock behind other nodes' migrations, and the migrations themselves, may
        // take long: not a request's deadline.
        try await withConnection(deadline: .seconds(3600)) { db in
            try await db.execute("SELECT pg_advisory_lock(\(Self.migrationLock))", [schema.map(SQLValue.text) ?? .null])
            do {
                // Under the lock: two nodes creating the schema at once would collide in the catalog.
                if let schema { try await db.execute("CREATE SCHEMA IF NOT EXISTS \"\(schema)\"") }
                let ran = try await self.migrate(db, now: now)
                try await db.execute("SELECT pg_advisory_unlock(\(Self.migrationLock))", [schema.map(SQLValue.text) ?? .null])
                return ran
            } catch {
                _ = try? await db.execute("SELECT pg_advisory_unlock(\(Self.migrationLock))", [schema.map(SQLValue.text) ?? .null])
                throw error
            }
        }
    }

    private func migrate(_ db: PGConnection, now: @escaping @Sendable () -> Int64) async throws -> [Migration] {
        try await db.execute(Self.createLedger)
        let applied = try await db.rows("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        do {
            try MigrationError.check(applied: applied.map { ($0.int("version"), $0.string("checksum")) }, against: migrations)
        } catch {
            throw StoreError.unavailable(error.description)
        }
        let done = Set(applied.map { $0.int("version") })
        var ran: [Migration] = []
        for migration in migrations where !done.contains(migration.version) {
            do {
                try await db.transaction { db in
                    for statement in PGConnection.statements(migration.sql) { try await db.execute(statement) }
                    try await db.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                                         [.integer(Int64(migration.version)), .text(migration.name), .text(migration.checksum), .integer(now())])
                }
            } catch {
                throw StoreError.unavailable(MigrationError.failed(version: migration.version, name: migration.name,
                                                                   message: "\(PGErrors.translate(error))").description)
            }
            ran.append(migration)
        }
        return ran
    }

    func isUpToDate(_ db: PGConnection) async throws -> Bool {
        guard try await db.one("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")?.bool("present") == true else { return false }
        let count = try await db.one("SELECT count(*) AS n FROM schema_migrations")?.int("n") ?? 0
        return count == migrations.count
    }
}

extension PostgresStore {
    /// `keyport migrate`: connects, applies what is missing, closes. `latest`: the schema's version.
    public static func migrateDatabase(_ configuration: Configuration, now: @escaping @Sendable () -> Int64) async throws
        -> (applied: [Migration], latest: Int) {
        let store = PostgresStore(client: PostgresClient(configuration: configuration.clientConfiguration), logger: Logger(label: "keyport.postgres"))
        defer { store.close() }
        return (try await store.migrate(schema: configuration.schema, now: now), store.migrations.map(\.version).max() ?? 0)
    }
}
