import Foundation
import KeyportStore
import Logging
import NIOCore
import PostgresNIO

/// The few ways the store talks to PostgreSQL: a statement with `?` placeholders and plain Swift
/// values, read as rows of named columns, on one connection or inside one transaction. Everything
/// PostgresNIO-specific — binds, cells, error codes — stays in this file.
struct PGConnection {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs a statement; the rows it returns (use `RETURNING` to count what changed).
    @discardableResult
    func rows(_ sql: String, _ arguments: [(any Sendable)?] = []) async throws -> [PGRow] {
        let query = try PGConnection.query(sql, arguments)
        var result: [PGRow] = []
        for try await row in try await connection.query(query, logger: logger) {
            result.append(PGRow(row: row.makeRandomAccess()))
        }
        return result
    }

    func one(_ sql: String, _ arguments: [(any Sendable)?] = []) async throws -> PGRow? {
        try await rows(sql, arguments).first
    }

    /// Runs a statement and returns how many rows it returned (`… RETURNING 1`).
    @discardableResult
    func execute(_ sql: String, _ arguments: [(any Sendable)?] = []) async throws -> Int {
        try await rows(sql, arguments).count
    }

    /// `body` in one transaction on this connection: committed when it returns, rolled back when it throws.
    func transaction<T>(_ begin: String = "BEGIN", _ body: (PGConnection) async throws -> T) async throws -> T {
        try await execute(begin)
        do {
            let value = try await body(self)
            try await execute("COMMIT")
            return value
        } catch {
            _ = try? await execute("ROLLBACK")
            throw error
        }
    }

    /// `?` placeholders become `$1…$n`; values are bound by their Swift type.
    static func query(_ sql: String, _ arguments: [(any Sendable)?]) throws -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + 16)
        var index = 0
        var inQuote = false
        for character in sql {
            if character == "'" { inQuote.toggle() }
            if character == "?" && !inQuote {
                index += 1
                text += "$\(index)"
            } else {
                text.append(character)
            }
        }
        guard index == arguments.count else {
            throw StoreError.unavailable("statement has \(index) placeholders for \(arguments.count) values")
        }
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case nil: binds.appendNull()
            case let value as String: binds.append(value)
            case let value as Int: binds.append(Int64(value))
            case let value as Int64: binds.append(value)
            case let value as Bool: binds.append(value)
            case let value as [UInt8]: binds.append(ByteBuffer(bytes: value))
            case let value as Optional<String>: if let value { binds.append(value) } else { binds.appendNull() }
            case let value as Optional<Int>: if let value { binds.append(Int64(value)) } else { binds.appendNull() }
            case let value as Optional<Int64>: if let value { binds.append(value) } else { binds.appendNull() }
            case let value as Optional<Bool>: if let value { binds.append(value) } else { binds.appendNull() }
            case let value?: throw StoreError.unavailable("cannot bind a value of type \(type(of: value))")
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: binds)
    }

    /// Splits a migration file into statements (the extended protocol runs one at a time),
    /// keeping `$$`-quoted function bodies, quoted strings and comments whole.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inDollar = false, inQuote = false, inComment = false
        let characters = Array(sql)
        var i = 0
        while i < characters.count {
            let c = characters[i]
            let next: Character? = i + 1 < characters.count ? characters[i + 1] : nil
            if inComment {
                if c == "\n" { inComment = false; current.append(c) }
                i += 1
                continue
            }
            if !inDollar && !inQuote && c == "-" && next == "-" { inComment = true; i += 2; continue }
            if !inQuote && c == "$" && next == "$" { inDollar.toggle(); current += "$$"; i += 2; continue }
            if !inDollar && c == "'" { inQuote.toggle() }
            if !inDollar && !inQuote && c == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !statement.isEmpty { statements.append(statement) }
        return statements
    }
}

/// One row, by column name.
struct PGRow {
    let row: PostgresRandomAccessRow

    func string(_ column: String) -> String { (try? row[column].decode(String.self)) ?? "" }
    func optionalString(_ column: String) -> String? { try? row[column].decode(String?.self) }
    func int64(_ column: String) -> Int64 { (try? row[column].decode(Int64.self)) ?? 0 }
    func optionalInt64(_ column: String) -> Int64? { try? row[column].decode(Int64?.self) }
    func int(_ column: String) -> Int { Int(clamping: int64(column)) }
    func optionalInt(_ column: String) -> Int? { optionalInt64(column).map { Int(clamping: $0) } }
    func bool(_ column: String) -> Bool { (try? row[column].decode(Bool.self)) ?? false }
    func bytes(_ column: String) -> [UInt8] {
        guard let buffer = try? row[column].decode(ByteBuffer.self) else { return [] }
        return Array(buffer.readableBytesView)
    }
    func has(_ column: String) -> Bool { row.contains(column) }
}

/// Turns PostgreSQL's failures into what they mean for the caller, as `SQLiteStore.translate`
/// does for SQLite: the server's text is read here and nowhere else.
enum PGErrors {
    static func translate(_ error: any Error) -> any Error {
        if let error = error as? StoreError { return error }
        // What a change closure throws (a refused edit) passes through as it is.
        guard let error = error as? PSQLError else { return error }
        guard let info = error.serverInfo, let state = info[.sqlState] else {
            // No answer from the server: it is down or unreachable.
            return StoreError.unavailable("the database is unreachable (\(error.code))")
        }
        let message = info[.message] ?? ""
        if let range = message.range(of: "keyport.conflict: ") {
            let text = message[range.upperBound...]
            return StoreError.conflict(text.contains("sharing an email") ? .emailsShared : text.contains("same email") ? .email : .other)
        }
        switch state {
        case "23505": return StoreError.conflict(conflict(constraint: info[.constraintName] ?? ""))
        case "23503": return StoreError.invalid("a referenced realm, user, client, role or group does not exist in this realm")
        case "23514", "23502", "22P02", "22001", "22003": return StoreError.invalid("a value is out of range or missing")
        case "40001", "40P01": return StoreError.conflict(.concurrentChange)
        default: return StoreError.unavailable("database error \(state)")
        }
    }

    /// Which uniqueness rule a constraint (or unique index) names.
    static func conflict(constraint: String) -> StoreConflict {
        switch constraint {
        case "realms_name_unique": .realmName
        case "users_username_unique": .username
        case "clients_client_id_unique": .clientId
        case "roles_realm_role_name", "roles_client_role_name": .roleName
        case "realm_groups_top_level_name": .topLevelGroupName
        case "realm_groups_sibling_name": .siblingGroupName
        case "credentials_type_unique": .credentialType
        case "personal_access_tokens_name_unique": .tokenName
        default: .other
        }
    }
}
