import Foundation
import GRDB
import GRDBSQLite
import KeyportSQL

/// The store's statements in SQLite's dialect.
let statements = StoreSQL(.sqlite)

/// SQLite copies a value bound with this destructor before the call returns (a C macro Swift
/// cannot import).
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// Runs KeyportSQL's statements on a GRDB connection: the only place this engine binds values
/// and reads rows.
///
/// Rows are read straight off the prepared statement with SQLite's C API, each column once into
/// the decoder's value: through GRDB's `Row` and `StatementArguments` every column was copied
/// twice and every argument boxed, a tenth of a warm token request (docs/performance.md). GRDB
/// still prepares, caches and owns the statements, and runs everything else.
extension Database {
    /// `s`'s prepared statement: GRDB's cached one for a fixed text, a new one otherwise.
    private func statement(for s: SQLStatement) throws -> Statement {
        s.cacheable ? try cachedStatement(sql: s.sql) : try makeStatement(sql: s.sql)
    }

    private func prepared(_ s: SQLStatement) throws -> Statement {
        let statement = try statement(for: s)
        statement.arguments = StatementArguments(s.arguments.map(\.databaseValue))
        return statement
    }

    /// `s` prepared, its arguments bound, ready to step; reset again by `rows` when done.
    private func bound(_ s: SQLStatement) throws -> Statement {
        let statement = try statement(for: s)
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        guard Int(sqlite3_bind_parameter_count(handle)) == s.arguments.count else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "wrong number of statement arguments: \(s.arguments.count)", sql: s.sql)
        }
        for (offset, value) in s.arguments.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(handle, index)
            case .integer(let number): code = sqlite3_bind_int64(handle, index, number)
            case .bool(let flag): code = sqlite3_bind_int64(handle, index, flag ? 1 : 0)
            case .text(let text):
                var text = text
                code = text.withUTF8 { utf8 in
                    // Up to the first NUL, as GRDB binds the same text in `run` (a C string): a
                    // name is compared as it would be stored.
                    let length = utf8.firstIndex(of: 0) ?? utf8.count
                    return utf8.withMemoryRebound(to: CChar.self) { chars in
                        // A null pointer would bind NULL: the empty string is bound as text.
                        guard let start = chars.baseAddress else { return sqlite3_bind_text(handle, index, "", 0, transient) }
                        return sqlite3_bind_text(handle, index, start, Int32(clamping: length), transient)
                    }
                }
            case .blob(let bytes):
                code = bytes.withUnsafeBytes { raw in
                    guard let start = raw.baseAddress, !raw.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
                    return sqlite3_bind_blob(handle, index, start, Int32(clamping: raw.count), transient)
                }
            }
            guard code == SQLITE_OK else { throw error(code, s) }
        }
        return statement
    }

    private func error(_ code: Int32, _ s: SQLStatement) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }, sql: s.sql)
    }

    /// Steps `s`, handing each row to `body` while it is current (at most `limit` rows).
    ///
    /// Reads only: GRDB's bookkeeping around a statement it executes (its cancellation check, the
    /// transaction state a write changes) is not needed for a SELECT, and `run` keeps it for
    /// changes. An interrupted step is an error like any other (`StoreError.unavailable`).
    private func rows(_ s: SQLStatement, limit: Int = .max, _ body: (SQLiteRow) -> Void) throws {
        let statement = try bound(s)
        // A statement that is not cached is finalized when GRDB's object goes: kept to the end.
        try withExtendedLifetime(statement) {
            let handle = statement.sqliteStatement
            defer { sqlite3_reset(handle) }
            var taken = 0
            while taken < limit {
                let code = sqlite3_step(handle)
                if code == SQLITE_DONE { return }
                guard code == SQLITE_ROW else { throw error(code, s) }
                body(SQLiteRow(statement: handle))
                taken += 1
            }
        }
    }

    /// Every row, decoded.
    func all<T>(_ s: SQLStatement, _ decode: (SQLiteRow) -> T) throws -> [T] {
        var decoded: [T] = []
        try rows(s) { decoded.append(decode($0)) }
        return decoded
    }

    /// The first row, decoded.
    func one<T>(_ s: SQLStatement, _ decode: (SQLiteRow) -> T) throws -> T? {
        var decoded: T?
        try rows(s, limit: 1) { decoded = decode($0) }
        return decoded
    }

    /// Whether the statement returns a row.
    func exists(_ s: SQLStatement) throws -> Bool { try one(s) { _ in true } ?? false }

    /// The first column of the first row as a number (`count(*)`).
    func count(_ s: SQLStatement) throws -> Int { try one(s) { $0.int(0) } ?? 0 }

    /// Runs a change; how many rows it changed.
    @discardableResult
    func run(_ s: SQLStatement) throws -> Int {
        try prepared(s).execute()
        return changesCount
    }

    func run(_ statements: [SQLStatement]) throws {
        for s in statements { try run(s) }
    }
}

/// The current row of a stepping statement, read by position with GRDB's conversions: text from
/// TEXT or UTF-8 in a BLOB, integers from INTEGER or a REAL in range, booleans from INTEGER or
/// REAL, bytes from a BLOB or TEXT; anything else (NULL included) is nil. Valid only inside the
/// `rows` body that received it.
struct SQLiteRow: SQLRow {
    let statement: OpaquePointer

    private func type(_ index: Int) -> Int32 { sqlite3_column_type(statement, Int32(index)) }

    private func blob(_ index: Int) -> UnsafeRawBufferPointer {
        let count = Int(sqlite3_column_bytes(statement, Int32(index)))
        guard count > 0, let raw = sqlite3_column_blob(statement, Int32(index)) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: raw, count: count)
    }

    func text(_ index: Int) -> String? {
        switch type(index) {
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, Int32(index)) else { return "" }
            let count = Int(sqlite3_column_bytes(statement, Int32(index)))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        case SQLITE_BLOB:
            return String(validating: blob(index), as: UTF8.self)
        default:
            return nil
        }
    }

    func integer(_ index: Int) -> Int64? {
        switch type(index) {
        case SQLITE_INTEGER: return sqlite3_column_int64(statement, Int32(index))
        case SQLITE_FLOAT:
            let number = sqlite3_column_double(statement, Int32(index))
            guard number >= Double(Int64.min), number < Double(Int64.max) else { return nil }
            return Int64(number)
        default: return nil
        }
    }

    func boolean(_ index: Int) -> Bool? {
        switch type(index) {
        case SQLITE_INTEGER: return sqlite3_column_int64(statement, Int32(index)) != 0
        case SQLITE_FLOAT: return sqlite3_column_double(statement, Int32(index)) != 0
        default: return nil
        }
    }

    func bytes(_ index: Int) -> [UInt8]? {
        switch type(index) {
        case SQLITE_BLOB: return Array(blob(index))
        case SQLITE_TEXT: return text(index).map { Array($0.utf8) }
        default: return nil
        }
    }
}

extension SQLValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let value): value.databaseValue
        case .text(let value): value.databaseValue
        case .bool(let value): value.databaseValue
        case .blob(let value): Data(value).databaseValue
        }
    }
}
