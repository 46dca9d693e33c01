import Foundation
import KeyportJSON
import KeyportModel

// Keycloak's representations — the JSON shapes of realms, users, credentials, clients, roles
// and groups — defined once, for the admin REST API and for realm export files alike, with their
// mapping from the model. Every field is optional on input (PUT merges what is present,
// unknown fields are ignored); GET output is always accepted back by PUT, and an export is
// accepted back by import. These types carry no rules: the model (`ObjectRules`,
// `Realm.apply`) and the layers that provision objects decide what is acceptable.

public struct RealmRepresentation: Codable, Sendable {
    /// Whether it carries a realm's contents, not only its settings (a full import).
    public var hasContents: Bool {
        !(users ?? []).isEmpty || !(clients ?? []).isEmpty || !(groups ?? []).isEmpty
            || !(roles?.realm ?? []).isEmpty || !(roles?.client ?? [:]).isEmpty || !(identityProviders ?? []).isEmpty
            || !(components ?? [:]).isEmpty
    }

    public var id: String?
    public var realm: String?
    public var displayName: String?
    public var enabled: Bool?
    public var accessTokenLifespan: Int?
    public var ssoSessionIdleTimeout: Int?
    public var ssoSessionMaxLifespan: Int?
    public var offlineSessionIdleTimeout: Int?
    public var offlineSessionMaxLifespanEnabled: Bool?
    public var offlineSessionMaxLifespan: Int?
    /// Keyport: the longest a personal access token may live, in seconds (0 or absent: no maximum).
    public var personalAccessTokenMaxLifespan: Int?
    public var duplicateEmailsAllowed: Bool?
    public var loginWithEmailAllowed: Bool?
    public var bruteForceProtected: Bool?
    public var failureFactor: Int?
    public var waitIncrementSeconds: Int?
    public var maxFailureWaitSeconds: Int?
    public var quickLoginCheckMilliSeconds: Int?
    public var minimumQuickLoginWaitSeconds: Int?
    public var maxDeltaTimeSeconds: Int?
    public var permanentLockout: Bool?
    public var passwordPolicy: String?
    public var eventsEnabled: Bool?
    public var enabledEventTypes: [String]?
    public var eventsExpiration: Int?
    public var adminEventsEnabled: Bool?
    public var adminEventsDetailsEnabled: Bool?
    public var attributes: [String: String]?
    /// Keyport: turns the docker-v2 token protocol on for this realm (off by default).
    public var dockerV2Enabled: Bool?
    /// Keyport: the Argon2id parameters new password hashes use.
    public var passwordHashing: PasswordHashingRepresentation?
    public var defaultRole: RoleRepresentation?
    public var notBefore: Int?
    // A realm file (export/import) also carries the realm's content.
    public var clientScopes: [ClientScopeRepresentation]?
    public var identityProviders: [IdentityProviderRepresentation]?
    public var identityProviderMappers: [IdentityProviderMapperRepresentation]?
    /// User federation: `org.keycloak.storage.UserStorageProvider` LDAP providers with their mappers
    /// as `subComponents` (what else a file's `components` holds is kept as it came).
    public var components: [String: [ComponentExportRepresentation]]?
    /// The realm's default and optional client scopes for new clients, by name.
    public var defaultDefaultClientScopes: [String]?
    public var defaultOptionalClientScopes: [String]?
    /// Role scope mappings of realm roles; `clientScopeMappings`, of each client's roles (by clientId).
    public var scopeMappings: [ScopeMappingRepresentation]?
    public var clientScopeMappings: [String: [ScopeMappingRepresentation]]?
    public var roles: RolesRepresentation?
    public var groups: [GroupRepresentation]?
    public var users: [UserRepresentation]?
    public var clients: [ClientRepresentation]?

    public init() {}
}

/// A realm file's roles: the realm's, and each client's by `clientId`.
public struct RolesRepresentation: Codable, Sendable {
    public var realm: [RoleRepresentation]?
    public var client: [String: [RoleRepresentation]]?
    public init(realm: [RoleRepresentation]? = nil, client: [String: [RoleRepresentation]]? = nil) {
        self.realm = realm
        self.client = client
    }
}

/// The roles a composite role contains, by name (realm roles, and client roles by `clientId`).
public struct CompositesRepresentation: Codable, Sendable, Equatable {
    public var realm: [String]?
    public var client: [String: [String]]?
    public init(realm: [String]? = nil, client: [String: [String]]? = nil) {
        self.realm = realm
        self.client = client
    }
}

public struct PasswordHashingRepresentation: Codable, Sendable, Equatable {
    public var algorithm: String?
    public var memory: Int?
    public var iterations: Int?
    public var parallelism: Int?
    public var hashLength: Int?
    public var saltLength: Int?

