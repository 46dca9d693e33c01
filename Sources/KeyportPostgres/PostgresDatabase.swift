import Foundation
import KeyportSQL
import KeyportStore
import Logging
import NIOCore
import PostgresNIO

/// The store's statements in PostgreSQL's dialect.
let statements = StoreSQL(.postgres)

/// The few ways the store talks to PostgreSQL: KeyportSQL's statements (`?` placeholders,
/// `SQLValue`s), read as rows by position, on one connection or inside one transaction. Everything
/// PostgresNIO-specific — binds, cells, error codes — stays in this file.
struct PGConnection {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs a statement; the rows it returns (use `RETURNING` to count what changed).
    @discardableResult
    func rows(_ sql: String, _ arguments: [SQLValue] = []) async throws -> [PGRow] {
        let query = try PGConnection.query(sql, arguments)
        var result: [PGRow] = []
        for try await row in try await connection.query(query, logger: logger) {
            result.append(PGRow(row: row.makeRandomAccess()))
        }
        return result
    }

    func one(_ sql: String, _ arguments: [SQLValue] = []) async throws -> PGRow? {
        try await rows(sql, arguments).first
    }

    /// Runs a statement and returns how many rows it returned (`… RETURNING 1`).
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue] = []) async throws -> Int {
        try await rows(sql, arguments).count
    }

    // MARK: KeyportSQL's statements

    /// Every row, decoded.
    func all<T>(_ s: SQLStatement, _ decode: (PGRow) -> T) async throws -> [T] {
        try await rows(s.sql, s.arguments).map(decode)
    }

    /// The first row, decoded.
    func one<T>(_ s: SQLStatement, _ decode: (PGRow) -> T) async throws -> T? {
        try await rows(s.sql, s.arguments).first.map(decode)
    }

    /// Whether the statement returns a row.
    func exists(_ s: SQLStatement) async throws -> Bool { try await !rows(s.sql, s.arguments).isEmpty }

    /// The first column of the first row as a number (`count(*)`).
    func count(_ s: SQLStatement) async throws -> Int { try await rows(s.sql, s.arguments).first?.int(0) ?? 0 }

    /// Runs a change; how many rows it changed (statements that count end in `RETURNING 1`).
    @discardableResult
    func run(_ s: SQLStatement) async throws -> Int { try await rows(s.sql, s.arguments).count }

    /// Runs an optional statement (a lock PostgreSQL needs and SQLite does not).
    func run(_ s: SQLStatement?) async throws {
        if let s { try await run(s) }
    }

    func run(_ statements: [SQLStatement]) async throws {
        for s in statements { try await run(s) }
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

    /// `?` placeholders become `$1…$n`; values are bound by their kind.
    static func query(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQuery {
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
            case .null: binds.appendNull()
            case .text(let value): binds.append(value)
            case .integer(let value): binds.append(value)
            case .bool(let value): binds.append(value)
            case .blob(let value): binds.append(ByteBuffer(bytes: value))
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

/// One row, by position (KeyportSQL's decoders) or by column name (the migration ledger).
struct PGRow: SQLRow {
    let row: PostgresRandomAccessRow

    func text(_ index: Int) -> String? { try? row[index].decode(String?.self) }
    func integer(_ index: Int) -> Int64? { try? row[index].decode(Int64?.self) }
    func boolean(_ index: Int) -> Bool? { try? row[index].decode(Bool?.self) }
    func bytes(_ index: Int) -> [UInt8]? {
        (try? row[index].decode(ByteBuffer?.self))?.map { Array($0.readableBytesView) }
    }

    func string(_ column: String) -> String { (try? row[column].decode(String.self)) ?? "" }
    func int(_ column: String) -> Int { Int(clamping: (try? row[column].decode(Int64.self)) ?? 0) }
    func bool(_ column: String) -> Bool { (try? row[column].decode(Bool.self)) ?? false }
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
        case "client_scopes_name_unique": .clientScopeName
        case "identity_providers_alias_unique": .identityProviderAlias
        case "identity_provider_mappers_name_unique": .identityProviderMapperName
        case "federated_identities_user_unique": .userAlreadyLinked
        case "federated_identities_upstream_unique": .upstreamAccountLinked
        case "users_by_federation": .directoryEntryLinked
        default: .other
        }
    }
}
