import KeyportModel
import KeyportStore

/// Roles, their composites, and the realm's versions.
public struct RoleSQL: Sendable {
    /// A role row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "client_id", "name", "description", "attributes"])

    let dialect: SQLDialect
    private let select: String
    public let effectiveText: String

    public init(_ dialect: SQLDialect) {
        self.dialect = dialect
        select = "SELECT \(Self.columns.list()) FROM roles"
        // One recursive query: the user's groups and their ancestors, the roles mapped to the user
        // and to those groups, then composites to a fixed point. `UNION` (not `UNION ALL`) drops
        // rows already seen, which is what ends a cycle.
        effectiveText = """
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
            SELECT \(Self.columns.list("r")) FROM roles r JOIN effective e ON e.role_id = r.id
            WHERE r.realm_id = ?
            ORDER BY r.client_id IS NOT NULL, r.client_id\(dialect.bytewise), r.name
            """
    }

    public func byId(_ id: String, realmId: String) -> SQLStatement { SQLStatement("\(select) WHERE id = ? AND realm_id = ?", [id, realmId]) }
    public func byIdForUpdate(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE id = ? AND realm_id = ?\(dialect.forUpdate)", [id, realmId])
    }
    /// A realm role (`clientId` nil) or a client's role, by name.
    public func named(_ name: String, realmId: String, clientId: String?) -> SQLStatement {
        if let clientId { return SQLStatement("\(select) WHERE realm_id = ? AND client_id = ? AND name = ?", [realmId, clientId, name]) }
        return SQLStatement("\(select) WHERE realm_id = ? AND client_id IS NULL AND name = ?", [realmId, name])
    }
    public func page(realmId: String, clientId: String?, search: String?, _ page: Page) -> SQLStatement {
        var sql = "\(select) WHERE realm_id = ? AND " + (clientId == nil ? "client_id IS NULL" : "client_id = ?")
        var arguments: [any SQLBindable] = [realmId]
        if let clientId { arguments.append(clientId) }
        if let search, !search.isEmpty {
            sql += " AND (name \(dialect.like) ? ESCAPE '\\' OR description \(dialect.like) ? ESCAPE '\\')"
            let pattern = "%\(SQLText.escapeLike(search))%"
            arguments += [pattern, pattern]
        }
        return SQLStatement(sql + " ORDER BY name LIMIT ? OFFSET ?", arguments + [page.max, page.first], cacheable: false)
    }
    /// The roles whose ids `table` (`user_roles`, `group_roles`, `role_composites`) maps to the owner.
    public func mapped(through mapping: MappingSQL, ownerId: String, realmId: String) -> SQLStatement {
        SQLStatement("""
            SELECT \(Self.columns.list("r")) FROM roles r JOIN \(mapping.table) m ON m.\(mapping.roleColumn) = r.id
            WHERE m.\(mapping.ownerColumn) = ? AND m.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name
            """, [ownerId, realmId])
    }
    /// The composite roles that include `roleId` directly, realm roles first, by name, paged.
    public func parents(of roleId: String, realmId: String, page: Page) -> SQLStatement {
        SQLStatement("""
            SELECT \(Self.columns.list("r")) FROM roles r JOIN role_composites m ON m.parent_role_id = r.id
            WHERE m.child_role_id = ? AND m.realm_id = ? ORDER BY r.client_id IS NOT NULL, r.name LIMIT ? OFFSET ?
            """, [roleId, realmId, page.max, page.first])
    }
    public func effective(userId: String, realmId: String) -> SQLStatement { SQLStatement(effectiveText, [userId, userId, realmId]) }
    /// Which of `roleIds` are composites (one column).
    public func composites(among roleIds: [String]) -> SQLStatement {
        SQLStatement("SELECT DISTINCT parent_role_id FROM role_composites WHERE parent_role_id IN (\(SQLText.placeholders(roleIds.count)))",
                     roleIds, cacheable: false)
    }
    /// How many of `ids` (distinct) are roles of the realm: one column, `n`.
    public func count(of ids: [String], realmId: String) -> SQLStatement {
        SQLStatement("SELECT count(*) AS n FROM roles WHERE realm_id = ? AND id IN (\(SQLText.placeholders(ids.count)))",
                     [realmId] + ids, cacheable: false)
    }

