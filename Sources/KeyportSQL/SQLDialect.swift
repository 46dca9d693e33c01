/// What the two engines write differently; every statement is written once with these.
///
/// Statements use `?` placeholders and `TRUE`/`FALSE` (SQLite reads them as 1 and 0). A count of
/// changed rows is SQLite's `changes()` and PostgreSQL's `RETURNING 1` rows: statements whose
/// count matters end with `countingChanges`, and each engine's `run` returns the count its way.
public struct SQLDialect: Sendable, Equatable {
    public enum Engine: Sendable { case sqlite, postgres }
    public let engine: Engine

    public static let sqlite = SQLDialect(engine: .sqlite)
    public static let postgres = SQLDialect(engine: .postgres)

    /// A case-insensitive `LIKE` (SQLite's own ignores ASCII case already).
    public var like: String { engine == .sqlite ? "LIKE" : "ILIKE" }
    /// The larger of two values.
    public var greatest: String { engine == .sqlite ? "max" : "GREATEST" }
    /// Locks the rows read until the transaction ends (SQLite's single writer needs none).
    public var forUpdate: String { engine == .sqlite ? "" : " FOR UPDATE" }
    /// Appended to a change whose row count is read.
    public var countingChanges: String { engine == .sqlite ? "" : " RETURNING 1" }
    /// Orders text by bytes: SQLite's default; PostgreSQL's default follows the locale.
    public var bytewise: String { engine == .sqlite ? "" : " COLLATE \"C\"" }
    /// `OFFSET n` with no limit (SQLite needs a LIMIT before an OFFSET).
    public func offsetOnly(_ placeholder: String = "?") -> String {
        engine == .sqlite ? "LIMIT -1 OFFSET \(placeholder)" : "OFFSET \(placeholder)"
    }
    /// A text parameter where PostgreSQL cannot infer its type (a recursive CTE's seed).
    public var textParameter: String { engine == .sqlite ? "?" : "?::text" }

    /// `INSERT INTO t (…) VALUES (…)` that does nothing when the row is already there.
    public func insertIgnoringDuplicates(into table: String, _ columns: String, values: String) -> String {
        engine == .sqlite
            ? "INSERT OR IGNORE INTO \(table) (\(columns)) VALUES (\(values))"
            : "INSERT INTO \(table) (\(columns)) VALUES (\(values)) ON CONFLICT DO NOTHING"
    }

    /// A text field of a JSON object in a text column (`key` is a constant of the statement's:
    /// it may hold dots, never quotes).
    public func jsonField(_ column: String, _ key: String) -> String {
        engine == .sqlite ? "json_extract(\(column), '$.\"\(key)\"')" : "(\(column)::json ->> '\(key)')"
    }

    /// `'/' || name` of each row of `table`, concatenated in `order`.
    public func concatenatedPath(from source: String, order: String) -> String {
        engine == .sqlite
            ? "SELECT group_concat('/' || name, '') FROM (SELECT name FROM \(source) ORDER BY \(order))"
            : "SELECT string_agg('/' || name, '' ORDER BY \(order)) FROM \(source)"
    }
}
