import KeyportModel

/// Where realms, users, clients, roles, groups, keys and events live: one protocol per concern,
/// composed, so that a second backend can be written and tested piece by piece.
///
/// Every method is one transaction: it happens whole or not at all. The invariants
/// (uniqueness, same-realm references, cascades on delete) are the backend's to enforce and
/// report as `StoreError`; callers above never see a database error type. A second backend
/// (PostgreSQL) proves itself by passing the same conformance suite as `SQLiteStore`.
public protocol IdentityStore: RealmStore, UserStore, ClientStore, ClientScopeStore, RoleStore, GroupStore, KeyStore, EventStore, SessionStore,
    BrowserSessionStore, PersonalAccessTokenStore, IdentityProviderStore {
    /// Applies every change in one transaction, in order.
    func apply(_ changes: [StoreChange]) async throws

    // MARK: Health
    /// Whether the store is open and its schema fully migrated.
    func isReady() async -> Bool
}

/// Identity providers (written through `apply`) and the client assertions used once.
public protocol IdentityProviderStore: Sendable {
    func identityProvider(alias: String, realmId: String) async throws -> IdentityProvider?
    /// By alias, at most `IdentityProvider.limitPerRealm`.
    func identityProviders(realmId: String) async throws -> [IdentityProvider]
    /// The clients whose `jwt.credential.issuer` is `alias` and `jwt.credential.sub` is `subject`, at most two.
    func federatedClients(alias: String, subject: String, realmId: String) async throws -> [Client]
    /// Records that a client assertion (its `key`) was used, until `expiresAt`; false when it was
    /// used already and has not expired — one transaction, so two nodes cannot both accept it.
    func useClientAssertion(key: String, realmId: String, expiresAt: Timestamp, now: Timestamp) async throws -> Bool
    /// Whether the token endpoint used that assertion and it has not expired (the registry door
    /// refuses a JWT already spent as a single-use client assertion).
    func clientAssertionUsed(key: String, realmId: String, now: Timestamp) async throws -> Bool
    /// Forgets the used assertions that expired before `cutoff`.
    func deleteExpiredClientAssertions(before cutoff: Timestamp) async throws -> Int

    // MARK: Brokered sign-in
    func identityProviderMapper(id: String, realmId: String) async throws -> IdentityProviderMapper?
    /// A provider's mappers (by its internal id), by name, at most `IdentityProviderMapper.limitPerProvider`.
    func identityProviderMappers(providerId: String, realmId: String) async throws -> [IdentityProviderMapper]
    /// Every mapper of the realm (a realm export).
    func identityProviderMappers(realmId: String) async throws -> [IdentityProviderMapper]
    /// A user's links to upstream accounts.
    func federatedIdentities(userId: String, realmId: String) async throws -> [FederatedIdentity]
    /// The user an upstream account (provider's internal id, upstream `sub`) is linked to.
    func linkedUser(providerId: String, upstreamUserId: String, realmId: String) async throws -> User?
    /// The users linked through a provider, by username, at most `limit`.
    func linkedUsers(providerId: String, realmId: String, limit: Int) async throws -> [User]

    // MARK: User federation
    func storageComponent(id: String, realmId: String) async throws -> StorageComponent?
    /// The realm's user storage providers and their mappers, providers first.
    func storageComponents(realmId: String) async throws -> [StorageComponent]
    /// The user a provider imported from the entry whose id is `externalId`.
    func directoryUser(providerId: String, externalId: String, realmId: String) async throws -> User?
    /// How many users a provider imported.
    func directoryUserCount(providerId: String, realmId: String) async throws -> Int
    /// Up to `limit` of the users a provider imported, by username (bytewise), those after
    /// `after` when given (a page of a walk through all of them).
    func directoryUsers(providerId: String, realmId: String, after: String?, limit: Int) async throws -> [User]
}

/// Realms and their seeds (a realm with its keys, clients, roles, groups and users in one write). Each method is one transaction.
public protocol RealmStore: Sendable {
    // MARK: Realms
    func createRealm(_ seed: RealmSeed) async throws
    /// Deletes the realm of the same name (if any) and creates the seed, in one transaction.
    func replaceRealm(_ seed: RealmSeed) async throws
    func realm(id: String) async throws -> Realm?
    func realm(named name: String) async throws -> Realm?
    func realms() async throws -> [Realm]
    /// Reads the realm inside the write transaction, applies `change` to it and writes the result:
    /// a read-modify-write that a concurrent writer cannot interleave with. Returns what was stored.
    @discardableResult
    func updateRealm(id: String, _ change: @escaping @Sendable (inout Realm) throws -> Void) async throws -> Realm
    func deleteRealm(id: String) async throws
}

