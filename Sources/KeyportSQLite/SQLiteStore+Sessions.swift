import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createSession(_ s: Session) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO sessions (id, realm_id, user_id, client_id, refresh_token_hash, scope, created_at, last_refresh, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [s.id, s.realmId, s.userId, s.clientId, s.refreshTokenHash, s.scope, s.createdAt.millisecondsSince1970,
                                 s.lastRefresh.millisecondsSince1970, s.expiresAt.millisecondsSince1970])
        }
    }

    public func session(refreshTokenHash: String) async throws -> Session? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE refresh_token_hash = ?", arguments: [refreshTokenHash]).map(Self.session)
        }
    }

    public func session(id: String, realmId: String) async throws -> Session? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ? AND realm_id = ?", arguments: [id, realmId]).map(Self.session)
        }
    }

    static func session(_ row: Row) -> Session {
        Session(id: row["id"], realmId: row["realm_id"], userId: row["user_id"], clientId: row["client_id"],
                refreshTokenHash: row["refresh_token_hash"], scope: row["scope"], createdAt: row.timestamp("created_at"),
                lastRefresh: row.timestamp("last_refresh"), expiresAt: row.timestamp("expires_at"))
    }

    public func touchSession(id: String, at time: Timestamp) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE sessions SET last_refresh = max(last_refresh, ?) WHERE id = ?", arguments: [time.millisecondsSince1970, id])
        }
    }

    public func deleteSession(id: String, realmId: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE id = ? AND realm_id = ?", arguments: [id, realmId])
        }
    }

    public func deleteSessions(userId: String, realmId: String) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
            return db.changesCount
        }
    }

    public func deleteExpiredSessions(before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [cutoff.millisecondsSince1970])
            return db.changesCount
        }
    }
}
