import KeyportModel
import KeyportSQL
import KeyportStore

extension PostgresStore {
    public func loginFailures(userId: String, realmId: String) async throws -> LoginFailures? {
        try await read { db in try await db.one(statements.failures.of(userId: userId, realmId: realmId), LoginFailureSQL.decode) }
    }

    public func recordLoginFailure(userId: String, realmId: String, at time: Timestamp, policy: BruteForcePolicy,
                                   ipAddress: String?) async throws -> LoginFailureOutcome? {
        try await write { db in
            // The user's row is locked first (enabledForUpdate): failures on several nodes at once are each counted; N
            // concurrent failures are N increments, never N copies of the same n + 1.
            let enabled = try await db.one(statements.users.enabledForUpdate(userId, realmId: realmId)) { $0.bool(0) }
            // Read whether or not the user exists: an unknown user costs the same statements.
            let previous = try await db.one(statements.failures.of(userId: userId, realmId: realmId), LoginFailureSQL.decode)
            guard let enabled else { return nil }
            let current = previous ?? LoginFailures(userId: userId, realmId: realmId)
            guard let outcome = LoginFailureOutcome.next(after: current, at: time, policy: policy, ipAddress: ipAddress, userEnabled: enabled) else {
                return LoginFailureOutcome(failures: current, wasLocked: true, disabledUser: false)
            }
            try await db.run(statements.failures.save(outcome.failures))
            if outcome.disabledUser {
                try await db.run(statements.users.disable(userId, realmId: realmId, at: time))
                try await db.run(statements.sessions.delete(userId: userId, realmId: realmId))
                try await db.run(statements.browserSessions.delete(userId: userId, realmId: realmId))
            }
            return outcome
        }
    }

    public func admitLogin(userId: String, realmId: String, at time: Timestamp) async throws -> Bool {
        try await write { db in
            try await db.run(statements.users.lock(userId, realmId: realmId))
            if let failures = try await db.one(statements.failures.of(userId: userId, realmId: realmId), LoginFailureSQL.decode), failures.lockedUntil > time {
                return false
            }
            try await db.run(statements.failures.clear(userId: userId, realmId: realmId))
            return true
        }
    }

    public func clearLoginFailures(realmId: String) async throws {
        try await write { db in try await db.run(statements.failures.clear(realmId: realmId)) }
    }

    public func clearLoginFailures(userId: String, realmId: String) async throws {
        try await write { db in try await db.run(statements.failures.clear(userId: userId, realmId: realmId)) }
    }
}
