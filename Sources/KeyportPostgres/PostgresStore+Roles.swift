import KeyportModel
import KeyportSQL
import KeyportStore

extension PostgresStore {
    public func createRole(_ role: Role) async throws {
        try await write { db in try await db.run(statements.roles.insert(role)) }
    }

    public func role(id: String, realmId: String) async throws -> Role? {
        try await readOne { db in try await db.one(statements.roles.byId(id, realmId: realmId), RoleSQL.decode) }
    }

    public func role(named name: String, realmId: String, clientId: String?) async throws -> Role? {
        try await readOne { db in try await db.one(statements.roles.named(name, realmId: realmId, clientId: clientId), RoleSQL.decode) }
    }

    public func roles(realmId: String, clientId: String?, search: String?, page: Page) async throws -> [Role] {
        try await read { db in try await db.all(statements.roles.page(realmId: realmId, clientId: clientId, search: search, page), RoleSQL.decode) }
    }

    public func updateRole(id: String, realmId: String, _ change: @escaping @Sendable (inout Role) throws -> Void) async throws -> Role {
        try await write { db in
            guard let role = try await db.one(statements.roles.byIdForUpdate(id, realmId: realmId), RoleSQL.decode) else { throw StoreError.notFound(.role) }
            let changed = try RoleSQL.applying(change, to: role)
            guard try await db.run(statements.roles.update(changed)) == 1 else { throw StoreError.notFound(.role) }
            return changed
        }
    }

    public func deleteRole(id: String, realmId: String) async throws {
        try await write { db in try await Self.deleteRole(id: id, realmId: realmId, db) }
    }

    static func deleteRole(id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.run(statements.roles.delete(id, realmId: realmId)) == 1 else { throw StoreError.notFound(.role) }
    }

    public func addComposites(parentId: String, childIds: [String], realmId: String) async throws {
        try await write { db in try await Self.addComposites(parentId: parentId, childIds: childIds, realmId: realmId, db) }
    }

    static func addComposites(parentId: String, childIds: [String], realmId: String, _ db: PGConnection) async throws {
        try await requireRoles([parentId] + childIds, realmId: realmId, db)
        try await db.run(childIds.filter { $0 != parentId }.map { MappingSQL.composite.grant(parentId, roleId: $0, realmId: realmId, .postgres) })
    }

    public func removeComposites(parentId: String, childIds: [String], realmId: String) async throws {
        try await write { db in
            try await Self.requireRoles([parentId], realmId: realmId, db)
            if let revoke = MappingSQL.composite.revoke(parentId, roleIds: childIds, realmId: realmId) { try await db.run(revoke) }
        }
    }

    public func composites(of roleId: String, realmId: String) async throws -> [Role] {
        try await read { db in try await db.all(statements.roles.mapped(through: .composite, ownerId: roleId, realmId: realmId), RoleSQL.decode) }
    }

    public func compositeParents(of roleId: String, realmId: String, page: Page) async throws -> [Role] {
        try await read { db in try await db.all(statements.roles.parents(of: roleId, realmId: realmId, page: page), RoleSQL.decode) }
    }

    public func compositeRoleIds(among roleIds: [String]) async throws -> Set<String> {
        guard !roleIds.isEmpty else { return [] }
        return try await read { db in Set(try await db.all(statements.roles.composites(among: roleIds)) { $0.string(0) }) }
    }

    // MARK: Role mappings

    public func grantUserRoles(userId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try await Self.grantRoles(.user, to: userId, roleIds: roleIds, realmId: realmId, db) }
    }

    public func revokeUserRoles(userId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try await Self.revokeRoles(.user, from: userId, roleIds: roleIds, realmId: realmId, db) }
    }

    public func userRoles(userId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try await Self.requireOwner(.user, userId, realmId: realmId, db)
            return try await db.all(statements.roles.mapped(through: .user, ownerId: userId, realmId: realmId), RoleSQL.decode)
        }
    }

    /// Grants to a user or a group: the owner and every role must be the realm's.
    static func grantRoles(_ mapping: MappingSQL, to ownerId: String, roleIds: [String], realmId: String, _ db: PGConnection) async throws {
        try await requireOwner(mapping, ownerId, realmId: realmId, db)
        try await requireRoles(roleIds, realmId: realmId, db)
        try await db.run(roleIds.map { mapping.grant(ownerId, roleId: $0, realmId: realmId, .postgres) })
    }

    static func revokeRoles(_ mapping: MappingSQL, from ownerId: String, roleIds: [String], realmId: String, _ db: PGConnection) async throws {
        try await requireOwner(mapping, ownerId, realmId: realmId, db)
        if let revoke = mapping.revoke(ownerId, roleIds: roleIds, realmId: realmId) { try await db.run(revoke) }
    }

    public func effectiveRoles(userId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try await Self.requireOwner(.user, userId, realmId: realmId, db)
            return try await db.all(statements.roles.effective(userId: userId, realmId: realmId), RoleSQL.decode)
        }
    }

    public func usersWithRole(roleId: String, realmId: String, page: Page) async throws -> [User] {
        try await read { db in
            try await Self.requireRoles([roleId], realmId: realmId, db)
            return try await db.all(statements.users.joined(through: "user_roles", where: "role_id", is: roleId, realmId: realmId, page: page), UserSQL.decode)
        }
    }

    // MARK: Checks

    /// The user, group or role that holds roles must be the realm's.
    static func requireOwner(_ mapping: MappingSQL, _ id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.exists(mapping.ownerExists(id, realmId: realmId)) else { throw StoreError.notFound(mapping.ownerEntity) }
    }

    static func requireRoles(_ ids: [String], realmId: String, _ db: PGConnection) async throws {
        let unique = Array(Set(ids))
        guard !unique.isEmpty else { return }
        guard try await db.count(statements.roles.count(of: unique, realmId: realmId)) == unique.count else { throw StoreError.notFound(.role) }
    }

    /// Fails unless the realm's versions are still `expected` (see `StoreChange.requireVersions`).
    static func requireVersions(_ expected: RealmVersions, _ db: PGConnection) async throws {
        guard try await db.one(statements.roles.versions(realmId: expected.realmId, locking: true), RoleSQL.decodeVersions) == expected else {
            throw StoreError.conflict(.concurrentChange)
        }
    }

    // MARK: Versions

    public func realmVersions(realmId: String) async throws -> RealmVersions? {
        try await readOne { db in try await db.one(statements.roles.versions(realmId: realmId), RoleSQL.decodeVersions) }
    }

    public func realmVersions(realmName: String) async throws -> RealmVersions? {
        try await readOne { db in try await db.one(statements.roles.versions(realmName: realmName), RoleSQL.decodeVersions) }
    }
}
