import KeyportModel
import KeyportStore

/// Personal access tokens.
public struct PersonalAccessTokenSQL: Sendable {
    /// A token row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "user_id", "client_id", "name", "secret_hash", "grants", "expires_at", "created_at",
                                            "last_used_at", "last_used_ip", "origin"])
    let dialect: SQLDialect
    private let selectByHash = "SELECT \(PersonalAccessTokenSQL.columns.list()) FROM personal_access_tokens WHERE secret_hash = ?"
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    public func bySecretHash(_ hash: String) -> SQLStatement { SQLStatement(sql: selectByHash, values: [.text(hash)]) }
    public func byId(_ id: String, userId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.columns.list()) FROM personal_access_tokens WHERE id = ? AND user_id = ? AND realm_id = ?", [id, userId, realmId])
    }
    public func of(userId: String, realmId: String) -> SQLStatement {
        SQLStatement("""
            SELECT \(Self.columns.list()) FROM personal_access_tokens WHERE user_id = ? AND realm_id = ? ORDER BY created_at, id\(dialect.bytewise) LIMIT ?
            """, [userId, realmId, PersonalAccessToken.limitPerUser])
    }
    /// A registry client's tokens, every owner's (or one owner's), oldest first, paged.
    public func of(clientId: String, realmId: String, userId: String?, page: Page) -> SQLStatement {
        var sql = "SELECT \(Self.columns.list()) FROM personal_access_tokens WHERE client_id = ? AND realm_id = ?"
        var arguments: [any SQLBindable] = [clientId, realmId]
        if let userId {
            sql += " AND user_id = ?"
            arguments.append(userId)
        }
        return SQLStatement(sql + " ORDER BY created_at, id\(dialect.bytewise) LIMIT ? OFFSET ?", arguments + [page.max, page.first], cacheable: false)
    }
    /// One column, `n`.
    public func count(userId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT count(*) AS n FROM personal_access_tokens WHERE user_id = ? AND realm_id = ?", [userId, realmId])
    }
    public func insert(_ t: PersonalAccessToken) -> SQLStatement {
        SQLStatement("INSERT INTO personal_access_tokens (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))", [
            t.id, t.realmId, t.userId, t.clientId, t.name, t.secretHash, t.grants.map(JSONColumn.encode), t.expiresAt, t.createdAt,
            t.lastUsedAt, t.lastUsedIp, t.origin.rawValue,
        ])
    }
    public func touch(_ id: String, at time: Timestamp, ipAddress: String?) -> SQLStatement {
        SQLStatement("""
            UPDATE personal_access_tokens SET last_used_at = \(dialect.greatest)(coalesce(last_used_at, 0), ?), last_used_ip = coalesce(?, last_used_ip)
            WHERE id = ?
            """, [time, ipAddress.map { String($0.prefix(64)) }, id])
    }
    /// Counts the deleted row.
    public func delete(_ id: String, userId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM personal_access_tokens WHERE id = ? AND user_id = ? AND realm_id = ?\(dialect.countingChanges)", [id, userId, realmId])
    }
    public func delete(userId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM personal_access_tokens WHERE user_id = ? AND realm_id = ?", [userId, realmId])
    }
    /// A new password ends the tokens the old one made through self-service.
    public func deleteMadeByAccount(userId: String) -> SQLStatement {
        SQLStatement("DELETE FROM personal_access_tokens WHERE user_id = ? AND origin = 'account'", [userId])
    }

    public static func decode(_ row: some SQLRow) -> PersonalAccessToken {
        PersonalAccessToken(
            id: row.string(0), realmId: row.string(1), userId: row.string(2), clientId: row.string(3), name: row.string(4),
            secretHash: row.string(5), grants: row.text(6).map { JSONColumn.decode([String].self, $0, default: []) },
            expiresAt: row.optionalTimestamp(7), createdAt: row.timestamp(8), lastUsedAt: row.optionalTimestamp(9), lastUsedIp: row.text(10),
            origin: PersonalAccessToken.Origin(rawValue: row.string(11)) ?? .account)
    }
}
