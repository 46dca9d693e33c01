import KeyportModel
import KeyportSQL
import KeyportStore

extension PostgresStore {
    // MARK: Brokered sign-in

    public func identityProviderMapper(id: String, realmId: String) async throws -> IdentityProviderMapper? {
        try await readOne { db in try await db.one(statements.brokering.mapper(id: id, realmId: realmId), BrokeringSQL.decodeMapper) }
    }

    public func identityProviderMappers(providerId: String, realmId: String) async throws -> [IdentityProviderMapper] {
        try await read { db in try await db.all(statements.brokering.mappers(providerId: providerId, realmId: realmId), BrokeringSQL.decodeMapper) }
    }

    public func identityProviderMappers(realmId: String) async throws -> [IdentityProviderMapper] {
        try await read { db in try await db.all(statements.brokering.mappers(realmId: realmId), BrokeringSQL.decodeMapper) }
    }

    public func federatedIdentities(userId: String, realmId: String) async throws -> [FederatedIdentity] {
        try await read { db in try await db.all(statements.brokering.links(userId: userId, realmId: realmId), BrokeringSQL.decodeLink) }
    }

    public func linkedUser(providerId: String, upstreamUserId: String, realmId: String) async throws -> User? {
        try await readOne { db in
            try await db.one(statements.brokering.linkedUser(providerId: providerId, upstreamUserId: upstreamUserId, realmId: realmId), UserSQL.decode)
        }
    }

    public func linkedUsers(providerId: String, realmId: String, limit: Int) async throws -> [User] {
        try await read { db in try await db.all(statements.brokering.linkedUsers(providerId: providerId, realmId: realmId, limit: limit), UserSQL.decode) }
    }

    static func applyBrokeringChange(_ change: StoreChange, _ db: PGConnection) async throws {
        let sql = statements.brokering
        switch change {
        case .createIdentityProviderMapper(let mapper):
            guard try await db.exists(sql.lockProvider(mapper.providerId)) else { throw StoreError.notFound(.identityProvider) }
            guard try await db.count(sql.countMappers(providerId: mapper.providerId)) < IdentityProviderMapper.limitPerProvider else {
                throw StoreError.invalid("An identity provider holds at most \(IdentityProviderMapper.limitPerProvider) mappers")
            }
            try await db.run(sql.insert(mapper))
        case .updateIdentityProviderMapper(let id, let realmId, let change):
            guard let mapper = try await db.one(sql.mapperForUpdate(id: id, realmId: realmId), BrokeringSQL.decodeMapper) else {
                throw StoreError.notFound(.identityProviderMapper)
            }
            var changed = mapper
            try change(&changed)
            changed.id = mapper.id
            changed.realmId = mapper.realmId
            changed.providerId = mapper.providerId
            guard try await db.run(sql.update(changed)) == 1 else { throw StoreError.notFound(.identityProviderMapper) }
        case .deleteIdentityProviderMapper(let id, let realmId):
            guard try await db.run(sql.deleteMapper(id: id, realmId: realmId)) == 1 else { throw StoreError.notFound(.identityProviderMapper) }
        case .linkFederatedIdentity(let link):
            try await Self.requireOwner(.user, link.userId, realmId: link.realmId, db)
            try await db.run(sql.insert(link))
        case .unlinkFederatedIdentity(let userId, let providerId, let realmId):
            guard try await db.run(sql.deleteLink(userId: userId, providerId: providerId, realmId: realmId)) == 1 else {
                throw StoreError.notFound(.federatedIdentity)
            }
        case .revokeUserRoles(let userId, let roleIds, let realmId):
            try await Self.revokeRoles(.user, from: userId, roleIds: roleIds, realmId: realmId, db)
        case .removeMember(let groupId, let userId, let realmId):
            try await Self.requireOwner(.group, groupId, realmId: realmId, db)
            try await Self.requireOwner(.user, userId, realmId: realmId, db)
            try await db.run(MembershipSQL.remove(groupId: groupId, userId: userId, realmId: realmId))
        default:
            break
        }
    }
}
