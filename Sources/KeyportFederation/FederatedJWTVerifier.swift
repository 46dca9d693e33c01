import Crypto
import Foundation
import KeyportJSON
import KeyportKeys
import KeyportModel

/// Keycloak's federated client authentication (`federated-jwt`): a JWT another issuer signed —
/// a GitHub Actions or GitLab CI job's ID token, a Kubernetes service account's token — proves a
/// client, so a CI job pushes with no registry secret stored anywhere.
///
/// What must hold, in Keycloak's order and words where it has them: the client uses
/// `federated-jwt` and names the identity provider (`jwt.credential.issuer`, its alias); the
/// provider is enabled, `oidc`/`keycloak-oidc`, with `supportsClientAssertions`; `iss` is the
/// provider's `issuer`; `sub` is the client's `jwt.credential.sub` exactly; the signature is one of
/// the provider's keys (`jwksUrl`, or the configured PEM key) under an asymmetric algorithm the key
/// allows; `aud` is the realm's issuer URL and nothing else; the token is active (`exp` required,
/// `nbf`, `iat`, with the provider's `allowedClockSkew`); Keyport's claim conditions hold. Then by
/// door: at the token endpoint at most 300 s after `iat` and each `jti` once (unless
/// `supportsClientAssertionReuse`), as Keycloak; at the registry door until `exp` and again for
/// each of a push's token requests (docker sends the same password for each), for tokens that
/// live at most a day.
public struct FederatedJWTVerifier: Sendable {
    public static let issuerAttribute = "jwt.credential.issuer"
    public static let subjectAttribute = "jwt.credential.sub"
    public static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Keycloak's `maximumExpirationTime` for federated assertions at the token endpoint.
    public static let tokenEndpointMaxAge: Int64 = 300
    /// The registry door accepts a token until its `exp`, but not one that lives longer than this.
    public static let registryMaxLifetime: Int64 = 86_400
    /// The claims an event keeps of a verified token: what says which CI run it was.
    public static let recordedClaims = [
        "repository", "repository_id", "repository_owner", "repository_owner_id", "ref", "ref_type", "sha", "workflow", "workflow_ref",
        "job_workflow_ref", "run_id", "run_attempt", "environment", "actor", "event_name", "project_path", "project_id", "namespace_path",
        "pipeline_id", "pipeline_source", "job_id", "ref_protected", "user_login", "kubernetes.io/namespace",
        "kubernetes.io/serviceaccount/name", "kubernetes.io/pod/name",
    ]

    public enum Door: Sendable { case tokenEndpoint, registry }

    public struct Verified: Sendable {
        public let providerAlias: String
        public let issuer: String
        public let subject: String
        public let tokenId: String?
        public let expiresAt: Timestamp
        /// `recordedClaims` present in the token, each cut to 255 characters.
        public let runClaims: [String: String]
    }

