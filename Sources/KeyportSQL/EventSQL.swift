import Foundation
import KeyportModel
import KeyportStore

/// The event log.
public struct EventSQL: Sendable {
    /// An event row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "time", "type", "client_id", "user_id", "ip_address", "error", "details"])
    let dialect: SQLDialect
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    private let insertText = "INSERT INTO events (\(EventSQL.columns.list())) VALUES (\(EventSQL.columns.placeholders))"

    public func insert(_ e: Event) -> SQLStatement {
        SQLStatement(insertText, [e.id, e.realmId, e.time, e.type, e.clientId, e.userId, e.ipAddress, e.error, JSONColumn.encode(e.details)])
    }
    /// The oldest go first once a realm holds more than `limit`. Ordered by time alone, so that
    /// the realm's (realm_id, time) index is walked, never sorted.
    public func trim(realmId: String, keeping limit: Int) -> SQLStatement {
        let key = dialect.engine == .sqlite ? "rowid" : "id"
        return SQLStatement("DELETE FROM events WHERE \(key) IN (SELECT \(key) FROM events WHERE realm_id = ? ORDER BY time DESC \(dialect.offsetOnly()))",
                            [realmId, max(0, limit)])
    }
    public func matching(_ q: EventQuery, realmId: String, page: Page) -> SQLStatement {
        var clauses = ["realm_id = ?"]
        var arguments: [any SQLBindable] = [realmId]
        if !q.types.isEmpty {
            clauses.append("type IN (\(SQLText.placeholders(q.types.count)))")
            arguments += q.types as [any SQLBindable]
        }
        if let user = q.userId { clauses.append("user_id = ?"); arguments.append(user) }
        if let client = q.clientId { clauses.append("client_id = ?"); arguments.append(client) }
        if let from = q.from { clauses.append("time >= ?"); arguments.append(from) }
        if let to = q.to { clauses.append("time <= ?"); arguments.append(to) }
        return SQLStatement("""
            SELECT \(Self.columns.list()) FROM events WHERE \(clauses.joined(separator: " AND "))
            ORDER BY time DESC, id\(dialect.bytewise) LIMIT ? OFFSET ?
            """, arguments + [page.max, page.first], cacheable: false)
    }
    /// Counts what it deleted.
    public func delete(realmId: String, before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("DELETE FROM events WHERE realm_id = ? AND time < ?\(dialect.countingChanges)", [realmId, cutoff])
    }
    /// Counts what it deleted.
    public func delete(realmId: String, before cutoff: Timestamp, authMethod: String) -> SQLStatement {
        SQLStatement("DELETE FROM events WHERE realm_id = ? AND time < ? AND \(dialect.jsonField("details", "auth_method")) = ?\(dialect.countingChanges)",
                     [realmId, cutoff, authMethod])
    }

    public static func decode(_ row: some SQLRow) -> Event {
        Event(id: row.string(0), realmId: row.string(1), time: row.timestamp(2), type: row.string(3), clientId: row.text(4), userId: row.text(5),
              ipAddress: row.text(6), error: row.text(7), details: row.json(8, default: [:]))
    }
}
