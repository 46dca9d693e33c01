import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func createBrowserSession(_ s: BrowserSession, proof: LoginProof?, replacing: String?) async throws {
        try await write { db in

            if let proof, try db.one(statements.users.proof(proof), { UserSQL.proves($0, proof) }) != true {
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
            // Everything the first use issued ends: its session, and the browser session its
            // access tokens name (`sid`), with every other session that one signed in.
            try db.run(statements.sessions.delete(first, realmId: code.realmId))
            try db.run(statements.browserSessions.delete(code.browserSessionId, realmId: code.realmId))
            return .replayed
        }
    }

    public func deleteAuthorizationCode(hash: String) async throws {
        try await write { db in try db.run(statements.browserSessions.deleteCode(hash: hash)) }
    }

    public func deleteExpiredBrowserSessions(before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            try db.run(statements.browserSessions.deleteExpiredCodes(before: cutoff)) + db.run(statements.browserSessions.deleteExpired(before: cutoff))
                + db.run(statements.browserSessions.deleteExpiredDeviceAuthorizations(before: cutoff))
        }
    }

    public func createDeviceAuthorization(_ authorization: DeviceAuthorization) async throws -> Bool {
        try await write { db in
            let (inRealm, ofClient) = try db.one(statements.browserSessions.waitingDeviceAuthorizations(
                realmId: authorization.realmId, clientId: authorization.clientId, at: authorization.createdAt)) { ($0.int(0), $0.int(1)) } ?? (0, 0)
            guard inRealm < DeviceAuthorization.limitPerRealm, ofClient < DeviceAuthorization.limitPerClient else { return false }
            try db.run(statements.browserSessions.insert(authorization))
            return true
        }
    }

    public func deviceAuthorization(userCodeHash: String) async throws -> DeviceAuthorization? {
        try await readOne { db in try db.one(statements.browserSessions.deviceAuthorization(userCodeHash: userCodeHash), BrowserSessionSQL.decodeDevice) }
    }

    public func decideDeviceAuthorization(userCodeHash: String, approve: Bool, userId: String, browserSessionId: String, at time: Timestamp) async throws -> Bool {
        try await write { db in
            try db.run(statements.browserSessions.decide(userCodeHash: userCodeHash, approve: approve, userId: userId,
                                                          browserSessionId: browserSessionId, at: time)) == 1
        }
    }

    public func pollDeviceAuthorization(deviceCodeHash: String, clientId: String, at time: Timestamp) async throws -> DevicePoll {
        try await write { db in
            let sql = statements.browserSessions
            guard let found = try db.one(sql.deviceAuthorization(deviceCodeHash: deviceCodeHash), BrowserSessionSQL.decodeDevice),
                  found.clientId == clientId
            else { return .unknown }
            if found.expiresAt < time {
                try db.run(sql.deleteDeviceAuthorization(deviceCodeHash: deviceCodeHash))
                return .expired
            }
            switch found.status {
            case .approved:
                return try db.run(sql.deleteDeviceAuthorization(deviceCodeHash: deviceCodeHash)) == 1 ? .approved(found) : .unknown
            case .denied:
                try db.run(sql.deleteDeviceAuthorization(deviceCodeHash: deviceCodeHash))
                return .denied
            case .pending:
                if let last = found.lastPolledAt, last.adding(seconds: found.interval) > time {
                    try db.run(sql.polled(deviceCodeHash: deviceCodeHash, at: time, interval: min(found.interval + 5, 3600)))
                    return .slowDown
                }
                try db.run(sql.polled(deviceCodeHash: deviceCodeHash, at: time, interval: found.interval))
                return .pending(found)
            }
        }
    }
}
