/// A personal access token: a long random secret a user (a person, or a client's service
/// account acting as a robot) gives a registry client instead of its password. Only the
/// secret's hash is kept; the secret is shown once, when the token is made.
public struct PersonalAccessToken: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    /// The owner (`User.id`).
    public var userId: String
    /// The registry client it works for (`Client.id`).
    public var clientId: String
    /// Unique among the owner's tokens.
    public var name: String
    public var secretHash: String
    /// The docker-v2 grants it is limited to (`nil`: everything its owner may do).
    public var grants: [String]?
    public var expiresAt: Timestamp?
    public var createdAt: Timestamp
    public var lastUsedAt: Timestamp?
    public var lastUsedIp: String?
    /// Which door made it, which decides what ends it besides expiry and revocation.
    public var origin: Origin

    public enum Origin: String, Sendable {
        /// The admin API: outlives its owner's password changes (a robot's token an admin handed out).
        case admin
        /// Self-service with the owner's own recent login: a password reset or change ends it.
        case account
    }

    /// How many tokens one user may hold: a creator cannot fill the disk.
    public static let limitPerUser = 100
    public static let maxNameLength = 100
    public static let maxGrants = 50

    public init(id: String, realmId: String, userId: String, clientId: String, name: String, secretHash: String, grants: [String]? = nil,
                expiresAt: Timestamp? = nil, createdAt: Timestamp, lastUsedAt: Timestamp? = nil, lastUsedIp: String? = nil,
                origin: Origin = .admin) {
        self.id = id
        self.realmId = realmId
        self.userId = userId
        self.clientId = clientId
        self.name = name
        self.secretHash = secretHash
        self.grants = grants
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.lastUsedIp = lastUsedIp
        self.origin = origin
    }

    /// When the token ends under its own expiry and its realm's maximum lifetime as it is now
    /// (a maximum set later applies to tokens made before); `nil` when it never does.
    public func end(in realm: Realm) -> Timestamp? {
        let cap = realm.personalAccessTokenMaxLifespan.map { createdAt.adding(seconds: $0) }
        switch (expiresAt, cap) {
        case let (e?, c?): return Swift.min(e, c)
        case let (e?, nil): return e
        case let (nil, c?): return c
        case (nil, nil): return nil
        }
    }
}
