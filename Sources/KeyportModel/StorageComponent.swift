/// A component of Keycloak's user federation: an LDAP user storage provider (`parentId` nil, the
/// realm's; Keycloak's `parentId` is then the realm's id) or one of its mappers (`parentId` the
/// provider's id), with Keycloak's multi-valued config as it came, checked by the layer that runs it.
public struct StorageComponent: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    public var parentId: String?
    public var name: String
    /// `ldap`, or a mapper's kind (`user-attribute-ldap-mapper`, `group-ldap-mapper`, …).
    public var providerId: String
    public var providerType: String
    public var subType: String?
    /// Keycloak's config, secrets included (`secretConfigKeys`): never answered nor exported as they are.
    public var config: [String: [String]]
    /// The role or group a mapper gives, by id: fixed when an administrator who may grant it saved
    /// the mapper (as identity provider mappers keep theirs).
    public var targetId: String?
    /// When a sync of this provider last finished (Keycloak's `lastSync`).
    public var lastSync: Timestamp?
    /// Where Keycloak shows `lastSync` (seconds since the epoch) in a provider's config.
    public static let lastSyncConfigKey = "lastSync"

    public init(id: String, realmId: String, parentId: String? = nil, name: String, providerId: String, providerType: String,
                subType: String? = nil, config: [String: [String]] = [:], targetId: String? = nil, lastSync: Timestamp? = nil) {
        self.id = id
        self.realmId = realmId
        self.parentId = parentId
        self.name = name
        self.providerId = providerId
        self.providerType = providerType
        self.subType = subType
        self.config = config
        self.targetId = targetId
        self.lastSync = lastSync
    }

    public static let userStorageProviderType = "org.keycloak.storage.UserStorageProvider"
    public static let ldapMapperType = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"
    /// Config keys never answered (Keycloak answers `**********`) nor exported without secrets.
    public static let secretConfigKeys: Set<String> = ["bindCredential"]
    /// What Keycloak answers for a secret; sent back unchanged, it keeps the stored one.
    public static let maskedSecret = "**********"
    public static let providersPerRealm = 10
    public static let mappersPerProvider = 50
    /// Bounds on a config as stored: keys, values per key, bytes per value.
    public static let maxConfigKeys = 64
    public static let maxConfigValues = 64
    public static let maxConfigValueBytes = 4_096
}
