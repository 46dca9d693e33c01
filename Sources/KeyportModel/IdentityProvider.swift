/// Keycloak's identity provider: another issuer of identities the realm trusts. Keyport uses
/// them for federated client authentication (`Client.federatedJWT`): a CI job's or a workload's
/// signed JWT from this issuer authenticates a client, with no secret stored anywhere.
public struct IdentityProvider: Sendable, Equatable, Identifiable {
    /// Keycloak's `internalId`.
    public var id: String
    public var realmId: String
    /// Unique in the realm; what clients name in `jwt.credential.issuer`.
    public var alias: String
    /// `oidc` or `keycloak-oidc` (`IdentityProvider.supportedProviders`).
    public var providerId: String
    public var displayName: String?
    public var enabled: Bool
    public var trustEmail: Bool
    public var storeToken: Bool
    public var linkOnly: Bool
    public var hideOnLogin: Bool
    public var firstBrokerLoginFlowAlias: String?
    public var postBrokerLoginFlowAlias: String?
    /// Keycloak's config keys and values (`issuer`, `jwksUrl`, `clientSecret`, …).
    public var config: [String: String]

    public init(id: String, realmId: String, alias: String, providerId: String, displayName: String? = nil, enabled: Bool = true,
                trustEmail: Bool = false, storeToken: Bool = false, linkOnly: Bool = false, hideOnLogin: Bool = false,
                firstBrokerLoginFlowAlias: String? = nil, postBrokerLoginFlowAlias: String? = nil, config: [String: String] = [:]) {
        self.id = id
        self.realmId = realmId
        self.alias = alias
        self.providerId = providerId
        self.displayName = displayName
        self.enabled = enabled
        self.trustEmail = trustEmail
        self.storeToken = storeToken
        self.linkOnly = linkOnly
        self.hideOnLogin = hideOnLogin
        self.firstBrokerLoginFlowAlias = firstBrokerLoginFlowAlias
        self.postBrokerLoginFlowAlias = postBrokerLoginFlowAlias
        self.config = config
    }

    public static let limitPerRealm = 100
    /// The provider ids Keyport implements. Keycloak's `kubernetes` and `spiffe` are not among
    /// them: a Kubernetes cluster's service-account tokens are verified through `oidc` with the
    /// cluster's issuer and its `/openid/v1/jwks`.
    public static let supportedProviders: Set<String> = ["oidc", "keycloak-oidc"]
    /// Config keys never returned (Keycloak answers `**********`) nor exported without secrets.
    public static let secretConfigKeys: Set<String> = ["clientSecret"]
    /// What Keycloak answers in place of a secret, and what keeps the stored one on update.
    public static let maskedSecret = "**********"

    /// Keycloak's `supportsClientAssertions`: JWTs from this issuer may authenticate clients.
    public var supportsClientAssertions: Bool { config["supportsClientAssertions"] == "true" }
    /// Keycloak's `supportsClientAssertionReuse`: the token endpoint accepts a JWT's `jti` again.
    public var supportsClientAssertionReuse: Bool { config["supportsClientAssertionReuse"] == "true" }
    /// The `iss` its JWTs carry. (Keycloak's `validateSignature` is not read: Keyport never
    /// trusts an unverified assertion, whatever it says.)
    public var issuer: String? { config["issuer"].flatMap { $0.isEmpty ? nil : $0 } }
    /// Keycloak's `allowedClockSkew` in seconds, within 0…300.
    public var allowedClockSkew: Int { min(max(Int(config["allowedClockSkew"] ?? "") ?? 0, 0), 300) }
}

extension Client {
    /// Keycloak's `clientAuthenticatorType`, kept among the attributes under this name (the
    /// representation shows it as a field).
    public static let authenticatorTypeAttribute = "client.authenticator.type"
    /// Keycloak's default: the client proves itself with its secret.
    public static let clientSecretAuthenticator = "client-secret"
    /// Keycloak's `federated-jwt`: a JWT from a trusted identity provider (`jwt.credential.issuer`
    /// names its alias, `jwt.credential.sub` the expected subject) proves the client; no secret.
    public static let federatedJWTAuthenticator = "federated-jwt"
    public static let supportedAuthenticators: Set<String> = [clientSecretAuthenticator, federatedJWTAuthenticator]
    /// A realm file's `clientAuthenticatorType` Keyport does not implement (`client-jwt`, …),
    /// kept so that an export writes it back; such a client authenticates with its secret here.
    public static let keptKeycloakAuthenticatorAttribute = "keycloak.client.authenticator.type"

    public var authenticatorType: String { attributes[Self.authenticatorTypeAttribute] ?? Self.clientSecretAuthenticator }
    /// Whether a signed JWT from another issuer, not a secret, authenticates this client.
    public var federatedJWT: Bool { authenticatorType == Self.federatedJWTAuthenticator }
}
