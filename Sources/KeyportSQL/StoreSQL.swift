import KeyportModel
import KeyportStore

/// Every statement of the store for one engine, built once.
public struct StoreSQL: Sendable {
    public let dialect: SQLDialect
    public let realms: RealmSQL
    public let users: UserSQL
    public let clients: ClientSQL
    public let roles: RoleSQL
    public let groups: GroupSQL
    public let keys: KeySQL
    public let events: EventSQL
    public let adminEvents: AdminEventSQL
    public let registryEvents: RegistryEventSQL
    public let sessions: SessionSQL
    public let tokens: PersonalAccessTokenSQL
    public let failures: LoginFailureSQL
    public let clientScopes: ClientScopeSQL
    public let browserSessions: BrowserSessionSQL
    public let identityProviders: IdentityProviderSQL
    public let brokering: BrokeringSQL
    public let federation: UserFederationSQL

    public init(_ dialect: SQLDialect) {
        self.dialect = dialect
        realms = RealmSQL(dialect)
        users = UserSQL(dialect)
        clients = ClientSQL(dialect)
        roles = RoleSQL(dialect)
        groups = GroupSQL(dialect)
        keys = KeySQL(dialect)
        events = EventSQL(dialect)
        adminEvents = AdminEventSQL(dialect)
        registryEvents = RegistryEventSQL(dialect)
        sessions = SessionSQL(dialect)
        tokens = PersonalAccessTokenSQL(dialect)
        failures = LoginFailureSQL(dialect)
        clientScopes = ClientScopeSQL(dialect)
        browserSessions = BrowserSessionSQL(dialect)
        identityProviders = IdentityProviderSQL(dialect)
        federation = UserFederationSQL(dialect)
        brokering = BrokeringSQL(dialect)
    }

    /// A realm's seed, in the order the foreign keys need.
    public func insert(_ seed: RealmSeed) -> [SQLStatement] {
        var statements = [realms.insert(seed.realm)]
        statements += seed.keys.map(keys.insert)
        statements += seed.clients.map(clients.insert)
        statements += seed.roles.map(roles.insert)
        statements += seed.composites.map { MappingSQL.composite.grant($0.0, roleId: $0.1, realmId: seed.realm.id, dialect) }
        statements += seed.groups.map(groups.insert)
        statements += seed.groupRoles.map { MappingSQL.group.grant($0.0, roleId: $0.1, realmId: seed.realm.id, dialect) }
        statements += seed.storageComponents.map(federation.insert)
        statements += seed.users.flatMap(users.insert)
        statements += insert(seed.clientScopes, realmId: seed.realm.id)
        statements += seed.clientClientScopes.map { clientScopes.assignToClient($0.scopeId, clientId: $0.clientId, realmId: seed.realm.id, isDefault: $0.isDefault) }
        statements += seed.clientScopeMappings.map { clientScopes.addRole($0.roleId, to: .client($0.clientId), realmId: seed.realm.id) }
        statements.append(clientScopes.markBuiltins(realmId: seed.realm.id))
        statements += seed.identityProviders.map(identityProviders.insert)
        statements += seed.identityProviderMappers.map(brokering.insert)
        statements += seed.federatedIdentities.map(brokering.insert)
        return statements
    }

    /// A realm's client scopes, the defaults it gives new clients and the scopes' roles.
    public func insert(_ scopes: BuiltinClientScopes, realmId: String) -> [SQLStatement] {
        scopes.scopes.map(clientScopes.insert)
            + scopes.realmDefaults.map { clientScopes.assignToRealm($0.scopeId, realmId: realmId, isDefault: $0.isDefault) }
            + scopes.scopeRoles.map { clientScopes.addRole($0.roleId, to: .clientScope($0.scopeId), realmId: realmId) }
    }
}
