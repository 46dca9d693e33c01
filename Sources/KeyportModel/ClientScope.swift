/// Keycloak's client scope: a named set of protocol mappers and role scope mappings that
/// clients take on as default scopes (always) or optional ones (when a token request's `scope`
/// names them). A realm lists the scopes new clients start with.
public struct ClientScope: Sendable, Equatable, Identifiable {
    /// A realm holds at most this many; a client at most this many assignments.
    public static let limitPerRealm = 1_000
    public static let maxProtocolMappers = 100

    public var id: String
    public var realmId: String
    /// Unique in the realm; what a token request's `scope` parameter names.
    public var name: String
    public var description: String?
    public var protocolName: String
    /// Keycloak's scope attributes (`include.in.token.scope`, `display.on.consent.screen`, …).
    public var attributes: [String: String]
    public var protocolMappers: [ProtocolMapper]

    public init(id: String, realmId: String, name: String, description: String? = nil, protocolName: String = ClientProtocol.openIDConnect.rawValue,
                attributes: [String: String] = [:], protocolMappers: [ProtocolMapper] = []) {
        self.id = id
        self.realmId = realmId
        self.name = name
        self.description = description
        self.protocolName = protocolName
        self.attributes = attributes
        self.protocolMappers = protocolMappers
    }

    /// Whether a token's `scope` claim names this scope when it applies (Keycloak's default: yes).
    public var includedInTokenScope: Bool { attributes["include.in.token.scope"] != "false" }
}

/// A client scope as assigned: to a realm (what new clients get) or to a client.
public struct AssignedClientScope: Sendable, Equatable {
    public var scope: ClientScope
    /// Default scopes always apply; optional ones only when requested.
    public var isDefault: Bool
    public init(scope: ClientScope, isDefault: Bool) {
        self.scope = scope
        self.isDefault = isDefault
    }
}

/// What holds role scope mappings: a client scope, or a client's own scope.
public enum ScopeMappingHolder: Sendable, Equatable {
    case clientScope(String)
    case client(String)
}
