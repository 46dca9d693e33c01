import KeyportModel
import KeyportStore

// MARK: Roles and role mappings

extension PostgresStore {
    public func createRole(_ role: Role) async throws {
        try await write { db in try await Self.insertRole(role, db) }
    }

    public func role(id: String, realmId: String) async throws -> Role? {
        try await readOne { db in try await db.one("SELECT * FROM roles WHERE id = ? AND realm_id = ?", [id, realmId]).map(Self.role) }
    }

    public func role(named name: String, realmId: String, clientId: String?) async throws -> Role? {
        try await readOne { db in
            if let clientId {
                return try await db.one("SELECT * FROM roles WHERE realm_id = ? AND client_id = ? AND name = ?", [realmId, clientId, name]).map(Self.role)
            }
            return try await db.one("SELECT * FROM roles WHERE realm_id = ? AND client_id IS NULL AND name = ?", [realmId, name]).map(Self.role)
        }
    }

    public func roles(realmId: String, clientId: String?, search: String?, page: Page) async throws -> [Role] {
        var sql = "SELECT * FROM roles WHERE realm_id = ? AND " + (clientId == nil ? "client_id IS NULL" : "client_id = ?")
        var arguments: [(any Sendable)?] = [realmId]
        if let clientId { arguments.append(clientId) }
        if let search, !search.isEmpty {
            sql += " AND (name ILIKE ? ESCAPE '\\' OR description ILIKE ? ESCAPE '\\')"
            let pattern = "%\(SQLText.escapeLike(search))%"
            arguments += [pattern, pattern]
        }
        sql += " ORDER BY name LIMIT ? OFFSET ?"
        arguments += [page.max, page.first]
        let finalSQL = sql, finalArguments = arguments
        return try await readOne { db in try await db.rows(finalSQL, finalArguments).map(Self.role) }
    }

    public func updateRole(id: String, realmId: String, _ change: @escaping @Sendable (inout Role) throws -> Void) async throws -> Role {
        try await write { db in
            guard var role = try await db.one("SELECT * FROM roles WHERE id = ? AND realm_id = ? FOR UPDATE", [id, realmId]).map(Self.role) else {
                throw StoreError.notFound(.role)
            }
            let clientId = role.clientId
            try change(&role)
            role.id = id
            role.realmId = realmId
            role.clientId = clientId
            try await db.execute("UPDATE roles SET name = ?, description = ?, attributes = ? WHERE id = ? AND realm_id = ?",
                                 [role.name, role.description, JSONColumn.encode(role.attributes), role.id, role.realmId])
            return role
        }
    }

    public func deleteRole(id: String, realmId: String) async throws {
        try await write { db in try await Self.deleteRole(id: id, realmId: realmId, db) }
    }

    static func deleteRole(id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.execute("DELETE FROM roles WHERE id = ? AND realm_id = ? RETURNING 1", [id, realmId]) == 1 else {
            throw StoreError.notFound(.role)
        }
    }

    public func addComposites(parentId: String, childIds: [String], realmId: String) async throws {
        try await write { db in try await Self.addComposites(parentId: parentId, childIds: childIds, realmId: realmId, db) }
    }