/// A user and its password credential (nil: none set), as one read found them.
public struct UserWithPassword: Sendable, Equatable {
    public let user: User
    public let password: Credential?

    public init(user: User, password: Credential?) {
        self.user = user
        self.password = password
    }
}

/// Users and their credentials. Each method is one transaction.
public protocol UserStore: Sendable {
    // MARK: Users
    func createUser(_ seed: UserSeed) async throws
    func user(id: String, realmId: String) async throws -> User?
    func user(username: String, realmId: String) async throws -> User?
    /// The service-account user of a client, found by its link to the client (never by its name:
    /// a user renamed into `service-account-…` must not become the client's identity).
    func serviceAccountUser(clientId: String, realmId: String) async throws -> User?
    /// The user named `username` with its password credential, in one statement: a login's one
    /// read (the token path's hottest), the same statement whether or not the user exists.
    func userWithPassword(username: String, realmId: String) async throws -> UserWithPassword?
    func user(email: String, realmId: String) async throws -> [User]
    func users(realmId: String, matching query: UserQuery, page: Page) async throws -> [User]
    func countUsers(realmId: String, matching query: UserQuery) async throws -> Int
    /// As `updateRealm`: the change applies to the row as it is inside the transaction.
    @discardableResult
    func updateUser(id: String, realmId: String, _ change: @escaping @Sendable (inout User) throws -> Void) async throws -> User
    func deleteUser(id: String, realmId: String) async throws

    // MARK: Credentials
    func credentials(userId: String) async throws -> [Credential]
    /// Replaces the user's credential of the same type and, when `revokeTokensBefore` is
    /// given, moves the user's `notBefore` so earlier tokens die.
    func setCredential(_ credential: Credential, revokeTokensBefore: Timestamp?) async throws
    /// Replaces a password hash only if it is still `expected`: a rehash racing a password
    /// change never overwrites the new password.
    func replaceCredentialSecret(id: String, expected: Sensitive, with new: Sensitive) async throws -> Bool
    /// Deletes a credential; when `revokeTokensBefore` is given, moves the user's `notBefore`
    /// so the sessions and identity tokens the credential opened die with it.
    func deleteCredential(id: String, userId: String, revokeTokensBefore: Timestamp?) async throws
}

/// Clients. Each method is one transaction.
public protocol ClientStore: Sendable {
    // MARK: Clients
    func createClient(_ client: Client, roles: [Role]) async throws
    func client(id: String, realmId: String) async throws -> Client?
    func client(clientId: String, realmId: String) async throws -> Client?
    func clients(realmId: String, page: Page) async throws -> [Client]
    @discardableResult
    func updateClient(id: String, realmId: String, _ change: @escaping @Sendable (inout Client) throws -> Void) async throws -> Client
    func deleteClient(id: String, realmId: String) async throws
}

/// Keycloak's client scopes: what they are, where they are assigned, which roles they let into
/// tokens. Writes are `StoreChange`s. Each method is one transaction.
public protocol ClientScopeStore: Sendable {
    func clientScope(id: String, realmId: String) async throws -> ClientScope?
    func clientScope(named name: String, realmId: String) async throws -> ClientScope?
    /// Every scope of the realm, by name (at most `ClientScope.limitPerRealm`).
    func clientScopes(realmId: String) async throws -> [ClientScope]
    /// The realm's default and optional scopes for new clients.
    func realmClientScopes(realmId: String) async throws -> [AssignedClientScope]
    /// A client's default and optional scopes.
    func clientScopes(ofClient clientId: String, realmId: String) async throws -> [AssignedClientScope]
    /// The roles a client scope, or a client's own scope, lets into tokens.
    func scopeRoles(of holder: ScopeMappingHolder, realmId: String) async throws -> [Role]
    /// Gives every realm made before client scopes existed Keycloak's built-in ones (and its
    /// clients the realm's defaults), once: `make` builds them for a realm id and the id of its
    /// `offline_access` role. Returns how many realms got them.
    func addBuiltinClientScopes(_ make: @escaping @Sendable (_ realmId: String, _ offlineAccessRoleId: String?) -> BuiltinClientScopes) async throws -> Int
}

