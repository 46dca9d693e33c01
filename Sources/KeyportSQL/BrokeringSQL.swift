import KeyportModel
import KeyportStore

/// What brokered sign-in keeps: identity provider mappers, and federated identities (the links
/// between realm users and their upstream accounts).
public struct BrokeringSQL: Sendable {
    public static let mapperColumns = SQLColumns(["id", "realm_id", "identity_provider_id", "name", "mapper_type", "config", "target_id"])
    public static let linkColumns = SQLColumns(["realm_id", "identity_provider_id", "user_id", "upstream_user_id", "upstream_username"])
    let dialect: SQLDialect
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    // MARK: Mappers

    private var selectMapper: String { "SELECT \(Self.mapperColumns.list()) FROM identity_provider_mappers" }

    public func insert(_ m: IdentityProviderMapper) -> SQLStatement {
        SQLStatement("INSERT INTO identity_provider_mappers (\(Self.mapperColumns.list())) VALUES (\(Self.mapperColumns.placeholders))",
                     [m.id, m.realmId, m.providerId, m.name, m.mapperType, JSONColumn.encode(m.config), m.targetId])
    }
    public func mapper(id: String, realmId: String) -> SQLStatement {
        SQLStatement("\(selectMapper) WHERE id = ? AND realm_id = ?", [id, realmId])
    }
    public func mapperForUpdate(id: String, realmId: String) -> SQLStatement {
        SQLStatement("\(selectMapper) WHERE id = ? AND realm_id = ?\(dialect.forUpdate)", [id, realmId])
    }
    public func mappers(providerId: String, realmId: String) -> SQLStatement {
        SQLStatement("\(selectMapper) WHERE identity_provider_id = ? AND realm_id = ? ORDER BY name\(dialect.bytewise) LIMIT ?",
                     [providerId, realmId, IdentityProviderMapper.limitPerProvider])
    }
    public func mappers(realmId: String) -> SQLStatement {
        SQLStatement("\(selectMapper) WHERE realm_id = ? ORDER BY identity_provider_id, name\(dialect.bytewise) LIMIT ?",
                     [realmId, IdentityProviderMapper.limitPerProvider * IdentityProvider.limitPerRealm])
    }
    /// Holds the provider's row until the transaction ends (PostgreSQL), so two mappers made at
    /// once cannot both pass the count below.
    public func lockProvider(_ providerId: String) -> SQLStatement {
        SQLStatement("SELECT 1 FROM identity_providers WHERE id = ?\(dialect.forUpdate)", [providerId])
    }
    public func countMappers(providerId: String) -> SQLStatement {
        SQLStatement("SELECT count(*) AS n FROM identity_provider_mappers WHERE identity_provider_id = ?", [providerId])
    }
    /// Counts the changed row; the provider and realm never change.
    public func update(_ m: IdentityProviderMapper) -> SQLStatement {
        SQLStatement("UPDATE identity_provider_mappers SET name = ?, mapper_type = ?, config = ?, target_id = ? WHERE id = ? AND realm_id = ?\(dialect.countingChanges)",
                     [m.name, m.mapperType, JSONColumn.encode(m.config), m.targetId, m.id, m.realmId])
    }
    public func deleteMapper(id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM identity_provider_mappers WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }

    public static func decodeMapper(_ row: some SQLRow) -> IdentityProviderMapper {
        IdentityProviderMapper(id: row.string(0), realmId: row.string(1), providerId: row.string(2), name: row.string(3), mapperType: row.string(4),
                               config: row.json(5, default: [:]), targetId: row.text(6))
    }

    // MARK: Federated identities

    public func insert(_ link: FederatedIdentity) -> SQLStatement {
        SQLStatement("INSERT INTO federated_identities (\(Self.linkColumns.list())) VALUES (\(Self.linkColumns.placeholders))",
                     [link.realmId, link.providerId, link.userId, link.upstreamUserId, link.upstreamUsername])
    }
    /// A user's links, at most one per provider.
    public func links(userId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.linkColumns.list()) FROM federated_identities WHERE user_id = ? AND realm_id = ? LIMIT ?",
                     [userId, realmId, IdentityProvider.limitPerRealm])
    }
    /// The user an upstream account is linked to.
    public func linkedUser(providerId: String, upstreamUserId: String, realmId: String) -> SQLStatement {
        SQLStatement("""
            SELECT \(UserSQL.columns.list("u")) FROM federated_identities f JOIN users u ON u.id = f.user_id AND u.realm_id = f.realm_id
            WHERE f.identity_provider_id = ? AND f.upstream_user_id = ? AND f.realm_id = ?
            """, [providerId, upstreamUserId, realmId])
    }
    /// The users linked through a provider, at most `limit`.
    public func linkedUsers(providerId: String, realmId: String, limit: Int) -> SQLStatement {
        SQLStatement("""
            SELECT \(UserSQL.columns.list("u")) FROM federated_identities f JOIN users u ON u.id = f.user_id AND u.realm_id = f.realm_id
            WHERE f.identity_provider_id = ? AND f.realm_id = ? ORDER BY u.username\(dialect.bytewise) LIMIT ?
            """, [providerId, realmId, limit])
    }
    public func deleteLink(userId: String, providerId: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM federated_identities WHERE user_id = ? AND identity_provider_id = ? AND realm_id = ?\(dialect.countingChanges)",
                     [userId, providerId, realmId])
    }

    public static func decodeLink(_ row: some SQLRow) -> FederatedIdentity {
        FederatedIdentity(realmId: row.string(0), providerId: row.string(1), userId: row.string(2), upstreamUserId: row.string(3),
                          upstreamUsername: row.string(4))
    }
}