    static func addComposites(parentId: String, childIds: [String], realmId: String, _ db: PGConnection) async throws {
        try await requireRoles([parentId] + childIds, realmId: realmId, db)
        for child in childIds where child != parentId {
            try await db.execute("INSERT INTO role_composites (realm_id, parent_role_id, child_role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                 [realmId, parentId, child])
        }
    }

    public func removeComposites(parentId: String, childIds: [String], realmId: String) async throws {
        try await write { db in
            try await Self.requireRoles([parentId], realmId: realmId, db)
            guard !childIds.isEmpty else { return }
            try await db.execute("DELETE FROM role_composites WHERE realm_id = ? AND parent_role_id = ? AND child_role_id IN (\(SQLText.placeholders(childIds.count)))",
                                 [realmId, parentId] + childIds)
        }
    }

    public func composites(of roleId: String, realmId: String) async throws -> [Role] {
        try await readOne { db in
            try await db.rows("""
                SELECT r.* FROM roles r JOIN role_composites rc ON rc.child_role_id = r.id
                WHERE rc.parent_role_id = ? AND rc.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name
                """, [roleId, realmId]).map(Self.role)
        }
    }

    public func compositeRoleIds(among roleIds: [String]) async throws -> Set<String> {
        guard !roleIds.isEmpty else { return [] }
        return try await readOne { db in
            Set(try await db.rows("SELECT DISTINCT parent_role_id FROM role_composites WHERE parent_role_id IN (\(SQLText.placeholders(roleIds.count)))",
                                  roleIds).map { $0.string("parent_role_id") })
        }
    }

    public func grantUserRoles(userId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try await Self.grantUserRoles(userId: userId, roleIds: roleIds, realmId: realmId, db) }
    }

    static func grantUserRoles(userId: String, roleIds: [String], realmId: String, _ db: PGConnection) async throws {
        try await requireUser(userId, realmId: realmId, db)
        try await requireRoles(roleIds, realmId: realmId, db)
        for roleId in roleIds {
            try await db.execute("INSERT INTO user_roles (realm_id, user_id, role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [realmId, userId, roleId])
        }
    }

    public func revokeUserRoles(userId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in
            try await Self.requireUser(userId, realmId: realmId, db)
            guard !roleIds.isEmpty else { return }
            try await db.execute("DELETE FROM user_roles WHERE realm_id = ? AND user_id = ? AND role_id IN (\(SQLText.placeholders(roleIds.count)))",
                                 [realmId, userId] + roleIds)
        }
    }

