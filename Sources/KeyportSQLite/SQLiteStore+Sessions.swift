import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createSession(_ s: Session, proof: LoginProof?) async throws {
        try await write { db in
            if let proof {
                let row = try Row.fetchOne(try db.cachedStatement(sql: """
                    SELECT u.not_before AS not_before, c.id AS credential FROM users u
                    LEFT JOIN credentials c ON c.id = ? AND c.user_id = u.id WHERE u.id = ?
                    """), arguments: [proof.credentialId, proof.userId])
                let notBefore: Int64? = row?["not_before"]
                let credential: String? = row?["credential"]
                guard credential != nil, let notBefore, notBefore <= proof.checkedAt.millisecondsSince1970 else {
                    throw StoreError.conflict(.credentialChanged)
                }
            }
            try db.execute(sql: """
                INSERT INTO sessions (id, realm_id, user_id, client_id, refresh_token_hash, scope, created_at, last_refresh, expires_at,
                  offline, ip_address)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [s.id, s.realmId, s.userId, s.clientId, s.refreshTokenHash, s.scope, s.createdAt.millisecondsSince1970,
                                 s.lastRefresh.millisecondsSince1970, s.expiresAt.millisecondsSince1970, s.offline, s.ipAddress])
            // The cap: the least recently used beyond the limit go, in this same transaction.
            try db.execute(sql: """
                DELETE FROM sessions WHERE id IN (
                  SELECT id FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?
                  ORDER BY last_refresh DESC, created_at DESC, id DESC LIMIT -1 OFFSET ?)
                """, arguments: [s.userId, s.clientId, s.offline, s.realmId, Session.limitPerUserAndClient])
        }
    }

    public func session(refreshTokenHash: String) async throws -> Session? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM sessions WHERE refresh_token_hash = ?"), arguments: [refreshTokenHash]).map(Self.session)
        }
    }

    public func session(id: String, realmId: String) async throws -> Session? {
        try await read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM sessions WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]).map(Self.session)
        }
    }

    public func sessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> [Session] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?
                ORDER BY created_at, id LIMIT ?
                """, arguments: [userId, clientId, offline, realmId, Session.limitPerUserAndClient]).map(Self.session)
        }
    }

    static func session(_ row: Row) -> Session {
        Session(id: row["id"], realmId: row["realm_id"], userId: row["user_id"], clientId: row["client_id"],
                refreshTokenHash: row["refresh_token_hash"], scope: row["scope"], createdAt: row.timestamp("created_at"),
                lastRefresh: row.timestamp("last_refresh"), expiresAt: row.timestamp("expires_at"),
                offline: row.bool("offline"), ipAddress: row["ip_address"])
    }

    public func touchSession(id: String, at time: Timestamp, ipAddress: String?) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE sessions SET last_refresh = max(last_refresh, ?), ip_address = coalesce(?, ip_address) WHERE id = ?",
                           arguments: [time.millisecondsSince1970, ipAddress.map { String($0.prefix(64)) }, id])
        }
    }

    public func deleteSession(id: String, realmId: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE id = ? AND realm_id = ?", arguments: [id, realmId])
            return db.changesCount == 1
        }
    }

    public func deleteSessions(userId: String, realmId: String) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
            return db.changesCount
        }
    }

    public func deleteSessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?",
                           arguments: [userId, clientId, offline, realmId])
            return db.changesCount
        }
    }

    public func deleteExpiredSessions(before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            let now = cutoff.millisecondsSince1970
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [now])
            var count = db.changesCount
            // Offline sessions end by their realm's settings as they are now (Realm.offlineSessionEnd).
            try db.execute(sql: """
                DELETE FROM sessions WHERE offline = 1 AND id IN (
                  SELECT s.id FROM sessions s JOIN realms r ON r.id = s.realm_id
                  WHERE s.offline = 1 AND (s.last_refresh + r.offline_session_idle_timeout * 1000 < ?
                    OR (r.offline_session_max_lifespan_enabled = 1 AND s.created_at + r.offline_session_max_lifespan * 1000 < ?)))
                """, arguments: [now, now])
            count += db.changesCount
            return count
        }
    }
}
