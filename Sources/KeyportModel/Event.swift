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