    public func userRoles(userId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try await Self.requireUser(userId, realmId: realmId, db)
            return try await db.rows("""
                SELECT r.* FROM roles r JOIN user_roles ur ON ur.role_id = r.id
                WHERE ur.user_id = ? AND ur.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name
                """, [userId, realmId]).map(Self.role)
        }
    }

    /// As `SQLiteStore.effectiveRolesSQL`: groups and ancestors, mapped roles, composites to a
    /// fixed point; `UNION` ends a cycle.
    static let effectiveRolesSQL = """
        WITH RECURSIVE
          member_of(group_id) AS (
            SELECT group_id FROM group_members WHERE user_id = ?
            UNION
            SELECT g.parent_id FROM realm_groups g JOIN member_of m ON g.id = m.group_id WHERE g.parent_id IS NOT NULL
          ),
          effective(role_id) AS (
            SELECT role_id FROM user_roles WHERE user_id = ?
            UNION
            SELECT gr.role_id FROM group_roles gr JOIN member_of m ON gr.group_id = m.group_id
            UNION
            SELECT rc.child_role_id FROM role_composites rc JOIN effective e ON rc.parent_role_id = e.role_id
          )
        SELECT r.* FROM roles r JOIN effective e ON e.role_id = r.id
        WHERE r.realm_id = ?
        ORDER BY r.client_id IS NOT NULL, r.client_id COLLATE "C", r.name
        """

    public func effectiveRoles(userId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try await Self.requireUser(userId, realmId: realmId, db)
            return try await db.rows(Self.effectiveRolesSQL, [userId, userId, realmId]).map(Self.role)
        }
    }

    public func authorizationVersion(realmId: String) async throws -> Int64 {
        try await readOne { db in try await db.one("SELECT version FROM authorization_versions WHERE realm_id = ?", [realmId])?.int64("version") ?? 0 }
    }

    public func realmVersions(realmId: String) async throws -> RealmVersions? {
        try await readOne { db in
            try await db.one("SELECT realm_id, version, configuration_version FROM authorization_versions WHERE realm_id = ?", [realmId]).map(Self.versions)
        }
    }

    public func realmVersions(realmName: String) async throws -> RealmVersions? {
        try await readOne { db in
            try await db.one("""
                SELECT v.realm_id, v.version, v.configuration_version FROM authorization_versions v JOIN realms r ON r.id = v.realm_id
                WHERE r.name = ?
                """, [realmName]).map(Self.versions)
        }
    }

    static func versions(_ row: PGRow) -> RealmVersions {
        RealmVersions(realmId: row.string("realm_id"), authorization: row.int64("version"), configuration: row.int64("configuration_version"))
    }

    /// Fails unless the realm's versions are still `expected` (`StoreChange.requireVersions`); the
    /// row is locked, so no change to what it covers can commit between this check and the commit.
    static func requireVersions(_ expected: RealmVersions, _ db: PGConnection) async throws {
        let now = try await db.one("SELECT realm_id, version, configuration_version FROM authorization_versions WHERE realm_id = ? FOR UPDATE",
                                   [expected.realmId]).map(versions)
        guard now == expected else { throw StoreError.conflict(.concurrentChange) }
    }

    public func usersWithRole(roleId: String, realmId: String, page: Page) async throws -> [User] {
        try await read { db in
            try await Self.requireRoles([roleId], realmId: realmId, db)
            return try await db.rows("""
                SELECT u.* FROM users u JOIN user_roles ur ON ur.user_id = u.id
                WHERE ur.role_id = ? AND ur.realm_id = ? ORDER BY u.username LIMIT ? OFFSET ?
                """, [roleId, realmId, page.max, page.first]).map(Self.user)
        }
    }

    static func insertRole(_ role: Role, _ db: PGConnection) async throws {
        try await db.execute("INSERT INTO roles (id, realm_id, client_id, name, description, attributes) VALUES (?, ?, ?, ?, ?, ?)",
                             [role.id, role.realmId, role.clientId, role.name, role.description, JSONColumn.encode(role.attributes)])
    }

    static func role(_ row: PGRow) -> Role {
        Role(id: row.string("id"), realmId: row.string("realm_id"), clientId: row.optionalString("client_id"), name: row.string("name"),
             description: row.optionalString("description"),
             attributes: JSONColumn.decode([String: [String]].self, row.optionalString("attributes"), default: [:]))
    }

    static func requireUser(_ id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.one("SELECT 1 AS x FROM users WHERE id = ? AND realm_id = ?", [id, realmId]) != nil else { throw StoreError.notFound(.user) }
    }

    static func requireRoles(_ ids: [String], realmId: String, _ db: PGConnection) async throws {
        let unique = Array(Set(ids))
        guard !unique.isEmpty else { return }
        let found = try await db.one("SELECT count(*) AS n FROM roles WHERE realm_id = ? AND id IN (\(SQLText.placeholders(unique.count)))",
                                     [realmId] + unique)?.int("n") ?? 0
        guard found == unique.count else { throw StoreError.notFound(.role) }
    }
}

// MARK: Groups

extension PostgresStore {
    /// A group with its path (walked up the tree) and its number of children.
    static let groupSelect = """
        SELECT g.*,
          (WITH RECURSIVE up(id, parent_id, name, depth) AS (
             SELECT g.id, g.parent_id, g.name, 0
             UNION ALL
             SELECT p.id, p.parent_id, p.name, up.depth + 1 FROM realm_groups p JOIN up ON p.id = up.parent_id WHERE up.depth < 1000)
           SELECT string_agg('/' || name, '' ORDER BY depth DESC) FROM up) AS path,
          (SELECT count(*) FROM realm_groups c WHERE c.parent_id = g.id) AS sub_group_count
        FROM realm_groups g
        """

    public func createGroup(_ group: Group) async throws {
        try await write { db in
            if let parentId = group.parentId { try await Self.requireGroup(parentId, realmId: group.realmId, db) }
            try await Self.insertGroup(group, db)
        }
    }

    public func group(id: String, realmId: String) async throws -> GroupNode? {
        try await readOne { db in try await db.one("\(Self.groupSelect) WHERE g.id = ? AND g.realm_id = ?", [id, realmId]).map(Self.groupNode) }
    }

