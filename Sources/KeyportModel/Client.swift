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
    /// Keycloak's `fullScopeAllowed`: tokens may carry every role the user holds; when false,
    /// only those in the client's scope mappings and its client scopes' (Keycloak's default: true).
    public var fullScopeAllowed: Bool
    /// Keycloak's `webOrigins`: origins allowed for CORS (`+` means those of the redirect URIs).
    public var webOrigins: [String]
    public var createdAt: Timestamp

    public init(
        id: String, realmId: String, clientId: String, name: String? = nil, description: String? = nil,
        enabled: Bool = true, protocolName: ClientProtocol = .openIDConnect, publicClient: Bool = false,
        secret: Sensitive? = nil, directAccessGrantsEnabled: Bool = false, serviceAccountsEnabled: Bool = false,
        standardFlowEnabled: Bool = true, redirectUris: [String] = [], attributes: [String: String] = [:],
        protocolMappers: [ProtocolMapper] = [], fullScopeAllowed: Bool = true, webOrigins: [String] = [], createdAt: Timestamp
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
        self.fullScopeAllowed = fullScopeAllowed
        self.webOrigins = webOrigins
        self.createdAt = createdAt
    }
}

extension Client {
    /// Keycloak's client switches Keyport keeps among the attributes (its representation shows
    /// them as fields — `bearerOnly`, `consentRequired`, `clientAuthenticatorType` — never as attributes).
    public static let modeledAttributes: Set<String> = ["bearer-only", "consent-required", authenticatorTypeAttribute,
                                                        keptKeycloakAuthenticatorAttribute]

    /// Keycloak's `consentRequired`: the person must consent before the client gets tokens from a
    /// browser sign-in. Keyport has no consent screen yet, so such a client cannot sign people in.
    public var consentRequired: Bool { attributes["consent-required"] == "true" }
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

    /// Keycloak's configs are strings; as Keycloak (Jackson) does, a boolean or number is taken
    /// as its text (`"access.token.claim": true`), and a null value leaves the key out.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        `protocol` = try c.decode(String.self, forKey: .protocol)
        protocolMapper = try c.decode(String.self, forKey: .protocolMapper)
        config = try c.decodeIfPresent([String: ConfigText].self, forKey: .config)?.compactMapValues(\.text) ?? [:]
    }

    private struct ConfigText: Decodable {
        let text: String?
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { text = nil }
            else if let s = try? c.decode(String.self) { text = s }
            else if let b = try? c.decode(Bool.self) { text = b ? "true" : "false" }
            else if let i = try? c.decode(Int64.self) { text = String(i) }
            else { text = String(try c.decode(Double.self)) }
        }
    }
}