    public init(algorithm: String? = nil, memory: Int? = nil, iterations: Int? = nil, parallelism: Int? = nil, hashLength: Int? = nil, saltLength: Int? = nil) {
        self.algorithm = algorithm
        self.memory = memory
        self.iterations = iterations
        self.parallelism = parallelism
        self.hashLength = hashLength
        self.saltLength = saltLength
    }
}

public struct CredentialRepresentation: Codable, Sendable {
    public var id: String?
    public var type: String?
    public var value: String?
    public var temporary: Bool?
    public var userLabel: String?
    public var createdDate: Int64?
    /// A hashed password as Keycloak exports it (JSON inside strings), accepted on create and
    /// update so users move over without knowing their passwords; never returned.
    public var secretData: String?
    public var credentialData: String?
    // Keycloak 3 and older put the hash on the credential itself (import only).
    public var hashedSaltedValue: String?
    public var salt: String?
    public var hashIterations: Int?
    public var algorithm: String?
    public var priority: Int?

    public init(id: String? = nil, type: String? = nil, value: String? = nil, temporary: Bool? = nil, userLabel: String? = nil, createdDate: Int64? = nil) {
        self.id = id
        self.type = type
        self.value = value
        self.temporary = temporary
        self.userLabel = userLabel
        self.createdDate = createdDate
    }
}

public struct UserRepresentation: Codable, Sendable {
    public var id: String?
    public var username: String?
    public var email: String?
    public var emailVerified: Bool?
    public var firstName: String?
    public var lastName: String?
    public var enabled: Bool?
    public var createdTimestamp: Int64?
    public var attributes: [String: StringList]?
    public var requiredActions: [String]?
    public var credentials: [CredentialRepresentation]?
    public var groups: [String]?
    public var realmRoles: [String]?
    public var clientRoles: [String: [String]]?
    public var notBefore: Int64?
    public var totp: Bool?
    public var disableableCredentialTypes: [String]?
    public var serviceAccountClientId: String?
    public var access: [String: Bool]?
    /// In realm files (and Keycloak's user creation): the user's links to upstream accounts.
    public var federatedIdentities: [FederatedIdentityRepresentation]?
    /// The user storage provider that imported the user (its entry's id is `attributes.LDAP_ID`).
    public var federationLink: String?

    public init() {}
}

/// Keycloak attribute values are lists of strings; a lone string is accepted as a list of one.
public struct StringList: Codable, Sendable, Equatable {
    public var values: [String]
    public init(_ values: [String]) { self.values = values }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(ScalarText.self) { values = [one.text] } else { values = try c.decode([ScalarText].self).map(\.text) }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(values)
    }
}

public struct ClientRepresentation: Codable, Sendable {
    public var id: String?
    public var clientId: String?
    public var name: String?
    public var description: String?
    public var enabled: Bool?
    public var `protocol`: String?
    public var publicClient: Bool?
    public var bearerOnly: Bool?
    public var consentRequired: Bool?
    /// Accepted on create and update; never returned (see `client-secret`).
    public var secret: String?
    public var directAccessGrantsEnabled: Bool?
    public var serviceAccountsEnabled: Bool?
    public var standardFlowEnabled: Bool?
    public var implicitFlowEnabled: Bool?
    public var redirectUris: [String]?
    public var webOrigins: [String]?
    public var rootUrl: String?
    public var baseUrl: String?
    public var attributes: [String: String]?
    public var protocolMappers: [ProtocolMapper]?
    public var clientAuthenticatorType: String?
    public var fullScopeAllowed: Bool?
    /// The client's default and optional client scopes, by name. On creation they replace the
    /// realm's defaults; on update they are not read (Keycloak's dedicated routes change them).
    public var defaultClientScopes: [String]?
    public var optionalClientScopes: [String]?

    public init() {}
}

/// Keycloak's client scope.
public struct ClientScopeRepresentation: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var description: String?
    public var `protocol`: String?
    public var attributes: [String: String]?
    public var protocolMappers: [ProtocolMapper]?

    public init() {}

    public init(_ s: ClientScope) {
        id = s.id
        name = s.name
        description = s.description
        self.protocol = s.protocolName
        attributes = s.attributes
        protocolMappers = s.protocolMappers
    }
}

/// Keycloak's identity provider. `config.clientSecret` is answered as `**********`, and that
/// value sent back keeps the stored secret.
public struct IdentityProviderRepresentation: Codable, Sendable {
    public var alias: String?
    public var internalId: String?
    public var providerId: String?
    public var displayName: String?
    public var enabled: Bool?
    public var trustEmail: Bool?
    public var storeToken: Bool?
    public var linkOnly: Bool?
    public var hideOnLogin: Bool?
    public var addReadTokenRoleOnCreate: Bool?
    public var authenticateByDefault: Bool?
    public var updateProfileFirstLoginMode: String?
    public var firstBrokerLoginFlowAlias: String?
    public var postBrokerLoginFlowAlias: String?
    public var config: [String: String]?

