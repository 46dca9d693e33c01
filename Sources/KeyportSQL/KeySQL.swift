import Foundation
import KeyportModel
import KeyportStore

/// A realm's signing keys.
public struct KeySQL: Sendable {
    /// A key row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "name", "algorithm", "status", "private_key_pem", "certificate_der",
                                            "libtrust_key_id", "thumbprint", "priority", "created_at"])
    let dialect: SQLDialect
    private let selectOfRealm = "SELECT \(KeySQL.columns.list()) FROM realm_keys WHERE realm_id = ? ORDER BY algorithm, priority DESC, created_at DESC"
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    public func of(realmId: String) -> SQLStatement { SQLStatement(sql: selectOfRealm, values: [.text(realmId)]) }
    /// One column, `n`.
    public func count(realmId: String) -> SQLStatement { SQLStatement("SELECT count(*) AS n FROM realm_keys WHERE realm_id = ?", [realmId]) }
    /// One column, `n`: the realm's active keys of an algorithm.
    public func countActive(realmId: String, algorithm: String) -> SQLStatement {
        SQLStatement("SELECT count(*) AS n FROM realm_keys WHERE realm_id = ? AND algorithm = ? AND status = 'active'", [realmId, algorithm])
    }
    /// Algorithm and status.
    public func algorithmAndStatus(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT algorithm, status FROM realm_keys WHERE id = ? AND realm_id = ?", [id, realmId])
    }
    public func insert(_ k: RealmKey) -> SQLStatement {
        SQLStatement("INSERT INTO realm_keys (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))", [
            k.id, k.realmId, k.name, k.algorithm.rawValue, k.status.rawValue, k.privateKeyPEM.revealed, k.certificateDER,
            k.libtrustKeyID, k.thumbprint, k.priority, k.createdAt,
        ])
    }
    public func update(_ id: String, realmId: String, name: String, status: KeyStatus, priority: Int) -> SQLStatement {
        SQLStatement("UPDATE realm_keys SET name = ?, status = ?, priority = ? WHERE id = ? AND realm_id = ?", [name, status.rawValue, priority, id, realmId])
    }
    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM realm_keys WHERE id = ? AND realm_id = ?", [id, realmId])
    }

    public static func decode(_ row: some SQLRow) -> RealmKey {
        RealmKey(id: row.string(0), realmId: row.string(1), name: row.string(2), algorithm: SigningAlgorithm(rawValue: row.string(3)) ?? .rs256,
                 status: KeyStatus(rawValue: row.string(4)) ?? .disabled, privateKeyPEM: Sensitive(row.string(5)),
                 certificateDER: row.bytes(6) ?? [], libtrustKeyID: row.string(7), thumbprint: row.string(8), priority: row.int(9),
                 createdAt: row.timestamp(10))
    }
}