/// Roles, composites and role mappings (effective roles included). Each method is one transaction.
public protocol RoleStore: Sendable {
    // MARK: Roles
    func createRole(_ role: Role) async throws
    func role(id: String, realmId: String) async throws -> Role?
    func role(named name: String, realmId: String, clientId: String?) async throws -> Role?
    /// Realm roles when `clientId` is nil, else that client's roles.
    func roles(realmId: String, clientId: String?, search: String?, page: Page) async throws -> [Role]
    @discardableResult
    func updateRole(id: String, realmId: String, _ change: @escaping @Sendable (inout Role) throws -> Void) async throws -> Role
    func deleteRole(id: String, realmId: String) async throws
    func addComposites(parentId: String, childIds: [String], realmId: String) async throws
    func removeComposites(parentId: String, childIds: [String], realmId: String) async throws
    /// The direct children of a composite role.
    func composites(of roleId: String, realmId: String) async throws -> [Role]
    /// The composite roles that include `roleId` directly.
    func compositeParents(of roleId: String, realmId: String, page: Page) async throws -> [Role]
    /// Which of these role ids are composite (have at least one child).
    func compositeRoleIds(among roleIds: [String]) async throws -> Set<String>

    // MARK: Role mappings
    func grantUserRoles(userId: String, roleIds: [String], realmId: String) async throws
    func revokeUserRoles(userId: String, roleIds: [String], realmId: String) async throws
    func userRoles(userId: String, realmId: String) async throws -> [Role]
    /// Direct mappings, plus those of every group the user is in and all their ancestors,
    /// with composites expanded transitively. A cycle of composites never loops.
    func effectiveRoles(userId: String, realmId: String) async throws -> [Role]
    /// A number that changes, in the same transaction, with every change to what decides the
    /// realm's effective roles (mappings, membership, composites, the group tree, roles and
    /// their attributes), and never comes back: what a cache of effective roles is checked against.
    func authorizationVersion(realmId: String) async throws -> Int64
    /// Both of a realm's versions (`RealmVersions`), by id or by name; nil when no such realm.
    func realmVersions(realmId: String) async throws -> RealmVersions?
    func realmVersions(realmName: String) async throws -> RealmVersions?
    /// The users holding a role directly.
    func usersWithRole(roleId: String, realmId: String, page: Page) async throws -> [User]
}

/// The group tree, its members and its roles. Each method is one transaction.
public protocol GroupStore: Sendable {
    // MARK: Groups
    func createGroup(_ group: Group) async throws
    func group(id: String, realmId: String) async throws -> GroupNode?
    func group(path: String, realmId: String) async throws -> GroupNode?
    /// Top-level groups when `parentId` is nil, else that group's children.
    func groups(realmId: String, parentId: String?, search: String?, page: Page) async throws -> [GroupNode]
    /// Groups whose names contain `search`, or all (`topOnly`: top-level) groups.
    func countGroups(realmId: String, search: String?, topOnly: Bool) async throws -> Int
    /// Renames or moves a group; a move under its own subtree is refused.
    /// Also moves the group (a changed `parentId`), refusing a move under its own subtree.
    @discardableResult
    func updateGroup(id: String, realmId: String, _ change: @escaping @Sendable (inout Group) throws -> Void) async throws -> Group
    func deleteGroup(id: String, realmId: String) async throws
    func addMember(groupId: String, userId: String, realmId: String) async throws
    func removeMember(groupId: String, userId: String, realmId: String) async throws
    func members(groupId: String, realmId: String, page: Page) async throws -> [User]
    func groupsOfUser(userId: String, realmId: String) async throws -> [GroupNode]
    /// The groups a role is mapped to directly, by name.
    func groupsWithRole(roleId: String, realmId: String, page: Page) async throws -> [GroupNode]
    func grantGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws
    func revokeGroupRoles(groupId: String, roleIds: [String], realmId: String) async throws
    func groupRoles(groupId: String, realmId: String) async throws -> [Role]
}

