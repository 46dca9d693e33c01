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
    public let sessions: SessionSQL
    public let tokens: PersonalAccessTokenSQL
    public let failures: LoginFailureSQL

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
        sessions = SessionSQL(dialect)
        tokens = PersonalAccessTokenSQL(dialect)
        failures = LoginFailureSQL(dialect)
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
        statements += seed.users.flatMap(users.insert)
        return statements
    }
}
