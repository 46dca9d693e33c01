import Foundation
import KeyportPostgres
import KeyportSQLite
import KeyportStore

/// Where the data lives (Keycloak's `--db`): an SQLite file on this machine (the default), or a
/// PostgreSQL database that several Keyport nodes share.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresStore.Configuration)

    /// Opens the store and brings its schema up to date.
    public func open(now: @escaping @Sendable () -> Int64) async throws -> any IdentityStore {
        switch self {
        case .sqlite(let path): return try SQLiteStore.open(path: path, now: now)
        case .postgres(let configuration): return try await PostgresStore.open(configuration, now: now)
        }
    }

    /// For log lines and messages: never the password.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let c): "postgresql://\(c.username)@\(c.host):\(c.port)/\(c.database)" + (c.schema.map { "?currentSchema=\($0)" } ?? "")
        }
    }

    /// `keyport migrate`: the migrations applied now, and the schema's version after them.
    public func migrate(now: @escaping @Sendable () -> Int64) async throws -> (applied: [Migration], latest: Int) {
        switch self {
        case .sqlite(let path):
            // SQLite's migrations are numbered 1…n: their count is the schema's version.
            let result = try SQLiteStore.migrateDatabase(path: path, now: now)
            return (result.applied, result.total)
        case .postgres(let configuration):
            return try await PostgresStore.migrateDatabase(configuration, now: now)
        }
    }
}

extension PostgresStore.Configuration: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        a.host == b.host && a.port == b.port && a.database == b.database && a.username == b.username && a.password == b.password
            && a.tlsMode == b.tlsMode && a.schema == b.schema && a.maximumConnections == b.maximumConnections
            && a.tlsRootCertificates == b.tlsRootCertificates
    }
}
