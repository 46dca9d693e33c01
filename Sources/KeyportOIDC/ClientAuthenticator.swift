import Hummingbird
import KeyportFederation
import KeyportHTTP
import KeyportModel
import KeyportPasswords
import KeyportStore

/// Who is calling the token endpoint: the client named by `client_id` (form or HTTP Basic),
/// with its secret checked when it is confidential — or, for a `federated-jwt` client, the
/// client a signed JWT from a trusted identity provider proves (`client_assertion`, RFC 7523).
struct ClientAuthenticator: Sendable {
    let store: any IdentityStore
    let federation: FederatedJWTVerifier
    let now: @Sendable () -> Timestamp
    /// The realm's issuer URL: the one audience a client assertion may name.
    let audience: @Sendable (Realm) -> String

    /// A client and, when a federated JWT proved it, what the JWT said.
    struct Authenticated {
        let client: Client
        let federated: FederatedJWTVerifier.Verified?
    }

    func authenticate(form: FormParameters, request: Request, realm: Realm, requireConfidential: Bool = false) async throws -> Client {
        try await authenticateDetailed(form: form, request: request, realm: realm, requireConfidential: requireConfidential).client
    }

    func authenticateDetailed(form: FormParameters, request: Request, realm: Realm, requireConfidential: Bool = false) async throws -> Authenticated {
        if let type = form["client_assertion_type"] {
            guard type == FederatedJWTVerifier.assertionType else {
                throw OAuthError(.badRequest, "invalid_client", "Parameter client_assertion_type has value '\(type.prefix(100))' but expected is '\(FederatedJWTVerifier.assertionType)'")
            }
            guard let assertion = form["client_assertion"], !assertion.isEmpty else { throw OAuthError(.badRequest, "invalid_client", "client_assertion parameter missing") }
            guard request.headers[.authorization] == nil, form["client_secret"] == nil else {
                throw OAuthError.invalidRequest("Use one client authentication method: a client assertion, or client credentials")
            }
            return try await federated(assertion: assertion, clientId: form["client_id"], realm: realm)
        }
        var clientId = form["client_id"]
        var secret = form["client_secret"]
        if let basic = BasicCredentials(header: request.headers[.authorization]) {
            // RFC 6749 §2.3.1: Basic credentials are form-encoded before base64.
            let id = basic.username.removingPercentEncoding ?? basic.username
            if let clientId, clientId != id { throw OAuthError.invalidClient }
            clientId = id
            secret = basic.password.revealed.removingPercentEncoding ?? basic.password.revealed
        }
        guard let clientId, !clientId.isEmpty else { throw OAuthError.invalidRequest("Missing parameter: client_id") }
        guard clientId.utf8.count <= 255, let client = try await store.client(clientId: clientId, realmId: realm.id), client.enabled,
              client.protocolName == .openIDConnect
        else { throw OAuthError.invalidClient }
        if client.publicClient {
            if requireConfidential { throw OAuthError(.unauthorized, "invalid_client", "Public client is not permitted to use this endpoint") }
            return Authenticated(client: client, federated: nil)
        }
        // A federated client proves itself with a JWT, never with a secret (it may still hold one).
        guard !client.federatedJWT, let expected = client.secret, let secret,
              constantTimeEquals(Array(expected.revealed.utf8), Array(secret.utf8))
        else { throw OAuthError.invalidClient }
        return Authenticated(client: client, federated: nil)
    }

    /// Keycloak's lookup: the identity providers whose `issuer` is the JWT's `iss` find the client
    /// whose `jwt.credential.sub` is its `sub` — or `client_id` names the client (Keycloak also
    /// accepts `client_id` equal to `sub`). Then the verifier decides. Failures are the client's to
    /// read (`error_description`) and never count toward any lockout: anyone can send junk.
    func federated(assertion: String, clientId: String?, realm: Realm) async throws -> Authenticated {
        guard let (issuer, subject) = FederatedJWTVerifier.unverifiedIssuerAndSubject(assertion) else {
            throw OAuthError(.unauthorized, "invalid_client", "The client assertion is not a signed JWT with iss and sub")
        }
        var client: Client?
        if let clientId, !clientId.isEmpty, clientId.utf8.count <= 255, let named = try await store.client(clientId: clientId, realmId: realm.id) {
            client = named
        } else if let clientId, !clientId.isEmpty, clientId != subject {
            throw OAuthError.invalidClient
        }
        if client == nil {
            var found: [Client] = []
            for provider in try await store.identityProviders(realmId: realm.id) where provider.issuer.map({ $0.utf8.elementsEqual(issuer.utf8) }) == true && provider.supportsClientAssertions {
                found += try await store.federatedClients(alias: provider.alias, subject: subject, realmId: realm.id)
                if found.count > 1 { break }
            }
            guard found.count <= 1 else {
                throw OAuthError(.unauthorized, "invalid_client", "More than one client trusts this subject: name the client with client_id")
            }
            client = found.first
        }
        guard let client, client.enabled, client.protocolName == .openIDConnect, client.federatedJWT else { throw OAuthError.invalidClient }
        let alias = client.attributes[FederatedJWTVerifier.issuerAttribute] ?? ""
        let provider = alias.isEmpty || alias.utf8.count > 255 ? nil : try await store.identityProvider(alias: alias, realmId: realm.id)
        let store = store
        do {
            let verified = try await federation.verify(assertion, client: client, provider: provider, audience: audience(realm), now: now(),
                                                       door: .tokenEndpoint, replay: { key, expiresAt in
                try await store.useClientAssertion(key: key, realmId: realm.id, expiresAt: expiresAt, now: now())
            })
            return Authenticated(client: client, federated: verified)
        } catch let refusal as FederatedJWTVerifier.Refusal {
            switch refusal.kind {
            case .invalid: throw OAuthError(.unauthorized, "invalid_client", refusal.description)
            case .issuerUnavailable: throw OAuthError(.serviceUnavailable, "temporarily_unavailable", refusal.description)
            }
        }
    }
}
