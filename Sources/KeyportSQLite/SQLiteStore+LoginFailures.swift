import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func loginFailures(userId: String, realmId: String) async throws -> LoginFailures? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM login_failures WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId]).map { row in
                LoginFailures(userId: row["user_id"], realmId: row["realm_id"], numFailures: row["num_failures"],
                              lastFailure: row.timestamp("last_failure"), lockedUntil: row.timestamp("locked_until"), lastIPAddress: row["last_ip"])
            }
        }
    }

    public func saveLoginFailures(_ f: LoginFailures) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO login_failures (user_id, realm_id, num_failures, last_failure, locked_until, last_ip) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET num_failures = excluded.num_failures, last_failure = excluded.last_failure,
                  locked_until = excluded.locked_until, last_ip = excluded.last_ip
                """, arguments: [f.userId, f.realmId, f.numFailures, f.lastFailure.millisecondsSince1970, f.lockedUntil.millisecondsSince1970, f.lastIPAddress])
        }
    }

    public func clearLoginFailures(userId: String, realmId: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM login_failures WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
        }
    }
}
