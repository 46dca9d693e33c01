import Hummingbird
import KeyportHTTP
import KeyportModel
import KeyportPasswords
import KeyportStore

/// Who is calling the token endpoint: the client named by `client_id` (form or HTTP Basic),
/// with its secret checked when it is confidential.
struct ClientAuthenticator: Sendable {
    let store: any IdentityStore

    func authenticate(form: FormParameters, request: Request, realm: Realm, requireConfidential: Bool = false) async throws -> Client {
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
            return client
        }
        guard let expected = client.secret, let secret, constantTimeEquals(Array(expected.revealed.utf8), Array(secret.utf8)) else {
            throw OAuthError.invalidClient
        }
        return client
    }
}