    public init() {}

    /// As Keycloak answers it: secrets masked unless `withSecrets` (a realm export that asks for them).
    public init(_ p: IdentityProvider, withSecrets: Bool = false) {
        alias = p.alias
        internalId = p.id
        providerId = p.providerId
        displayName = p.displayName
        enabled = p.enabled
        trustEmail = p.trustEmail
        storeToken = p.storeToken
        linkOnly = p.linkOnly
        hideOnLogin = p.hideOnLogin
        addReadTokenRoleOnCreate = false
        authenticateByDefault = false
        updateProfileFirstLoginMode = "on"
        firstBrokerLoginFlowAlias = p.firstBrokerLoginFlowAlias
        postBrokerLoginFlowAlias = p.postBrokerLoginFlowAlias
        config = withSecrets ? p.config : p.config.mapValues { $0 }.merging(
            p.config.keys.filter(IdentityProvider.secretConfigKeys.contains).map { ($0, IdentityProvider.maskedSecret) }) { $1 }
    }
}

/// Keycloak's identity provider mapper: what a brokered sign-in makes of the user.
public struct IdentityProviderMapperRepresentation: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var identityProviderAlias: String?
    public var identityProviderMapper: String?
    public var config: [String: String]?

    public init() {}

    public init(_ m: IdentityProviderMapper, providerAlias: String) {
        id = m.id
        name = m.name
        identityProviderAlias = providerAlias
        identityProviderMapper = m.mapperType
        config = m.config
    }
}

/// Keycloak's federated identity: a user's link to an account at an identity provider.
public struct FederatedIdentityRepresentation: Codable, Sendable {
    public var identityProvider: String?
    /// The upstream `sub`.
    public var userId: String?
    public var userName: String?

    public init() {}

    public init(_ link: FederatedIdentity, providerAlias: String) {
        identityProvider = providerAlias
        userId = link.upstreamUserId
        userName = link.upstreamUsername
    }
}

/// A realm file's role scope mappings: the roles (by name) a client (by clientId) or a client
/// scope (by name) lets into tokens.
public struct ScopeMappingRepresentation: Codable, Sendable {
    public var client: String?
    public var clientScope: String?
    public var roles: [String]?
    public init(client: String? = nil, clientScope: String? = nil, roles: [String]? = nil) {
        self.client = client
        self.clientScope = clientScope
        self.roles = roles
    }
}

public struct RoleRepresentation: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var description: String?
    public var composite: Bool?
    public var clientRole: Bool?
    public var containerId: String?
    public var attributes: [String: StringList]?
    /// In a realm file: the roles this one contains.
    public var composites: CompositesRepresentation?

    public init() {}
}

public struct GroupRepresentation: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var path: String?
    public var parentId: String?
    public var subGroupCount: Int?
    public var subGroups: [GroupRepresentation]?
    public var attributes: [String: StringList]?
    public var realmRoles: [String]?
    public var clientRoles: [String: [String]]?
    public var access: [String: Bool]?

    public init() {}
}

// MARK: Model → representation

extension RealmRepresentation {
    public init(_ r: Realm, defaultRole: Role?) {
        let b = r.bruteForce, p = r.passwordHashing
        id = r.id
        realm = r.name
        displayName = r.displayName
        enabled = r.enabled
        accessTokenLifespan = r.accessTokenLifespan
        ssoSessionIdleTimeout = r.refreshTokenLifespan
        ssoSessionMaxLifespan = r.ssoSessionMaxLifespan
        offlineSessionIdleTimeout = r.offlineSessionIdleTimeout
        offlineSessionMaxLifespanEnabled = r.offlineSessionMaxLifespanEnabled
        offlineSessionMaxLifespan = r.offlineSessionMaxLifespan
        personalAccessTokenMaxLifespan = r.personalAccessTokenMaxLifespan ?? 0
        duplicateEmailsAllowed = r.duplicateEmailsAllowed
        loginWithEmailAllowed = true
        bruteForceProtected = b.enabled
        failureFactor = b.failureFactor
        waitIncrementSeconds = b.waitIncrementSeconds
        maxFailureWaitSeconds = b.maxFailureWaitSeconds
        quickLoginCheckMilliSeconds = b.quickLoginCheckMilliSeconds
        minimumQuickLoginWaitSeconds = b.minimumQuickLoginWaitSeconds
        maxDeltaTimeSeconds = b.maxDeltaTimeSeconds
        permanentLockout = b.permanentLockout
        passwordPolicy = r.passwordPolicy
        eventsEnabled = r.eventsEnabled
        enabledEventTypes = r.enabledEventTypes
        eventsExpiration = r.eventsExpiration
        adminEventsEnabled = r.adminEventsEnabled
        adminEventsDetailsEnabled = r.adminEventsDetailsEnabled
        attributes = r.attributes
        dockerV2Enabled = r.dockerV2Enabled
        passwordHashing = PasswordHashingRepresentation(algorithm: "argon2id", memory: p.memoryKiB, iterations: p.iterations,
                                                        parallelism: p.parallelism, hashLength: p.hashLength, saltLength: p.saltLength)
        self.defaultRole = defaultRole.map { RoleRepresentation($0, composite: true) }
        notBefore = 0
    }
}

