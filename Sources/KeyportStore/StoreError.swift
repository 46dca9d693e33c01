/// What a store operation can fail with, in terms the layers above can turn into answers.
/// Nothing here knows about HTTP; nothing here carries a secret.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The thing named does not exist (in that realm).
    case notFound(StoreEntity)
    /// A uniqueness rule would break: which one. The words a client reads are the HTTP layer's.
    case conflict(StoreConflict)
    /// The request breaks a rule of the model (a cycle, a cross-realm reference, …).
    case invalid(String)
    /// The database could not be opened, migrated or written for a reason that is not the caller's.
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let entity): "\(entity.rawValue) not found"
        case .conflict(let rule): "conflict: \(rule.rawValue)"
        case .invalid(let message), .unavailable(let message): message
        }
    }
}

/// The uniqueness rules the store enforces.
public enum StoreConflict: String, Sendable, Equatable, CaseIterable {
    case realmName, username, email, clientId, roleName, topLevelGroupName, siblingGroupName, credentialType
    /// A realm holds `RealmKey.limitPerRealm` keys already.
    case keyLimit
    /// The change would leave an algorithm of the realm with no active key: nothing could sign.
    case lastActiveKey
    /// A user's personal access tokens have unique names.
    case tokenName
    /// A user holds `PersonalAccessToken.limitPerUser` tokens already.
    case tokenLimit
    /// Duplicate emails cannot be disallowed while users share one.
    case emailsShared
    /// What a change was planned from moved before it was written (`StoreChange.requireVersions`).
    case concurrentChange
    /// The password a login verified was replaced, or the user's tokens revoked, before the
    /// session it started was written (`LoginProof`).
    case credentialChanged
    /// Client scopes have unique names in their realm.
    case clientScopeName
    /// Identity providers have unique aliases in their realm.
    case identityProviderAlias
    /// A provider's mappers have unique names.
    case identityProviderMapperName
    /// The user is linked to that provider already (one upstream account per provider).
    case userAlreadyLinked
    /// That upstream account is linked to another user of the realm already.
    case upstreamAccountLinked
    /// A user of the realm is linked to that directory entry already.
    case directoryEntryLinked
    /// A uniqueness rule the store does not name more precisely.
    case other
}

public enum StoreEntity: String, Sendable {
    case realm = "Realm"
    case user = "User"
    case client = "Client"
    case role = "Role"
    case group = "Group"
    case key = "Key"
    case credential = "Credential"
    case personalAccessToken = "Personal access token"
    case clientScope = "Client scope"
    case identityProvider = "Identity provider"
    case identityProviderMapper = "Identity provider mapper"
    case federatedIdentity = "Federated identity"
    case storageComponent = "Component"
}
