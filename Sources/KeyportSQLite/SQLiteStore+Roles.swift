import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createRole(_ role: Role) async throws {
        try await write { db in try Self.insertRole(role, db) }
    }

    public func role(id: String, realmId: String) async throws -> Role? {
        try await read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM roles WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]).map(Self.role)
        }
    }

    public func role(named name: String, realmId: String, clientId: String?) async throws -> Role? {
        try await read { db in
            if let clientId {
                return try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM roles WHERE realm_id = ? AND client_id = ? AND name = ?"),
                                        arguments: [realmId, clientId, name]).map(Self.role)
            }
            return try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM roles WHERE realm_id = ? AND client_id IS NULL AND name = ?"),
                                    arguments: [realmId, name]).map(Self.role)
        }
    }

    public func roles(realmId: String, clientId: String?, search: String?, page: Page) async throws -> [Role] {
        var sql = "SELECT * FROM roles WHERE realm_id = ? AND " + (clientId == nil ? "client_id IS NULL" : "client_id = ?")
        var arguments: StatementArguments = [realmId]
        if let clientId { arguments += [clientId] }
        if let search, !search.isEmpty {
            sql += " AND (name LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')"
            let pattern = "%\(SQLText.escapeLike(search))%"
            arguments += [pattern, pattern]
        }
        sql += " ORDER BY name LIMIT ? OFFSET ?"
        arguments += [page.max, page.first]
        let finalSQL = sql, finalArguments = arguments
        return try await read { db in try Row.fetchAll(db, sql: finalSQL, arguments: finalArguments).map(Self.role) }
    }

    public func updateRole(id: String, realmId: String, _ change: @escaping @Sendable (inout Role) throws -> Void) async throws -> Role {
        try await write { db in
            guard var role = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM roles WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]).map(Self.role) else {
                throw StoreError.notFound(.role)
            }
            let clientId = role.clientId
            try change(&role)
            role.id = id
            role.realmId = realmId
            role.clientId = clientId
            try Self.updateRole(role, db)
            return role
        }
    }

    static func updateRole(_ role: Role, _ db: Database) throws {
        try db.execute(sql: "UPDATE roles SET name = ?, description = ?, attributes = ? WHERE id = ? AND realm_id = ?",
                       arguments: [role.name, role.description, JSONColumn.encode(role.attributes), role.id, role.realmId])
        guard db.changesCount == 1 else { throw StoreError.notFound(.role) }
    }

    public func deleteRole(id: String, realmId: String) async throws {
        try await write { db in try Self.deleteRole(id: id, realmId: realmId, db) }
    }

    static func deleteRole(id: String, realmId: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM roles WHERE id = ? AND realm_id = ?", arguments: [id, realmId])
        guard db.changesCount == 1 else { throw StoreError.notFound(.role) }
    }

    public func addComposites(parentId: String, childIds: [String], realmId: String) async throws {
        try await write { db in try Self.addComposites(parentId: parentId, childIds: childIds, realmId: realmId, db) }
    }

    static func addComposites(parentId: String, childIds: [String], realmId: String, _ db: Database) throws {
        try requireRoles([parentId] + childIds, realmId: realmId, db)
        for child in childIds where child != parentId {
            try db.execute(sql: "INSERT OR IGNORE INTO role_composites (realm_id, parent_role_id, child_role_id) VALUES (?, ?, ?)",
                           arguments: [realmId, parentId, child])
        }
    }

    /// Fails unless the realm's versions are still `expected` (see `StoreChange.requireVersions`).
    static func requireVersions(_ expected: RealmVersions, _ db: Database) throws {
        let now = try Row.fetchOne(try db.cachedStatement(sql: "SELECT realm_id, version, configuration_version FROM authorization_versions WHERE realm_id = ?"),
                                   arguments: [expected.realmId]).map(versions)
        guard now == expected else { throw StoreError.conflict(.concurrentChange) }
    }

    public func removeComposites(parentId: String, childIds: [String], realmId: String) async throws {
        try await write { db in
            try Self.requireRoles([parentId], realmId: realmId, db)
            try db.execute(sql: "DELETE FROM role_composites WHERE realm_id = ? AND parent_role_id = ? AND child_role_id IN (\(SQLText.placeholders(childIds.count)))",
                           arguments: StatementArguments([realmId, parentId] + childIds))
        }
    }

    public func composites(of roleId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.* FROM roles r JOIN role_composites rc ON rc.child_role_id = r.id
                WHERE rc.parent_role_id = ? AND rc.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name
                """, arguments: [roleId, realmId]).map(Self.role)
        }
    }

    public func compositeRoleIds(among roleIds: [String]) async throws -> Set<String> {
        guard !roleIds.isEmpty else { return [] }
        return try await read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT parent_role_id FROM role_composites WHERE parent_role_id IN (\(SQLText.placeholders(roleIds.count)))",
                                    arguments: StatementArguments(roleIds)))
        }
    }

    // MARK: Role mappings

    public func grantUserRoles(userId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try Self.grantUserRoles(userId: userId, roleIds: roleIds, realmId: realmId, db) }
    }

    static func grantUserRoles(userId: String, roleIds: [String], realmId: String, _ db: Database) throws {
        try requireUser(userId, realmId: realmId, db)
        try requireRoles(roleIds, realmId: realmId, db)
        for roleId in roleIds {
            try db.execute(sql: "INSERT OR IGNORE INTO user_roles (realm_id, user_id, role_id) VALUES (?, ?, ?)", arguments: [realmId, userId, roleId])
        }
    }

    public func revokeUserRoles(userId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try Self.revokeUserRoles(userId: userId, roleIds: roleIds, realmId: realmId, db) }
    }

    static func revokeUserRoles(userId: String, roleIds: [String], realmId: String, _ db: Database) throws {
        try requireUser(userId, realmId: realmId, db)
        try db.execute(sql: "DELETE FROM user_roles WHERE realm_id = ? AND user_id = ? AND role_id IN (\(SQLText.placeholders(roleIds.count)))",
                       arguments: StatementArguments([realmId, userId] + roleIds))
    }

    public func userRoles(userId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try Self.requireUser(userId, realmId: realmId, db)
            return try Row.fetchAll(db, sql: """
                SELECT r.* FROM roles r JOIN user_roles ur ON ur.role_id = r.id
                WHERE ur.user_id = ? AND ur.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name
                """, arguments: [userId, realmId]).map(Self.role)
        }
    }

    /// One recursive query: the user's groups and their ancestors, the roles mapped to the
    /// user and to those groups, then composites to a fixed point. `UNION` (not `UNION ALL`)
    /// drops rows already seen, which is what ends a cycle.
    static let effectiveRolesSQL = """
        WITH RECURSIVE
          member_of(group_id) AS (
            SELECT group_id FROM group_members WHERE user_id = :user
            UNION
            SELECT g.parent_id FROM realm_groups g JOIN member_of m ON g.id = m.group_id WHERE g.parent_id IS NOT NULL
          ),
          effective(role_id) AS (
            SELECT role_id FROM user_roles WHERE user_id = :user
            UNION
            SELECT gr.role_id FROM group_roles gr JOIN member_of m ON gr.group_id = m.group_id
            UNION
            SELECT rc.child_role_id FROM role_composites rc JOIN effective e ON rc.parent_role_id = e.role_id
          )
        SELECT r.* FROM roles r JOIN effective e ON e.role_id = r.id
        WHERE r.realm_id = :realm
        ORDER BY r.client_id IS NOT NULL, r.client_id, r.name
        """

    public func effectiveRoles(userId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try Self.requireUser(userId, realmId: realmId, db)
            return try Row.fetchAll(db, sql: Self.effectiveRolesSQL, arguments: ["user": userId, "realm": realmId]).map(Self.role)
        }
    }

    public func usersWithRole(roleId: String, realmId: String, page: Page) async throws -> [User] {
        try await read { db in
            try Self.requireRoles([roleId], realmId: realmId, db)
            return try Row.fetchAll(db, sql: """
                SELECT \(UserColumns.list("u")) FROM users u JOIN user_roles ur ON ur.user_id = u.id
                WHERE ur.role_id = ? AND ur.realm_id = ? ORDER BY u.username LIMIT ? OFFSET ?
                """, arguments: [roleId, realmId, page.max, page.first]).map(Self.user)
        }
    }

    // MARK: Rows and checks

    static func insertRole(_ role: Role, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO roles (id, realm_id, client_id, name, description, attributes) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [role.id, role.realmId, role.clientId, role.name, role.description, JSONColumn.encode(role.attributes)])
    }

    static func role(_ row: Row) -> Role {
        Role(id: row["id"], realmId: row["realm_id"], clientId: row["client_id"], name: row["name"], description: row["description"],
             attributes: JSONColumn.decode([String: [String]].self, row["attributes"], default: [:]))
    }

    static func requireUser(_ id: String, realmId: String, _ db: Database) throws {
        guard try Bool.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM users WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]) == true else {
            throw StoreError.notFound(.user)
        }
    }

    static func requireRoles(_ ids: [String], realmId: String, _ db: Database) throws {
        let unique = Set(ids)
        guard !unique.isEmpty else { return }
        let found = try Int.fetchOne(db, sql: "SELECT count(*) FROM roles WHERE realm_id = ? AND id IN (\(SQLText.placeholders(unique.count)))",
                                     arguments: StatementArguments([realmId] + Array(unique))) ?? 0
        guard found == unique.count else { throw StoreError.notFound(.role) }
    }
}

extension SQLiteStore {
    public func authorizationVersion(realmId: String) async throws -> Int64 {
        try await readOne { db in
            try Int64.fetchOne(try db.cachedStatement(sql: "SELECT version FROM authorization_versions WHERE realm_id = ?"), arguments: [realmId]) ?? 0
        }
    }
}

extension SQLiteStore {
    public func realmVersions(realmId: String) async throws -> RealmVersions? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT realm_id, version, configuration_version FROM authorization_versions WHERE realm_id = ?"),
                             arguments: [realmId]).map(Self.versions)
        }
    }

    public func realmVersions(realmName: String) async throws -> RealmVersions? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: """
                SELECT v.realm_id, v.version, v.configuration_version FROM authorization_versions v JOIN realms r ON r.id = v.realm_id
                WHERE r.name = ?
                """), arguments: [realmName]).map(Self.versions)
        }
    }

    static func versions(_ row: Row) -> RealmVersions {
        RealmVersions(realmId: row["realm_id"], authorization: row["version"], configuration: row["configuration_version"])
    }
}
