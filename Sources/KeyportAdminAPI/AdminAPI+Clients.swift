import KeycloakRepresentations
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportProvisioning
import KeyportStore

extension AdminAPI {
    func addClientRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        let clients = admin.group("realms/{realm}/clients")
        clients.get(use: listClients)
        clients.post(use: createClient)
        clients.get("{id}", use: getClient)
        clients.put("{id}", use: updateClient)
        clients.delete("{id}", use: deleteClient)
        clients.get("{id}/client-secret", use: getClientSecret)
        clients.post("{id}/client-secret", use: regenerateClientSecret)
        clients.get("{id}/service-account-user", use: getServiceAccountUser)
        clients.get("{id}/installation/providers/{providerId}", use: getInstallation)
        for (name, query) in extensions.clientQueries {
            clients.get("{id}/\(name)") { request, context in
                let (caller, realm, client) = try await clientInPath(request, context, .viewClients)
                guard caller.may(.viewUsers, in: realm) else { throw AdminError.forbidden }
                return try await query(request, realm, client)
            }
        }
        for (name, action) in extensions.clientActions {
            let run: @Sendable (Request, KeyportRequestContext) async throws -> Response = { request, context in
                let (caller, realm, client) = try await clientInPath(request, context, .manageClients)
                try requireMayConfigure(client, caller: caller, realm: realm)
                return try await action(request, context, realm, client)
            }
            clients.post("{id}/\(name)", use: run)
            clients.delete("{id}/\(name)", use: run)
        }
        addRoleContainerRoutes(clients.group("{id}/roles"), view: .viewClients, manage: .manageClients) { context, realm in
            try await clientInPath(context, realm: realm, parameter: "id")
        }
    }

    func clientInPath(_ request: Request, _ context: KeyportRequestContext, _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, Client) {
        let (caller, realm) = try await authorize(request, context, permission)
        return (caller, realm, try await clientInPath(context, realm: realm, parameter: "id"))
    }

    /// `notFound`: Keycloak's words differ by route (`clients/{id}`: "Could not find client";
    /// a role mapping's `clients/{client}`: "Client not found").
    func clientInPath(_ context: KeyportRequestContext, realm: Realm, parameter: String, notFound: String = "Could not find client") async throws -> Client {
        guard let id = context.pathParameter(parameter), let client = try await store.client(id: id, realmId: realm.id) else {
            throw AdminError.notFound(notFound)
        }
        return client
    }

    func newSecret() -> Sensitive { provisioning.newSecret() }

    /// Keycloak's full answer for a client: with its default and optional client scopes by name,
    /// and a confidential client's secret for callers who may read it anyway (manage-clients,
    /// through `client-secret`); Keycloak shows it to view-clients too, Keyport does not.
    /// Automation that compares what it wants with what it reads (Ansible) needs it.
    func clientRepresentation(_ client: Client, realm: Realm, caller: AdminPrincipal) async throws -> ClientRepresentation {
        var rep = ClientRepresentation(client, scopes: try await store.clientScopes(ofClient: client.id, realmId: realm.id))
        if !client.publicClient, caller.may(.manageClients, in: realm) { rep.secret = client.secret?.revealed }
        return rep
    }

    /// Scope names as a request gives them: at most `ClientScope.limitPerRealm`, each a valid name.
    static func scopeNames(_ names: [String]?) throws -> [String]? {
        guard let names else { return nil }
        guard names.count <= ClientScope.limitPerRealm else { throw AdminError.badRequest("Too many client scopes") }
        return try names.map { try Validate.clientScopeName($0) }
    }

    func createClient(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageClients)
        let rep = try await decode(ClientRepresentation.self, request, context)
        let clientId = try Validate.clientId(rep.clientId)
        var id = environment.newID()
        if let given = rep.id, !given.isEmpty {
            try Validate.plain(given, what: "Client id")
            id = given
        }
        var notices: [String] = []
        let client = try provision {
            try provisioning.newClient(rep, id: id, realmId: realm.id, clientId: clientId, createdAt: environment.now(), notices: &notices)
        }
        for notice in notices { context.logger.notice("\(notice)", metadata: ["realm": .string(realm.name)]) }
        var changes: [StoreChange] = [.createClient(client)]
        // Named scopes replace the realm's defaults (Keycloak's rule for a new client).
        if rep.defaultClientScopes != nil || rep.optionalClientScopes != nil {
            changes.append(.setClientScopes(clientId: client.id, realmId: realm.id, defaults: try Self.scopeNames(rep.defaultClientScopes),
                                            optionals: try Self.scopeNames(rep.optionalClientScopes)))
        }
        changes += try await serviceAccountChanges(for: client, realm: realm)
        try await AdminError.naming(client.clientId) { try await store.apply(changes) }
        return created(request, client.id)
    }

    func updateClient(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, existing) = try await clientInPath(request, context, .manageClients)
        try requireMayConfigure(existing, caller: caller, realm: realm)
        let rep = try await decode(ClientRepresentation.self, request, context)
        // Checked on the client as read; merged again into the row inside the transaction, so a
        // concurrent change of other fields survives.
        var client = existing
        try merge(rep, into: &client)
        var changes: [StoreChange] = [.updateClient(id: existing.id, realmId: realm.id) { current in try merge(rep, into: &current) }]
        if let account = try await store.serviceAccountUser(clientId: existing.id, realmId: realm.id) {
            let username = ServiceAccounts.username(for: client)
            let enabled = client.serviceAccountsEnabled
            if username != account.username || enabled != account.enabled {
                changes.append(.updateUser(id: account.id, realmId: realm.id) { user in
                    user.username = username
                    user.enabled = enabled
                })
            }
        } else {
            changes += try await serviceAccountChanges(for: client, realm: realm)
        }
        try await store.apply(changes)
        return noContent
    }

    /// A rename (built-in clients keep their names) and the other fields of `rep`, checked.
    func merge(_ rep: ClientRepresentation, into client: inout Client) throws {
        if let clientId = rep.clientId, clientId != client.clientId {
            if [BuiltInRoles.realmManagementClient, BuiltInRoles.adminCLIClient].contains(client.clientId) {
                throw AdminError.badRequest("The built-in client \(client.clientId) cannot be renamed")
            }
            client.clientId = try Validate.clientId(clientId)
        }
        try apply(rep, to: &client)
    }

    /// The hidden service-account user a client with `serviceAccountsEnabled` acts as.
    func serviceAccountChanges(for client: Client, realm: Realm) async throws -> [StoreChange] {
        guard client.serviceAccountsEnabled, !client.publicClient else { return [] }
        let user = ServiceAccounts.user(for: client, id: environment.newID(), createdAt: environment.now())
        return [.createUser(Provisioning.newUserSeed(user, defaultRoleId: try await defaultRoleId(realm)))]
    }

    func apply(_ rep: ClientRepresentation, to client: inout Client) throws {
        try provision { try provisioning.merge(rep, into: &client) }
    }
}

