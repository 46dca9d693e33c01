import KeyportModel
import KeyportStore

/// Identity providers, and the client assertions the token endpoint accepted once.
public struct IdentityProviderSQL: Sendable {
    /// An identity provider row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns([
        "id", "realm_id", "alias", "provider_id", "display_name", "enabled", "trust_email", "store_token", "link_only", "hide_on_login",
        "first_broker_login_flow_alias", "post_broker_login_flow_alias", "config",
    ])
    let dialect: SQLDialect
    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    private var select: String { "SELECT \(Self.columns.list()) FROM identity_providers" }

    public func insert(_ p: IdentityProvider) -> SQLStatement {
        SQLStatement("INSERT INTO identity_providers (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))", [
            p.id, p.realmId, p.alias, p.providerId, p.displayName, p.enabled, p.trustEmail, p.storeToken, p.linkOnly, p.hideOnLogin,
            p.firstBrokerLoginFlowAlias, p.postBrokerLoginFlowAlias, JSONColumn.encode(p.config),
        ])
    }
    public func byAlias(_ alias: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE alias = ? AND realm_id = ?", [alias, realmId])
    }
    public func byAliasForUpdate(_ alias: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE alias = ? AND realm_id = ?\(dialect.forUpdate)", [alias, realmId])
    }
    public func all(realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE realm_id = ? ORDER BY alias\(dialect.bytewise) LIMIT ?", [realmId, IdentityProvider.limitPerRealm])
    }
    public func count(realmId: String) -> SQLStatement { SQLStatement("SELECT count(*) AS n FROM identity_providers WHERE realm_id = ?", [realmId]) }
    /// Counts the changed row. The alias may change; the id and realm never do.
    public func update(_ p: IdentityProvider) -> SQLStatement {
        SQLStatement("""
            UPDATE identity_providers SET alias = ?, provider_id = ?, display_name = ?, enabled = ?, trust_email = ?, store_token = ?,
            link_only = ?, hide_on_login = ?, first_broker_login_flow_alias = ?, post_broker_login_flow_alias = ?, config = ?
            WHERE id = ? AND realm_id = ?\(dialect.countingChanges)
            """, [p.alias, p.providerId, p.displayName, p.enabled, p.trustEmail, p.storeToken, p.linkOnly, p.hideOnLogin,
                  p.firstBrokerLoginFlowAlias, p.postBrokerLoginFlowAlias, JSONColumn.encode(p.config), p.id, p.realmId])
    }
    /// Counts the deleted row.
    public func delete(alias: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM identity_providers WHERE alias = ? AND realm_id = ?\(dialect.countingChanges)", [alias, realmId])
    }

    /// The enabled federated-jwt OIDC clients that trust `subject` from the provider `alias`
    /// (Keycloak's lookup of a federated client by its attributes), at most two: one is an
    /// answer, two are ambiguous. A disabled copy or a client switched back to its secret does
    /// not count.
    public func federatedClients(alias: String, subject: String, realmId: String) -> SQLStatement {
        SQLStatement("""
            SELECT \(ClientSQL.columns.list("c")) FROM clients c WHERE c.realm_id = ? AND c.enabled = TRUE AND c.protocol = 'openid-connect'
            AND \(dialect.jsonField("c.attributes", "client.authenticator.type")) = 'federated-jwt'
            AND \(dialect.jsonField("c.attributes", "jwt.credential.issuer")) = ? AND \(dialect.jsonField("c.attributes", "jwt.credential.sub")) = ?
            ORDER BY c.client_id\(dialect.bytewise) LIMIT 2
            """, [realmId, alias, subject])
    }

    // MARK: Client assertions used once

    /// Counts the row it added: none when the assertion was used already (and has not expired).
    public func useAssertion(key: String, realmId: String, expiresAt: Timestamp) -> SQLStatement {
        SQLStatement(dialect.insertIgnoringDuplicates(into: "used_client_assertions", "realm_id, assertion_key, expires_at", values: "?, ?, ?")
                     + dialect.countingChanges, [realmId, key, expiresAt])
    }
    /// Whether an assertion was used (at the token endpoint) and has not expired.
    public func assertionUsed(key: String, realmId: String, now: Timestamp) -> SQLStatement {
        SQLStatement("SELECT 1 FROM used_client_assertions WHERE realm_id = ? AND assertion_key = ? AND expires_at >= ?", [realmId, key, now])
    }
    /// Frees the key of an assertion that expired (so the row above can be added again).
    public func deleteExpiredAssertion(key: String, realmId: String, now: Timestamp) -> SQLStatement {
        SQLStatement("DELETE FROM used_client_assertions WHERE realm_id = ? AND assertion_key = ? AND expires_at < ?", [realmId, key, now])
    }
    public func deleteExpiredAssertions(before cutoff: Timestamp) -> SQLStatement {
        SQLStatement("DELETE FROM used_client_assertions WHERE expires_at < ?\(dialect.countingChanges)", [cutoff])
    }

    public static func decode(_ row: some SQLRow) -> IdentityProvider {
        IdentityProvider(id: row.string(0), realmId: row.string(1), alias: row.string(2), providerId: row.string(3), displayName: row.text(4),
                         enabled: row.bool(5), trustEmail: row.bool(6), storeToken: row.bool(7), linkOnly: row.bool(8), hideOnLogin: row.bool(9),
                         firstBrokerLoginFlowAlias: row.text(10), postBrokerLoginFlowAlias: row.text(11), config: row.json(12, default: [:]))
    }
}