    public struct Refusal: Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// The token does not prove this client (the answer is `invalid_client`).
            case invalid
            /// The issuer's keys could not be read: try again later (`temporarily_unavailable`).
            case issuerUnavailable
        }
        public let kind: Kind
        /// Why, in words a CI log can show (never the token or a key). Before the signature is
        /// checked it says nothing of the client's or the provider's configuration.
        public let description: String
        /// Why, for the event an administrator reads: the same, or the precise reason a
        /// description kept general.
        public let detail: String
        static func invalid(_ description: String) -> Refusal { Refusal(kind: .invalid, description: description, detail: description) }
        /// A refusal before the token is known to be the issuer's: general words for the caller.
        static func unproven(_ detail: String) -> Refusal { Refusal(kind: .invalid, description: "Invalid client credentials", detail: detail) }
    }

    let keys: JWKSCache

    public init(keys: JWKSCache) { self.keys = keys }

    /// Whether `text` looks like a compact JWS at all (a password never does: three base64url
    /// parts, the first a JSON object).
    public static func looksLikeJWT(_ text: String) -> Bool {
        text.hasPrefix("eyJ") && text.utf8.count <= 16_384 && text.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }

    /// Checks `token` for `client` against `provider` (the one the client names). `audience` is
    /// the realm's issuer URL. `replay` decides a `jti`'s use, by door: at the token endpoint it
    /// records the use and answers false when it was used already; at the registry door it only
    /// answers false when the token endpoint spent it (a single-use assertion is not a password).
    public func verify(_ token: String, client: Client, provider: IdentityProvider?, audience: String, now: Timestamp, door: Door,
                       replay: @Sendable (_ key: String, _ expiresAt: Timestamp) async throws -> Bool) async throws -> Verified {
        guard client.federatedJWT else { throw Refusal.unproven("The client does not use federated-jwt authentication") }
        guard let alias = client.attributes[Self.issuerAttribute], !alias.isEmpty,
              let expectedSubject = client.attributes[Self.subjectAttribute], !expectedSubject.isEmpty
        else { throw Refusal.unproven("The client names no identity provider or subject (jwt.credential.issuer, jwt.credential.sub)") }
        guard let provider, provider.alias == alias, provider.enabled, IdentityProvider.supportedProviders.contains(provider.providerId),
              provider.supportsClientAssertions, let issuer = provider.issuer
        else { throw Refusal.unproven("Identity provider '\(alias.prefix(80))' does not exist, is disabled, or does not support client assertions") }

        let claims = try await signedClaims(token, provider: provider, issuer: issuer, partition: client.realmId)

        // Only a token the issuer signed says anything about the client's configuration.
        guard let subject = claims["sub"]?.stringValue, !subject.isEmpty else { throw Refusal.invalid("Token sub claim is required") }
        guard Self.same(subject, expectedSubject) else { throw Refusal.invalid("Token subject is not the client's federated subject") }

        // The audience: this realm, alone.
        let audiences: [String]
        switch claims["aud"] {
        case .string(let a)?: audiences = [a]
        case .array(let list)?: audiences = list.compactMap(\.stringValue)
        default: audiences = []
        }
        guard audiences.contains(audience) else { throw Refusal.invalid("Invalid token audience") }
        guard audiences.count == 1 else { throw Refusal.invalid("Multiple audiences not allowed") }

        // Active, within the door's limits.
        let skew = Int64(provider.allowedClockSkew)
        let nowSeconds = now.secondsSince1970
        func seconds(_ name: String) -> Int64? {
            guard case .number(let n)? = claims[name], n.isFinite, abs(n) < 1e12 else { return nil }
            return Int64(n)
        }
        guard let exp = seconds("exp") else { throw Refusal.invalid("Token exp claim is required") }
        guard nowSeconds < exp + skew else { throw Refusal.invalid("Token is not active") }
        if let nbf = seconds("nbf"), nbf - skew > nowSeconds { throw Refusal.invalid("Token is not active") }
        let iat = seconds("iat")
        if let iat, iat - skew > nowSeconds { throw Refusal.invalid("Token was issued in the future") }
        switch door {
        case .tokenEndpoint:
            if let iat {
                guard nowSeconds <= iat + Self.tokenEndpointMaxAge else { throw Refusal.invalid("Token was issued too far in the past to be used now") }
            } else if exp - nowSeconds > Self.tokenEndpointMaxAge {
                throw Refusal.invalid("Token expiration is too far in the future and iat claim not present in token")
            }
        case .registry:
            // Its whole life is measured from when it was issued: a token without iat or nbf could
            // have lived for a month before its last day.
            guard let issued = iat ?? seconds("nbf") else { throw Refusal.invalid("Token iat claim is required") }
            guard exp - issued <= Self.registryMaxLifetime else {
                throw Refusal.invalid("Token lives longer than a day: use a short-lived token")
            }
        }

        let conditions: ClaimConditions
        do {
            conditions = try ClaimConditions(attribute: client.attributes[ClaimConditions.attribute])
        } catch {
            throw Refusal.invalid("The client's claim conditions (\(ClaimConditions.attribute)) do not parse: an administrator must fix them")
        }
        if let unmet = conditions.unmet(in: claims) { throw Refusal.invalid("Token claim '\(unmet.prefix(80))' does not meet the client's conditions") }

        let tokenId = claims["jti"]?.stringValue
        if door == .tokenEndpoint, !provider.supportsClientAssertionReuse {
            guard let tokenId, !tokenId.isEmpty else { throw Refusal.invalid("Token jti claim is required") }
            // Kept one second past the last moment the token can be used here: the window is
            // checked in whole seconds, the row's expiry in milliseconds.
            let lastSecond = min(exp + skew, (iat ?? nowSeconds) + Self.tokenEndpointMaxAge + skew)
            guard try await replay(Self.reuseKey(issuer: issuer, tokenId: tokenId), Timestamp(secondsSince1970: lastSecond + 1)) else {
                throw Refusal.invalid("Token reuse detected")
            }
        } else if door == .registry, let tokenId, !tokenId.isEmpty {
            guard try await replay(Self.reuseKey(issuer: issuer, tokenId: tokenId), Timestamp(secondsSince1970: exp + skew + 1)) else {
                throw Refusal.invalid("Token was used as a single-use client assertion already")
            }
        }

        var runClaims: [String: String] = [:]
        for name in Self.recordedClaims {
            var value: JSONValue? = .object(claims)
            for step in name.split(separator: "/") { value = value?[String(step)] }
            switch value {
            case .string(let s)?: runClaims[name] = String(s.prefix(255))
            case .number(let n)? where n.rounded() == n && abs(n) < 1e15: runClaims[name] = String(Int64(n))
            case .bool(let b)?: runClaims[name] = b ? "true" : "false"
            default: break
            }
        }
        return Verified(providerAlias: alias, issuer: issuer, subject: subject, tokenId: tokenId,
                        expiresAt: Timestamp(secondsSince1970: exp), runClaims: runClaims)
    }

    /// The claims of `token` once it is known to be `provider`'s: a compact JWS under an
    /// asymmetric algorithm (never `none` or HMAC), `iss` exactly `issuer`, signed by one of the
    /// provider's keys (its `jwksUrl`, or the configured PEM key) — never a key the token names.
    /// `partition` bounds the outbound calls (a realm).
    public func signedClaims(_ token: String, provider: IdentityProvider, issuer: String, partition: String) async throws -> [String: JSONValue] {
        let alias = provider.alias
        // Parse without trust.
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 16_384, parts.count == 3,
              let headerData = Base64URL.decode(String(parts[0])), let payload = Base64URL.decode(String(parts[1])),
              let signature = Base64URL.decode(String(parts[2])),
              let header = try? JSONDecoder().decode(JSONValue.self, from: headerData).objectValue,
              let claims = try? JSONDecoder().decode(JSONValue.self, from: payload).objectValue
        else { throw Refusal.invalid("The client assertion is not a signed JWT") }
        guard let alg = header["alg"]?.stringValue, alg != "none", !alg.hasPrefix("HS") else { throw Refusal.invalid("Invalid signature algorithm") }
        // Compared byte for byte, as Keycloak does (Swift's == would equate Unicode equivalents).
        guard Self.same(claims["iss"]?.stringValue, issuer) else { throw Refusal.unproven("Token issuer is not the identity provider's issuer") }

        // The signature, with a key of the provider's.
        let key: VerificationKey?
        let kid = header["kid"]?.stringValue
        if provider.config["useJwksUrl"] != "false" {
            guard let url = provider.config["jwksUrl"], !url.isEmpty else { throw Refusal.invalid("Identity provider '\(alias.prefix(80))' has no jwksUrl") }
            switch await keys.key(url: url, kid: kid, partition: partition) {
            case .success(let found): key = found
            case .failure:
                let words = "The keys of identity provider '\(alias.prefix(80))' cannot be read now: try again later"
                throw Refusal(kind: .issuerUnavailable, description: words, detail: words)
            }
        } else {
            let configured = provider.config["publicKeySignatureVerifier"].flatMap {
                JSONWebKeySet.fromPEM($0, kid: provider.config["publicKeySignatureVerifierKeyId"].flatMap { $0.isEmpty ? nil : $0 })
            }
            key = configured?.key(kid: kid)
        }
        guard let key else { throw Refusal.invalid("No key of the identity provider matches the token's kid") }
        guard key.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8), alg: alg) else {
            throw Refusal.invalid("Invalid token signature")
        }
        return claims
    }

    /// Byte-for-byte equality of two strings (no Unicode normalization).
    public static func same(_ a: String?, _ b: String) -> Bool {
        guard let a else { return false }
        return a.utf8.elementsEqual(b.utf8)
    }

    /// What the store keeps of a used `jti`: a hash of the issuer and the id, never the id alone
    /// (two issuers may use the same ids).
    static func reuseKey(issuer: String, tokenId: String) -> String {
        SHA256.hash(data: Data("\(issuer)\n\(tokenId)".utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

extension FederatedJWTVerifier {
    /// The `iss` and `sub` a JWT claims, before anything is verified: only to find which provider
    /// and client to verify it for.
    public static func unverifiedIssuerAndSubject(_ token: String) -> (issuer: String, subject: String)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 16_384, parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
              let claims = try? JSONDecoder().decode(JSONValue.self, from: payload).objectValue,
              let issuer = claims["iss"]?.stringValue, !issuer.isEmpty, let subject = claims["sub"]?.stringValue, !subject.isEmpty
        else { return nil }
        return (issuer, subject)
    }
}

extension FederatedJWTVerifier.Verified {
    /// What an event keeps of it: `client_auth_method`, the provider, issuer and subject, and
    /// the run's claims as `federated_claim.<name>`.
    public var eventDetails: [String: String] {
        var details = ["client_auth_method": Client.federatedJWTAuthenticator, "identity_provider": providerAlias,
                       "federated_issuer": String(issuer.prefix(255)), "federated_subject": String(subject.prefix(255))]
        if let tokenId { details["federated_token_id"] = String(tokenId.prefix(255)) }
        for (name, value) in runClaims { details["federated_claim.\(name)"] = value }
        return details
    }
}
