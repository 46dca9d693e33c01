import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func apply(_ changes: [StoreChange]) async throws {
        try await write { db in
            for change in changes { try Self.apply(change, db) }
        }
    }

    static func apply(_ change: StoreChange, _ db: Database) throws {
        switch change {
        case .createUser(let seed): try db.run(statements.users.insert(seed))
        case .updateUser(let id, let realmId, let change): _ = try updateUser(id: id, realmId: realmId, change, db)
        case .setCredential(let credential, let revoke): try setCredential(credential, revokeTokensBefore: revoke, db)
        case .createClient(let client):
            try db.run(statements.clients.insert(client))
            // A new client takes the realm's default and optional client scopes of its protocol.
            try db.run(statements.clientScopes.assignRealmDefaults(toClient: client.id, realmId: client.realmId, protocolName: client.protocolName.rawValue))
        case .updateClient(let id, let realmId, let change): _ = try updateClient(id: id, realmId: realmId, change, db)
        case .grantUserRoles(let userId, let roleIds, let realmId): try grantRoles(.user, to: userId, roleIds: roleIds, realmId: realmId, db)
        case .addMember(let groupId, let userId, let realmId): try addMember(groupId: groupId, userId: userId, realmId: realmId, db)
        case .deleteSessions(let userId, let realmId): _ = try db.run(statements.sessions.delete(userId: userId, realmId: realmId)) + db.run(statements.browserSessions.delete(userId: userId, realmId: realmId))
        case .deletePersonalAccessTokens(let userId, let realmId): try db.run(statements.tokens.delete(userId: userId, realmId: realmId))
        case .requireVersions(let versions): try requireVersions(versions, db)
        case .createRole(let role): try db.run(statements.roles.insert(role))
        case .addComposites(let parentId, let childIds, let realmId): try addComposites(parentId: parentId, childIds: childIds, realmId: realmId, db)
        case .createGroup(let group): try createGroup(group, db)
        case .grantGroupRoles(let groupId, let roleIds, let realmId): try grantRoles(.group, to: groupId, roleIds: roleIds, realmId: realmId, db)
        case .deleteUser(let id, let realmId): try deleteUser(id: id, realmId: realmId, db)
        case .deleteClient(let id, let realmId): try deleteClient(id: id, realmId: realmId, db)
        case .deleteRole(let id, let realmId): try deleteRole(id: id, realmId: realmId, db)
        case .deleteGroup(let id, let realmId): try deleteGroup(id: id, realmId: realmId, db)
        case .createClientScope, .updateClientScope, .deleteClientScope, .assignRealmClientScope, .unassignRealmClientScope,
             .assignClientScope, .unassignClientScope, .setClientScopes, .addScopeRoles, .removeScopeRoles:
            try applyClientScopeChange(change, db)
        case .createIdentityProvider, .updateIdentityProvider, .deleteIdentityProvider:
            try applyIdentityProviderChange(change, db)
        case .createIdentityProviderMapper, .updateIdentityProviderMapper, .deleteIdentityProviderMapper, .linkFederatedIdentity,
             .unlinkFederatedIdentity, .revokeUserRoles, .removeMember:
            try applyBrokeringChange(change, db)
        case .createStorageComponent, .updateStorageComponent, .deleteStorageComponent, .linkDirectoryUser, .unlinkDirectoryUsers,
             .removeDirectoryUsers:
            try applyUserFederationChange(change, db)
        }
    }
}
