import KeyportModel
import KeyportStore

/// Groups (a tree per realm) and their members.
public struct GroupSQL: Sendable {
    /// A group row's columns, then its path and its number of children: the order `decode` reads.
    public static let columns = SQLColumns(["id", "realm_id", "parent_id", "name", "attributes"])

    let dialect: SQLDialect
    /// A group with its path (built by walking up the tree, at most 1,000 levels) and its number of children.
    private let select: String

    public init(_ dialect: SQLDialect) {
        self.dialect = dialect
        let up = """
            WITH RECURSIVE up(id, parent_id, name, depth) AS (
                 SELECT g.id, g.parent_id, g.name, 0
                 UNION ALL
                 SELECT p.id, p.parent_id, p.name, up.depth + 1 FROM realm_groups p JOIN up ON p.id = up.parent_id WHERE up.depth < 1000)
            """
        select = """
            SELECT \(Self.columns.list("g")),
              (\(up) \(dialect.concatenatedPath(from: "up", order: "depth DESC"))) AS path,
              (SELECT count(*) FROM realm_groups c WHERE c.parent_id = g.id) AS sub_group_count
            FROM realm_groups g
            """
    }

    public func byId(_ id: String, realmId: String) -> SQLStatement { SQLStatement("\(select) WHERE g.id = ? AND g.realm_id = ?", [id, realmId]) }
    public func byId(_ id: String) -> SQLStatement { SQLStatement("\(select) WHERE g.id = ?", [id]) }
    /// One step of a path: the child named `name` of `parentId`, or the top-level group (one column, the id).
    public func child(named name: String, of parentId: String?, realmId: String) -> SQLStatement {
        if let parentId { return SQLStatement("SELECT id FROM realm_groups WHERE parent_id = ? AND name = ?", [parentId, name]) }
        return SQLStatement("SELECT id FROM realm_groups WHERE realm_id = ? AND parent_id IS NULL AND name = ?", [realmId, name])
    }
    /// Children of `parentId` (top-level groups for nil), or — with a search — matching names anywhere
    /// in the tree, as Keycloak's search does.
    public func page(realmId: String, parentId: String?, search: String?, _ page: Page) -> SQLStatement {
        var sql = "\(select) WHERE g.realm_id = ?"
        var arguments: [any SQLBindable] = [realmId]
        if let search, !search.isEmpty {
            sql += " AND g.name \(dialect.like) ? ESCAPE '\\'"
            arguments.append("%\(SQLText.escapeLike(search))%")
        } else if let parentId {
            sql += " AND g.parent_id = ?"
            arguments.append(parentId)
        } else {
            sql += " AND g.parent_id IS NULL"
        }
        return SQLStatement(sql + " ORDER BY g.name LIMIT ? OFFSET ?", arguments + [page.max, page.first], cacheable: false)
    }
    public func ofUser(_ userId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT * FROM (\(select) JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? AND m.realm_id = ?) AS found ORDER BY path",
                     [userId, realmId])
    }
    /// The groups holding a role directly (not through a composite or a parent), by name, paged:
    /// Keycloak's `roles/{name}/groups`.
    public func withRole(_ roleId: String, realmId: String, _ page: Page) -> SQLStatement {
        SQLStatement("""
            SELECT * FROM (\(select) JOIN group_roles r ON r.group_id = g.id WHERE r.role_id = ? AND r.realm_id = ?) AS found
            ORDER BY name, id LIMIT ? OFFSET ?
            """, [roleId, realmId, page.max, page.first])
    }
    /// One column, `n`: the realm's groups whose names contain `search` (anywhere in the tree),
    /// or without one all its groups (`topOnly`: the top-level ones), as Keycloak's count.
    public func count(realmId: String, search: String?, topOnly: Bool) -> SQLStatement {
        if let search, !search.isEmpty {
            return SQLStatement("SELECT count(*) AS n FROM realm_groups WHERE realm_id = ? AND name \(dialect.like) ? ESCAPE '\\'",
                                [realmId, "%\(SQLText.escapeLike(search))%"], cacheable: false)
        }
        return SQLStatement("SELECT count(*) AS n FROM realm_groups WHERE realm_id = ?\(topOnly ? " AND parent_id IS NULL" : "")", [realmId])
    }
    /// `groupId` and its ancestors (one column): a move under one of them would make a cycle.
    public func selfAndAncestors(_ groupId: String) -> SQLStatement {
        SQLStatement("""
            WITH RECURSIVE up(id) AS (SELECT \(dialect.textParameter) UNION SELECT g.parent_id FROM realm_groups g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL)
            SELECT id FROM up
            """, [groupId])
    }
    /// Moves in one realm take turns (PostgreSQL: an advisory lock; SQLite's writer is alone).
    public func lockTree(realmId: String) -> SQLStatement? {
        dialect.engine == .sqlite ? nil : SQLStatement("SELECT pg_advisory_xact_lock(hashtextextended('keyport.groups/' || ?, 17))", [realmId])
    }

    public func insert(_ g: Group) -> SQLStatement {
        SQLStatement("INSERT INTO realm_groups (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))",
                     [g.id, g.realmId, g.parentId, g.name, JSONColumn.encode(g.attributes)])
    }
    /// Parent, name and attributes; never the id or realm. Counts the changed row.
    public func update(_ g: Group) -> SQLStatement {
        SQLStatement("UPDATE realm_groups SET parent_id = ?, name = ?, attributes = ? WHERE id = ? AND realm_id = ?\(dialect.countingChanges)",
                     [g.parentId, g.name, JSONColumn.encode(g.attributes), g.id, g.realmId])
    }
    public static func applying(_ change: (inout Group) throws -> Void, to group: Group) throws -> Group {
        var changed = group
        try change(&changed)
        changed.id = group.id
        changed.realmId = group.realmId
        return changed
    }
    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM realm_groups WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }

    public static func decode(_ row: some SQLRow) -> GroupNode {
        let group = Group(id: row.string(0), realmId: row.string(1), parentId: row.text(2), name: row.string(3), attributes: row.json(4, default: [:]))
        return GroupNode(group: group, path: row.text(5) ?? "/\(group.name)", subGroupCount: row.int(6))
    }
}

/// Group membership rows.
public enum MembershipSQL {
    public static func add(groupId: String, userId: String, realmId: String, _ dialect: SQLDialect) -> SQLStatement {
        SQLStatement(dialect.insertIgnoringDuplicates(into: "group_members", "realm_id, group_id, user_id", values: "?, ?, ?"), [realmId, groupId, userId])
    }
    public static func remove(groupId: String, userId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM group_members WHERE realm_id = ? AND group_id = ? AND user_id = ?", [realmId, groupId, userId])
    }
}