extension UserRepresentation {
    public init(_ u: User, brief: Bool = false) {
        id = u.id
        username = u.username
        email = u.email
        emailVerified = u.emailVerified
        firstName = u.firstName
        lastName = u.lastName
        enabled = u.enabled
        createdTimestamp = u.createdAt.millisecondsSince1970
        if !brief {
            attributes = u.attributes.mapValues(StringList.init)
        }
        requiredActions = u.requiredActions
        notBefore = 0
        totp = false
        disableableCredentialTypes = []
        access = ["manageGroupMembership": true, "view": true, "mapRoles": true, "impersonate": false, "manage": true]
    }
}


extension ClientRepresentation {
    public init(_ c: Client) {
        id = c.id
        clientId = c.clientId
        name = c.name
        description = c.description
        enabled = c.enabled
        self.protocol = c.protocolName.rawValue
        publicClient = c.publicClient
        bearerOnly = c.attributes["bearer-only"] == "true"
        directAccessGrantsEnabled = c.directAccessGrantsEnabled
        serviceAccountsEnabled = c.serviceAccountsEnabled
        standardFlowEnabled = c.standardFlowEnabled
        implicitFlowEnabled = false
        redirectUris = c.redirectUris
        webOrigins = c.webOrigins
        consentRequired = c.consentRequired
        attributes = c.attributes.filter { !Client.modeledAttributes.contains($0.key) }
        protocolMappers = c.protocolMappers
        clientAuthenticatorType = c.authenticatorType
        fullScopeAllowed = c.fullScopeAllowed
    }

    /// With the client's scopes by name, as Keycloak's full answer has them.
    public init(_ c: Client, scopes: [AssignedClientScope]) {
        self.init(c)
        defaultClientScopes = scopes.filter(\.isDefault).map(\.scope.name)
        optionalClientScopes = scopes.filter { !$0.isDefault }.map(\.scope.name)
    }
}

extension RoleRepresentation {
    public init(_ r: Role, composite: Bool) {
        id = r.id
        name = r.name
        description = r.description
        self.composite = composite
        clientRole = r.isClientRole
        containerId = r.containerId
        attributes = r.attributes.mapValues(StringList.init)
    }
}

extension GroupRepresentation {
    public init(_ node: GroupNode, subGroups: [GroupRepresentation] = []) {
        id = node.group.id
        name = node.group.name
        path = node.path
        parentId = node.group.parentId
        subGroupCount = node.subGroupCount
        self.subGroups = subGroups
        attributes = node.group.attributes.mapValues(StringList.init)
        realmRoles = nil
        clientRoles = nil
        access = ["view": true, "manage": true, "manageMembership": true]
    }
}

// MARK: Representation → model

extension RealmRepresentation {
    /// The realm settings this representation carries, as one change for `Realm.apply` — the
    /// admin API's PUT and a realm file's import go through this same mapping.
    public var settingsChange: RealmSettingsChange {
        var change = RealmSettingsChange()
        change.accessTokenLifespan = accessTokenLifespan
        change.refreshTokenLifespan = ssoSessionIdleTimeout
        change.ssoSessionMaxLifespan = ssoSessionMaxLifespan
        change.notBefore = notBefore
        change.offlineSessionIdleTimeout = offlineSessionIdleTimeout
        change.offlineSessionMaxLifespanEnabled = offlineSessionMaxLifespanEnabled
        change.offlineSessionMaxLifespan = offlineSessionMaxLifespan
        change.personalAccessTokenMaxLifespan = personalAccessTokenMaxLifespan
        change.duplicateEmailsAllowed = duplicateEmailsAllowed
        change.dockerV2Enabled = dockerV2Enabled
        change.bruteForceProtected = bruteForceProtected
        change.failureFactor = failureFactor
        change.waitIncrementSeconds = waitIncrementSeconds
        change.maxFailureWaitSeconds = maxFailureWaitSeconds
        change.quickLoginCheckMilliSeconds = quickLoginCheckMilliSeconds
        change.minimumQuickLoginWaitSeconds = minimumQuickLoginWaitSeconds
        change.maxDeltaTimeSeconds = maxDeltaTimeSeconds
        change.permanentLockout = permanentLockout
        change.eventsExpiration = eventsExpiration
        change.eventsEnabled = eventsEnabled
        change.enabledEventTypes = enabledEventTypes
        change.adminEventsEnabled = adminEventsEnabled
        change.adminEventsDetailsEnabled = adminEventsDetailsEnabled
        if let h = passwordHashing {
            change.hashingMemoryKiB = h.memory
            change.hashingIterations = h.iterations
            change.hashingParallelism = h.parallelism
            change.hashingHashLength = h.hashLength
            change.hashingSaltLength = h.saltLength
        }
        return change
    }
}

