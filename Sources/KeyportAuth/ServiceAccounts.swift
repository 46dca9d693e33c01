import KeyportModel

/// Keycloak's service accounts: a client with `serviceAccountsEnabled` acts as a hidden user
/// named `service-account-{clientId}`, whose role mappings are the client's permissions.
public enum ServiceAccounts {
    public static let prefix = "service-account-"

    public static func username(for client: Client) -> String { User.normalize(prefix + client.clientId) }

    /// The hidden user acting for `client`.
    public static func user(for client: Client, id: String, createdAt: Timestamp) -> User {
        User(id: id, realmId: client.realmId, username: username(for: client), enabled: true, createdAt: createdAt,
             serviceAccountClientId: client.id)
    }
}
