import Foundation
import KeyportModel
import KeyportStore

/// The event log.
public struct EventSQL: Sendable {
    /// An event row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "time", "type", "client_id", "user_id", "ip_address", "error", "details"])
    let dialect: SQLDialect
    let log: RealmLogSQL
    public init(_ dialect: SQLDialect) { self.dialect = dialect; log = RealmLogSQL(table: "events", dialect: dialect) }

    private let insertText = "INSERT INTO events (\(EventSQL.columns.list())) VALUES (\(EventSQL.columns.placeholders))"

    public func insert(_ e: Event) -> SQLStatement {
        SQLStatement(insertText, [e.id, e.realmId, e.time, e.type, e.clientId, e.userId, e.ipAddress, e.error, JSONColumn.encode(e.details)])
    }
    /// The oldest go first once a realm holds more than `limit`. Ordered by time alone, so that
    /// the realm's (realm_id, time) index is walked, never sorted.
    public func trim(realmId: String, keeping limit: Int) -> SQLStatement { log.trim(realmId: realmId, keeping: limit) }
    public func matching(_ q: EventQuery, realmId: String, page: Page) -> SQLStatement {
        var clauses = ["realm_id = ?"]
        var arguments: [any SQLBindable] = [realmId]
        if !q.types.isEmpty {
            clauses.append("type IN (\(SQLText.placeholders(q.types.count)))")
            arguments += q.types as [any SQLBindable]
        }
        if let user = q.userId { clauses.append("user_id = ?"); arguments.append(user) }
        if let client = q.clientId { clauses.append("client_id = ?"); arguments.append(client) }
        if let address = q.ipAddress { clauses.append("ip_address = ?"); arguments.append(address) }
        if let from = q.from { clauses.append("time >= ?"); arguments.append(from) }
        if let to = q.to { clauses.append("time <= ?"); arguments.append(to) }
        return log.newestFirst(Self.columns, where: clauses, arguments, page: page)
    }
    /// Counts what it deleted.
    public func delete(realmId: String, before cutoff: Timestamp) -> SQLStatement { log.delete(realmId: realmId, before: cutoff) }
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

/// The admin event log (Keycloak's admin events).
public struct AdminEventSQL: Sendable {
    /// An admin event row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "time", "operation_type", "resource_type", "resource_path", "representation",
                                            "error", "auth_realm_id", "auth_client_id", "auth_user_id", "auth_ip_address"])
    let dialect: SQLDialect
    let log: RealmLogSQL
    public init(_ dialect: SQLDialect) { self.dialect = dialect; log = RealmLogSQL(table: "admin_events", dialect: dialect) }

    public func insert(_ e: AdminEvent) -> SQLStatement {
        SQLStatement("INSERT INTO admin_events (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))", [
            e.id, e.realmId, e.time, e.operationType, e.resourceType, e.resourcePath, e.representation, e.error,
            e.authRealmId, e.authClientId, e.authUserId, e.authIpAddress,
        ])
    }
    /// The oldest go first once a realm holds more than `limit` (its (realm_id, time) index walked).
    public func trim(realmId: String, keeping limit: Int) -> SQLStatement { log.trim(realmId: realmId, keeping: limit) }
    public func matching(_ q: AdminEventQuery, realmId: String, page: Page) -> SQLStatement {
        var clauses = ["realm_id = ?"]
        var arguments: [any SQLBindable] = [realmId]
        for (column, values) in [("operation_type", q.operationTypes), ("resource_type", q.resourceTypes)] where !values.isEmpty {
            clauses.append("\(column) IN (\(SQLText.placeholders(values.count)))")
            arguments += values as [any SQLBindable]
        }
        if let path = q.resourcePath, !path.isEmpty {
            if path.hasSuffix("*") {
                clauses.append("resource_path LIKE ? ESCAPE '\\'")
                arguments.append(SQLText.escapeLike(String(path.dropLast())) + "%")
            } else {
                clauses.append("resource_path = ?")
                arguments.append(path)
            }
        }
        for (column, value) in [("auth_realm_id", q.authRealmId), ("auth_client_id", q.authClientId), ("auth_user_id", q.authUserId),
                                ("auth_ip_address", q.authIpAddress)] {
            if let value, !value.isEmpty { clauses.append("\(column) = ?"); arguments.append(value) }
        }
        if let from = q.from { clauses.append("time >= ?"); arguments.append(from) }
        if let to = q.to { clauses.append("time <= ?"); arguments.append(to) }
        return log.newestFirst(Self.columns, where: clauses, arguments, page: page)
    }
    /// Counts what it deleted.
    public func delete(realmId: String, before cutoff: Timestamp) -> SQLStatement { log.delete(realmId: realmId, before: cutoff) }

    public static func decode(_ row: some SQLRow) -> AdminEvent {
        AdminEvent(id: row.string(0), realmId: row.string(1), time: row.timestamp(2), operationType: row.string(3), resourceType: row.string(4),
                   resourcePath: row.string(5), representation: row.text(6), error: row.text(7), authRealmId: row.text(8),
                   authClientId: row.text(9), authUserId: row.text(10), authIpAddress: row.text(11))
    }
}

/// What the realm's three logs (`events`, `admin_events`, `registry_events`) share: rows of a
/// realm ordered by `time`, read newest first and deleted oldest first, always along their
/// (realm_id, time) index.
struct RealmLogSQL: Sendable {
    let table: String
    let dialect: SQLDialect

    /// The oldest go once a realm holds more than `limit`; `counting`: the statement counts them.
    func trim(realmId: String, keeping limit: Int, counting: Bool = false) -> SQLStatement {
        let key = dialect.engine == .sqlite ? "rowid" : "id"
        return SQLStatement("""
            DELETE FROM \(table) WHERE \(key) IN (SELECT \(key) FROM \(table) WHERE realm_id = ? ORDER BY time DESC \(dialect.offsetOnly()))\(counting ? dialect.countingChanges : "")
            """, [realmId, max(0, limit)])
    }

    /// Counts what it deleted.
    func delete(realmId: String, before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("DELETE FROM \(table) WHERE realm_id = ? AND time < ?\(dialect.countingChanges)", [realmId, cutoff])
    }

    /// `columns` of the rows matching `clauses` (the first of them `realm_id = ?`), newest first, one page.
    func newestFirst(_ columns: SQLColumns, where clauses: [String], _ arguments: [any SQLBindable], page: Page) -> SQLStatement {
        SQLStatement("""
            SELECT \(columns.list()) FROM \(table) WHERE \(clauses.joined(separator: " AND "))
            ORDER BY time DESC, id\(dialect.bytewise) LIMIT ? OFFSET ?
            """, arguments + [page.max, page.first], cacheable: false)
    }
}
