import Foundation
import KeycloakRepresentations
import KeyportFederation
import KeyportModel

/// What an identity provider becomes from Keycloak's representation, for the admin API and the
/// realm importer alike: the fields present, checked, merged into the provider.
extension Provisioning {
    /// Config values Keycloak keeps as booleans.
    static let booleanConfigKeys: Set<String> = [
        "useJwksUrl", "validateSignature", "pkceEnabled", "supportsClientAssertions", "supportsClientAssertionReuse", "backchannelSupported",
        "disableUserInfo", "hideOnLoginPage", "isAccessTokenJWT", "disableNonce", "disableTypeClaimCheck", "caseSensitiveOriginalUsername",
        "filteredByClaim", "loginHint", "passMaxAge", "uiLocales", "sendClientIdOnLogout", "sendIdTokenOnLogout", "acceptsPromptNoneForwardFromClient",
    ]
    /// Config values that are URLs the server itself may call.
    static let urlConfigKeys: Set<String> = ["authorizationUrl", "tokenUrl", "userInfoUrl", "jwksUrl", "logoutUrl", "tokenIntrospectionUrl"]
    /// A change to any of these sends the stored `clientSecret` somewhere else, or decides whose
    /// tokens the provider vouches for.
    public static let identityProviderTrustKeys: Set<String> = [
        "issuer", "jwksUrl", "useJwksUrl", "publicKeySignatureVerifier", "publicKeySignatureVerifierKeyId", "supportsClientAssertions",
        "supportsClientAssertionReuse", "allowedClockSkew", "tokenUrl", "authorizationUrl", "userInfoUrl", "tokenIntrospectionUrl",
    ]

    /// A new provider from `rep` (alias and providerId required).
    public func newIdentityProvider(_ rep: IdentityProviderRepresentation, id: String, realmId: String) throws -> IdentityProvider {
        guard let alias = rep.alias, !alias.isEmpty else { throw InvalidObject("Identity provider alias is required") }
        guard let providerId = rep.providerId, !providerId.isEmpty else { throw InvalidObject("Identity provider providerId is required") }
        var provider = IdentityProvider(id: id, realmId: realmId, alias: try Self.identityProviderAlias(alias), providerId: providerId)
        try merge(rep, into: &provider)
        return provider
    }

    /// `rep`'s fields merged into `provider`, checked as a whole afterwards. A `clientSecret` of
    /// `**********` keeps the stored one — unless a URL it would be sent to, or the issuer,
    /// changed: then the secret must be entered again (otherwise whoever may edit the provider
    /// could send the stored secret to a host of their choosing).
    public func merge(_ rep: IdentityProviderRepresentation, into provider: inout IdentityProvider) throws {
        let before = provider
        if let v = rep.alias { provider.alias = try Self.identityProviderAlias(v) }
        if let v = rep.providerId {
            guard IdentityProvider.supportedProviders.contains(v) else {
                throw InvalidObject("Identity provider type '\(String(v.prefix(64)))' is not supported: Keyport implements \(IdentityProvider.supportedProviders.sorted().joined(separator: " and "))")
            }
            provider.providerId = v
        }
        if let v = rep.displayName { try ObjectRules.plain(v, what: "displayName"); provider.displayName = v.isEmpty ? nil : v }
        if let v = rep.enabled { provider.enabled = v }
        if let v = rep.trustEmail { provider.trustEmail = v }
        if let v = rep.storeToken { provider.storeToken = v }
        if let v = rep.linkOnly { provider.linkOnly = v }
        if let v = rep.hideOnLogin { provider.hideOnLogin = v }
        if let v = rep.firstBrokerLoginFlowAlias { try ObjectRules.plain(v, what: "firstBrokerLoginFlowAlias"); provider.firstBrokerLoginFlowAlias = v.isEmpty ? nil : v }
        if let v = rep.postBrokerLoginFlowAlias { try ObjectRules.plain(v, what: "postBrokerLoginFlowAlias"); provider.postBrokerLoginFlowAlias = v.isEmpty ? nil : v }
        if let config = rep.config {
            guard config.count <= 64 else { throw InvalidObject("An identity provider's config holds at most 64 keys") }
            var merged: [String: String] = [:]
            for (key, value) in config {
                try ObjectRules.plain(key, what: "A config key")
                guard value.utf8.count <= 16_384 else { throw InvalidObject("Config '\(key.prefix(80))' is longer than 16,384 characters") }
                if IdentityProvider.secretConfigKeys.contains(key), value == IdentityProvider.maskedSecret {
                    if let stored = before.config[key] { merged[key] = stored }
                    continue
                }
                merged[key] = value
            }
            // A masked secret kept while a trust setting moved must be entered again.
            for key in IdentityProvider.secretConfigKeys where config[key] == IdentityProvider.maskedSecret && before.config[key] != nil {
                let moved = Self.identityProviderTrustKeys.filter { (before.config[$0] ?? "") != (merged[$0] ?? "") }
                guard moved.isEmpty else {
                    throw InvalidObject("Enter the client secret again: \(moved.sorted().joined(separator: ", ")) changed, and the stored secret is only sent where it was set for")
                }
            }
            provider.config = merged
        }
        try Self.checkIdentityProvider(provider)
    }

