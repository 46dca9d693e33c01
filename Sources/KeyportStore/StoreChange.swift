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
    /// Ends every personal access token of the user (a service account whose secret changed).
    case deletePersonalAccessTokens(userId: String, realmId: String)

    // What a partial import writes (`POST /admin/realms/{realm}/partialImport`): it is planned from
    // what the realm held when it was read, so it first checks that nothing deciding it moved.
    /// Fails with `StoreError.conflict(.concurrentChange)` unless the realm's versions are still these.
    case requireVersions(RealmVersions)
    case createRole(Role)
    case addComposites(parentId: String, childIds: [String], realmId: String)
    case createGroup(Group)
    case grantGroupRoles(groupId: String, roleIds: [String], realmId: String)
    /// Each of these fails with `StoreError.notFound` when there is no such object in the realm.
    case deleteUser(id: String, realmId: String)
    case deleteClient(id: String, realmId: String)
    case deleteRole(id: String, realmId: String)
    case deleteGroup(id: String, realmId: String)

    // Client scopes (Keycloak's), their assignment and their role scope mappings.
    /// Fails with `StoreError.invalid` when the realm holds `ClientScope.limitPerRealm` already.
    case createClientScope(ClientScope)
    case updateClientScope(id: String, realmId: String, change: @Sendable (inout ClientScope) throws -> Void)
    case deleteClientScope(id: String, realmId: String)
    /// Adds the scope to the realm's defaults (or optionals) for new clients, or moves it between them.
    case assignRealmClientScope(scopeId: String, realmId: String, isDefault: Bool)
    /// Fails with `StoreError.notFound(.clientScope)` when it was not assigned so.
    case unassignRealmClientScope(scopeId: String, realmId: String, isDefault: Bool)
    case assignClientScope(scopeId: String, clientId: String, realmId: String, isDefault: Bool)
    case unassignClientScope(scopeId: String, clientId: String, realmId: String, isDefault: Bool)
    /// Replaces a client's default and/or optional scopes (a list left nil stays) with the
    /// scopes of those names; an unknown name fails with `StoreError.invalid`.
    case setClientScopes(clientId: String, realmId: String, defaults: [String]?, optionals: [String]?)
    case addScopeRoles(ScopeMappingHolder, roleIds: [String], realmId: String)
    case removeScopeRoles(ScopeMappingHolder, roleIds: [String], realmId: String)

    // Identity providers (Keycloak's), named by alias.
    /// Fails with `StoreError.invalid` when the realm holds `IdentityProvider.limitPerRealm` already.
    case createIdentityProvider(IdentityProvider)
    /// A read-modify-write of the provider inside the transaction; the alias may change.
    case updateIdentityProvider(alias: String, realmId: String, change: @Sendable (inout IdentityProvider) throws -> Void)
    case deleteIdentityProvider(alias: String, realmId: String)

    // Brokered sign-in: the providers' mappers, the users' links to upstream accounts, and what a
    // mapper that runs at every sign-in takes back.
    /// Fails with `StoreError.invalid` when the provider holds `IdentityProviderMapper.limitPerProvider` already.
    case createIdentityProviderMapper(IdentityProviderMapper)
    /// A read-modify-write of the mapper inside the transaction; its provider never changes.
    case updateIdentityProviderMapper(id: String, realmId: String, change: @Sendable (inout IdentityProviderMapper) throws -> Void)
    case deleteIdentityProviderMapper(id: String, realmId: String)
    /// Fails with `StoreError.conflict(.userAlreadyLinked)` or `(.upstreamAccountLinked)`.
    case linkFederatedIdentity(FederatedIdentity)
    /// Fails with `StoreError.notFound(.federatedIdentity)` when there was no such link.
    case unlinkFederatedIdentity(userId: String, providerId: String, realmId: String)
    /// Each a no-op when the user did not hold the role or the membership.
    case revokeUserRoles(userId: String, roleIds: [String], realmId: String)
    case removeMember(groupId: String, userId: String, realmId: String)

    // User federation: user storage providers and their mappers, and the users they imported.
    /// A provider (`parentId` nil) fails with `StoreError.invalid` past `StorageComponent.providersPerRealm`;
    /// a mapper with `.notFound(.storageComponent)` when its parent is not a provider of the realm,
    /// or `.invalid` past `StorageComponent.mappersPerProvider`.
    case createStorageComponent(StorageComponent)
    /// A read-modify-write inside the transaction; its realm and parent never change.
    case updateStorageComponent(id: String, realmId: String, change: @Sendable (inout StorageComponent) throws -> Void)
    /// Removes its mappers and the users it imported with it.
    case deleteStorageComponent(id: String, realmId: String)
    /// Links an existing user to a provider's entry; fails with `.conflict(.directoryEntryLinked)`
    /// when another user of the realm has that entry.
    case linkDirectoryUser(userId: String, providerId: String, externalId: String, realmId: String)
    /// Keycloak's `unlink-users`: the provider's users stay as local users.
    case unlinkDirectoryUsers(providerId: String, realmId: String)
    /// Keycloak's `remove-imported-users`.
    case removeDirectoryUsers(providerId: String, realmId: String)
}
