import Foundation
import GRDB
import Crypto

/// One `Migrations/NNNN_verb_noun.sql` file, compiled into the binary by the EmbedMigrations plugin.
struct EmbeddedMigration: Sendable {
    let version: Int
    let name: String
    let sql: String
}

/// A migration as the runner sees it: the SQL and a checksum that detects an edited file.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    public var checksum: String { SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined() }

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Keyport's schema, in version order.
    public static let shipped: [Migration] = embeddedMigrations
        .map { Migration(version: $0.version, name: $0.name, sql: $0.sql) }
        .sorted { $0.version < $1.version }
}

public enum MigrationError: Error, Equatable, CustomStringConvertible {
    /// A migration already applied no longer matches its file: someone edited a shipped migration.
    case edited(version: Int, name: String)
    /// The database was migrated by a newer Keyport than this one.
    case unknownVersion(Int)
    case failed(version: Int, name: String, message: String)

    public var description: String {
        switch self {
        case .edited(let v, let name):
            "migration \(v) (\(name)) was changed after it was applied; shipped migrations must never be edited"
        case .unknownVersion(let v):
            "the database has migration \(v), which this Keyport does not know: it was written by a newer version"
        case .failed(let v, let name, let message):
            "migration \(v) (\(name)) failed: \(message)"
        }
    }
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
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for row in applied {
            let version: Int = row["version"]
            guard let migration = known[version] else { throw MigrationError.unknownVersion(version) }
            if migration.checksum != row["checksum"] as String {
                throw MigrationError.edited(version: version, name: migration.name)
            }
        }
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
