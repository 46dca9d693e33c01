import KeyportModel
import KeyportSQL
import KeyportStore

extension PostgresStore {
    // MARK: User federation

    public func storageComponent(id: String, realmId: String) async throws -> StorageComponent? {
        try await readOne { db in try await db.one(statements.federation.component(id: id, realmId: realmId), UserFederationSQL.decode) }
    }

    public func storageComponents(realmId: String) async throws -> [StorageComponent] {
        try await read { db in try await db.all(statements.federation.components(realmId: realmId), UserFederationSQL.decode) }
    }

    public func directoryUser(providerId: String, externalId: String, realmId: String) async throws -> User? {
        try await readOne { db in try await db.one(statements.federation.user(providerId: providerId, externalId: externalId, realmId: realmId), UserSQL.decode) }
    }

    public func directoryUserCount(providerId: String, realmId: String) async throws -> Int {
        try await read { db in try await db.count(statements.federation.countUsers(providerId: providerId, realmId: realmId)) }
    }

    public func directoryUsers(providerId: String, realmId: String, after: String?, limit: Int) async throws -> [User] {
        try await read { db in try await db.all(statements.federation.users(providerId: providerId, realmId: realmId, after: after, limit: limit), UserSQL.decode) }
    }

    static func applyUserFederationChange(_ change: StoreChange, _ db: PGConnection) async throws {
        let sql = statements.federation
        switch change {
        case .createStorageComponent(let component):
            if let parentId = component.parentId {
                guard try await db.exists(sql.lockProvider(parentId, realmId: component.realmId)) else { throw StoreError.notFound(.storageComponent) }
                guard try await db.count(sql.countMappers(providerId: parentId)) < StorageComponent.mappersPerProvider else {
                    throw StoreError.invalid("A user storage provider holds at most \(StorageComponent.mappersPerProvider) mappers")
                }
            } else {
                guard try await db.exists(sql.lockRealm(component.realmId)) else { throw StoreError.notFound(.realm) }
                guard try await db.count(sql.countProviders(realmId: component.realmId)) < StorageComponent.providersPerRealm else {
                    throw StoreError.invalid("A realm holds at most \(StorageComponent.providersPerRealm) user storage providers")
                }
            }
            try await db.run(sql.insert(component))
        case .updateStorageComponent(let id, let realmId, let change):
            guard let component = try await db.one(sql.componentForUpdate(id: id, realmId: realmId), UserFederationSQL.decode) else {
                throw StoreError.notFound(.storageComponent)
            }
            var changed = component
            try change(&changed)
            changed.id = component.id
            changed.realmId = component.realmId
            changed.parentId = component.parentId
            guard try await db.run(sql.update(changed)) == 1 else { throw StoreError.notFound(.storageComponent) }
        case .deleteStorageComponent(let id, let realmId):
            guard try await db.run(sql.delete(id: id, realmId: realmId)) == 1 else { throw StoreError.notFound(.storageComponent) }
        case .linkDirectoryUser(let userId, let providerId, let externalId, let realmId):
            guard try await db.exists(sql.lockProvider(providerId, realmId: realmId)) else { throw StoreError.notFound(.storageComponent) }
            guard try await db.run(sql.link(userId: userId, providerId: providerId, externalId: externalId, realmId: realmId)) == 1 else {
                throw StoreError.notFound(.user)
            }
        case .unlinkDirectoryUsers(let providerId, let realmId):
            try await db.run(sql.unlinkUsers(providerId: providerId, realmId: realmId))
        case .removeDirectoryUsers(let providerId, let realmId):
            try await db.run(sql.removeUsers(providerId: providerId, realmId: realmId))
        default:
            break
        }
    }
}
