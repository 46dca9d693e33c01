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

// MARK: Brokering: signing people in through the provider

extension IdentityProvider {
    /// Where the browser is sent to sign in upstream, and where the code is exchanged.
    public var authorizationURL: String? { nonEmpty("authorizationUrl") }
    public var tokenURL: String? { nonEmpty("tokenUrl") }
    public var userInfoURL: String? { config["disableUserInfo"] == "true" ? nil : nonEmpty("userInfoUrl") }
    public var clientId: String? { nonEmpty("clientId") }
    /// Keycloak's `clientAuthMethod`: how Keyport proves itself to the upstream token endpoint.
    /// `client_secret_post` (Keycloak's default) and `client_secret_basic` are implemented.
    public var clientAuthMethod: String { nonEmpty("clientAuthMethod") ?? Self.clientSecretPost }
    public static let clientSecretPost = "client_secret_post"
    public static let clientSecretBasic = "client_secret_basic"
    public static let supportedClientAuthMethods: Set<String> = [clientSecretPost, clientSecretBasic]
    /// The scopes asked of the upstream: Keycloak's `defaultScope`, `openid` always among them.
    public var defaultScope: String {
        let asked = (config["defaultScope"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        return (asked.contains("openid") ? asked : ["openid"] + asked).joined(separator: " ")
    }
    /// Keycloak's `syncMode` for the provider: whether mappers run at every sign-in (`FORCE`) or
    /// only when the user is created (`IMPORT`, and `LEGACY`, its old name).
    public var syncMode: String { nonEmpty("syncMode") ?? "IMPORT" }
    /// Whether people may sign in through it (brokering): see `signInProblem`.
    public var offersSignIn: Bool { signInProblem == nil }

    private func nonEmpty(_ key: String) -> String? { config[key].flatMap { $0.isEmpty ? nil : $0 } }
}

/// The link between a realm user and an account at an identity provider (Keycloak's federated
/// identity): keyed by the provider and the upstream `sub`, never by username or email, so a
/// renamed or re-used upstream name never reaches another person's account.
public struct FederatedIdentity: Sendable, Equatable {
    public var realmId: String
    /// The provider's internal id (`IdentityProvider.id`): a renamed alias keeps its links, a
    /// deleted provider takes them with it.
    public var providerId: String
    public var userId: String
    /// The upstream `sub`.
    public var upstreamUserId: String
    /// The upstream username (`preferred_username`), for people to read.
    public var upstreamUsername: String

    public init(realmId: String, providerId: String, userId: String, upstreamUserId: String, upstreamUsername: String) {
        self.realmId = realmId
        self.providerId = providerId
        self.userId = userId
        self.upstreamUserId = String(upstreamUserId.prefix(255))
        self.upstreamUsername = String(upstreamUsername.prefix(255))
    }
}

/// Keycloak's identity provider mapper: what a sign-in through the provider makes of the user —
/// a role, a group, an attribute — from what the upstream said (its claims) or always.
public struct IdentityProviderMapper: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    /// The provider's internal id.
    public var providerId: String
    public var name: String
    /// Keycloak's `identityProviderMapper` (`IdentityProviderMapper.Kind`).
    public var mapperType: String
    public var config: [String: String]
    /// The role or group it gives, by id (its `config` names it as Keycloak does, by name or
    /// path): fixed when the mapper is saved, where the grant rule is checked, and what a sign-in
    /// gives — a role renamed, or another made with the name it had, changes nothing.
    public var targetId: String?

    public init(id: String, realmId: String, providerId: String, name: String, mapperType: String, config: [String: String],
                targetId: String? = nil) {
        self.id = id
        self.realmId = realmId
        self.providerId = providerId
        self.name = name
        self.mapperType = mapperType
        self.config = config
        self.targetId = targetId
    }

    public static let limitPerProvider = 100

    /// The mappers Keyport implements, by Keycloak's ids.
    public enum Kind: String, Sendable, CaseIterable {
        /// Always grants `role`.
        case hardcodedRole = "oidc-hardcoded-role-idp-mapper"
        /// Always joins group `group` (a path).
        case hardcodedGroup = "oidc-hardcoded-group-idp-mapper"
        /// Grants `role` when claim `claim` has the value `claim.value` (or a list holding it).
        case claimToRole = "oidc-role-idp-mapper"
        /// Joins `group` when every claim of `claims` (`[{"key","value"}]`) matches, exact or as
        /// regular expressions (`are.claim.values.regex`).
        case claimToGroup = "oidc-advanced-group-idp-mapper"
        /// Sets attribute `user.attribute` (or `email`, `firstName`, `lastName`) from `claim`.
        case userAttribute = "oidc-user-attribute-idp-mapper"

        /// Whether it can make the user hold roles (created only by admins who may grant them).
        public var grantsRoles: Bool { self != .userAttribute }
        /// Whether it gives a role (else a group, when it grants at all).
        public var givesRole: Bool { self == .hardcodedRole || self == .claimToRole }
    }

    public var kind: Kind? { Kind(rawValue: mapperType) }

    /// The mapper's own `syncMode`: `INHERIT` (the provider's), `IMPORT`, `LEGACY` or `FORCE`.
    public func runsAtEverySignIn(provider: IdentityProvider) -> Bool {
        let own = config["syncMode"] ?? "INHERIT"
        return (own == "INHERIT" ? provider.syncMode : own) == "FORCE"
    }
}

extension IdentityProvider {
    /// Why people cannot sign in through it as configured, in words for an administrator; nil
    /// when they can. Keycloak would accept more (an ID token unchecked when the back channel is
    /// TLS, secrets over plain http): Keyport verifies every ID token's signature and sends the
    /// client secret and codes over https only (plain http to this machine only).
    public var signInProblem: String? {
        guard enabled else { return "it is disabled" }
        guard !linkOnly else { return "it is link-only" }
        guard Self.supportedProviders.contains(providerId) else { return "its type is not supported" }
        guard let authorizationURL, tokenURL != nil, clientId != nil else { return "it needs authorizationUrl, tokenUrl and clientId" }
        guard issuer != nil else { return "it needs its issuer (the ID tokens' iss)" }
        if config["useJwksUrl"] == "false" {
            guard nonEmpty("publicKeySignatureVerifier") != nil else { return "it needs a key to verify ID tokens (jwksUrl or publicKeySignatureVerifier)" }
        } else {
            guard nonEmpty("jwksUrl") != nil else { return "it needs a key to verify ID tokens (jwksUrl or publicKeySignatureVerifier)" }
        }
        guard Self.supportedClientAuthMethods.contains(clientAuthMethod) else {
            return "its clientAuthMethod '\(clientAuthMethod.prefix(40))' is not implemented (client_secret_post and client_secret_basic are)"
        }
        for url in [tokenURL, userInfoURL, config["useJwksUrl"] == "false" ? nil : nonEmpty("jwksUrl")].compactMap({ $0 }) where !Self.isSecureURL(url) {
            return "its back-channel URLs must be https (plain http only to this machine)"
        }
        guard authorizationURL.lowercased().hasPrefix("https://") || authorizationURL.lowercased().hasPrefix("http://") else {
            return "its authorizationUrl must be an http(s) URL"
        }
        return nil
    }

    /// https, or plain http to this machine.
    static func isSecureURL(_ url: String) -> Bool {
        let lower = url.lowercased()
        if lower.hasPrefix("https://") { return true }
        guard lower.hasPrefix("http://") else { return false }
        let rest = lower.dropFirst("http://".count)
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return ["localhost", "127.0.0.1", "[::1]"].contains { host == $0 || host.hasPrefix($0 + ":") }
    }
}
