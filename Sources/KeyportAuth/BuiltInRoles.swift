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
    ]
}