    static func identityProviderAlias(_ alias: String) throws -> String {
        guard (1...255).contains(alias.utf8.count),
              alias.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) })
        else { throw InvalidObject("An identity provider's alias is 1 to 255 letters, digits, '-', '_' or '.'") }
        return alias
    }

    /// The provider as a whole: values of the right kinds, and one that vouches for clients
    /// (`supportsClientAssertions`) with an issuer and a key to check signatures.
    static func checkIdentityProvider(_ p: IdentityProvider) throws {
        guard IdentityProvider.supportedProviders.contains(p.providerId) else {
            throw InvalidObject("Identity provider type '\(String(p.providerId.prefix(64)))' is not supported: Keyport implements \(IdentityProvider.supportedProviders.sorted().joined(separator: " and "))")
        }
        for key in booleanConfigKeys {
            if let v = p.config[key], !v.isEmpty, v != "true", v != "false" { throw InvalidObject("Config '\(key)' must be true or false") }
        }
        if let v = p.config["allowedClockSkew"], !v.isEmpty {
            guard let n = Int(v), (0...300).contains(n) else { throw InvalidObject("Config 'allowedClockSkew' must be 0 to 300 seconds") }
        }
        for key in urlConfigKeys {
            guard let v = p.config[key], !v.isEmpty else { continue }
            guard let url = URLComponents(string: v), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
                  let host = url.host, !host.isEmpty, url.user == nil, url.password == nil
            else { throw InvalidObject("Config '\(key)' must be an http(s) URL") }
            // Keys fetched over plain http could be replaced by anyone on the path, and with them
            // anyone could sign CI identities: https, except on this machine, for a provider that
            // vouches for clients (one kept for brokering only is not called by Keyport).
            if key == "jwksUrl", p.supportsClientAssertions, scheme == "http", !["localhost", "127.0.0.1", "[::1]", "::1"].contains(host.lowercased()) {
                throw InvalidObject("Config 'jwksUrl' must be an https URL (plain http only on localhost)")
            }
        }
        if let issuer = p.config["issuer"], !issuer.isEmpty { try ObjectRules.plain(issuer, what: "Config 'issuer'") }
        if p.supportsClientAssertions {
            guard p.issuer != nil else { throw InvalidObject("An identity provider that supports client assertions needs its 'issuer'") }
            if p.config["useJwksUrl"] == "false" {
                guard let pem = p.config["publicKeySignatureVerifier"], JSONWebKeySet.fromPEM(pem, kid: nil) != nil else {
                    throw InvalidObject("Config 'publicKeySignatureVerifier' must be a PEM public key (RSA of 2,048 bits or more, or EC P-256/P-384) when 'useJwksUrl' is false")
                }
            } else {
                guard let url = p.config["jwksUrl"], !url.isEmpty else {
                    throw InvalidObject("An identity provider that supports client assertions needs its 'jwksUrl' (or 'useJwksUrl' false and 'publicKeySignatureVerifier')")
                }
            }
        }
    }
}
