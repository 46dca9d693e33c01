import Crypto
import Foundation

/// One `Migrations/<engine>/NNNN_verb_noun.sql` file, compiled into its store by the
/// EmbedMigrations plugin: the SQL and a checksum that detects an edited file. Each engine's
/// runner applies its own list; the rules and the words for what goes wrong are shared.
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

    /// Checks what a database records as applied against what this Keyport ships: an unknown
    /// version or a changed checksum stops the run before anything is applied.
    public static func check(applied: [(version: Int, checksum: String)], against shipped: [Migration]) throws(MigrationError) {
        let known = Dictionary(uniqueKeysWithValues: shipped.map { ($0.version, $0) })
        for row in applied {
            guard let migration = known[row.version] else { throw .unknownVersion(row.version) }
            guard migration.checksum == row.checksum else { throw .edited(version: row.version, name: migration.name) }
        }
    }
}
