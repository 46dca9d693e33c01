import KeyportModel

/// Everything a new realm starts with, written in one transaction: the realm, its keys, its
/// built-in clients and roles, and (for the master realm, or an import) its first users.
/// What a realm starts with is decided above the store; the store only writes it atomically.
public struct RealmSeed: Sendable {
    public var realm: Realm
    public var keys: [RealmKey]
    public var clients: [Client]
    public var roles: [Role]
    /// (parent role id, child role id)
    public var composites: [(String, String)]
    /// Groups in an order where every parent comes before its children.
    public var groups: [Group]
    public var groupRoles: [(groupId: String, roleId: String)]
    public var users: [UserSeed]
    /// The realm's client scopes, which it gives new clients, the clients' own assignments,
    /// and role scope mappings of scopes and clients.
    public var clientScopes = BuiltinClientScopes()
    public var clientClientScopes: [(clientId: String, scopeId: String, isDefault: Bool)] = []
    public var clientScopeMappings: [(clientId: String, roleId: String)] = []
    public var identityProviders: [IdentityProvider] = []
    public var identityProviderMappers: [IdentityProviderMapper] = []
    /// Links of the seed's users to their providers' accounts.
    public var federatedIdentities: [FederatedIdentity] = []
    /// User storage providers and their mappers (providers first); users may be linked to them.
    public var storageComponents: [StorageComponent] = []

    public init(realm: Realm, keys: [RealmKey] = [], clients: [Client] = [], roles: [Role] = [],
                composites: [(String, String)] = [], groups: [Group] = [],
                groupRoles: [(groupId: String, roleId: String)] = [], users: [UserSeed] = []) {
        self.realm = realm
        self.keys = keys
        self.clients = clients
        self.roles = roles
        self.composites = composites
        self.groups = groups
        self.groupRoles = groupRoles
        self.users = users
    }
}

/// A user with what is created alongside it, in the same transaction.
public struct UserSeed: Sendable {
    public var user: User
    public var credentials: [Credential]
    public var roleIds: [String]
    public var groupIds: [String]

    public init(user: User, credentials: [Credential] = [], roleIds: [String] = [], groupIds: [String] = []) {
        self.user = user
        self.credentials = credentials
        self.roleIds = roleIds
        self.groupIds = groupIds
    }
}

/// A window into a list: Keycloak's `first` / `max`.
public struct Page: Sendable, Equatable {
    public var first: Int
    public var max: Int
    public init(first: Int = 0, max: Int = 100) {
        self.first = Swift.max(0, first)
        self.max = Swift.max(0, max)
    }
    public static let all = Page(first: 0, max: Int(Int32.max))
}

/// Keycloak's user search: `username`/`email` (with `exact`), or `search` over username,
/// email, first and last name.
public struct UserQuery: Sendable, Equatable {
    public var search: String?
    public var username: String?
    public var email: String?
    public var firstName: String?
    public var lastName: String?
    public var exact: Bool
    public var enabled: Bool?
    /// Keycloak hides clients' service accounts from user lists.
    public var includeServiceAccounts: Bool

    public init(search: String? = nil, username: String? = nil, email: String? = nil, firstName: String? = nil,
                lastName: String? = nil, exact: Bool = false, enabled: Bool? = nil, includeServiceAccounts: Bool = true) {
        self.search = search
        self.username = username
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.exact = exact
        self.enabled = enabled
        self.includeServiceAccounts = includeServiceAccounts
    }
}

/// Keycloak's admin event filters; `resourcePath` may end in `*` (a prefix).
public struct AdminEventQuery: Sendable, Equatable {
    public var operationTypes: [String] = []
    public var resourceTypes: [String] = []
    public var resourcePath: String?
    public var authRealmId: String?
    public var authClientId: String?
    public var authUserId: String?
    public var authIpAddress: String?
    public var from: Timestamp?
    public var to: Timestamp?
    public init() {}
}

public struct EventQuery: Sendable, Equatable {
    public var types: [String]
    public var userId: String?
    public var clientId: String?
    public var from: Timestamp?
    public var to: Timestamp?
    public var ipAddress: String?
    public init(types: [String] = [], userId: String? = nil, clientId: String? = nil, from: Timestamp? = nil, to: Timestamp? = nil,
                ipAddress: String? = nil) {
        self.types = types
        self.userId = userId
        self.clientId = clientId
        self.from = from
        self.to = to
        self.ipAddress = ipAddress
    }
}

/// A realm's client scopes as a unit: the scopes, which of them new clients get (default or
/// optional), and the roles each lets into tokens.
public struct BuiltinClientScopes: Sendable {
    public var scopes: [ClientScope]
    public var realmDefaults: [(scopeId: String, isDefault: Bool)]
    public var scopeRoles: [(scopeId: String, roleId: String)]
    public init(scopes: [ClientScope] = [], realmDefaults: [(scopeId: String, isDefault: Bool)] = [], scopeRoles: [(scopeId: String, roleId: String)] = []) {
        self.scopes = scopes
        self.realmDefaults = realmDefaults
        self.scopeRoles = scopeRoles
    }
}

/// Filters of the registry events (each exact; `repository` may end in `*`, a prefix).
public struct RegistryEventQuery: Sendable, Equatable {
    public var clientId: String?
    public var repository: String?
    public var actor: String?
    public var actions: [String] = []
    public var credentialKind: String?
    public var credentialId: String?
    /// The client's host as the registry saw it (without the port).
    public var sourceHost: String?
    public var from: Timestamp?
    public var to: Timestamp?
    public init() {}
}