    public func group(path: String, realmId: String) async throws -> GroupNode? {
        let names = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !names.isEmpty else { return nil }
        return try await read { db in
            var parent: String? = nil
            for name in names {
                let row: PGRow? = if let p = parent {
                    try await db.one("SELECT id FROM realm_groups WHERE parent_id = ? AND name = ?", [p, name])
                } else {
                    try await db.one("SELECT id FROM realm_groups WHERE realm_id = ? AND parent_id IS NULL AND name = ?", [realmId, name])
                }
                guard let id = row?.string("id") else { return nil }
                parent = id
            }
            guard let parent else { return nil }
            return try await db.one("\(Self.groupSelect) WHERE g.id = ?", [parent]).map(Self.groupNode)
        }
    }

    public func groups(realmId: String, parentId: String?, search: String?, page: Page) async throws -> [GroupNode] {
        try await read { db in
            var sql = "\(Self.groupSelect) WHERE g.realm_id = ?"
            var arguments: [(any Sendable)?] = [realmId]
            if let search, !search.isEmpty {
                sql += " AND g.name ILIKE ? ESCAPE '\\'"
                arguments.append("%\(SQLText.escapeLike(search))%")
            } else if let parentId {
                try await Self.requireGroup(parentId, realmId: realmId, db)
                sql += " AND g.parent_id = ?"
                arguments.append(parentId)
            } else {
                sql += " AND g.parent_id IS NULL"
            }
            sql += " ORDER BY g.name LIMIT ? OFFSET ?"
            arguments += [page.max, page.first]
            return try await db.rows(sql, arguments).map(Self.groupNode)
        }
    }

    public func countGroups(realmId: String) async throws -> Int {
        try await readOne { db in try await db.one("SELECT count(*) AS n FROM realm_groups WHERE realm_id = ?", [realmId])?.int("n") ?? 0 }
    }

    public func updateGroup(id: String, realmId: String, _ change: @escaping @Sendable (inout Group) throws -> Void) async throws -> Group {
        try await write { db in
            // Moves in one realm take turns: two concurrent moves cannot make a cycle together.
            try await db.execute("SELECT pg_advisory_xact_lock(hashtextextended('keyport.groups/' || ?, 17))", [realmId])
            guard var group = try await db.one("\(Self.groupSelect) WHERE g.id = ? AND g.realm_id = ?", [id, realmId]).map(Self.groupNode)?.group else {
                throw StoreError.notFound(.group)
            }
            try change(&group)
            group.id = id
            group.realmId = realmId
            if let parentId = group.parentId {
                try await Self.requireGroup(parentId, realmId: group.realmId, db)
                let ancestors = try await db.rows("""
                    WITH RECURSIVE up(id) AS (SELECT ?::text UNION SELECT g.parent_id FROM realm_groups g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL)
                    SELECT id FROM up
                    """, [parentId]).map { $0.string("id") }
                if ancestors.contains(group.id) { throw StoreError.invalid("A group cannot be moved under itself or one of its subgroups") }
            }
            guard try await db.execute("UPDATE realm_groups SET parent_id = ?, name = ?, attributes = ? WHERE id = ? AND realm_id = ? RETURNING 1",
                                       [group.parentId, group.name, JSONColumn.encode(group.attributes), group.id, group.realmId]) == 1 else {
                throw StoreError.notFound(.group)
            }
            return group
        }
    }

    public func deleteGroup(id: String, realmId: String) async throws {
        try await write { db in try await Self.deleteGroup(id: id, realmId: realmId, db) }
    }

    static func deleteGroup(id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.execute("DELETE FROM realm_groups WHERE id = ? AND realm_id = ? RETURNING 1", [id, realmId]) == 1 else {
            throw StoreError.notFound(.group)
        }
    }

