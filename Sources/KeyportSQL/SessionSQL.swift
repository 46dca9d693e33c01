import KeyportModel
import KeyportStore

/// Refresh-token sessions (online and offline).
public struct SessionSQL: Sendable {
    /// A session row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "user_id", "client_id", "refresh_token_hash", "scope", "created_at",
                                            "last_refresh", "expires_at", "offline", "ip_address", "browser_session_id"])
    let dialect: SQLDialect
    private let selectByHash = "SELECT \(SessionSQL.columns.list()) FROM sessions WHERE refresh_token_hash = ?"
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    public func byRefreshTokenHash(_ hash: String) -> SQLStatement { SQLStatement(sql: selectByHash, values: [.text(hash)]) }
    public func byId(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.columns.list()) FROM sessions WHERE id = ? AND realm_id = ?", [id, realmId])
    }
    public func of(userId: String, clientId: String, realmId: String, offline: Bool) -> SQLStatement {
        SQLStatement("""
            SELECT \(Self.columns.list()) FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?
            ORDER BY created_at, id\(dialect.bytewise) LIMIT ?
            """, [userId, clientId, offline, realmId, Session.limitPerUserAndClient])
    }
    /// The sessions a browser session signed in (at most a thousand: a browser signs in each client once).
    public func of(browserSessionId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.columns.list()) FROM sessions WHERE browser_session_id = ? AND realm_id = ? ORDER BY created_at, id\(dialect.bytewise) LIMIT 1000",
                     [browserSessionId, realmId])
    }
    /// A page of a realm's sessions of one user (any client) or of one client (any user),
    /// online or offline, oldest first.
    public func page(realmId: String, userId: String?, clientId: String?, offline: Bool, _ page: Page) -> SQLStatement {
        var sql = "SELECT \(Self.columns.list()) FROM sessions WHERE realm_id = ? AND offline = ?"
        var arguments: [any SQLBindable] = [realmId, offline]
        if let userId { sql += " AND user_id = ?"; arguments.append(userId) }
        if let clientId { sql += " AND client_id = ?"; arguments.append(clientId) }
        return SQLStatement(sql + " ORDER BY created_at, id\(dialect.bytewise) LIMIT ? OFFSET ?", arguments + [page.max, page.first], cacheable: false)
    }
    /// Per client of the realm holding any: its unexpired online sessions and its offline ones
    /// (offline sessions end by the realm's settings, swept on schedule). At most `limit` clients.
    public func countsByClient(realmId: String, now: Timestamp, limit: Int) -> SQLStatement {
        SQLStatement("""
            SELECT client_id,
              sum(CASE WHEN offline = FALSE AND expires_at > ? THEN 1 ELSE 0 END) AS active,
              sum(CASE WHEN offline = TRUE THEN 1 ELSE 0 END) AS offline_count
            FROM sessions WHERE realm_id = ? GROUP BY client_id ORDER BY client_id LIMIT ?
            """, [now, realmId, limit])
    }
    public static func decodeCount(_ row: some SQLRow) -> ClientSessionCount {
        ClientSessionCount(clientId: row.string(0), active: row.int(1), offline: row.int(2))
    }
    public func insert(_ s: Session) -> SQLStatement {
        SQLStatement("INSERT INTO sessions (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))", [
            s.id, s.realmId, s.userId, s.clientId, s.refreshTokenHash, s.scope, s.createdAt, s.lastRefresh, s.expiresAt, s.offline, s.ipAddress, s.browserSessionId,
        ])
    }
    /// The cap: the least recently used beyond the limit go, in the creating transaction.
    public func trim(after s: Session) -> SQLStatement {
        SQLStatement("""
            DELETE FROM sessions WHERE id IN (
              SELECT id FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?
              ORDER BY last_refresh DESC, created_at DESC, id\(dialect.bytewise) DESC \(dialect.offsetOnly()))
            """, [s.userId, s.clientId, s.offline, s.realmId, Session.limitPerUserAndClient])
    }
    public func touch(_ id: String, at time: Timestamp, ipAddress: String?) -> SQLStatement {
        SQLStatement("UPDATE sessions SET last_refresh = \(dialect.greatest)(last_refresh, ?), ip_address = coalesce(?, ip_address) WHERE id = ?",
                     [time, ipAddress.map { String($0.prefix(64)) }, id])
    }
    /// Counts what it deleted (as every delete here).
    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM sessions WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }
    public func delete(userId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM sessions WHERE user_id = ? AND realm_id = ?\(dialect.countingChanges)", [userId, realmId])
    }
    public func delete(userId: String, clientId: String, realmId: String, offline: Bool) -> SQLStatement {
        SQLStatement("DELETE FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?\(dialect.countingChanges)",
                     [userId, clientId, offline, realmId])
    }
    public func deleteExpired(before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("DELETE FROM sessions WHERE expires_at < ?\(dialect.countingChanges)", [cutoff])
    }
    /// Offline sessions end by their realm's settings as they are now (`Realm.offlineSessionEnd`).
    public func deleteExpiredOffline(before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("""
            DELETE FROM sessions WHERE offline = TRUE AND id IN (
              SELECT s.id FROM sessions s JOIN realms r ON r.id = s.realm_id
              WHERE s.offline = TRUE AND (s.last_refresh + r.offline_session_idle_timeout * 1000 < ?
                OR (r.offline_session_max_lifespan_enabled = TRUE AND s.created_at + r.offline_session_max_lifespan * 1000 < ?)))\(dialect.countingChanges)
            """, [cutoff, cutoff])
    }

    public static func decode(_ row: some SQLRow) -> Session {
        Session(id: row.string(0), realmId: row.string(1), userId: row.string(2), clientId: row.string(3), refreshTokenHash: row.string(4),
                scope: row.string(5), createdAt: row.timestamp(6), lastRefresh: row.timestamp(7), expiresAt: row.timestamp(8),
                offline: row.bool(9), ipAddress: row.text(10), browserSessionId: row.text(11))
    }
}
