import KeyportModel
import KeyportSQL
import KeyportStore

extension PostgresStore {
    public func apply(_ changes: [StoreChange]) async throws {
        try await write { db in
            for change in changes { try await Self.apply(change, db) }
        }
    }

    static func apply(_ change: StoreChange, _ db: PGConnection) async throws {
        switch change {
        case .createUser(let seed): try await db.run(statements.users.insert(seed))
        case .updateUser(let id, let realmId, let change): _ = try await updateUser(id: id, realmId: realmId, change, db)
        case .setCredential(let credential, let revoke): try await setCredential(credential, revokeTokensBefore: revoke, db)
        case .createClient(let client):
            try await db.run(statements.clients.insert(client))
            // A new client takes the realm's default and optional client scopes of its protocol.
            try await db.run(statements.clientScopes.assignRealmDefaults(toClient: client.id, realmId: client.realmId, protocolName: client.protocolName.rawValue))
        case .updateClient(let id, let realmId, let change): _ = try await updateClient(id: id, realmId: realmId, change, db)
        case .grantUserRoles(let userId, let roleIds, let realmId): try await grantRoles(.user, to: userId, roleIds: roleIds, realmId: realmId, db)
        case .addMember(let groupId, let userId, let realmId): try await addMember(groupId: groupId, userId: userId, realmId: realmId, db)
        case .deleteSessions(let userId, let realmId): _ = try await db.run(statements.sessions.delete(userId: userId, realmId: realmId)) + db.run(statements.browserSessions.delete(userId: userId, realmId: realmId))
        case .deletePersonalAccessTokens(let userId, let realmId): try await db.run(statements.tokens.delete(userId: userId, realmId: realmId))
        case .requireVersions(let versions): try await requireVersions(versions, db)
        case .createRole(let role): try await db.run(statements.roles.insert(role))
        case .addComposites(let parentId, let childIds, let realmId): try await addComposites(parentId: parentId, childIds: childIds, realmId: realmId, db)
        case .createGroup(let group): try await createGroup(group, db)
        case .grantGroupRoles(let groupId, let roleIds, let realmId): try await grantRoles(.group, to: groupId, roleIds: roleIds, realmId: realmId, db)
        case .deleteUser(let id, let realmId): try await deleteUser(id: id, realmId: realmId, db)
        case .deleteClient(let id, let realmId): try await deleteClient(id: id, realmId: realmId, db)
        case .deleteRole(let id, let realmId): try await deleteRole(id: id, realmId: realmId, db)
        case .deleteGroup(let id, let realmId): try await deleteGroup(id: id, realmId: realmId, db)
        case .createClientScope, .updateClientScope, .deleteClientScope, .assignRealmClientScope, .unassignRealmClientScope,
             .assignClientScope, .unassignClientScope, .setClientScopes, .addScopeRoles, .removeScopeRoles:
            try await applyClientScopeChange(change, db)
        case .createIdentityProvider, .updateIdentityProvider, .deleteIdentityProvider:
            try await applyIdentityProviderChange(change, db)
        case .createIdentityProviderMapper, .updateIdentityProviderMapper, .deleteIdentityProviderMapper, .linkFederatedIdentity,
             .unlinkFederatedIdentity, .revokeUserRoles, .removeMember:
            try await applyBrokeringChange(change, db)
        case .createStorageComponent, .updateStorageComponent, .deleteStorageComponent, .linkDirectoryUser, .unlinkDirectoryUsers,
             .removeDirectoryUsers:
            try await applyUserFederationChange(change, db)
        }
    }
}
