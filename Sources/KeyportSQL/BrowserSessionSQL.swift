import KeyportModel
import KeyportStore

/// Browser (single sign-on) sessions and the authorization codes they approve.
public struct BrowserSessionSQL: Sendable {
    public static let columns = SQLColumns(["id", "realm_id", "user_id", "cookie_hash", "auth_time", "last_seen", "expires_at", "ip_address"])
    public static let codeColumns = SQLColumns(["code_hash", "realm_id", "client_id", "user_id", "browser_session_id", "redirect_uri", "scope",
                                                "nonce", "code_challenge", "code_challenge_method", "created_at", "expires_at",
                                                "redeemed_session_id"])
    let dialect: SQLDialect
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    public func insert(_ s: BrowserSession) -> SQLStatement {
        SQLStatement("INSERT INTO browser_sessions (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))",
                     [s.id, s.realmId, s.userId, s.cookieHash, s.authTime, s.lastSeen, s.expiresAt, s.ipAddress])
    }
    /// The cap: a user's least recently seen browser sessions beyond the limit go, in the creating transaction.
    public func trim(after s: BrowserSession) -> SQLStatement {
        SQLStatement("""
            DELETE FROM browser_sessions WHERE id IN (
              SELECT id FROM browser_sessions WHERE user_id = ? AND realm_id = ?
              ORDER BY last_seen DESC, auth_time DESC, id\(dialect.bytewise) DESC \(dialect.offsetOnly()))
            """, [s.userId, s.realmId, BrowserSession.limitPerUser])
    }
    public func byCookieHash(_ hash: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.columns.list()) FROM browser_sessions WHERE cookie_hash = ?", [hash])
    }
    public func byId(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.columns.list()) FROM browser_sessions WHERE id = ? AND realm_id = ?", [id, realmId])
    }
    public func of(userId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.columns.list()) FROM browser_sessions WHERE user_id = ? AND realm_id = ? ORDER BY auth_time, id\(dialect.bytewise) LIMIT ?",
                     [userId, realmId, BrowserSession.limitPerUser])
    }
    public func touch(_ id: String, at time: Timestamp, ipAddress: String?) -> SQLStatement {
        SQLStatement("UPDATE browser_sessions SET last_seen = \(dialect.greatest)(last_seen, ?), ip_address = coalesce(?, ip_address) WHERE id = ?",
                     [time, ipAddress.map { String($0.prefix(64)) }, id])
    }
    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM browser_sessions WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }
    public func delete(userId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM browser_sessions WHERE user_id = ? AND realm_id = ?\(dialect.countingChanges)", [userId, realmId])
    }
    /// Past their hard end, or idle past their realm's `ssoSessionIdleTimeout` (refresh_token_lifespan).
    public func deleteExpired(before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("""
            DELETE FROM browser_sessions WHERE expires_at < ? OR id IN (
              SELECT b.id FROM browser_sessions b JOIN realms r ON r.id = b.realm_id
              WHERE b.last_seen + r.refresh_token_lifespan * 1000 < ?)\(dialect.countingChanges)
            """, [cutoff, cutoff])
    }

    // MARK: Authorization codes

    public func insert(_ c: AuthorizationCode) -> SQLStatement {
        SQLStatement("INSERT INTO authorization_codes (\(Self.codeColumns.list())) VALUES (\(Self.codeColumns.placeholders))", [
            c.codeHash, c.realmId, c.clientId, c.userId, c.browserSessionId, c.redirectUri, c.scope, c.nonce, c.codeChallenge,
            c.codeChallengeMethod, c.createdAt, c.expiresAt, c.redeemedSessionId,
        ])
    }
    /// The cap: a browser session's oldest codes beyond the limit go, in the creating transaction.
    public func trimCodes(after c: AuthorizationCode) -> SQLStatement {
        SQLStatement("""
            DELETE FROM authorization_codes WHERE code_hash IN (
              SELECT code_hash FROM authorization_codes WHERE browser_session_id = ?
              ORDER BY created_at DESC, code_hash\(dialect.bytewise) DESC \(dialect.offsetOnly()))
            """, [c.browserSessionId, AuthorizationCode.limitPerBrowserSession])
    }
    public func code(hash: String, locking: Bool = false) -> SQLStatement {
        SQLStatement("SELECT \(Self.codeColumns.list()) FROM authorization_codes WHERE code_hash = ?\(locking ? dialect.forUpdate : "")", [hash])
    }
    /// Spends a live code: one redemption wins (the count says which).
    public func spend(hash: String, sessionId: String, at time: Timestamp) -> SQLStatement {
        SQLStatement("""
            UPDATE authorization_codes SET redeemed_session_id = ?
            WHERE code_hash = ? AND redeemed_session_id IS NULL AND expires_at >= ?\(dialect.countingChanges)
            """, [sessionId, hash, time])
    }
    public func deleteCode(hash: String) -> SQLStatement {
        SQLStatement("DELETE FROM authorization_codes WHERE code_hash = ?\(dialect.countingChanges)", [hash])
    }
    public func deleteExpiredCodes(before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("DELETE FROM authorization_codes WHERE expires_at < ?\(dialect.countingChanges)", [cutoff])
    }

    // MARK: Device authorizations (RFC 8628)

    public static let deviceColumns = SQLColumns(["device_code_hash", "user_code_hash", "realm_id", "client_id", "scope", "created_at",
                                                  "expires_at", "poll_interval", "last_polled_at", "status", "user_id", "browser_session_id"])

    public func insert(_ d: DeviceAuthorization) -> SQLStatement {
        SQLStatement("INSERT INTO device_authorizations (\(Self.deviceColumns.list())) VALUES (\(Self.deviceColumns.placeholders))", [
            d.deviceCodeHash, d.userCodeHash, d.realmId, d.clientId, d.scope, d.createdAt, d.expiresAt, d.interval, d.lastPolledAt,
            d.status.rawValue, d.userId, d.browserSessionId,
        ])
    }
    /// Live (unexpired) device sign-ins waiting in a realm, and of one client.
    public func waitingDeviceAuthorizations(realmId: String, clientId: String, at time: Timestamp) -> SQLStatement {
        SQLStatement("""
            SELECT count(*), coalesce(sum(CASE WHEN client_id = ? THEN 1 ELSE 0 END), 0)
            FROM device_authorizations WHERE realm_id = ? AND expires_at >= ?
            """, [clientId, realmId, time])
    }
    public func deviceAuthorization(userCodeHash: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.deviceColumns.list()) FROM device_authorizations WHERE user_code_hash = ?", [userCodeHash])
    }
    public func deviceAuthorization(deviceCodeHash: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.deviceColumns.list()) FROM device_authorizations WHERE device_code_hash = ?\(dialect.forUpdate)", [deviceCodeHash])
    }
    /// A person's decision, once, while it waits and lives.
    public func decide(userCodeHash: String, approve: Bool, userId: String, browserSessionId: String, at time: Timestamp) -> SQLStatement {
        SQLStatement("""
            UPDATE device_authorizations SET status = ?, user_id = ?, browser_session_id = ?
            WHERE user_code_hash = ? AND status = 'pending' AND expires_at >= ?\(dialect.countingChanges)
            """, [approve ? "approved" : "denied", userId, browserSessionId, userCodeHash, time])
    }
    public func polled(deviceCodeHash: String, at time: Timestamp, interval: Int) -> SQLStatement {
        SQLStatement("UPDATE device_authorizations SET last_polled_at = ?, poll_interval = ? WHERE device_code_hash = ?", [time, interval, deviceCodeHash])
    }
    public func deleteDeviceAuthorization(deviceCodeHash: String) -> SQLStatement {
        SQLStatement("DELETE FROM device_authorizations WHERE device_code_hash = ?\(dialect.countingChanges)", [deviceCodeHash])
    }
    public func deleteExpiredDeviceAuthorizations(before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("DELETE FROM device_authorizations WHERE expires_at < ?\(dialect.countingChanges)", [cutoff])
    }

    public static func decodeDevice(_ row: some SQLRow) -> DeviceAuthorization {
        DeviceAuthorization(deviceCodeHash: row.string(0), userCodeHash: row.string(1), realmId: row.string(2), clientId: row.string(3),
                            scope: row.string(4), createdAt: row.timestamp(5), expiresAt: row.timestamp(6), interval: row.int(7),
                            lastPolledAt: row.optionalTimestamp(8), status: DeviceAuthorization.Status(rawValue: row.string(9)) ?? .denied,
                            userId: row.text(10), browserSessionId: row.text(11))
    }

    public static func decode(_ row: some SQLRow) -> BrowserSession {
        BrowserSession(id: row.string(0), realmId: row.string(1), userId: row.string(2), cookieHash: row.string(3), authTime: row.timestamp(4),
                       lastSeen: row.timestamp(5), expiresAt: row.timestamp(6), ipAddress: row.text(7))
    }

    public static func decodeCode(_ row: some SQLRow) -> AuthorizationCode {
        AuthorizationCode(codeHash: row.string(0), realmId: row.string(1), clientId: row.string(2), userId: row.string(3),
                          browserSessionId: row.string(4), redirectUri: row.string(5), scope: row.string(6), nonce: row.text(7),
                          codeChallenge: row.text(8), codeChallengeMethod: row.text(9), createdAt: row.timestamp(10),
                          expiresAt: row.timestamp(11), redeemedSessionId: row.text(12))
    }
}