    public func addMember(groupId: String, userId: String, realmId: String) async throws {
        try await write { db in try await Self.addMember(groupId: groupId, userId: userId, realmId: realmId, db) }
    }

    static func addMember(groupId: String, userId: String, realmId: String, _ db: PGConnection) async throws {
        try await requireGroup(groupId, realmId: realmId, db)
        try await requireUser(userId, realmId: realmId, db)
        try await db.execute("INSERT INTO group_members (realm_id, group_id, user_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [realmId, groupId, userId])
    }

    public func removeMember(groupId: String, userId: String, realmId: String) async throws {
        try await write { db in
            try await Self.requireGroup(groupId, realmId: realmId, db)
            try await Self.requireUser(userId, realmId: realmId, db)
            try await db.execute("DELETE FROM group_members WHERE realm_id = ? AND group_id = ? AND user_id = ?", [realmId, groupId, userId])
        }
    }

    public func members(groupId: String, realmId: String, page: Page) async throws -> [User] {
        try await read { db in
            try await Self.requireGroup(groupId, realmId: realmId, db)
            return try await db.rows("""
                SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.id
                WHERE m.group_id = ? AND m.realm_id = ? ORDER BY u.username LIMIT ? OFFSET ?
                """, [groupId, realmId, page.max, page.first]).map(Self.user)
        }
    }

    public func groupsOfUser(userId: String, realmId: String) async throws -> [GroupNode] {
        try await read { db in
            try await Self.requireUser(userId, realmId: realmId, db)
            return try await db.rows("SELECT * FROM (\(Self.groupSelect) JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? AND m.realm_id = ?) AS found ORDER BY path",
                                     [userId, realmId]).map(Self.groupNode)
        }
    }

    public func grantGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try await Self.grantGroupRoles(groupId: groupId, roleIds: roleIds, realmId: realmId, db) }
    }

    static func grantGroupRoles(groupId: String, roleIds: [String], realmId: String, _ db: PGConnection) async throws {
        try await requireGroup(groupId, realmId: realmId, db)
        try await requireRoles(roleIds, realmId: realmId, db)
        for roleId in roleIds {
            try await db.execute("INSERT INTO group_roles (realm_id, group_id, role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [realmId, groupId, roleId])
        }
    }

    public func revokeGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in
            try await Self.requireGroup(groupId, realmId: realmId, db)
            guard !roleIds.isEmpty else { return }
            try await db.execute("DELETE FROM group_roles WHERE realm_id = ? AND group_id = ? AND role_id IN (\(SQLText.placeholders(roleIds.count)))",
                                 [realmId, groupId] + roleIds)
        }
    }

    public func groupRoles(groupId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try await Self.requireGroup(groupId, realmId: realmId, db)
            return try await db.rows("""
                SELECT r.* FROM roles r JOIN group_roles gr ON gr.role_id = r.id
                WHERE gr.group_id = ? AND gr.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name
                """, [groupId, realmId]).map(Self.role)
        }
    }

    static func insertGroup(_ g: Group, _ db: PGConnection) async throws {
        try await db.execute("INSERT INTO realm_groups (id, realm_id, parent_id, name, attributes) VALUES (?, ?, ?, ?, ?)",
                             [g.id, g.realmId, g.parentId, g.name, JSONColumn.encode(g.attributes)])
    }

    static func groupNode(_ row: PGRow) -> GroupNode {
        let group = Group(id: row.string("id"), realmId: row.string("realm_id"), parentId: row.optionalString("parent_id"), name: row.string("name"),
                          attributes: JSONColumn.decode([String: [String]].self, row.optionalString("attributes"), default: [:]))
        return GroupNode(group: group, path: row.optionalString("path") ?? "/\(group.name)", subGroupCount: row.int("sub_group_count"))
    }

    static func requireGroup(_ id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.one("SELECT 1 AS x FROM realm_groups WHERE id = ? AND realm_id = ?", [id, realmId]) != nil else {
            throw StoreError.notFound(.group)
        }
    }
}
