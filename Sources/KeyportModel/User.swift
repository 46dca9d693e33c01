/// A realm's user. The username (and email) are stored lower-cased, as Keycloak does, so
/// lookups are case-insensitive.
public struct User: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    public var username: String
    public var email: String?
    public var emailVerified: Bool
    public var firstName: String?
    public var lastName: String?
    public var enabled: Bool
    public var createdAt: Timestamp
    public var attributes: [String: [String]]
    /// Keycloak's required actions (`UPDATE_PASSWORD`, …): while any remain, no tokens.
    public var requiredActions: [String]
    /// Tokens issued before this instant are dead (set on password change, disable, logout-all).
    public var notBefore: Timestamp
    /// For a client's service account: that client's internal id.
    public var serviceAccountClientId: String?
    /// For a user imported from a directory: the user storage provider's id (Keycloak's
    /// `federationLink`) and the entry's id there (its `LDAP_ID`): what finds it again after a
    /// rename in the directory, and what a sync or a removed provider acts on.
    public var federationLink: String?
    public var federationId: String?

    public init(
        id: String, realmId: String, username: String, email: String? = nil, emailVerified: Bool = false,
        firstName: String? = nil, lastName: String? = nil, enabled: Bool = true, createdAt: Timestamp,
        attributes: [String: [String]] = [:], requiredActions: [String] = [], notBefore: Timestamp? = nil,
        serviceAccountClientId: String? = nil, federationLink: String? = nil, federationId: String? = nil
    ) {
        self.id = id
        self.realmId = realmId
        self.username = User.normalize(username)
        self.email = email.map(User.normalize)
        self.emailVerified = emailVerified
        self.firstName = firstName
        self.lastName = lastName
        self.enabled = enabled
        self.createdAt = createdAt
        self.attributes = attributes
        self.requiredActions = requiredActions
        self.notBefore = notBefore ?? createdAt
        self.serviceAccountClientId = serviceAccountClientId
        self.federationLink = federationLink
        self.federationId = federationId
    }

    /// Usernames and emails compare case-insensitively; this is the stored form.
    /// Lower-cased, in canonical composition (NFC): one spelling per name, for the database and
    /// for every cache keyed by it.
    public static func normalize(_ name: String) -> String { ObjectRules.nfc(name).lowercased() }
}

/// A stored credential. Only passwords exist today; the secret is a PHC string
/// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) or an imported legacy hash in the same notation.
public struct Credential: Sendable, Equatable, Identifiable {
    public var id: String
    public var userId: String
    public var type: String
    public var secret: Sensitive
    public var createdAt: Timestamp
    public var userLabel: String?

    public init(id: String, userId: String, type: String = Credential.password, secret: Sensitive, createdAt: Timestamp, userLabel: String? = nil) {
        self.id = id
        self.userId = userId
        self.type = type
        self.secret = secret
        self.createdAt = createdAt
        self.userLabel = userLabel
    }

    public static let password = "password"
}

/// Keycloak's names for the required actions Keyport acts on.
public enum RequiredAction {
    /// Set by a temporary password: no tokens until the user chooses a new one.
    public static let updatePassword = "UPDATE_PASSWORD"
}
