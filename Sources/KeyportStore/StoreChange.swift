import KeyportModel

/// One write among several that must happen together. `IdentityStore.apply` runs a list of
/// them as a single transaction: an admin request that creates a user, sets its password,
/// maps roles and joins groups either does all of it or none.
public enum StoreChange: Sendable {
    case createUser(UserSeed)
    /// A read-modify-write of the user inside the transaction (see `IdentityStore.updateUser`).
    case updateUser(id: String, realmId: String, change: @Sendable (inout User) throws -> Void)
    /// Replaces the user's credential of that type; `revokeTokensBefore` moves the user's `notBefore`.
    case setCredential(Credential, revokeTokensBefore: Timestamp?)
    case createClient(Client)
    case updateClient(id: String, realmId: String, change: @Sendable (inout Client) throws -> Void)
    case grantUserRoles(userId: String, roleIds: [String], realmId: String)
    case addMember(groupId: String, userId: String, realmId: String)
    case deleteSessions(userId: String, realmId: String)
}
