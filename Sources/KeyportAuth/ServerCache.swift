/// What an administrator can ask a node to forget (Keycloak's `clear-realm-cache`,
/// `clear-user-cache` and `clear-keys-cache`).
///
/// Keyport's caches check the database's versions at every request, so a change made through
/// Keyport is never served stale; clearing matters after the database was changed by other
/// means (a restored backup, SQL run by hand) and to give the memory back. It acts on the node
/// that answers the request.
public enum ServerCache: String, Sendable, CaseIterable {
    /// Realm settings, clients, keys as read for tokens, clients' client scopes with their
    /// mappers, effective roles and parsed grants.
    case realm
    /// Users' effective roles, parsed grants and the short-lived record of right passwords.
    case user
    /// Parsed signing keys.
    case keys
}
