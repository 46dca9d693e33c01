/// Names Keyport gives meaning to. Authorization checks these; provisioning creates them.
public enum BuiltInRoles {
    /// The realm whose `admin` role administers every realm.
    public static let masterRealm = "master"
    /// The master realm's realm role that may do everything, in every realm.
    public static let masterAdmin = "admin"
    public static let createRealm = "create-realm"
    public static let offlineAccess = "offline_access"
    public static let umaAuthorization = "uma_authorization"

    /// The client each realm's administration roles belong to (Keycloak's name).
    public static let realmManagementClient = "realm-management"
    /// The public client admin tools log in with.
    public static let adminCLIClient = "admin-cli"

    public static let realmAdmin = "realm-admin"

    /// Keycloak's account client and the roles every realm's default role gives users
    /// (`account/view-profile`, `account/manage-account`). Keyport serves no account console:
    /// the roles exist so that realm files and scripts referring to them resolve.
    public static let accountClient = "account"
    public static let accountRoles: [(name: String, contains: [String])] = [
        ("view-profile", []),
        ("manage-account-links", []),
        ("manage-account", ["manage-account-links"]),
        ("view-applications", []),
        ("view-consent", []),
        ("manage-consent", ["view-consent"]),
        ("view-groups", []),
        ("delete-account", []),
    ]
    public static let accountDefaultRoles = ["view-profile", "manage-account"]
    /// Keycloak's other built-in clients: browser consoles Keyport does not serve (public, no
    /// password grant) and the identity-broker client (bearer-only) with its `read-token` role.
    public static let accountConsoleClient = "account-console"
    public static let securityAdminConsoleClient = "security-admin-console"
    public static let brokerClient = "broker"
    public static let brokerRoles = ["read-token"]

    /// realm-management's roles, each with the roles it contains (Keycloak's composites).
    public static let realmManagementRoles: [(name: String, contains: [String])] = [
        ("query-users", []),
        ("query-groups", []),
        ("query-clients", []),
        ("query-realms", []),
        ("view-users", ["query-users", "query-groups"]),
        ("manage-users", []),
        ("view-clients", ["query-clients"]),
        ("manage-clients", []),
        ("create-client", []),
        ("view-realm", []),
        ("manage-realm", []),
        ("view-events", []),
        ("manage-events", []),
        // Keycloak's, for features Keyport does not have: they grant nothing here.
        ("view-authorization", []),
        ("manage-authorization", []),
        ("view-identity-providers", []),
        ("manage-identity-providers", []),
        ("impersonation", []),
    ]
}