// MARK: Keycloak's realm settings Keyport keeps without using

extension RealmRepresentation {
    /// The realm fields Keyport models (read into `Realm`).
    public static let modeledFields: Set<String> = [
        "id", "realm", "displayName", "enabled", "accessTokenLifespan", "ssoSessionIdleTimeout", "duplicateEmailsAllowed",
        "offlineSessionIdleTimeout", "offlineSessionMaxLifespanEnabled", "offlineSessionMaxLifespan", "personalAccessTokenMaxLifespan",
        "bruteForceProtected", "failureFactor", "waitIncrementSeconds", "maxFailureWaitSeconds", "quickLoginCheckMilliSeconds",
        "minimumQuickLoginWaitSeconds", "maxDeltaTimeSeconds", "permanentLockout", "passwordPolicy", "eventsExpiration", "eventsEnabled", "enabledEventTypes",
        "adminEventsEnabled", "adminEventsDetailsEnabled", "attributes", "dockerV2Enabled", "passwordHashing", "roles", "defaultRole", "groups", "users",
        "clients", "clientScopes", "defaultDefaultClientScopes", "defaultOptionalClientScopes", "scopeMappings", "clientScopeMappings",
        "notBefore", "loginWithEmailAllowed", "identityProviders", "identityProviderMappers", "components",
    ]
    /// Keycloak settings never kept: secrets, and what a realm file carries as content.
    static let neverKept: Set<String> = ["privateKey", "publicKey", "certificate", "codeSecret", "smtpServer", "keycloakVersion"]
    /// At most this much (JSON text, all settings together) is kept per realm.
    public static let keptSettingsLimit = RealmBounds.keptSettingsBytes

    /// Keycloak's realm settings in `document` that Keyport does not model but keeps and gives
    /// back as they were (themes, registration and reset-password switches, locales, …): the
    /// top-level fields Keycloak has whose values are a string, number, boolean or a list of
    /// those; not secrets, not objects. Values are JSON text. Nil when there are none to keep.
    public static func keptSettings(in document: JSONValue) -> [String: String]? {
        guard case .object(let object) = document else { return nil }
        var kept: [String: String] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var total = 0
        for key in object.keys.sorted() where KeycloakShape.realm.fields.contains(key) && !modeledFields.contains(key) && !neverKept.contains(key) {
            guard let value = object[key], value.isScalarOrScalarList, let data = try? encoder.encode(value) else { continue }
            total += key.utf8.count + data.count
            guard total <= keptSettingsLimit else { break }
            kept[key] = String(decoding: data, as: UTF8.self)
        }
        return kept
    }

    /// This representation as JSON with the kept settings beside the modeled ones.
    public func withKeptSettings(_ settings: [String: String]) throws -> JSONValue {
        var json = try JSONValue.from(self)
        guard case .object(var object) = json else { return json }
        for (key, text) in settings where object[key] == nil {
            if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) { object[key] = value }
        }
        json = .object(object)
        return json
    }
}

private extension JSONValue {
    var isScalarOrScalarList: Bool {
        switch self {
        case .string, .number, .bool: true
        case .array(let items): items.allSatisfy { if case .array = $0 { false } else if case .object = $0 { false } else { true } }
        default: false
        }
    }
}

// MARK: Realm files

