import Foundation
import GRDB
import KeyportStore

extension Migration {
    /// SQLite's schema, in version order (`Migrations/sqlite`).
    public static let shipped: [Migration] = embeddedMigrations.sorted { $0.version < $1.version }
}

/// Applies migrations in order, each in its own transaction, and records each once in
/// `schema_migrations` with its checksum.
public struct MigrationRunner: Sendable {
    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.shipped) {
        self.migrations = migrations
    }

    static let createLedger = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     INTEGER PRIMARY KEY NOT NULL,
            name        TEXT NOT NULL,
            checksum    TEXT NOT NULL,
            applied_at  INTEGER NOT NULL
        ) STRICT
        """

    /// Applies what is missing; returns the migrations applied now.
    @discardableResult
    public func migrate(_ writer: any DatabaseWriter, now: @escaping @Sendable () -> Int64) throws -> [Migration] {
        try writer.write { db in try db.execute(sql: Self.createLedger) }
        let applied = try writer.read { db in try Row.fetchAll(db, sql: "SELECT version, name, checksum FROM schema_migrations ORDER BY version") }
        try MigrationError.check(applied: applied.map { ($0["version"], $0["checksum"]) }, against: migrations)
        let done = Set(applied.map { $0["version"] as Int })
        var ran: [Migration] = []
        for migration in migrations where !done.contains(migration.version) {
            do {
                try writer.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        // Another process may have applied it while we waited for the lock.
                        if try Bool.fetchOne(db, sql: "SELECT 1 FROM schema_migrations WHERE version = ?", arguments: [migration.version]) == true {
                            return .commit
                        }
                        try db.execute(sql: migration.sql)
                        try db.execute(
                            sql: "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                            arguments: [migration.version, migration.name, migration.checksum, now()])
                        return .commit
                    }
                }
            } catch let error as DatabaseError {
                throw MigrationError.failed(version: migration.version, name: migration.name, message: error.message ?? "\(error.resultCode)")
            }
            ran.append(migration)
        }
        return ran
    }

    /// Whether every known migration has been applied.
    public func isUpToDate(_ db: Database) throws -> Bool {
        guard try db.tableExists("schema_migrations") else { return false }
        let applied = try Int.fetchOne(db, sql: "SELECT count(*) FROM schema_migrations") ?? 0
        return applied == migrations.count
    }
}