/// Realm signing keys. Each method is one transaction.
public protocol KeyStore: Sendable {
    // MARK: Realm keys
    func realmKeys(realmId: String) async throws -> [RealmKey]
    /// Refused with `.conflict(.keyLimit)` past `RealmKey.limitPerRealm` keys.
    func addRealmKey(_ key: RealmKey) async throws
    /// Changes a key's name, status and priority; refused with `.conflict(.lastActiveKey)` when
    /// it was the last active key of its algorithm and would be no longer.
    func updateRealmKey(id: String, realmId: String, name: String, status: KeyStatus, priority: Int) async throws
    /// Likewise refused when it would remove the last active key of its algorithm.
    func deleteRealmKey(id: String, realmId: String) async throws
}

/// Login events. Each method is one transaction.
public protocol EventStore: Sendable {
    // MARK: Events
    func recordEvent(_ event: Event) async throws
    /// Several events in one transaction (the recorder writes its queue in batches); then, in
    /// the same transaction, each realm written to keeps only its newest `limit` events.
    func recordEvents(_ events: [Event], keepingPerRealm limit: Int) async throws
    /// Stores an admin event; the realm's oldest past `limit` go in the same transaction.
    func recordAdminEvent(_ event: AdminEvent, keepingPerRealm limit: Int) async throws
    func adminEvents(realmId: String, matching query: AdminEventQuery, page: Page) async throws -> [AdminEvent]
    /// Counts what it deleted.
    func deleteAdminEvents(realmId: String, before cutoff: Timestamp) async throws -> Int
    func events(realmId: String, matching query: EventQuery, page: Page) async throws -> [Event]
    /// Deletes events older than `cutoff` in a realm; returns how many went.
    func deleteEvents(realmId: String, before cutoff: Timestamp) async throws -> Int
    /// Deletes a realm's events older than `cutoff` whose `auth_method` detail is `authMethod`.
    func deleteEvents(realmId: String, before cutoff: Timestamp, authMethod: String) async throws -> Int

    // MARK: What registries report
    /// Stores what a registry reported, in one transaction; an event the registry sent before
    /// (same realm, client and registry event id) is kept once. Returns how many were new.
    func recordRegistryEvents(_ events: [RegistryEvent]) async throws -> Int
    func registryEvents(realmId: String, matching query: RegistryEventQuery, page: Page) async throws -> [RegistryEvent]
    /// Deletes a realm's registry events older than `cutoff`, then the oldest beyond `limit`; counts what it deleted.
    func deleteRegistryEvents(realmId: String, before cutoff: Timestamp, keeping limit: Int) async throws -> Int
}

/// Refresh-token sessions and brute-force bookkeeping. Each method is one transaction.
public protocol SessionStore: Sendable {
    // MARK: Sessions
    /// Stores a session. In the same transaction, the user's least recently used sessions of the
    /// same client and kind (online or offline) beyond `Session.limitPerUserAndClient` go.
    /// With a `proof`, the session is written only if the credential the login verified is still
    /// the user's and the user's `notBefore` is not past the check: else
    /// `StoreError.conflict(.credentialChanged)`, and nothing is written.
    func createSession(_ session: Session, proof: LoginProof?) async throws
    func session(refreshTokenHash: String) async throws -> Session?
    func session(id: String, realmId: String) async throws -> Session?
    /// A user's sessions of one client and kind, oldest first (at most `Session.limitPerUserAndClient`).
    func sessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> [Session]
    /// Records a use: `lastRefresh` moves forward (never back) and the address is remembered.
    /// A page of the realm's online or offline sessions of one user, or of one client, or both.
    func sessions(realmId: String, userId: String?, clientId: String?, offline: Bool, page: Page) async throws -> [Session]
    /// Per client holding any session in the realm, its active and offline session counts (at most `limit` clients).
    func sessionCountsByClient(realmId: String, now: Timestamp, limit: Int) async throws -> [ClientSessionCount]
    func touchSession(id: String, at time: Timestamp, ipAddress: String?) async throws
    /// Deletes one session; `false` when there was none with that id in the realm.
    @discardableResult
    func deleteSession(id: String, realmId: String) async throws -> Bool
    /// Ends every session of a user; returns how many.
    func deleteSessions(userId: String, realmId: String) async throws -> Int
    /// Ends a user's sessions of one client and kind; returns how many.
    func deleteSessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> Int
    /// Deletes sessions past their hard end, and offline sessions past their realm's
    /// offline-session settings (`Realm.offlineSessionEnd`) at `cutoff`.
    func deleteExpiredSessions(before cutoff: Timestamp) async throws -> Int

