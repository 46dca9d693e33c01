import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func loginFailures(userId: String, realmId: String) async throws -> LoginFailures? {
        try await read { db in try Self.loginFailures(userId: userId, realmId: realmId, db) }
    }

    static func loginFailures(userId: String, realmId: String, _ db: Database) throws -> LoginFailures? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM login_failures WHERE user_id = ? AND realm_id = ?"), arguments: [userId, realmId]).map { row in
            LoginFailures(userId: row["user_id"], realmId: row["realm_id"], numFailures: row["num_failures"],
                          lastFailure: row.timestamp("last_failure"), lockedUntil: row.timestamp("locked_until"), lastIPAddress: row["last_ip"])
        }
    }

    public func recordLoginFailure(userId: String, realmId: String, at time: Timestamp, policy: BruteForcePolicy,
                                   ipAddress: String?) async throws -> LoginFailureOutcome? {
        try await write { db in
            // Read and write in the same transaction: SQLite serialises writers, so N
            // concurrent failures are N increments, never N copies of the same n + 1.
            let enabled = try Bool.fetchOne(try db.cachedStatement(sql: "SELECT enabled FROM users WHERE id = ? AND realm_id = ?"), arguments: [userId, realmId])
            let previous = try Self.loginFailures(userId: userId, realmId: realmId, db)
            guard let enabled else { return nil }
            let current = previous ?? LoginFailures(userId: userId, realmId: realmId)
            if current.lockedUntil > time { return LoginFailureOutcome(failures: current, wasLocked: true, disabledUser: false) }
            let next = current.recordingFailure(at: time, policy: policy, ipAddress: ipAddress)
            try db.execute(sql: """
                INSERT INTO login_failures (user_id, realm_id, num_failures, last_failure, locked_until, last_ip) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET num_failures = excluded.num_failures, last_failure = excluded.last_failure,
                  locked_until = excluded.locked_until, last_ip = excluded.last_ip
                """, arguments: [userId, realmId, next.numFailures, next.lastFailure.millisecondsSince1970,
                                 next.lockedUntil.millisecondsSince1970, next.lastIPAddress])
            var disabled = false
            if enabled && next.reachesPermanentLockout(policy) {
                // Only these columns: an administrator's concurrent edit of the user survives.
                try db.execute(sql: "UPDATE users SET enabled = 0, not_before = max(not_before, ?) WHERE id = ? AND realm_id = ?",
                               arguments: [time.millisecondsSince1970, userId, realmId])
                try db.execute(sql: "DELETE FROM sessions WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
                disabled = true
            }
            return LoginFailureOutcome(failures: next, wasLocked: false, disabledUser: disabled)
        }
    }

    public func admitLogin(userId: String, realmId: String, at time: Timestamp) async throws -> Bool {
        try await write { db in
            if let failures = try Self.loginFailures(userId: userId, realmId: realmId, db), failures.lockedUntil > time { return false }
            try db.execute(sql: "DELETE FROM login_failures WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
            return true
        }
    }

    public func clearLoginFailures(userId: String, realmId: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM login_failures WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
        }
    }
}
