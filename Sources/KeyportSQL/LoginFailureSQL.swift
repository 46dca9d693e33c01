import KeyportModel
import KeyportStore

/// Brute-force detection's counters.
public struct LoginFailureSQL: Sendable {
    public static let columns = SQLColumns(["user_id", "realm_id", "num_failures", "last_failure", "locked_until", "last_ip"])
    let dialect: SQLDialect
    private let selectOfUser = "SELECT \(LoginFailureSQL.columns.list()) FROM login_failures WHERE user_id = ? AND realm_id = ?"
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    public func of(userId: String, realmId: String) -> SQLStatement { SQLStatement(sql: selectOfUser, values: [.text(userId), .text(realmId)]) }
    public func save(_ f: LoginFailures) -> SQLStatement {
        SQLStatement("""
            INSERT INTO login_failures (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))
            ON CONFLICT (user_id) DO UPDATE SET num_failures = excluded.num_failures, last_failure = excluded.last_failure,
              locked_until = excluded.locked_until, last_ip = excluded.last_ip
            """, [f.userId, f.realmId, f.numFailures, f.lastFailure, f.lockedUntil, f.lastIPAddress])
    }
    public func clear(realmId: String) -> SQLStatement {
        SQLStatement(sql: "DELETE FROM login_failures WHERE realm_id = ?", values: [.text(realmId)])
    }
    public func clear(userId: String, realmId: String) -> SQLStatement {
        SQLStatement(sql: "DELETE FROM login_failures WHERE user_id = ? AND realm_id = ?", values: [.text(userId), .text(realmId)])
    }

    public static func decode(_ row: some SQLRow) -> LoginFailures {
        LoginFailures(userId: row.string(0), realmId: row.string(1), numFailures: row.int(2), lastFailure: row.timestamp(3),
                      lockedUntil: row.timestamp(4), lastIPAddress: row.text(5))
    }
}