extension RealmRepresentation {
    /// The fields of a document that this format does not model, as `users[].totp`-style names.
    public static func unmodeledFields(in document: JSONValue) -> [String] {
        let kept = Set(keptSettings(in: document)?.keys.map { $0 } ?? [])
        let known: [String: Set<String>] = [
            "": modeledFields.union(kept),
            "roles": ["id", "name", "description", "composite", "clientRole", "containerId", "attributes", "composites"],
            "groups": ["id", "name", "path", "attributes", "realmRoles", "clientRoles", "subGroups"],
            "users": ["id", "username", "email", "emailVerified", "firstName", "lastName", "enabled", "createdTimestamp", "attributes",
                      "requiredActions", "realmRoles", "clientRoles", "groups", "credentials", "serviceAccountClientId"],
            "users[].credentials": ["id", "type", "value", "temporary", "userLabel", "createdDate", "secretData", "credentialData", "hashedSaltedValue", "salt",
                                    "hashIterations", "algorithm", "priority"],
            "clients": ["id", "clientId", "name", "description", "enabled", "protocol", "publicClient", "bearerOnly", "consentRequired", "secret",
                        "directAccessGrantsEnabled", "serviceAccountsEnabled", "standardFlowEnabled", "redirectUris", "attributes",
                        "protocolMappers", "fullScopeAllowed", "webOrigins", "defaultClientScopes", "optionalClientScopes", "clientAuthenticatorType"],
        ]
        var found: Set<String> = []
        func check(_ value: JSONValue?, _ kind: String, _ shown: String) {
            guard let object = value?.objectValue, let names = known[kind] else { return }
            for key in object.keys where !names.contains(key) { found.insert(shown.isEmpty ? key : "\(shown).\(key)") }
        }
        check(document, "", "")
        for role in document["roles"]?["realm"]?.arrayValue ?? [] { check(role, "roles", "roles.realm[]") }
        for (_, roles) in document["roles"]?["client"]?.objectValue ?? [:] {
            for role in roles.arrayValue ?? [] { check(role, "roles", "roles.client[]") }
        }
        func groups(_ list: [JSONValue]) {
            for group in list {
                check(group, "groups", "groups[]")
                groups(group["subGroups"]?.arrayValue ?? [])
            }
        }
        groups(document["groups"]?.arrayValue ?? [])
        for user in document["users"]?.arrayValue ?? [] {
            check(user, "users", "users[]")
            for credential in user["credentials"]?.arrayValue ?? [] { check(credential, "users[].credentials", "users[].credentials[]") }
        }
        for client in document["clients"]?.arrayValue ?? [] { check(client, "clients", "clients[]") }
        return found.sorted()
    }
}

// MARK: Sessions

/// Keycloak's `UserSessionRepresentation`: one session of a user (online, or offline — behind a
/// docker-v2 identity token). Times in epoch milliseconds; never the token.
public struct UserSessionRepresentation: Codable, Sendable, Equatable {
    public var id: String
    public var username: String
    public var userId: String
    public var ipAddress: String?
    public var start: Int64
    public var lastAccess: Int64
    public var rememberMe: Bool
    /// The client's internal id → its `clientId`.
    public var clients: [String: String]
    public var transientUser: Bool

    public init(_ session: Session, user: User, clientId: String) {
        id = session.id
        username = user.username
        userId = user.id
        ipAddress = session.ipAddress
        start = session.createdAt.millisecondsSince1970
        lastAccess = session.lastRefresh.millisecondsSince1970
        rememberMe = false
        clients = [session.clientId: clientId]
        transientUser = false
    }

    /// A browser's single sign-on session before any client used it.
    public init(_ session: BrowserSession, user: User) {
        id = session.id
        username = user.username
        userId = user.id
        ipAddress = session.ipAddress
        start = session.authTime.millisecondsSince1970
        lastAccess = session.lastSeen.millisecondsSince1970
        rememberMe = false
        clients = [:]
        transientUser = false
    }
}

// MARK: Personal access tokens (Keyport)

/// A personal access token as the admin and account APIs show it: never the secret, except
/// `token` in the answer to its creation (the only time it is shown).
public struct PersonalAccessTokenRepresentation: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String?
    /// The `clientId` of the registry client it is for.
    public var client: String?
    /// Epoch milliseconds.
    public var expiresAt: Int64?
    public var grants: [String]?
    public var createdAt: Int64?
    public var lastUsedAt: Int64?
    public var lastUsedIp: String?
    /// The secret, in the answer to a creation only.
    public var token: String?

    public init() {}

    public init(_ t: PersonalAccessToken, clientId: String, secret: String? = nil) {
        id = t.id
        name = t.name
        client = clientId
        expiresAt = t.expiresAt?.millisecondsSince1970
        grants = t.grants
        createdAt = t.createdAt.millisecondsSince1970
        lastUsedAt = t.lastUsedAt?.millisecondsSince1970
        lastUsedIp = t.lastUsedIp
        token = secret
    }
}

/// Keycloak's `ComponentRepresentation`: key providers (`providerType`
/// `org.keycloak.keys.KeyProvider`), one per realm key, and user federation (LDAP providers and
/// their mappers). `config` is Keycloak's multivalued map
/// (`{"priority": ["100"]}`); on input a single string, number or boolean is taken as a list of
/// one, as kcadm users write it.
public struct ComponentRepresentation: Codable, Sendable {
    public static let keyProviderType = "org.keycloak.keys.KeyProvider"

