import KeyportModel
import KeyportStore

/// Client scopes, their assignment to realms and clients, and role scope mappings (of client
/// scopes and of clients).
public struct ClientScopeSQL: Sendable {
    /// A client scope row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "name", "description", "protocol", "attributes", "protocol_mappers"])
    let dialect: SQLDialect
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    private var select: String { "SELECT \(Self.columns.list("s")) FROM client_scopes s" }

    public func insert(_ s: ClientScope) -> SQLStatement {
        SQLStatement("INSERT INTO client_scopes (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))", [
            s.id, s.realmId, s.name, s.description, s.protocolName, JSONColumn.encode(s.attributes), JSONColumn.encode(s.protocolMappers),
        ])
    }
    public func byId(_ id: String, realmId: String) -> SQLStatement { SQLStatement("\(select) WHERE s.id = ? AND s.realm_id = ?", [id, realmId]) }
    public func byIdForUpdate(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE s.id = ? AND s.realm_id = ?\(dialect.forUpdate)", [id, realmId])
    }
    public func byName(_ name: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE s.name = ? AND s.realm_id = ?", [name, realmId])
    }
    public func all(realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE s.realm_id = ? ORDER BY s.name\(dialect.bytewise) LIMIT ?", [realmId, ClientScope.limitPerRealm])
    }
    public func count(realmId: String) -> SQLStatement { SQLStatement("SELECT count(*) AS n FROM client_scopes WHERE realm_id = ?", [realmId]) }
    /// Counts the changed row.
    public func update(_ s: ClientScope) -> SQLStatement {
        SQLStatement("""
            UPDATE client_scopes SET name = ?, description = ?, protocol = ?, attributes = ?, protocol_mappers = ?
            WHERE id = ? AND realm_id = ?\(dialect.countingChanges)
            """, [s.name, s.description, s.protocolName, JSONColumn.encode(s.attributes), JSONColumn.encode(s.protocolMappers), s.id, s.realmId])
    }
    /// Counts the deleted row.
    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM client_scopes WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }

    // MARK: Assignments: realm defaults and clients' scopes

    /// The scope row's columns and then `default_scope`.
    public func ofRealm(_ realmId: String) -> SQLStatement {
        SQLStatement("""
            SELECT \(Self.columns.list("s")), a.default_scope FROM client_scopes s JOIN realm_client_scopes a ON a.scope_id = s.id
            WHERE a.realm_id = ? ORDER BY s.name\(dialect.bytewise)
            """, [realmId])
    }
    public func ofClient(_ clientId: String, realmId: String) -> SQLStatement {
        SQLStatement("""
            SELECT \(Self.columns.list("s")), a.default_scope FROM client_scopes s JOIN client_client_scopes a ON a.scope_id = s.id
            WHERE a.client_id = ? AND a.realm_id = ? ORDER BY s.name\(dialect.bytewise)
            """, [clientId, realmId])
    }
    /// Assigns (or moves between default and optional).
    public func assignToRealm(_ scopeId: String, realmId: String, isDefault: Bool) -> SQLStatement {
        SQLStatement("""
            INSERT INTO realm_client_scopes (realm_id, scope_id, default_scope) VALUES (?, ?, ?)
            ON CONFLICT (realm_id, scope_id) DO UPDATE SET default_scope = excluded.default_scope
            """, [realmId, scopeId, isDefault])
    }
    /// Counts what it removed.
    public func unassignFromRealm(_ scopeId: String, realmId: String, isDefault: Bool) -> SQLStatement {
        SQLStatement("DELETE FROM realm_client_scopes WHERE realm_id = ? AND scope_id = ? AND default_scope = ?\(dialect.countingChanges)",
                     [realmId, scopeId, isDefault])
    }
    public func assignToClient(_ scopeId: String, clientId: String, realmId: String, isDefault: Bool) -> SQLStatement {
        SQLStatement("""
            INSERT INTO client_client_scopes (realm_id, client_id, scope_id, default_scope) VALUES (?, ?, ?, ?)
            ON CONFLICT (client_id, scope_id) DO UPDATE SET default_scope = excluded.default_scope
            """, [realmId, clientId, scopeId, isDefault])
    }
    /// Counts what it removed.
    public func unassignFromClient(_ scopeId: String, clientId: String, realmId: String, isDefault: Bool) -> SQLStatement {
        SQLStatement("""
            DELETE FROM client_client_scopes WHERE client_id = ? AND scope_id = ? AND realm_id = ? AND default_scope = ?\(dialect.countingChanges)
            """, [clientId, scopeId, realmId, isDefault])
    }
    /// A new client takes the realm's default and optional scopes of its protocol.
    public func assignRealmDefaults(toClient clientId: String, realmId: String, protocolName: String) -> SQLStatement {
        SQLStatement("""
            INSERT INTO client_client_scopes (realm_id, client_id, scope_id, default_scope)
            SELECT a.realm_id, ?, a.scope_id, a.default_scope FROM realm_client_scopes a JOIN client_scopes s ON s.id = a.scope_id
            WHERE a.realm_id = ? AND s.protocol = ?
            """, [clientId, realmId, protocolName])
    }
    /// Every client of the realm takes the realm's defaults of its protocol (what it lacks).
    public func assignRealmDefaultsToEveryClient(realmId: String) -> SQLStatement {
        SQLStatement("""
            INSERT INTO client_client_scopes (realm_id, client_id, scope_id, default_scope)
            SELECT c.realm_id, c.id, a.scope_id, a.default_scope FROM clients c
            JOIN realm_client_scopes a ON a.realm_id = c.realm_id JOIN client_scopes s ON s.id = a.scope_id
            WHERE c.realm_id = ? AND s.protocol = c.protocol
            ON CONFLICT DO NOTHING
            """, [realmId])
    }
    public func offlineAccessRoleId(realmId: String) -> SQLStatement {
        SQLStatement("SELECT id FROM roles WHERE realm_id = ? AND client_id IS NULL AND name = 'offline_access'", [realmId])
    }
    public func clearClientAssignments(_ clientId: String, realmId: String, isDefault: Bool) -> SQLStatement {
        SQLStatement("DELETE FROM client_client_scopes WHERE client_id = ? AND realm_id = ? AND default_scope = ?", [clientId, realmId, isDefault])
    }
    public func clearClientAssignments(_ clientId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM client_client_scopes WHERE client_id = ? AND realm_id = ?", [clientId, realmId])
    }

    // MARK: Role scope mappings

    private func mappingTable(_ holder: ScopeMappingHolder) -> (table: String, column: String, id: String) {
        switch holder {
        case .clientScope(let id): ("client_scope_roles", "scope_id", id)
        case .client(let id): ("client_scope_mappings", "client_id", id)
        }
    }
    /// The roles' columns (`RoleSQL.columns`, as `r`).
    public func roles(of holder: ScopeMappingHolder, realmId: String) -> SQLStatement {
        let t = mappingTable(holder)
        return SQLStatement("""
            SELECT \(RoleSQL.columns.list("r")) FROM roles r JOIN \(t.table) m ON m.role_id = r.id
            WHERE m.\(t.column) = ? AND m.realm_id = ? ORDER BY r.name\(dialect.bytewise)
            """, [t.id, realmId])
    }
    public func addRole(_ roleId: String, to holder: ScopeMappingHolder, realmId: String) -> SQLStatement {
        let t = mappingTable(holder)
        return SQLStatement("INSERT INTO \(t.table) (realm_id, \(t.column), role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [realmId, t.id, roleId])
    }
    public func removeRole(_ roleId: String, from holder: ScopeMappingHolder, realmId: String) -> SQLStatement {
        let t = mappingTable(holder)
        return SQLStatement("DELETE FROM \(t.table) WHERE \(t.column) = ? AND role_id = ? AND realm_id = ?", [t.id, roleId, realmId])
    }

    // MARK: Built-in scopes

    public func needsBuiltins(realmId: String) -> SQLStatement {
        SQLStatement("SELECT id FROM realms r WHERE id = ? AND NOT EXISTS (SELECT 1 FROM realm_builtin_client_scopes b WHERE b.realm_id = r.id)", [realmId])
    }
    public func realmsNeedingBuiltins() -> SQLStatement {
        SQLStatement("SELECT id FROM realms r WHERE NOT EXISTS (SELECT 1 FROM realm_builtin_client_scopes b WHERE b.realm_id = r.id) ORDER BY id")
    }
    public func markBuiltins(realmId: String) -> SQLStatement {
        SQLStatement("INSERT INTO realm_builtin_client_scopes (realm_id) VALUES (?) ON CONFLICT DO NOTHING", [realmId])
    }

    public static func decode(_ row: some SQLRow) -> ClientScope {
        ClientScope(id: row.string(0), realmId: row.string(1), name: row.string(2), description: row.text(3), protocolName: row.string(4),
                    attributes: row.json(5, default: [:]), protocolMappers: row.json(6, default: []))
    }
    public static func decodeAssigned(_ row: some SQLRow) -> AssignedClientScope {
        AssignedClientScope(scope: decode(row), isDefault: row.bool(7))
    }
}
