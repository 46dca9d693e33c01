import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createGroup(_ group: Group) async throws {
        try await write { db in
            if let parentId = group.parentId { try Self.requireGroup(parentId, realmId: group.realmId, db) }
            try Self.insertGroup(group, db)
        }
    }

    public func group(id: String, realmId: String) async throws -> GroupNode? {
        try await read { db in
            try Row.fetchOne(db, sql: "\(Self.groupSelect) WHERE g.id = ? AND g.realm_id = ?", arguments: [id, realmId]).map(Self.groupNode)
        }
    }

    public func group(path: String, realmId: String) async throws -> GroupNode? {
        let names = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !names.isEmpty else { return nil }
        return try await read { db in
            var parent: String? = nil
            for name in names {
                let id: String? = if let p = parent {
                    try String.fetchOne(db, sql: "SELECT id FROM realm_groups WHERE parent_id = ? AND name = ?", arguments: [p, name])
                } else {
                    try String.fetchOne(db, sql: "SELECT id FROM realm_groups WHERE realm_id = ? AND parent_id IS NULL AND name = ?", arguments: [realmId, name])
                }
                guard let id else { return nil }
                parent = id
            }
            return try parent.flatMap { try Row.fetchOne(db, sql: "\(Self.groupSelect) WHERE g.id = ?", arguments: [$0]).map(Self.groupNode) }
        }
    }

    public func groups(realmId: String, parentId: String?, search: String?, page: Page) async throws -> [GroupNode] {
        try await read { db in
            var sql = "\(Self.groupSelect) WHERE g.realm_id = ?"
            var arguments: StatementArguments = [realmId]
            if let search, !search.isEmpty {
                // Keycloak's search looks through the whole tree, whatever the level.
                sql += " AND g.name LIKE ? ESCAPE '\\'"
                arguments += ["%\(SQLText.escapeLike(search))%"]
            } else if let parentId {
                try Self.requireGroup(parentId, realmId: realmId, db)
                sql += " AND g.parent_id = ?"
                arguments += [parentId]
            } else {
                sql += " AND g.parent_id IS NULL"
            }
            sql += " ORDER BY g.name LIMIT ? OFFSET ?"
            arguments += [page.max, page.first]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.groupNode)
        }
    }

    public func countGroups(realmId: String) async throws -> Int {
        try await read { db in try Int.fetchOne(try db.cachedStatement(sql: "SELECT count(*) FROM realm_groups WHERE realm_id = ?"), arguments: [realmId]) ?? 0 }
    }

    public func updateGroup(id: String, realmId: String, _ change: @escaping @Sendable (inout Group) throws -> Void) async throws -> Group {
        try await write { db in
            guard var group = try Row.fetchOne(db, sql: "\(Self.groupSelect) WHERE g.id = ? AND g.realm_id = ?", arguments: [id, realmId]).map(Self.groupNode)?.group else {
                throw StoreError.notFound(.group)
            }
            try change(&group)
            group.id = id
            group.realmId = realmId
            if let parentId = group.parentId {
                try Self.requireGroup(parentId, realmId: group.realmId, db)
                // Refuse a move under the group's own subtree: the tree must stay a tree.
                let ancestors = try String.fetchAll(db, sql: """
                    WITH RECURSIVE up(id) AS (SELECT ? UNION SELECT g.parent_id FROM realm_groups g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL)
                    SELECT id FROM up
                    """, arguments: [parentId])
                if ancestors.contains(group.id) { throw StoreError.invalid("A group cannot be moved under itself or one of its subgroups") }
            }
            try db.execute(sql: "UPDATE realm_groups SET parent_id = ?, name = ?, attributes = ? WHERE id = ? AND realm_id = ?",
                           arguments: [group.parentId, group.name, JSONColumn.encode(group.attributes), group.id, group.realmId])
            guard db.changesCount == 1 else { throw StoreError.notFound(.group) }
            return group
        }
    }

    public func deleteGroup(id: String, realmId: String) async throws {
        try await write { db in try Self.deleteGroup(id: id, realmId: realmId, db) }
    }

    static func deleteGroup(id: String, realmId: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM realm_groups WHERE id = ? AND realm_id = ?", arguments: [id, realmId])
        guard db.changesCount == 1 else { throw StoreError.notFound(.group) }
    }

    public func addMember(groupId: String, userId: String, realmId: String) async throws {
        try await write { db in try Self.addMember(groupId: groupId, userId: userId, realmId: realmId, db) }
    }

    static func addMember(groupId: String, userId: String, realmId: String, _ db: Database) throws {
        try requireGroup(groupId, realmId: realmId, db)
        try requireUser(userId, realmId: realmId, db)
        try db.execute(sql: "INSERT OR IGNORE INTO group_members (realm_id, group_id, user_id) VALUES (?, ?, ?)", arguments: [realmId, groupId, userId])
    }

    public func removeMember(groupId: String, userId: String, realmId: String) async throws {
        try await write { db in try Self.removeMember(groupId: groupId, userId: userId, realmId: realmId, db) }
    }

    static func removeMember(groupId: String, userId: String, realmId: String, _ db: Database) throws {
        try requireGroup(groupId, realmId: realmId, db)
        try requireUser(userId, realmId: realmId, db)
        try db.execute(sql: "DELETE FROM group_members WHERE realm_id = ? AND group_id = ? AND user_id = ?", arguments: [realmId, groupId, userId])
    }

    public func members(groupId: String, realmId: String, page: Page) async throws -> [User] {
        try await read { db in
            try Self.requireGroup(groupId, realmId: realmId, db)
            return try Row.fetchAll(db, sql: """
                SELECT \(UserColumns.list("u")) FROM users u JOIN group_members m ON m.user_id = u.id
                WHERE m.group_id = ? AND m.realm_id = ? ORDER BY u.username LIMIT ? OFFSET ?
                """, arguments: [groupId, realmId, page.max, page.first]).map(Self.user)
        }
    }

    public func groupsOfUser(userId: String, realmId: String) async throws -> [GroupNode] {
        try await read { db in
            try Self.requireUser(userId, realmId: realmId, db)
            return try Row.fetchAll(db, sql: "\(Self.groupSelect) JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? AND m.realm_id = ? ORDER BY path",
                                    arguments: [userId, realmId]).map(Self.groupNode)
        }
    }

    public func grantGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try Self.grantGroupRoles(groupId: groupId, roleIds: roleIds, realmId: realmId, db) }
    }

    static func grantGroupRoles(groupId: String, roleIds: [String], realmId: String, _ db: Database) throws {
        try requireGroup(groupId, realmId: realmId, db)
        try requireRoles(roleIds, realmId: realmId, db)
        for roleId in roleIds {
            try db.execute(sql: "INSERT OR IGNORE INTO group_roles (realm_id, group_id, role_id) VALUES (?, ?, ?)", arguments: [realmId, groupId, roleId])
        }
    }

    public func revokeGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in
            try Self.requireGroup(groupId, realmId: realmId, db)
            try db.execute(sql: "DELETE FROM group_roles WHERE realm_id = ? AND group_id = ? AND role_id IN (\(SQLText.placeholders(roleIds.count)))",
                           arguments: StatementArguments([realmId, groupId] + roleIds))
        }
    }

    public func groupRoles(groupId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try Self.requireGroup(groupId, realmId: realmId, db)
            return try Row.fetchAll(db, sql: """
                SELECT r.* FROM roles r JOIN group_roles gr ON gr.role_id = r.id
                WHERE gr.group_id = ? AND gr.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name
                """, arguments: [groupId, realmId]).map(Self.role)
        }
    }

    // MARK: Rows

    /// A group with its path (built by walking up the tree) and its number of children.
    static let groupSelect = """
        SELECT g.*,
          (WITH RECURSIVE up(id, parent_id, name, depth) AS (
             SELECT g.id, g.parent_id, g.name, 0
             UNION ALL
             SELECT p.id, p.parent_id, p.name, up.depth + 1 FROM realm_groups p JOIN up ON p.id = up.parent_id WHERE up.depth < 1000)
           SELECT group_concat('/' || name, '') FROM (SELECT name FROM up ORDER BY depth DESC)) AS path,
          (SELECT count(*) FROM realm_groups c WHERE c.parent_id = g.id) AS sub_group_count
        FROM realm_groups g
        """

    static func insertGroup(_ g: Group, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO realm_groups (id, realm_id, parent_id, name, attributes) VALUES (?, ?, ?, ?, ?)",
                       arguments: [g.id, g.realmId, g.parentId, g.name, JSONColumn.encode(g.attributes)])
    }

    static func groupNode(_ row: Row) -> GroupNode {
        let group = Group(id: row["id"], realmId: row["realm_id"], parentId: row["parent_id"], name: row["name"],
                          attributes: JSONColumn.decode([String: [String]].self, row["attributes"], default: [:]))
        return GroupNode(group: group, path: row["path"] ?? "/\(group.name)", subGroupCount: row["sub_group_count"] ?? 0)
    }

    static func requireGroup(_ id: String, realmId: String, _ db: Database) throws {
        guard try Bool.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM realm_groups WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]) == true else {
            throw StoreError.notFound(.group)
        }
    }
}
