import Foundation
import DockerV2Grammar
import KeyportModel

/// What a docker-v2 client's attributes say about how its tokens are made.
public struct DockerClientSettings: Sendable, Equatable {
    public enum Authorization: String, Sendable, Equatable {
        /// Client roles' `docker.grant` attributes decide (Keyport's default).
        case roles
        /// Every authenticated user gets what it asks for (Keycloak's behaviour).
        case allowAll = "allow-all"
    }

    public static let authorizationAttribute = "docker.authorization"
    public static let algorithmAttribute = "docker.signature.algorithm"
    /// `"true"` (the default) or `"false"`: whether `docker login` gets an identity token to
    /// keep instead of the password, and whether the ones already issued still work.
    public static let identityTokensAttribute = "docker.identity.tokens"
    /// What anyone may do without credentials: grants of the `docker.grant` grammar separated by
    /// spaces (a string, as Keycloak's client attributes are); `${username}` has no meaning here.
    public static let anonymousGrantAttribute = "docker.anonymous.grant"
    public static let maxAnonymousGrants = 50
    /// `"true"` (the default) or `"false"`: whether a token's header carries the signing
    /// certificate (`x5c`) beside its `kid`. Registry 2.x and 3.x verify an `x5c` token against
    /// `rootcertbundle` only; registry 3.x configured with a JWKS alone needs tokens without
    /// `x5c`, which it matches by `kid` (registry 2.x matches those by `kid` among the bundle's
    /// certificates).
    public static let x5cAttribute = "docker.token.x5c"
    /// `sha256:<64 hex digits>`: the hash of the secret a registry sends with its notifications
    /// (`RegistryNotifications`); absent, the client's registry cannot report. The secret itself
    /// is shown once, when made (`POST clients/{id}/docker-v2-notifications`).
    public static let notificationSecretAttribute = "docker.notifications.secret"
    /// Keycloak's protocol mapper that makes a docker-v2 client allow everything.
    public static let allowAllMapper = "docker-v2-allow-all-mapper"

    public let authorization: Authorization
    public let algorithm: SigningAlgorithm
    public let identityTokens: Bool
    /// Whether tokens carry `x5c` (`docker.token.x5c`, default true).
    public let x5c: Bool
    /// Parsed from `docker.anonymous.grant`; empty: requests without credentials get 401.
    public let anonymousGrants: [RegistryGrant]

    public init(_ client: Client) {
        if client.attributes[Self.authorizationAttribute] == Authorization.allowAll.rawValue
            || client.protocolMappers.contains(where: { $0.protocolMapper == Self.allowAllMapper }) {
            authorization = .allowAll
        } else {
            authorization = .roles
        }
        algorithm = client.attributes[Self.algorithmAttribute].flatMap(SigningAlgorithm.init(rawValue:)) ?? .rs256
        identityTokens = client.attributes[Self.identityTokensAttribute] != "false"
        x5c = client.attributes[Self.x5cAttribute] != "false"
        // Checked on the way in (`prepare`); a value that no longer parses grants nothing.
        anonymousGrants = (try? Self.parseAnonymousGrants(client.attributes[Self.anonymousGrantAttribute] ?? "")) ?? []
    }

    static func parseAnonymousGrants(_ text: String) throws(Invalid) -> [RegistryGrant] {
        let items = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard items.count <= maxAnonymousGrants else {
            throw Invalid(description: "\(anonymousGrantAttribute) may hold at most \(maxAnonymousGrants) grants")
        }
        var grants: [RegistryGrant] = []
        for item in items {
            guard !item.contains(GrantPattern.usernamePlaceholder) else {
                throw Invalid(description: "\(anonymousGrantAttribute) cannot use ${username}: anonymous requests have no user")
            }
            do { grants.append(try RegistryGrant(parsing: item)) } catch {
                throw Invalid(description: error.description.replacingOccurrences(of: RegistryGrant.attribute, with: anonymousGrantAttribute))
            }
        }
        return grants
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Fills in defaults for a new or updated docker-v2 client and refuses values that mean nothing.
    public static func prepare(_ client: inout Client) throws(Invalid) {
        guard client.protocolName == .dockerV2 else { return }
        let mode = client.attributes[authorizationAttribute] ?? Authorization.roles.rawValue
        guard Authorization(rawValue: mode) != nil else {
            throw Invalid(description: "\(authorizationAttribute) must be roles or allow-all, not '\(String(mode.prefix(40)))'")
        }
        client.attributes[authorizationAttribute] = mode
        if let algorithm = client.attributes[algorithmAttribute], SigningAlgorithm(rawValue: algorithm) == nil {
            throw Invalid(description: "\(algorithmAttribute) must be RS256 or ES256, not '\(String(algorithm.prefix(40)))'")
        }
        _ = try parseAnonymousGrants(client.attributes[anonymousGrantAttribute] ?? "")
        if let hash = client.attributes[notificationSecretAttribute] {
            let hex = hash.dropFirst("sha256:".count)
            guard hash.hasPrefix("sha256:"), hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw Invalid(description: "\(notificationSecretAttribute) is sha256: and 64 lowercase hex digits (make one with POST clients/{id}/docker-v2-notifications)")
            }
        }
        for attribute in [identityTokensAttribute, x5cAttribute] {
            if let value = client.attributes[attribute], value != "true", value != "false" {
                throw Invalid(description: "\(attribute) must be true or false, not '\(String(value.prefix(40)))'")
            }
        }
    }
}
