import Foundation
import GRDB
import KeyportSQL

/// The store's statements in SQLite's dialect.
let statements = StoreSQL(.sqlite)

/// Runs KeyportSQL's statements on a GRDB connection: the only place this engine binds values
/// and reads rows.
extension Database {
    private func prepared(_ s: SQLStatement) throws -> Statement {
        let statement = s.cacheable ? try cachedStatement(sql: s.sql) : try makeStatement(sql: s.sql)
        statement.arguments = StatementArguments(s.arguments.map(\.databaseValue))
        return statement
    }

    /// Every row, decoded.
    func all<T>(_ s: SQLStatement, _ decode: (SQLiteRow) -> T) throws -> [T] {
        try Row.fetchAll(try prepared(s)).map { decode(SQLiteRow(row: $0)) }
    }

    /// The first row, decoded.
    func one<T>(_ s: SQLStatement, _ decode: (SQLiteRow) -> T) throws -> T? {
        try Row.fetchOne(try prepared(s)).map { decode(SQLiteRow(row: $0)) }
    }

    /// Whether the statement returns a row.
    func exists(_ s: SQLStatement) throws -> Bool { try Row.fetchOne(try prepared(s)) != nil }

    /// The first column of the first row as a number (`count(*)`).
    func count(_ s: SQLStatement) throws -> Int { try Int.fetchOne(try prepared(s)) ?? 0 }

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

/// A GRDB row, read by position.
struct SQLiteRow: SQLRow {
    let row: Row
    func text(_ index: Int) -> String? { row[index] }
    func integer(_ index: Int) -> Int64? { row[index] }
    func boolean(_ index: Int) -> Bool? { row[index] }
    func bytes(_ index: Int) -> [UInt8]? { (row[index] as Data?).map { [UInt8]($0) } }
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
