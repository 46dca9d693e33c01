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
        case .deletePersonalAccessTokens(let userId, let realmId):
            try db.execute(sql: "DELETE FROM personal_access_tokens WHERE user_id = ? AND realm_id = ?", arguments: [userId, realmId])
        case .requireVersions(let versions): try requireVersions(versions, db)
        case .createRole(let role): try insertRole(role, db)
        case .addComposites(let parentId, let childIds, let realmId): try addComposites(parentId: parentId, childIds: childIds, realmId: realmId, db)
        case .createGroup(let group):
            if let parentId = group.parentId { try requireGroup(parentId, realmId: group.realmId, db) }
            try insertGroup(group, db)
        case .grantGroupRoles(let groupId, let roleIds, let realmId): try grantGroupRoles(groupId: groupId, roleIds: roleIds, realmId: realmId, db)
        case .deleteUser(let id, let realmId): try deleteUser(id: id, realmId: realmId, db)
        case .deleteClient(let id, let realmId): try deleteClient(id: id, realmId: realmId, db)
        case .deleteRole(let id, let realmId): try deleteRole(id: id, realmId: realmId, db)
        case .deleteGroup(let id, let realmId): try deleteGroup(id: id, realmId: realmId, db)
        }
    }
}