    public var id: String?
    public var name: String?
    public var providerId: String?
    public var providerType: String?
    public var parentId: String?
    public var subType: String?
    public var config: [String: [String]]?

    public init(id: String? = nil, name: String? = nil, providerId: String? = nil, providerType: String? = nil,
                parentId: String? = nil, subType: String? = nil, config: [String: [String]]? = nil) {
        self.id = id
        self.name = name
        self.providerId = providerId
        self.providerType = providerType
        self.parentId = parentId
        self.subType = subType
        self.config = config
    }

    enum CodingKeys: String, CodingKey { case id, name, providerId, providerType, parentId, subType, config }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        providerId = try c.decodeIfPresent(String.self, forKey: .providerId)
        providerType = try c.decodeIfPresent(String.self, forKey: .providerType)
        parentId = try c.decodeIfPresent(String.self, forKey: .parentId)
        subType = try c.decodeIfPresent(String.self, forKey: .subType)
        if let raw = try c.decodeIfPresent([String: JSONValue].self, forKey: .config) {
            var config: [String: [String]] = [:]
            for (key, value) in raw {
                let items: [JSONValue] = value.arrayValue ?? [value]
                config[key] = try items.map { item in
                    switch item {
                    case .string(let s): return s
                    case .bool(let b): return b ? "true" : "false"
                    case .number(let n) where n == n.rounded() && abs(n) < 1e15: return String(Int64(n))
                    default:
                        throw DecodingError.dataCorruptedError(forKey: .config, in: c, debugDescription: "config.\(key) must hold strings")
                    }
                }
            }
            self.config = config
        }
    }

    /// A realm key as its key provider. `keySize` is the key's (RSA modulus bits).
    public init(key: RealmKey, keySize: Int) {
        var config: [String: [String]] = [
            "priority": [String(key.priority)],
            "enabled": [key.status == .disabled ? "false" : "true"],
            "active": [key.status == .active ? "true" : "false"],
        ]
        switch key.algorithm {
        case .rs256:
            config["algorithm"] = ["RS256"]
            config["keySize"] = [String(keySize)]
        case .es256:
            config["ecdsaEllipticCurveKey"] = ["P-256"]
        }
        self.init(id: key.id, name: key.name, providerId: key.algorithm.generatedProviderName, providerType: Self.keyProviderType,
                  parentId: key.realmId, config: config)
    }

    /// A user storage provider or one of its mappers as Keycloak answers it: a provider's
    /// `parentId` is the realm's id, a mapper's its provider's; secrets answered `**********`.
    public init(storage c: StorageComponent) {
        var config = c.config
        for key in StorageComponent.secretConfigKeys where config[key]?.isEmpty == false {
            config[key] = [StorageComponent.maskedSecret]
        }
        if c.parentId == nil, let lastSync = c.lastSync { config[StorageComponent.lastSyncConfigKey] = [String(lastSync.secondsSince1970)] }
        self.init(id: c.id, name: c.name, providerId: c.providerId, providerType: c.providerType, parentId: c.parentId ?? c.realmId,
                  subType: c.subType, config: config)
    }
}

/// Keycloak's `ComponentExportRepresentation`: a component in a realm file, its children by type.
public struct ComponentExportRepresentation: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var providerId: String?
    public var subType: String?
    public var subComponents: [String: [ComponentExportRepresentation]]?
    public var config: [String: [String]]?

    public init(id: String? = nil, name: String? = nil, providerId: String? = nil, subType: String? = nil,
                subComponents: [String: [ComponentExportRepresentation]]? = nil, config: [String: [String]]? = nil) {
        self.id = id
        self.name = name
        self.providerId = providerId
        self.subType = subType
        self.subComponents = subComponents
        self.config = config
    }

    enum CodingKeys: String, CodingKey { case id, name, providerId, subType, subComponents, config }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        providerId = try c.decodeIfPresent(String.self, forKey: .providerId)
        subType = try c.decodeIfPresent(String.self, forKey: .subType)
        subComponents = try c.decodeIfPresent([String: [ComponentExportRepresentation]].self, forKey: .subComponents)
        // Keycloak's multivalued map, single values taken as lists of one (as ComponentRepresentation).
        config = try c.decodeIfPresent([String: StringList].self, forKey: .config)?.mapValues(\.values)
    }

    /// The same component as the admin API's representation (for the one provisioning layer).
    public func asComponent(providerType: String, parentId: String?) -> ComponentRepresentation {
        ComponentRepresentation(id: id, name: name, providerId: providerId, providerType: providerType, parentId: parentId, subType: subType, config: config)
    }

    /// A stored provider or mapper as a realm file holds it; the credential only in a backup.
    public init(storage c: StorageComponent, children: [String: [ComponentExportRepresentation]]?, withSecrets: Bool) {
        var config = c.config
        if !withSecrets {
            for key in StorageComponent.secretConfigKeys where config[key]?.isEmpty == false { config[key] = [StorageComponent.maskedSecret] }
        }
        self.init(id: c.id, name: c.name, providerId: c.providerId, subType: c.subType, subComponents: children ?? [:], config: config)
    }
}

