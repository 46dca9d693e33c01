import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func apply(_ changes: [StoreChange]) async throws {
        try await write { db in
            for change in changes { try Self.apply(change, db) }
        }
    }

    static func apply(_ change: StoreChange, _ db: Database) throws {
        switch change {
        case .createUser(let seed): try insertUser(seed, db)
        case .updateUser(let id, let realmId, let change): _ = try updateUser(id: id, realmId: realmId, change, db)
        case .setCredential(let credential, let revoke): try setCredential(credential, revokeTokensBefore: revoke, db)
        case .createClient(let client): try insertClient(client, db)
        case .updateClient(let id, let realmId, let change): _ = try updateClient(id: id, realmId: realmId, change, db)
        case .grantUserRoles(let userId, let roleIds, let realmId): try grantUserRoles(userId: userId, roleIds: roleIds, realmId: realmId, db)
        case .addMember(let groupId, let userId, let realmId): try addMember(groupId: groupId, userId: userId, realmId: realmId, db)
        case .deleteSessions(let userId, let realmId):
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
        }
    }
}
