import KeyportJSON
import KeyportModel

/// Keycloak's realm export format (`kc.sh export`), the part Keyport models. Every field is
/// optional: exports from other Keycloak versions carry more or fewer of them.
public struct KeycloakRealmJSON: Codable, Sendable {
    public var id: String?
    public var realm: String?
    public var displayName: String?
    public var enabled: Bool?
    public var accessTokenLifespan: Int?
    public var ssoSessionIdleTimeout: Int?
    public var duplicateEmailsAllowed: Bool?
    public var bruteForceProtected: Bool?
    public var failureFactor: Int?
    public var waitIncrementSeconds: Int?
    public var maxFailureWaitSeconds: Int?
    public var quickLoginCheckMilliSeconds: Int?
    public var minimumQuickLoginWaitSeconds: Int?
    public var maxDeltaTimeSeconds: Int?
    public var permanentLockout: Bool?
    public var passwordPolicy: String?
    public var eventsExpiration: Int?
    public var eventsEnabled: Bool?
    public var enabledEventTypes: [String]?
    public var attributes: [String: String]?
    public var dockerV2Enabled: Bool?
    public var passwordHashing: Hashing?
    public var roles: Roles?
    public var defaultRole: Role?
    public var groups: [Group]?
    public var users: [User]?
    public var clients: [Client]?

    public struct Hashing: Codable, Sendable, Equatable {
        public var algorithm: String?
        public var memory: Int?
        public var iterations: Int?
        public var parallelism: Int?
        public var hashLength: Int?
        public var saltLength: Int?
    }

    public struct Roles: Codable, Sendable {
        public var realm: [Role]?
        public var client: [String: [Role]]?
    }

    public struct Composites: Codable, Sendable, Equatable {
        public var realm: [String]?
        public var client: [String: [String]]?
    }

    public struct Role: Codable, Sendable {
        public var id: String?
        public var name: String?
        public var description: String?
        public var composite: Bool?
        public var clientRole: Bool?
        public var containerId: String?
        public var attributes: [String: [String]]?
        public var composites: Composites?
    }

    public struct Group: Codable, Sendable {
        public var id: String?
        public var name: String?
        public var path: String?
        public var attributes: [String: [String]]?
        public var realmRoles: [String]?
        public var clientRoles: [String: [String]]?
        public var subGroups: [Group]?
    }

    public struct Credential: Codable, Sendable {
        public var id: String?
        public var type: String?
        public var userLabel: String?
        public var createdDate: Int64?
        public var secretData: String?
        public var credentialData: String?
        // Keycloak 3 and older put the hash on the credential itself.
        public var hashedSaltedValue: String?
        public var salt: String?
        public var hashIterations: Int?
        public var algorithm: String?
    }

    public struct User: Codable, Sendable {
        public var id: String?
        public var username: String?
        public var email: String?
        public var emailVerified: Bool?
        public var firstName: String?
        public var lastName: String?
        public var enabled: Bool?
        public var createdTimestamp: Int64?
        public var attributes: [String: [String]]?
        public var requiredActions: [String]?
        public var realmRoles: [String]?
        public var clientRoles: [String: [String]]?
        public var groups: [String]?
        public var credentials: [Credential]?
        public var serviceAccountClientId: String?
    }

    public struct Client: Codable, Sendable {
        public var id: String?
        public var clientId: String?
        public var name: String?
        public var description: String?
        public var enabled: Bool?
        public var `protocol`: String?
        public var publicClient: Bool?
        public var bearerOnly: Bool?
        public var secret: String?
        public var directAccessGrantsEnabled: Bool?
        public var serviceAccountsEnabled: Bool?
        public var standardFlowEnabled: Bool?
        public var redirectUris: [String]?
        public var attributes: [String: String]?
        public var protocolMappers: [ProtocolMapper]?
    }

    /// The fields of a document that this format does not model, as `users[].totp`-style names.
    public static func unmodeledFields(in document: JSONValue) -> [String] {
        let known: [String: Set<String>] = [
            "": ["id", "realm", "displayName", "enabled", "accessTokenLifespan", "ssoSessionIdleTimeout", "duplicateEmailsAllowed",
                 "bruteForceProtected", "failureFactor", "waitIncrementSeconds", "maxFailureWaitSeconds", "quickLoginCheckMilliSeconds",
                 "minimumQuickLoginWaitSeconds", "maxDeltaTimeSeconds", "permanentLockout", "passwordPolicy", "eventsExpiration", "eventsEnabled", "enabledEventTypes",
                 "attributes", "dockerV2Enabled", "passwordHashing", "roles", "defaultRole", "groups", "users", "clients"],
            "roles": ["id", "name", "description", "composite", "clientRole", "containerId", "attributes", "composites"],
            "groups": ["id", "name", "path", "attributes", "realmRoles", "clientRoles", "subGroups"],
            "users": ["id", "username", "email", "emailVerified", "firstName", "lastName", "enabled", "createdTimestamp", "attributes",
                      "requiredActions", "realmRoles", "clientRoles", "groups", "credentials", "serviceAccountClientId"],
            "users[].credentials": ["id", "type", "userLabel", "createdDate", "secretData", "credentialData", "hashedSaltedValue", "salt",
                                    "hashIterations", "algorithm", "priority"],
            "clients": ["id", "clientId", "name", "description", "enabled", "protocol", "publicClient", "bearerOnly", "secret",
                        "directAccessGrantsEnabled", "serviceAccountsEnabled", "standardFlowEnabled", "redirectUris", "attributes",
                        "protocolMappers"],
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