// MARK: Partial import

/// Keycloak's `PartialImportRepresentation`: users, clients, groups and roles to add to an
/// existing realm (`POST /admin/realms/{realm}/partialImport`, python-keycloak's
/// `partial_import_realm`), and what to do when one exists already.
public struct PartialImportRepresentation: Decodable, Sendable {
    public var ifResourceExists: String?
    /// Keycloak's older name for `ifResourceExists`.
    public var policy: String?
    public var users: [UserRepresentation]?
    public var clients: [ClientRepresentation]?
    public var groups: [GroupRepresentation]?
    public var roles: RolesRepresentation?
    public var identityProviders: [IdentityProviderRepresentation]?

    public init() {}
}

/// Keycloak's `PartialImportResults`: counts, then one line per resource in the order handled.
public struct PartialImportResultsRepresentation: Encodable, Sendable, Equatable {
    public struct Result: Encodable, Sendable, Equatable {
        /// `ADDED`, `SKIPPED` or `OVERWRITTEN`.
        public var action: String
        /// `USER`, `CLIENT`, `GROUP`, `REALM_ROLE` or `CLIENT_ROLE`.
        public var resourceType: String
        public var resourceName: String
        public var id: String
        public init(action: String, resourceType: String, resourceName: String, id: String) {
            self.action = action
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.id = id
        }
    }
    public var overwritten: Int
    public var added: Int
    public var skipped: Int
    public var results: [Result]

    public init(results: [Result]) {
        self.results = results
        overwritten = results.count { $0.action == "OVERWRITTEN" }
        added = results.count { $0.action == "ADDED" }
        skipped = results.count { $0.action == "SKIPPED" }
    }
}

// MARK: The account API's sessions and registries

/// A sign-in session as Keycloak's account API shows it (`/account/sessions`): times in
/// seconds, the clients it signed in, and whether it is the one the caller's token comes from.
public struct AccountSessionRepresentation: Codable, Sendable, Equatable {
    public struct SignedIn: Codable, Sendable, Equatable {
        public var clientId: String
        public var clientName: String
        public init(clientId: String, clientName: String) {
            self.clientId = clientId
            self.clientName = clientName
        }
    }

    public var id: String
    public var ipAddress: String?
    public var started: Int64
    public var lastAccess: Int64
    public var expires: Int64
    public var clients: [SignedIn]
    public var current: Bool

    public init(id: String, ipAddress: String?, started: Timestamp, lastAccess: Timestamp, expires: Timestamp, clients: [SignedIn], current: Bool) {
        self.id = id
        self.ipAddress = ipAddress
        self.started = started.secondsSince1970
        self.lastAccess = lastAccess.secondsSince1970
        self.expires = expires.secondsSince1970
        self.clients = clients
        self.current = current
    }
}

/// An identity token `docker login` left on a machine (Keyport): the offline session behind it,
/// never the token. Times in epoch milliseconds, as personal access tokens'.
public struct IdentityTokenRepresentation: Codable, Sendable, Equatable {
    public var id: String
    /// The `clientId` of the registry client it is for.
    public var client: String
    public var createdAt: Int64
    public var lastUsedAt: Int64
    public var lastUsedIp: String?

    public init(_ session: Session, clientId: String) {
        id = session.id
        client = clientId
        createdAt = session.createdAt.millisecondsSince1970
        lastUsedAt = session.lastRefresh.millisecondsSince1970
        lastUsedIp = session.ipAddress
    }
}

/// A registry (docker-v2 client) of the realm as its user sees it (Keyport): what the user's
/// roles let it do there, what personal access tokens may carry at most.
public struct AccountRegistryRepresentation: Codable, Sendable, Equatable {
    public var client: String
    public var name: String?
    /// `roles` (the grants below decide) or `allow-all` (every signed-in user may do anything).
    public var authorization: String
    /// The `docker.grant` values of the user's effective roles of this client.
    public var grants: [String]
    public var identityTokens: Bool

    public init(client: String, name: String?, authorization: String, grants: [String], identityTokens: Bool) {
        self.client = client
        self.name = name
        self.authorization = authorization
        self.grants = grants
        self.identityTokens = identityTokens
    }
}
