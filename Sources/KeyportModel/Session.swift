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
    /// The hard end of the session, however often it is refreshed.
    public var expiresAt: Timestamp

    public init(id: String, realmId: String, userId: String, clientId: String, refreshTokenHash: String, scope: String,
                createdAt: Timestamp, lastRefresh: Timestamp, expiresAt: Timestamp) {
        self.id = id
        self.realmId = realmId
        self.userId = userId
        self.clientId = clientId
        self.refreshTokenHash = refreshTokenHash
        self.scope = scope
        self.createdAt = createdAt
        self.lastRefresh = lastRefresh
        self.expiresAt = expiresAt
    }
}
