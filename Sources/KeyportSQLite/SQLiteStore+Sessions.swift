import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func createSession(_ s: Session, proof: LoginProof?) async throws {
        try await write { db in
            if let proof, try db.one(statements.users.proof(proof), { UserSQL.proves($0, proof) }) != true {
                throw StoreError.conflict(.credentialChanged)
            }
            try db.run(statements.sessions.insert(s))
            try db.run(statements.sessions.trim(after: s))
        }
    }

    public func session(refreshTokenHash: String) async throws -> Session? {
        try await readOne { db in try db.one(statements.sessions.byRefreshTokenHash(refreshTokenHash), SessionSQL.decode) }
    }

    public func session(id: String, realmId: String) async throws -> Session? {
        try await read { db in try db.one(statements.sessions.byId(id, realmId: realmId), SessionSQL.decode) }
    }

    public func sessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> [Session] {
        try await read { db in try db.all(statements.sessions.of(userId: userId, clientId: clientId, realmId: realmId, offline: offline), SessionSQL.decode) }
    }

    public func sessions(realmId: String, userId: String?, clientId: String?, offline: Bool, page: Page) async throws -> [Session] {
        try await read { db in try db.all(statements.sessions.page(realmId: realmId, userId: userId, clientId: clientId, offline: offline, page), SessionSQL.decode) }
    }

    public func sessionCountsByClient(realmId: String, now: Timestamp, limit: Int) async throws -> [ClientSessionCount] {
        try await read { db in try db.all(statements.sessions.countsByClient(realmId: realmId, now: now, limit: limit), SessionSQL.decodeCount) }
    }

    public func touchSession(id: String, at time: Timestamp, ipAddress: String?) async throws {
        try await write { db in try db.run(statements.sessions.touch(id, at: time, ipAddress: ipAddress)) }
    }

    public func deleteSession(id: String, realmId: String) async throws -> Bool {
        try await write { db in try db.run(statements.sessions.delete(id, realmId: realmId)) == 1 }
    }

    public func deleteSessions(userId: String, realmId: String) async throws -> Int {
        try await write { db in
            try db.run(statements.sessions.delete(userId: userId, realmId: realmId)) + db.run(statements.browserSessions.delete(userId: userId, realmId: realmId))
        }
    }

    public func deleteSessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> Int {
        try await write { db in try db.run(statements.sessions.delete(userId: userId, clientId: clientId, realmId: realmId, offline: offline)) }
    }

    public func deleteExpiredSessions(before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            try db.run(statements.sessions.deleteExpired(before: cutoff)) + db.run(statements.sessions.deleteExpiredOffline(before: cutoff))
        }
    }
}