    // MARK: Brute-force detection
    func loginFailures(userId: String, realmId: String) async throws -> LoginFailures?
    /// One wrong password, in one transaction: reads the user's failures, and unless the user is
    /// locked at `time`, counts this one under `policy` (`LoginFailures.recordingFailure`); a
    /// permanent lockout disables the user (only its `enabled` and `notBefore` change) and ends
    /// its sessions. Concurrent failures are therefore all counted. `nil` when no such user
    /// exists in the realm — after the same transaction, so the time taken does not tell.
    func recordLoginFailure(userId: String, realmId: String, at time: Timestamp, policy: BruteForcePolicy,
                            ipAddress: String?) async throws -> LoginFailureOutcome?
    /// A right password, in one transaction: `false` (and nothing changes) when the user is
    /// locked at `time`; otherwise its failures are forgotten and `true` is returned.
    func admitLogin(userId: String, realmId: String, at time: Timestamp) async throws -> Bool
    func clearLoginFailures(userId: String, realmId: String) async throws
    /// Every user's of the realm (Keycloak's `DELETE attack-detection/brute-force/users`).
    func clearLoginFailures(realmId: String) async throws
}

/// Browser (single sign-on) sessions and their authorization codes. Each method is one transaction.
public protocol BrowserSessionStore: Sendable {
    /// Stores a browser session, ending `replacing` (the browser's previous one, if any, in the
    /// same realm) and, past `BrowserSession.limitPerUser`, the user's least recently seen.
    /// With a `proof`, nothing is written unless the credential the login verified still holds
    /// (`StoreError.conflict(.credentialChanged)`), as for `SessionStore.createSession`.
    func createBrowserSession(_ session: BrowserSession, proof: LoginProof?, replacing: String?) async throws
    func browserSession(cookieHash: String) async throws -> BrowserSession?
    func browserSession(id: String, realmId: String) async throws -> BrowserSession?
    /// A user's browser sessions, oldest first (at most `BrowserSession.limitPerUser`).
    func browserSessions(userId: String, realmId: String) async throws -> [BrowserSession]
    /// The refresh-token sessions a browser session signed in (one per client it signed in, at most 1,000).
    func sessions(browserSessionId: String, realmId: String) async throws -> [Session]
    /// Records a use: `lastSeen` moves forward (never back).
    func touchBrowserSession(id: String, at time: Timestamp, ipAddress: String?) async throws
    /// Ends a browser session, with the refresh-token sessions and codes it signed in.
    @discardableResult
    func deleteBrowserSession(id: String, realmId: String) async throws -> Bool
    /// Stores a code; a browser session's oldest codes past `AuthorizationCode.limitPerBrowserSession` go.
    func createAuthorizationCode(_ code: AuthorizationCode) async throws
    func authorizationCode(hash: String) async throws -> AuthorizationCode?
    /// Spends the code and writes `session` (the one its redemption starts), or — when the code
    /// was spent before — ends what its first use issued: that session and the browser session
    /// its tokens name (RFC 6749 §4.1.2). Expired codes are `.unknown`.
    func redeemAuthorizationCode(hash: String, session: Session, at time: Timestamp) async throws -> CodeRedemption
    /// Burns a code (a redemption that failed its checks: a code is tried once).
    func deleteAuthorizationCode(hash: String) async throws
    /// Deletes browser sessions past their end (`BrowserSession.end`), and codes and device
    /// authorizations past theirs.
    func deleteExpiredBrowserSessions(before cutoff: Timestamp) async throws -> Int

    // MARK: Device authorizations (RFC 8628)
    /// Stores a device's sign-in; `false` (nothing written) when its realm has
    /// `DeviceAuthorization.limitPerRealm` live ones waiting already, or its client `limitPerClient`. A user code already in use is
    /// `StoreError.conflict(.other)`.
    func createDeviceAuthorization(_ authorization: DeviceAuthorization) async throws -> Bool
    func deviceAuthorization(userCodeHash: String) async throws -> DeviceAuthorization?
    /// A person approves or denies; `false` when it no longer waits (decided, expired, gone).
    func decideDeviceAuthorization(userCodeHash: String, approve: Bool, userId: String, browserSessionId: String, at time: Timestamp) async throws -> Bool
    /// A device's poll by the client it was issued to, in one transaction (see `DevicePoll`); for
    /// another client it is `.unknown` and changes nothing.
    func pollDeviceAuthorization(deviceCodeHash: String, clientId: String, at time: Timestamp) async throws -> DevicePoll
}

