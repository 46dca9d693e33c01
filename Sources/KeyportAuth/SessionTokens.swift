import KeyportModel
import KeyportStore

/// The one place sessions are started from, and the one place the token that stands for a
/// session (an OIDC refresh token, a docker-v2 identity token) is checked: every reason a
/// session may be dead is here, for both protocols.
///
/// The token is an `OpaqueToken`: 256 random bits, only its SHA-256 stored.
public struct SessionTokens: Sendable {
    let store: any IdentityStore
    let environment: TimeAndRandomness

    public init(store: any IdentityStore, environment: TimeAndRandomness) {
        self.store = store
        self.environment = environment
    }

    /// Identity tokens carry a prefix, so that secret scanners can recognise a leaked one.
    public static let identityTokenPrefix = "kpit_"

    /// A new session of `user` with `client` and the token that stands for it.
    /// `proof`: what the password login behind it checked (the write refuses if it moved).
    public func start(realm: Realm, user: User, clientId: String, scope: String, offline: Bool, ipAddress: String?,
                      proof: LoginProof? = nil) async throws -> (token: String, session: Session) {
        let (token, session) = prepare(realm: realm, user: user, clientId: clientId, scope: scope, offline: offline, ipAddress: ipAddress)
        try await store.createSession(session, proof: proof)
        return (token, session)
    }

    /// A session and its token, not yet stored (an authorization code's redemption stores it in
    /// the transaction that spends the code). Signed in through `browserSession`, it starts at
    /// that session's `authTime` and ends with it at the latest.
    public func prepare(realm: Realm, user: User, clientId: String, scope: String, offline: Bool, ipAddress: String?,
                        browserSession: BrowserSession? = nil) -> (token: String, session: Session) {
        let token = OpaqueToken.make(prefix: offline ? Self.identityTokenPrefix : "", randomBytes: environment.randomBytes)
        let now = environment.now()
        // An offline session's end follows the realm's settings at each use; the stored hard end
        // is only the outer bound of every setting (RealmBounds), so the sweep can rely on it.
        var hardEnd = offline ? now.adding(seconds: RealmBounds.lifespanSeconds.upperBound) : now.adding(seconds: realm.ssoSessionMaxLifespan)
        if let browserSession { hardEnd = min(hardEnd, browserSession.expiresAt) }
        let session = Session(id: environment.newID(), realmId: realm.id, userId: user.id, clientId: clientId,
                              refreshTokenHash: OpaqueToken.hash(token), scope: scope, createdAt: browserSession?.authTime ?? now, lastRefresh: now,
                              expiresAt: hardEnd, offline: offline, ipAddress: ipAddress, browserSessionId: browserSession?.id)
        return (token, session)
    }

    /// Why a session token is dead.
    public enum Failure: String, Error, Equatable, Sendable {
        case unknown = "invalid_token"
        case expired = "session_expired"
        case wrongClient = "invalid_client"
        case userGone = "user_not_found"
        case userDisabled = "user_disabled"
        case revoked = "token_revoked"
        case notFullySetUp = "resolve_required_actions"
    }

    /// When a session ends under its realm's settings as they are now.
    public static func end(of session: Session, in realm: Realm) -> Timestamp {
        if session.offline { return min(session.expiresAt, realm.offlineSessionEnd(start: session.createdAt, lastUse: session.lastRefresh)) }
        return min(session.expiresAt, session.lastRefresh.adding(seconds: realm.refreshTokenLifespan))
    }

    /// The live session behind `token`, of the given kind, with its user. `clientId` (the
    /// client's internal id), when given, must be the session's. An expired session is deleted.
    /// A directory's person is as the directory says now (`authenticator.directoryStanding`):
    /// gone or disabled there, the session is dead too.
    public func live(token: String, realm: Realm, clientId: String?, offline: Bool, authenticator: PasswordAuthenticator) async throws -> (Session, User) {
        guard !token.isEmpty, token.utf8.count <= OpaqueToken.maxLength,
              let session = try await store.session(refreshTokenHash: OpaqueToken.hash(token)),
              session.realmId == realm.id, session.offline == offline
        else { throw Failure.unknown }
        if Self.end(of: session, in: realm) < environment.now() {
            try await store.deleteSession(id: session.id, realmId: realm.id)
            throw Failure.expired
        }
        if let clientId, clientId != session.clientId { throw Failure.wrongClient }
        guard let user = try await store.user(id: session.userId, realmId: realm.id) else { throw Failure.userGone }
        guard user.enabled else { throw Failure.userDisabled }
        // A password change or reset, a deleted credential, an admin's logout and a permanent
        // lockout all move notBefore: every session started before it is dead.
        guard session.createdAt >= user.notBefore else { throw Failure.revoked }
        guard user.requiredActions.isEmpty else { throw Failure.notFullySetUp }
        // Signed in through a browser: it ends with that browser's session (logout, idle, maximum).
        if let browserSessionId = session.browserSessionId {
            guard let browser = try await store.browserSession(id: browserSessionId, realmId: realm.id), browser.end(in: realm) >= environment.now()
            else { throw Failure.expired }
        }
        guard let current = try await authenticator.directoryStanding(of: user, realm: realm, token: Sensitive(token)) else { throw Failure.userDisabled }
        return (session, current)
    }
}
