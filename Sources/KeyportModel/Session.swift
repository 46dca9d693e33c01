/// A login session: what a refresh token stands for. The token itself is never stored,
/// only its SHA-256.
public struct Session: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    public var userId: String
    /// The client's internal id (`Client.id`).
    public var clientId: String
    public var refreshTokenHash: String
    public var scope: String
    public var createdAt: Timestamp
    public var lastRefresh: Timestamp
    /// The hard end of the session, however often it is refreshed. An offline session's real
    /// end follows its realm's offline-session settings at each use (`Realm.offlineSessionEnd`).
    public var expiresAt: Timestamp
    /// An offline session (Keycloak's term): the one behind a docker-v2 identity token, which
    /// lives by the realm's offline-session settings instead of the online session's.
    public var offline: Bool
    /// Where the session was started or last used from.
    public var ipAddress: String?
    /// The browser session (single sign-on) it was signed in through; nil for a password grant.
    /// It ends with that browser session.
    public var browserSessionId: String?

    /// How many sessions of one kind (online or offline) a user may hold for one client: past
    /// it the least recently used goes. A valid password must not be a way to fill the disk.
    public static let limitPerUserAndClient = 100

    public init(id: String, realmId: String, userId: String, clientId: String, refreshTokenHash: String, scope: String,
                createdAt: Timestamp, lastRefresh: Timestamp, expiresAt: Timestamp, offline: Bool = false, ipAddress: String? = nil,
                browserSessionId: String? = nil) {
        self.id = id
        self.realmId = realmId
        self.userId = userId
        self.clientId = clientId
        self.refreshTokenHash = refreshTokenHash
        self.scope = scope
        self.createdAt = createdAt
        self.lastRefresh = lastRefresh
        self.expiresAt = expiresAt
        self.offline = offline
        self.ipAddress = ipAddress.map { String($0.prefix(64)) }
        self.browserSessionId = browserSessionId
    }
}

/// How many sessions of one client a realm holds: Keycloak's client session statistics.
public struct ClientSessionCount: Sendable, Equatable {
    /// The client's internal id.
    public var clientId: String
    public var active: Int
    public var offline: Int
    public init(clientId: String, active: Int, offline: Int) {
        self.clientId = clientId
        self.active = active
        self.offline = offline
    }
}
