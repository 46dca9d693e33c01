import KeyportModel
import KeyportStore

/// Keycloak's user federation: user storage providers and their mappers (`storage_components`),
/// and the users a provider imported (`users.federation_link`, `users.federation_id`).
public struct UserFederationSQL: Sendable {
    public static let columns = SQLColumns(["id", "realm_id", "parent_id", "name", "provider_id", "provider_type", "sub_type", "config",
                                            "target_id", "last_sync"])
    let dialect: SQLDialect
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    private var select: String { "SELECT \(Self.columns.list()) FROM storage_components" }

    public func insert(_ c: StorageComponent) -> SQLStatement {
        SQLStatement("INSERT INTO storage_components (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))",
                     [c.id, c.realmId, c.parentId, c.name, c.providerId, c.providerType, c.subType, JSONColumn.encode(c.config),
                      c.targetId, c.lastSync])
    }
    public func component(id: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE id = ? AND realm_id = ?", [id, realmId])
    }
    public func componentForUpdate(id: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE id = ? AND realm_id = ?\(dialect.forUpdate)", [id, realmId])
    }
    /// Every provider and mapper of the realm, providers first, each group by name.
    public func components(realmId: String) -> SQLStatement {
        SQLStatement("""
            \(select) WHERE realm_id = ? ORDER BY CASE WHEN parent_id IS NULL THEN 0 ELSE 1 END, parent_id, name\(dialect.bytewise), id LIMIT ?
            """, [realmId, StorageComponent.providersPerRealm * (1 + StorageComponent.mappersPerProvider)])
    }
    /// Holds the realm's row (PostgreSQL) so two providers made at once cannot both pass the count.
    public func lockRealm(_ realmId: String) -> SQLStatement {
        SQLStatement("SELECT 1 FROM realms WHERE id = ?\(dialect.forUpdate)", [realmId])
    }
    public func countProviders(realmId: String) -> SQLStatement {
        SQLStatement("SELECT count(*) AS n FROM storage_components WHERE realm_id = ? AND parent_id IS NULL", [realmId])
    }
    /// The provider a mapper is made under, locked (a provider of the same realm, never a mapper).
    public func lockProvider(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT 1 FROM storage_components WHERE id = ? AND realm_id = ? AND parent_id IS NULL\(dialect.forUpdate)", [id, realmId])
    }
    public func countMappers(providerId: String) -> SQLStatement {
        SQLStatement("SELECT count(*) AS n FROM storage_components WHERE parent_id = ?", [providerId])
    }
    /// Counts the changed row; the realm and the parent never change.
    public func update(_ c: StorageComponent) -> SQLStatement {
        SQLStatement("""
            UPDATE storage_components SET name = ?, provider_id = ?, provider_type = ?, sub_type = ?, config = ?, target_id = ?, last_sync = ?
            WHERE id = ? AND realm_id = ?\(dialect.countingChanges)
            """, [c.name, c.providerId, c.providerType, c.subType, JSONColumn.encode(c.config), c.targetId, c.lastSync, c.id, c.realmId])
    }
    public func delete(id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM storage_components WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }

    // MARK: Users a provider imported

    public func user(providerId: String, externalId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT \(UserSQL.columns.list()) FROM users WHERE federation_link = ? AND federation_id = ? AND realm_id = ?",
                     [providerId, externalId, realmId])
    }
    public func users(providerId: String, realmId: String, after: String?, limit: Int) -> SQLStatement {
        SQLStatement("""
            SELECT \(UserSQL.columns.list()) FROM users WHERE federation_link = ? AND realm_id = ? AND username\(dialect.bytewise) > ?
            ORDER BY username\(dialect.bytewise) LIMIT ?
            """, [providerId, realmId, after ?? "", limit])
    }
    public func countUsers(providerId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT count(*) AS n FROM users WHERE federation_link = ? AND realm_id = ?", [providerId, realmId])
    }
    /// Links a user to a provider's entry (an existing local user found in the directory, or a
    /// re-import). Counts the changed row.
    public func link(userId: String, providerId: String, externalId: String, realmId: String) -> SQLStatement {
        SQLStatement("UPDATE users SET federation_link = ?, federation_id = ? WHERE id = ? AND realm_id = ?\(dialect.countingChanges)",
                     [providerId, externalId, userId, realmId])
    }
    /// Keycloak's `unlink-users`: the provider's users stay, as local users.
    public func unlinkUsers(providerId: String, realmId: String) -> SQLStatement {
        SQLStatement("UPDATE users SET federation_link = NULL, federation_id = NULL WHERE federation_link = ? AND realm_id = ?\(dialect.countingChanges)",
                     [providerId, realmId])
    }
    /// Keycloak's `remove-imported-users`.
    public func removeUsers(providerId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM users WHERE federation_link = ? AND realm_id = ?\(dialect.countingChanges)", [providerId, realmId])
    }

    public static func decode(_ row: some SQLRow) -> StorageComponent {
        StorageComponent(id: row.string(0), realmId: row.string(1), parentId: row.text(2), name: row.string(3), providerId: row.string(4),
                         providerType: row.string(5), subType: row.text(6), config: row.json(7, default: [:]), targetId: row.text(8),
                         lastSync: row.optionalTimestamp(9))
    }
}
