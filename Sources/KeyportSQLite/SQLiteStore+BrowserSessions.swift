import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func createBrowserSession(_ s: BrowserSession, proof: LoginProof?, replacing: String?) async throws {
        try await write { db in

            if let proof, !UserSQL.proves(try db.one(statements.users.proof(proof)) { $0 }, proof) {
                throw StoreError.conflict(.credentialChanged)
            }
            if let replacing { try db.run(statements.browserSessions.delete(replacing, realmId: s.realmId)) }
            try db.run(statements.browserSessions.insert(s))
            try db.run(statements.browserSessions.trim(after: s))
        }
    }

    public func browserSession(cookieHash: String) async throws -> BrowserSession? {
        try await readOne { db in try db.one(statements.browserSessions.byCookieHash(cookieHash), BrowserSessionSQL.decode) }
    }

    public func browserSession(id: String, realmId: String) async throws -> BrowserSession? {
        try await readOne { db in try db.one(statements.browserSessions.byId(id, realmId: realmId), BrowserSessionSQL.decode) }
    }

    public func browserSessions(userId: String, realmId: String) async throws -> [BrowserSession] {
        try await read { db in try db.all(statements.browserSessions.of(userId: userId, realmId: realmId), BrowserSessionSQL.decode) }
    }

    public func sessions(browserSessionId: String, realmId: String) async throws -> [Session] {
        try await read { db in try db.all(statements.sessions.of(browserSessionId: browserSessionId, realmId: realmId), SessionSQL.decode) }
    }

    public func touchBrowserSession(id: String, at time: Timestamp, ipAddress: String?) async throws {
        try await write { db in try db.run(statements.browserSessions.touch(id, at: time, ipAddress: ipAddress)) }
    }

    public func deleteBrowserSession(id: String, realmId: String) async throws -> Bool {
        try await write { db in try db.run(statements.browserSessions.delete(id, realmId: realmId)) == 1 }
    }

    public func createAuthorizationCode(_ code: AuthorizationCode) async throws {
        try await write { db in
            try db.run(statements.browserSessions.insert(code))
            try db.run(statements.browserSessions.trimCodes(after: code))
        }
    }

    public func authorizationCode(hash: String) async throws -> AuthorizationCode? {
        try await readOne { db in try db.one(statements.browserSessions.code(hash: hash), BrowserSessionSQL.decodeCode) }
    }

    public func redeemAuthorizationCode(hash: String, session: Session, at time: Timestamp) async throws -> CodeRedemption {
        try await write { db in
            if try db.run(statements.browserSessions.spend(hash: hash, sessionId: session.id, at: time)) == 1 {
                try db.run(statements.sessions.insert(session))
                try db.run(statements.sessions.trim(after: session))
                return .redeemed
            }
            guard let code = try db.one(statements.browserSessions.code(hash: hash, locking: true), BrowserSessionSQL.decodeCode) else { return .unknown }
            try db.run(statements.browserSessions.deleteCode(hash: hash))
            guard let first = code.redeemedSessionId else { return .unknown }
            try db.run(statements.sessions.delete(first, realmId: code.realmId))
            return .replayed
        }
    }

    public func deleteAuthorizationCode(hash: String) async throws {
        try await write { db in try db.run(statements.browserSessions.deleteCode(hash: hash)) }
    }

    public func deleteExpiredBrowserSessions(before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            try db.run(statements.browserSessions.deleteExpiredCodes(before: cutoff)) + db.run(statements.browserSessions.deleteExpired(before: cutoff))
        }
    }
}
