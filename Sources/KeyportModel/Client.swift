/// An application that asks the realm for tokens: an OIDC client, or a docker-v2 registry
/// whose `service` name is the `clientId`.
public struct Client: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    public var clientId: String
    public var name: String?
    public var description: String?
    public var enabled: Bool
    public var protocolName: ClientProtocol
    public var publicClient: Bool
    public var secret: Sensitive?
    public var directAccessGrantsEnabled: Bool
    public var serviceAccountsEnabled: Bool
    public var standardFlowEnabled: Bool
    public var redirectUris: [String]
    public var attributes: [String: String]
    public var protocolMappers: [ProtocolMapper]
    public var createdAt: Timestamp

    public init(
        id: String, realmId: String, clientId: String, name: String? = nil, description: String? = nil,
        enabled: Bool = true, protocolName: ClientProtocol = .openIDConnect, publicClient: Bool = false,
        secret: Sensitive? = nil, directAccessGrantsEnabled: Bool = false, serviceAccountsEnabled: Bool = false,
        standardFlowEnabled: Bool = true, redirectUris: [String] = [], attributes: [String: String] = [:],
        protocolMappers: [ProtocolMapper] = [], createdAt: Timestamp
    ) {
        self.id = id
        self.realmId = realmId
        self.clientId = clientId
        self.name = name
        self.description = description
        self.enabled = enabled
        self.protocolName = protocolName
        self.publicClient = publicClient
        self.secret = secret
        self.directAccessGrantsEnabled = directAccessGrantsEnabled
        self.serviceAccountsEnabled = serviceAccountsEnabled
        self.standardFlowEnabled = standardFlowEnabled
        self.redirectUris = redirectUris
        self.attributes = attributes
        self.protocolMappers = protocolMappers
        self.createdAt = createdAt
    }
}

public enum ClientProtocol: String, Sendable, Equatable, CaseIterable {
    case openIDConnect = "openid-connect"
    case dockerV2 = "docker-v2"
}

/// Keycloak's protocol mapper, kept so an imported or PUT client round-trips.
public struct ProtocolMapper: Sendable, Equatable, Codable {
    public var id: String?
    public var name: String
    public var `protocol`: String
    public var protocolMapper: String
    public var config: [String: String]

    public init(id: String? = nil, name: String, protocol: String, protocolMapper: String, config: [String: String] = [:]) {
        self.id = id
        self.name = name
        self.protocol = `protocol`
        self.protocolMapper = protocolMapper
        self.config = config
    }
}
