import KeyportModel
import KeyportSQL
import KeyportStore

extension PostgresStore {
    public func createGroup(_ group: Group) async throws {
        try await write { db in try await Self.createGroup(group, db) }
    }

    static func createGroup(_ group: Group, _ db: PGConnection) async throws {
        if let parentId = group.parentId { try await requireOwner(.group, parentId, realmId: group.realmId, db) }
        try await db.run(statements.groups.insert(group))
    }

    public func group(id: String, realmId: String) async throws -> GroupNode? {
        try await read { db in try await db.one(statements.groups.byId(id, realmId: realmId), GroupSQL.decode) }
    }

    public func group(path: String, realmId: String) async throws -> GroupNode? {
        let names = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !names.isEmpty else { return nil }
        return try await read { db in
            var parent: String? = nil
            for name in names {
                guard let id = try await db.one(statements.groups.child(named: name, of: parent, realmId: realmId), { $0.string(0) }) else { return nil }
                parent = id
            }
            guard let parent else { return nil }
            return try await db.one(statements.groups.byId(parent), GroupSQL.decode)
        }
    }

    public func groups(realmId: String, parentId: String?, search: String?, page: Page) async throws -> [GroupNode] {
        try await read { db in
            if let parentId, search?.isEmpty ?? true { try await Self.requireOwner(.group, parentId, realmId: realmId, db) }
            return try await db.all(statements.groups.page(realmId: realmId, parentId: parentId, search: search, page), GroupSQL.decode)
        }
    }

    public func countGroups(realmId: String, search: String?, topOnly: Bool) async throws -> Int {
        try await read { db in try await db.count(statements.groups.count(realmId: realmId, search: search, topOnly: topOnly)) }
    }

    public func updateGroup(id: String, realmId: String, _ change: @escaping @Sendable (inout Group) throws -> Void) async throws -> Group {
        try await write { db in
            // Moves in one realm take turns: two concurrent moves cannot make a cycle together.
            try await db.run(statements.groups.lockTree(realmId: realmId))
            guard let group = try await db.one(statements.groups.byId(id, realmId: realmId), GroupSQL.decode)?.group else { throw StoreError.notFound(.group) }
            let changed = try GroupSQL.applying(change, to: group)
            if let parentId = changed.parentId {
                try await Self.requireOwner(.group, parentId, realmId: realmId, db)
                // Refuse a move under the group's own subtree: the tree must stay a tree.
                if try await db.all(statements.groups.selfAndAncestors(parentId), { $0.string(0) }).contains(id) {
                    throw StoreError.invalid("A group cannot be moved under itself or one of its subgroups")
                }
            }
            guard try await db.run(statements.groups.update(changed)) == 1 else { throw StoreError.notFound(.group) }
            return changed
        }
    }

    public func deleteGroup(id: String, realmId: String) async throws {
        try await write { db in try await Self.deleteGroup(id: id, realmId: realmId, db) }
    }

    static func deleteGroup(id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.run(statements.groups.delete(id, realmId: realmId)) == 1 else { throw StoreError.notFound(.group) }
    }

    public func addMember(groupId: String, userId: String, realmId: String) async throws {
        try await write { db in try await Self.addMember(groupId: groupId, userId: userId, realmId: realmId, db) }
    }

    static func addMember(groupId: String, userId: String, realmId: String, _ db: PGConnection) async throws {
        try await requireOwner(.group, groupId, realmId: realmId, db)
        try await requireOwner(.user, userId, realmId: realmId, db)
        try await db.run(MembershipSQL.add(groupId: groupId, userId: userId, realmId: realmId, .postgres))
    }

    public func removeMember(groupId: String, userId: String, realmId: String) async throws {
        try await write { db in
            try await Self.requireOwner(.group, groupId, realmId: realmId, db)
            try await Self.requireOwner(.user, userId, realmId: realmId, db)
            try await db.run(MembershipSQL.remove(groupId: groupId, userId: userId, realmId: realmId))
        }
    }

    public func members(groupId: String, realmId: String, page: Page) async throws -> [User] {
        try await read { db in
            try await Self.requireOwner(.group, groupId, realmId: realmId, db)
            return try await db.all(statements.users.joined(through: "group_members", where: "group_id", is: groupId, realmId: realmId, page: page), UserSQL.decode)
        }
    }

    public func groupsOfUser(userId: String, realmId: String) async throws -> [GroupNode] {
        try await read { db in
            try await Self.requireOwner(.user, userId, realmId: realmId, db)
            return try await db.all(statements.groups.ofUser(userId, realmId: realmId), GroupSQL.decode)
        }
    }

    public func groupsWithRole(roleId: String, realmId: String, page: Page) async throws -> [GroupNode] {
        try await read { db in
            try await Self.requireRoles([roleId], realmId: realmId, db)
            return try await db.all(statements.groups.withRole(roleId, realmId: realmId, page), GroupSQL.decode)
        }
    }

    public func grantGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try await Self.grantRoles(.group, to: groupId, roleIds: roleIds, realmId: realmId, db) }
    }

    public func revokeGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws {
        try await write { db in try await Self.revokeRoles(.group, from: groupId, roleIds: roleIds, realmId: realmId, db) }
    }

    public func groupRoles(groupId: String, realmId: String) async throws -> [Role] {
        try await read { db in
            try await Self.requireOwner(.group, groupId, realmId: realmId, db)
            return try await db.all(statements.roles.mapped(through: .group, ownerId: groupId, realmId: realmId), RoleSQL.decode)
        }
    }
}
