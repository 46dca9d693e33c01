/// A recorded login or token request (Keycloak's event types `LOGIN`, `LOGIN_ERROR`, …).
public struct Event: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    public var time: Timestamp
    public var type: String
    public var clientId: String?
    public var userId: String?
    public var ipAddress: String?
    public var error: String?
    public var details: [String: String]

    public init(id: String, realmId: String, time: Timestamp, type: String, clientId: String? = nil, userId: String? = nil,
                ipAddress: String? = nil, error: String? = nil, details: [String: String] = [:]) {
        self.id = id
        self.realmId = realmId
        self.time = time
        self.type = type
        self.clientId = clientId
        self.userId = userId
        self.ipAddress = ipAddress
        self.error = error
        self.details = details
    }
}

/// A change made through the admin API (Keycloak's admin event): who made it (`auth*`), what
/// (`operationType` on `resourceType` at `resourcePath`, relative to the realm) and, when the
/// realm keeps details, the representation sent — secrets redacted before it gets here.
public struct AdminEvent: Sendable, Equatable, Identifiable {
    /// A realm keeps at most this many; the oldest go first.
    public static let limitPerRealm = 100_000
    /// A representation longer than this (UTF-8 bytes) is not kept; the event says so.
    public static let maxRepresentationBytes = 16_384

    public var id: String
    public var realmId: String
    public var time: Timestamp
    /// CREATE, UPDATE, DELETE or ACTION.
    public var operationType: String
    /// Keycloak's resource types: USER, CLIENT, REALM_ROLE, GROUP_MEMBERSHIP, …
    public var resourceType: String
    public var resourcePath: String
    public var representation: String?
    public var error: String?
    public var authRealmId: String?
    public var authClientId: String?
    public var authUserId: String?
    public var authIpAddress: String?

    public init(id: String, realmId: String, time: Timestamp, operationType: String, resourceType: String, resourcePath: String,
                representation: String? = nil, error: String? = nil, authRealmId: String? = nil, authClientId: String? = nil,
                authUserId: String? = nil, authIpAddress: String? = nil) {
        self.id = id
        self.realmId = realmId
        self.time = time
        self.operationType = operationType
        self.resourceType = resourceType
        self.resourcePath = resourcePath
        self.representation = representation
        self.error = error
        self.authRealmId = authRealmId
        self.authClientId = authClientId
        self.authUserId = authUserId
        self.authIpAddress = authIpAddress
    }
}