/// Personal access tokens. Each method is one transaction.
public protocol PersonalAccessTokenStore: Sendable {
    // MARK: Personal access tokens
    /// Stores a token; `StoreError.conflict(.tokenName)` when its owner has one of that name,
    /// `.conflict(.tokenLimit)` when its owner holds `PersonalAccessToken.limitPerUser` already.
    func createPersonalAccessToken(_ token: PersonalAccessToken) async throws
    func personalAccessToken(secretHash: String) async throws -> PersonalAccessToken?
    func personalAccessToken(id: String, userId: String, realmId: String) async throws -> PersonalAccessToken?
    /// A user's tokens, oldest first.
    func personalAccessTokens(userId: String, realmId: String) async throws -> [PersonalAccessToken]
    /// Records a use (moves `lastUsedAt` forward, never back).
    /// A registry client's tokens, every owner's or `userId`'s, oldest first.
    func personalAccessTokens(clientId: String, realmId: String, userId: String?, page: Page) async throws -> [PersonalAccessToken]
    func touchPersonalAccessToken(id: String, at time: Timestamp, ipAddress: String?) async throws
    func deletePersonalAccessToken(id: String, userId: String, realmId: String) async throws
}

/// A realm's two versions, each moved (from one forward-only clock) in the transaction of every
/// change it covers: `authorization` — role mappings, memberships, composites, the group tree,
/// roles; `configuration` — the realm's settings, its clients, its keys. Caches read them first.
public struct RealmVersions: Sendable, Equatable {
    public let realmId: String
    public let authorization: Int64
    public let configuration: Int64

    public init(realmId: String, authorization: Int64, configuration: Int64) {
        self.realmId = realmId
        self.authorization = authorization
        self.configuration = configuration
    }
}

/// What `recordLoginFailure` did.
public struct LoginFailureOutcome: Sendable, Equatable {
    public var failures: LoginFailures
    /// The user was already locked: nothing was counted.
    public var wasLocked: Bool
    /// This failure disabled the user (permanent lockout).
    public var disabledUser: Bool

    public init(failures: LoginFailures, wasLocked: Bool, disabledUser: Bool) {
        self.failures = failures
        self.wasLocked = wasLocked
        self.disabledUser = disabledUser
    }

    /// What one more failed login does to `current`, the rule both engines apply inside their
    /// write: nil when the user is locked already (nothing is counted); else the next counters,
    /// and whether this failure disables the user (permanent lockout of an enabled user).
    public static func next(after current: LoginFailures, at time: Timestamp, policy: BruteForcePolicy, ipAddress: String?,
                            userEnabled: Bool) -> LoginFailureOutcome? {
        guard current.lockedUntil <= time else { return nil }
        let next = current.recordingFailure(at: time, policy: policy, ipAddress: ipAddress)
        return LoginFailureOutcome(failures: next, wasLocked: false, disabledUser: userEnabled && next.reachesPermanentLockout(policy))
    }
}

extension RoleStore {
    /// The authorization half of `realmVersions` (0 for a realm without versions).
    public func authorizationVersion(realmId: String) async throws -> Int64 {
        try await realmVersions(realmId: realmId)?.authorization ?? 0
    }
}

extension EventStore {
    public func recordEvent(_ event: Event) async throws { try await recordEvents([event]) }

    /// Several events in one transaction, no cap on a realm's events.
    public func recordEvents(_ events: [Event]) async throws { try await recordEvents(events, keepingPerRealm: Int.max) }
}

extension SessionStore {
    public func createSession(_ session: Session) async throws { try await createSession(session, proof: nil) }
}

/// What a password login checked (see `SessionStore.createSession(_:proof:)`).
public struct LoginProof: Sendable, Equatable {
    public let userId: String
    /// The stored password credential the login verified (a reset replaces it with a new id);
    /// nil when a directory checked the password (nothing of it is stored here).
    public let credentialId: String?
    /// When the check began, before the credential was read.
    public let checkedAt: Timestamp

    public init(userId: String, credentialId: String?, checkedAt: Timestamp) {
        self.userId = userId
        self.credentialId = credentialId
        self.checkedAt = checkedAt
    }
}
