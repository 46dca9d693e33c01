import DockerV2Grammar
import KeyportJSON
import KeyportProvisioning
import KeyportRealmExchange
import Hummingbird
import KeyportAdminAPI
import KeyportAuth
import KeyportDockerV2
import KeyportHTTP
import KeyportModel
import KeyportStore

/// The docker-v2 protocol's checks and defaults for a client, for every door a client comes
/// through (the admin API and realm import share one `Provisioning`).
func dockerV2Provisioning(randomBytes: @escaping @Sendable (Int) -> [UInt8]) -> Provisioning {
    Provisioning(randomBytes: randomBytes, prepareClient: { client in
        do { try DockerClientSettings.prepare(&client) } catch let error as DockerClientSettings.Invalid { throw BadInput(error.description) }
    }, validateRoleAttributes: { attributes in
        do { try RegistryGrant.validate(attributes: attributes) } catch let error as RegistryGrant.Failure { throw BadInput(error.description) }
    })
}

/// What the docker-v2 protocol adds to the admin API: its installation files and the
/// "what would this user get" question.
func dockerV2AdminExtensions(installation: RegistryInstallation, authorizer: RegistryAuthorizer, store: any IdentityStore) -> AdminExtensions {
    var providers: [String: AdminExtensions.InstallationProvider] = [:]
    for provider in RegistryInstallation.providers {
        providers[provider] = { realm, client in
            guard let file = try await installation.file(provider: provider, realm: realm, client: client) else {
                throw AdminError.badRequest("The \(provider) installation is for docker-v2 clients; \(client.clientId) is \(client.protocolName.rawValue)")
            }
            return Response(status: .ok, headers: [.contentType: file.contentType], body: .init(byteBuffer: ByteBuffer(string: file.body)))
        }
    }
    let access: AdminExtensions.ClientQuery = { request, realm, client in
        try await dockerV2Access(request: request, realm: realm, client: client, authorizer: authorizer, store: store)
    }
    return AdminExtensions(
        installationProviders: providers,
        clientQueries: ["docker-v2-access": access])
}

/// `GET clients/{id}/docker-v2-access?username=U&scope=S…`: what `U` would be granted,
/// with the roles and grants behind it, without issuing a token (`kpadm docker access`).
func dockerV2Access(request: Request, realm: Realm, client: Client, authorizer: RegistryAuthorizer, store: any IdentityStore) async throws -> Response {
    guard client.protocolName == .dockerV2 else { throw AdminError.badRequest("\(client.clientId) is not a docker-v2 client") }
    let query = FormParameters.query(of: request)
    guard let username = query["username"], !username.isEmpty else { throw AdminError.badRequest("Query parameter 'username' is required") }
    guard let user = try await store.user(username: username, realmId: realm.id) else { throw AdminError.notFound("User not found") }
    let requested: [ResourceScope]
    do { requested = try ScopeParser.parse(query.all("scope")) } catch { throw AdminError.badRequest(error.description) }
    let decision = try await authorizer.decide(realm: realm, client: client, user: user, requested: requested)
    let body: JSONValue = [
        "username": .string(user.username), "service": .string(client.clientId),
        "authorization": .string(DockerClientSettings(client).authorization.rawValue),
        "canLogIn": .bool(user.enabled && client.enabled && realm.enabled && realm.dockerV2Enabled),
        "roles": .array(decision.roles.map { .string($0) }), "grants": .array(decision.grants.map { .string($0) }),
        "matchedGrants": .array(decision.matched.map { .string($0) }),
        "requested": try JSONValue.from(requested), "access": try JSONValue.from(decision.access),
    ]
    return try JSONBody.response(body)
}