    public func insert(_ role: Role) -> SQLStatement {
        SQLStatement("INSERT INTO roles (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))",
                     [role.id, role.realmId, role.clientId, role.name, role.description, JSONColumn.encode(role.attributes)])
    }
    /// Name, description and attributes; never the id, realm or client. Counts the changed row.
    public func update(_ role: Role) -> SQLStatement {
        SQLStatement("UPDATE roles SET name = ?, description = ?, attributes = ? WHERE id = ? AND realm_id = ?\(dialect.countingChanges)",
                     [role.name, role.description, JSONColumn.encode(role.attributes), role.id, role.realmId])
    }
    /// `change` applied to `role` as the store allows: the identity (and the client it belongs to) stays.
    public static func applying(_ change: (inout Role) throws -> Void, to role: Role) throws -> Role {
        var changed = role
        try change(&changed)
        changed.id = role.id
        changed.realmId = role.realmId
        changed.clientId = role.clientId
        return changed
    }
    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM roles WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }

    public static func decode(_ row: some SQLRow) -> Role {
        Role(id: row.string(0), realmId: row.string(1), clientId: row.text(2), name: row.string(3), description: row.text(4),
             attributes: row.json(5, default: [:]))
    }

    // MARK: Versions

    /// `RealmVersions` columns: realm id, authorization version, configuration version.
    public func versions(realmId: String, locking: Bool = false) -> SQLStatement {
        SQLStatement(sql: locking ? "SELECT realm_id, version, configuration_version FROM authorization_versions WHERE realm_id = ?" + dialect.forUpdate
                                  : "SELECT realm_id, version, configuration_version FROM authorization_versions WHERE realm_id = ?",
                     values: [.text(realmId)])
    }
    public func versions(realmName: String) -> SQLStatement {
        SQLStatement(sql: """
            SELECT v.realm_id, v.version, v.configuration_version FROM authorization_versions v JOIN realms r ON r.id = v.realm_id
            WHERE r.name = ?
            """, values: [.text(realmName)])
    }
    public static func decodeVersions(_ row: some SQLRow) -> RealmVersions {
        RealmVersions(realmId: row.string(0), authorization: row.integer(1) ?? 0, configuration: row.integer(2) ?? 0)
    }
}

/// A many-to-many table from an owner (user, group, composite role) to roles: one set of
/// statements for grant and revoke, whoever the owner is.
public struct MappingSQL: Sendable {
    /// What holds the roles, which the store checks is the realm's before a grant.
    public enum Owner: Sendable { case user, group, role }
    public let owner: Owner
    public let table: String
    public let ownerColumn: String
    public let roleColumn: String

    public static let user = MappingSQL(owner: .user, table: "user_roles", ownerColumn: "user_id", roleColumn: "role_id")
    public static let group = MappingSQL(owner: .group, table: "group_roles", ownerColumn: "group_id", roleColumn: "role_id")
    public static let composite = MappingSQL(owner: .role, table: "role_composites", ownerColumn: "parent_role_id", roleColumn: "child_role_id")

    /// A row when the owner is the realm's.
    public func ownerExists(_ ownerId: String, realmId: String) -> SQLStatement {
        let table = switch owner { case .user: "users"; case .group: "realm_groups"; case .role: "roles" }
        return SQLStatement("SELECT 1 AS x FROM \(table) WHERE id = ? AND realm_id = ?", [ownerId, realmId])
    }

    /// What is missing when `ownerExists` finds nothing.
    public var ownerEntity: StoreEntity {
        switch owner { case .user: .user; case .group: .group; case .role: .role }
    }

    public func grant(_ ownerId: String, roleId: String, realmId: String, _ dialect: SQLDialect) -> SQLStatement {
        SQLStatement(dialect.insertIgnoringDuplicates(into: table, "realm_id, \(ownerColumn), \(roleColumn)", values: "?, ?, ?"),
                     [realmId, ownerId, roleId])
    }
    /// Nil for no roles: nothing to run.
    public func revoke(_ ownerId: String, roleIds: [String], realmId: String) -> SQLStatement? {
        guard !roleIds.isEmpty else { return nil }
        return SQLStatement("DELETE FROM \(table) WHERE realm_id = ? AND \(ownerColumn) = ? AND \(roleColumn) IN (\(SQLText.placeholders(roleIds.count)))",
                            [realmId, ownerId] + roleIds, cacheable: false)
    }
}
