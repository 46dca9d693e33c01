import Foundation
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportModel
import KeyportStore
import KeyportTokens

/// `GET {hostname}/realms/{realm}/protocol/docker-v2/auth`: the token realm of a registry.
///
/// The pipeline, one step per type: parse the request (`ScopeParser`) → authenticate the
/// user (`PasswordAuthenticator`) → authorize each scope (`RegistryAuthorizer`) → issue the
/// token (`RegistryTokenIssuer`). Every request with credentials, granted or not, is recorded as
/// an event (within the realm's event settings and the recorder's rate for failures).
public struct DockerV2Controller: Sendable {
    let store: any IdentityStore
    let authenticator: PasswordAuthenticator
    let authorizer: RegistryAuthorizer
    let issuer: RegistryTokenIssuer
    let events: EventRecorder
    let environment: TimeAndRandomness
    let realmIssuer: RealmIssuer
    let onIssued: @Sendable () -> Void

    public init(store: any IdentityStore, authenticator: PasswordAuthenticator, authorizer: RegistryAuthorizer, issuer: RegistryTokenIssuer,
                events: EventRecorder, environment: TimeAndRandomness, realmIssuer: RealmIssuer, onIssued: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.issuer = issuer
        self.events = events
        self.environment = environment
        self.realmIssuer = realmIssuer
        self.onIssued = onIssued
    }

    public static let path: RouterPath = "/realms/{realm}/protocol/docker-v2/auth"

    public func addRoutes(to router: Router<KeyportRequestContext>) {
        router.get(Self.path) { request, context in try await token(request, context) }
        // containerd tries the OAuth2 POST flow first and falls back to GET on 405.
        router.post(Self.path) { _, _ in
            Response(status: .methodNotAllowed, headers: [.allow: "GET", .contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"error":"unsupported_grant_type","error_description":"Use GET with HTTP Basic credentials"}"#)))
        }
    }

    public struct TokenResponse: Encodable {
        let token: String
        let access_token: String
        let expires_in: Int
        let issued_at: String
    }

    func token(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        // The realm, and whether docker-v2 is on for it (checked at every request: no restart needed).
        let realmName = context.pathParameter("realm") ?? ""
        guard realmName.utf8.count <= 255, let realm = try await store.realm(named: realmName) else {
            throw DockerV2Error.notFound("realm_not_found", "Realm '\(String(realmName.prefix(80)))' does not exist")
        }
        guard realm.enabled else { throw DockerV2Error.notFound("realm_disabled", "Realm '\(realm.name)' is disabled") }
        guard realm.dockerV2Enabled else {
            throw DockerV2Error.notFound("docker_v2_disabled", "The docker-v2 protocol is not enabled for realm '\(realm.name)'")
        }

        // Parse.
        let query = FormParameters.query(of: request)
        guard let service = query["service"], !service.isEmpty else { throw DockerV2Error.serviceMissing }
        let requested: [ResourceScope]
        do {
            requested = try ScopeParser.parse(query.all("scope"))
        } catch {
            throw DockerV2Error.badRequest("invalid_scope", error.description, code: "UNSUPPORTED")
        }
        guard service.utf8.count <= 255, let client = try await store.client(clientId: service, realmId: realm.id), client.protocolName == .dockerV2 else {
            throw DockerV2Error.unknownClient
        }
        guard client.enabled else { throw DockerV2Error.clientDisabled }

        // Authenticate.
        guard let credentials = BasicCredentials(header: request.headers[.authorization]) else {
            // Not stored: it costs the caller nothing, so a row each would let anyone fill the disk.
            events.suppress(.unauthenticated)
            throw DockerV2Error.unauthorized("Authentication required: log in with a username and password of realm '\(realm.name)'",
                                             requested: requested, realmName: realm.name)
        }
        let user: User
        switch try await authenticator.authenticate(realm: realm, username: credentials.username, password: credentials.password,
                                                    ipAddress: context.clientAddress) {
        case .authenticated(let u):
            user = u
        case .failed(let reason, let u):
            record(realm: realm, client: client, user: u, username: credentials.username, requested: requested, granted: nil, error: reason.rawValue, context: context)
            if reason == .accountNotFullySetUp {
                throw DockerV2Error.unauthorized("Account is not fully set up: change the temporary password first", requested: requested)
            }
            throw DockerV2Error.unauthorized(DockerV2Error.invalidCredentials, requested: requested)
        }

        // Authorize, then issue.
        let decision = try await authorizer.decide(realm: realm, client: client, user: user, requested: requested)
        let issued = try await issuer.issue(realm: realm, issuer: realmIssuer.url(for: realm), service: service,
                                            subject: user.username, access: decision.access,
                                            algorithm: DockerClientSettings(client).algorithm)
        onIssued()
        record(realm: realm, client: client, user: user, username: user.username, requested: requested, granted: decision.access, error: nil, context: context)
        return try JSONBody.response(TokenResponse(token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt))
    }

    func record(realm: Realm, client: Client, user: User?, username: String?, requested: [ResourceScope], granted: [ResourceScope]?,
                error: String?, context: KeyportRequestContext) {
        var details = ["auth_method": "docker-v2", "requested_access": requested.map(\.description).joined(separator: " ")]
        if let username { details["username"] = String(username.prefix(255)) }
        if let granted { details["granted_access"] = granted.map(\.description).joined(separator: " ") }
        events.record(Event(id: environment.newID(), realmId: realm.id, time: environment.now(), type: error == nil ? "LOGIN" : "LOGIN_ERROR",
                            clientId: client.clientId, userId: user?.id, ipAddress: context.clientAddress, error: error, details: details),
                      in: realm)
    }
}