// MARK: Handlers

extension AdminAPI {
    func listClients(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .viewClients)
        let query = FormParameters.query(of: request)
        var list = try await store.clients(realmId: realm.id, page: .all)
        if let clientId = query["clientId"], !clientId.isEmpty {
            if try bool(request, "search") ?? false {
                list = list.filter { $0.clientId.localizedCaseInsensitiveContains(clientId) }
            } else {
                list = list.filter { $0.clientId == clientId }
            }
        }
        let page = try page(request)
        var reps: [ClientRepresentation] = []
        for client in list.dropFirst(page.first).prefix(page.max) { reps.append(try await clientRepresentation(client, realm: realm, caller: caller)) }
        return try JSONBody.response(reps)
    }

    func getClient(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, client) = try await clientInPath(request, context, .viewClients)
        return try JSONBody.response(try await clientRepresentation(client, realm: realm, caller: caller))
    }

    func deleteClient(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, client) = try await clientInPath(request, context, .manageClients)
        try requireMayConfigure(client, caller: caller, realm: realm)
        if [BuiltInRoles.realmManagementClient, BuiltInRoles.adminCLIClient].contains(client.clientId) {
            throw AdminError.badRequest("The built-in client \(client.clientId) cannot be deleted")
        }
        try await store.deleteClient(id: client.id, realmId: realm.id)
        return noContent
    }

    func getClientSecret(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, _, client) = try await clientInPath(request, context, .manageClients)
        guard !client.publicClient, let secret = client.secret else { throw AdminError.badRequest("The client has no secret: it is public") }
        return try JSONBody.response(["type": "secret", "value": secret.revealed])
    }

    func regenerateClientSecret(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, existing) = try await clientInPath(request, context, .manageClients)
        try requireMayConfigure(existing, caller: caller, realm: realm)
        guard !existing.publicClient else { throw AdminError.badRequest("The client has no secret: it is public") }
        let secret = newSecret()
        var changes: [StoreChange] = [.updateClient(id: existing.id, realmId: realm.id) { client in
            guard !client.publicClient else { throw AdminError.badRequest("The client has no secret: it is public") }
            client.secret = secret
        }]
        // What the old secret opened closes with it: the service account's sessions and its
        // personal access tokens (a leaked secret must not leave a credential behind).
        if let account = try await store.serviceAccountUser(clientId: existing.id, realmId: realm.id) {
            let now = environment.now()
            changes += [.updateUser(id: account.id, realmId: realm.id) { $0.notBefore = max($0.notBefore, now) },
                        .deleteSessions(userId: account.id, realmId: realm.id),
                        .deletePersonalAccessTokens(userId: account.id, realmId: realm.id)]
        }
        try await store.apply(changes)
        return try JSONBody.response(["type": "secret", "value": secret.revealed])
    }

    func getServiceAccountUser(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, client) = try await clientInPath(request, context, .viewClients)
        guard client.serviceAccountsEnabled,
              let user = try await store.serviceAccountUser(clientId: client.id, realmId: realm.id)
        else { throw AdminError.badRequest("Service account not enabled for the client '\(client.clientId)'") }
        return try JSONBody.response(try await userRepresentation(user, realm: realm))
    }

    func getInstallation(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, client) = try await clientInPath(request, context, .viewClients)
        let id = context.pathParameter("providerId") ?? ""
        if id == Self.keycloakJSONProvider {
            return try JSONBody.response(keycloakJSON(client, realm: realm, withSecret: caller.may(.manageClients, in: realm)))
        }
        guard let provider = extensions.installationProviders[id] else { throw AdminError.notFound("Unknown Provider") }
        return try await provider(realm, client)
    }

    static let keycloakJSONProvider = "keycloak-oidc-keycloak-json"

    /// Keycloak's adapter file for an OpenID Connect client (`keycloak.json`). It carries a
    /// confidential client's secret only for callers who may read that secret anyway
    /// (manage-clients; Keycloak gives it to view-clients too).
    func keycloakJSON(_ client: Client, realm: Realm, withSecret: Bool) throws -> JSONValue {
        guard client.protocolName == .openIDConnect else {
            throw AdminError.badRequest("The \(Self.keycloakJSONProvider) installation is for openid-connect clients; \(client.clientId) is \(client.protocolName.rawValue)")
        }
        var file: [String: JSONValue] = [
            "realm": .string(realm.name), "auth-server-url": .string(issuer.baseURL + "/"), "ssl-required": "external",
            "resource": .string(client.clientId), "confidential-port": 0,
        ]
        if client.publicClient {
            file["public-client"] = true
        } else if client.attributes["bearer-only"] == "true" {
            file["bearer-only"] = true
        } else if withSecret, let secret = client.secret {
            file["credentials"] = ["secret": .string(secret.revealed)]
        }
        return .object(file)
    }
}
