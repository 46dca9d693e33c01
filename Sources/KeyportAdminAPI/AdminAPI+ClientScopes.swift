import Foundation
import Hummingbird
import KeycloakRepresentations
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore

/// Keycloak's client scopes: CRUD, their protocol mappers, their role scope mappings, the
/// realm's default and optional scopes for new clients, and each client's own assignments
/// (with clients' protocol mappers and scope mappings, which have the same shape). Reading
/// needs view-clients, changing manage-clients, as in Keycloak.
extension AdminAPI {
    func addClientScopeRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        let scopes = admin.group("realms/{realm}/client-scopes")
        scopes.get(use: listClientScopes)
        scopes.post(use: createClientScope)
        scopes.get("{id}", use: getClientScope)
        scopes.put("{id}", use: updateClientScope)
        scopes.delete("{id}", use: deleteClientScope)
        addScopeMappingRoutes(scopes) { request, context, permission in
            let (caller, realm, scope) = try await clientScopeInPath(request, context, permission)
            return (caller, realm, .clientScope(scope))
        }
        addScopeMappingRoutes(admin.group("realms/{realm}/clients")) { request, context, permission in
            let (caller, realm, client) = try await clientInPath(request, context, permission)
            return (caller, realm, .client(client))
        }
        addProtocolMapperRoutes(scopes, container: ProtocolMapperContainer(
            read: { context, realm in try await clientScopeInPath(context, realm: realm).protocolMappers },
            write: { context, realm, _, change in
                let scope = try await clientScopeInPath(context, realm: realm)
                try await store.apply([.updateClientScope(id: scope.id, realmId: realm.id) { try change(&$0.protocolMappers) }])
            }))
        addProtocolMapperRoutes(admin.group("realms/{realm}/clients"), container: ProtocolMapperContainer(
            read: { context, realm in try await clientInPath(context, realm: realm, parameter: "id").protocolMappers },
            write: { context, realm, caller, change in
                let client = try await clientInPath(context, realm: realm, parameter: "id")
                // The built-in administration clients are reshaped only by whom may configure them.
                try requireMayConfigure(client, caller: caller, realm: realm)
                try await store.apply([.updateClient(id: client.id, realmId: realm.id) { try change(&$0.protocolMappers) }])
            }))

        for (path, isDefault) in [("default-default-client-scopes", true), ("default-optional-client-scopes", false)] {
            admin.get("realms/{realm}/\(path)") { request, context in try await listRealmClientScopes(request, context, isDefault: isDefault) }
            admin.put("realms/{realm}/\(path)/{scopeId}") { request, context in
                try await changeRealmClientScope(request, context, isDefault: isDefault, assign: true)
            }
            admin.delete("realms/{realm}/\(path)/{scopeId}") { request, context in
                try await changeRealmClientScope(request, context, isDefault: isDefault, assign: false)
            }
        }
        for (path, isDefault) in [("default-client-scopes", true), ("optional-client-scopes", false)] {
            admin.get("realms/{realm}/clients/{id}/\(path)") { request, context in try await listClientsClientScopes(request, context, isDefault: isDefault) }
            admin.put("realms/{realm}/clients/{id}/\(path)/{scopeId}") { request, context in
                try await changeClientsClientScope(request, context, isDefault: isDefault, assign: true)
            }
            admin.delete("realms/{realm}/clients/{id}/\(path)/{scopeId}") { request, context in
                try await changeClientsClientScope(request, context, isDefault: isDefault, assign: false)
            }
        }
    }

    func clientScopeInPath(_ request: Request, _ context: KeyportRequestContext, _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, ClientScope) {
        let (caller, realm) = try await authorize(request, context, permission)
        return (caller, realm, try await clientScopeInPath(context, realm: realm))
    }

    /// Keycloak's words: `client-scopes/{id}`, "Could not find client scope"; an assignment's
    /// `{scopeId}`, "Client scope not found".
    func clientScopeInPath(_ context: KeyportRequestContext, realm: Realm, parameter: String = "id") async throws -> ClientScope {
        guard let id = context.pathParameter(parameter), id.utf8.count <= 255, let scope = try await store.clientScope(id: id, realmId: realm.id) else {
            throw AdminError.notFound(parameter == "scopeId" ? "Client scope not found" : "Could not find client scope")
        }
        return scope
    }

    /// The fields of `rep` merged into `scope`, checked.
    func merge(_ rep: ClientScopeRepresentation, into scope: inout ClientScope) throws {
        if let name = rep.name { scope.name = try Validate.clientScopeName(name) }
        if let v = rep.description { scope.description = try Validate.optionalText(v, what: "description") }
        if let v = rep.protocol {
            guard v == ClientProtocol.openIDConnect.rawValue || v == "saml" else {
                throw AdminError.badRequest("Unsupported protocol '\(String(v.prefix(64)))' for a client scope: use openid-connect")
            }
            scope.protocolName = v
        }
        if let v = rep.attributes { scope.attributes = try Validate.singleAttributes(v) }
        if let v = rep.protocolMappers { scope.protocolMappers = try Validate.protocolMappers(v, newID: environment.newID) }
    }
}

// MARK: Handlers

extension AdminAPI {
    func listClientScopes(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewClients)
        return try JSONBody.response(try await store.clientScopes(realmId: realm.id).map(ClientScopeRepresentation.init))
    }

    func getClientScope(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, _, scope) = try await clientScopeInPath(request, context, .viewClients)
        return try JSONBody.response(ClientScopeRepresentation(scope))
    }

    func createClientScope(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageClients)
        let rep = try await decode(ClientScopeRepresentation.self, request, context)
        guard let name = rep.name else { throw AdminError.badRequest("Client scope name is required") }
        var scope = ClientScope(id: environment.newID(), realmId: realm.id, name: try Validate.clientScopeName(name))
        if let id = rep.id, !id.isEmpty {
            try Validate.plain(id, what: "Client scope id")
            scope.id = id
        }
        try merge(rep, into: &scope)
        try await AdminError.naming(scope.name) { try await store.apply([.createClientScope(scope)]) }
        return created(request, scope.id)
    }

    func updateClientScope(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, existing) = try await clientScopeInPath(request, context, .manageClients)
        let rep = try await decode(ClientScopeRepresentation.self, request, context)
        var checked = existing
        try merge(rep, into: &checked)
        let result = checked
        try await AdminError.naming(result.name) {
            try await store.apply([.updateClientScope(id: existing.id, realmId: realm.id) { scope in
                scope.name = result.name
                scope.description = result.description
                scope.protocolName = result.protocolName
                scope.attributes = result.attributes
                scope.protocolMappers = result.protocolMappers
            }])
        }
        return noContent
    }

    func deleteClientScope(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, scope) = try await clientScopeInPath(request, context, .manageClients)
        try await store.apply([.deleteClientScope(id: scope.id, realmId: realm.id)])
        return noContent
    }

    /// Keycloak lists assigned scopes as `{id, name}`.
    func briefScopes(_ scopes: [AssignedClientScope], isDefault: Bool) -> JSONValue {
        .array(scopes.filter { $0.isDefault == isDefault }.map { ["id": .string($0.scope.id), "name": .string($0.scope.name)] })
    }

    func listRealmClientScopes(_ request: Request, _ context: KeyportRequestContext, isDefault: Bool) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewClients)
        return try JSONBody.response(briefScopes(try await store.realmClientScopes(realmId: realm.id), isDefault: isDefault))
    }

    /// A scope the realm gives new clients: PUT adds it (or moves it between default and
    /// optional), DELETE removes it. The realm's settings, so manage-realm.
    func changeRealmClientScope(_ request: Request, _ context: KeyportRequestContext, isDefault: Bool, assign: Bool) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageRealm)
        let scope = try await clientScopeInPath(context, realm: realm, parameter: "scopeId")
        try await store.apply([assign ? .assignRealmClientScope(scopeId: scope.id, realmId: realm.id, isDefault: isDefault)
                                      : .unassignRealmClientScope(scopeId: scope.id, realmId: realm.id, isDefault: isDefault)])
        return noContent
    }

    func listClientsClientScopes(_ request: Request, _ context: KeyportRequestContext, isDefault: Bool) async throws -> Response {
        let (_, realm, client) = try await clientInPath(request, context, .viewClients)
        return try JSONBody.response(briefScopes(try await store.clientScopes(ofClient: client.id, realmId: realm.id), isDefault: isDefault))
    }

    func changeClientsClientScope(_ request: Request, _ context: KeyportRequestContext, isDefault: Bool, assign: Bool) async throws -> Response {
        let (caller, realm, client) = try await clientInPath(request, context, .manageClients)
        try requireMayConfigure(client, caller: caller, realm: realm)
        let scope = try await clientScopeInPath(context, realm: realm, parameter: "scopeId")
        try await store.apply([assign ? .assignClientScope(scopeId: scope.id, clientId: client.id, realmId: realm.id, isDefault: isDefault)
                                      : .unassignClientScope(scopeId: scope.id, clientId: client.id, realmId: realm.id, isDefault: isDefault)])
        return noContent
    }
}

/// Where protocol mappers live (a client scope, a client): how to read them and change them
/// inside the owner's write transaction.
struct ProtocolMapperContainer: Sendable {
    let read: @Sendable (KeyportRequestContext, Realm) async throws -> [ProtocolMapper]
    let write: @Sendable (KeyportRequestContext, Realm, AdminPrincipal, @escaping @Sendable (inout [ProtocolMapper]) throws -> Void) async throws -> Void
}

extension AdminAPI {
    /// Keycloak's `…/protocol-mappers/models` routes for one kind of owner. Mappers are kept
    /// in their owner's row, so each change is a read-modify-write of that row.
    func addProtocolMapperRoutes(_ group: RouterGroup<KeyportRequestContext>, container: ProtocolMapperContainer) {
        group.get("{id}/protocol-mappers/models") { request, context in
            let (_, realm) = try await authorize(request, context, .viewClients)
            return try JSONBody.response(try await container.read(context, realm))
        }
        group.get("{id}/protocol-mappers/models/{mapperId}") { request, context in
            let (_, realm) = try await authorize(request, context, .viewClients)
            let id = context.pathParameter("mapperId") ?? ""
            guard let mapper = try await container.read(context, realm).first(where: { $0.id == id }) else {
                throw AdminError.notFound("Model not found")
            }
            return try JSONBody.response(mapper)
        }
        group.get("{id}/protocol-mappers/protocol/{protocol}") { request, context in
            let (_, realm) = try await authorize(request, context, .viewClients)
            let proto = context.pathParameter("protocol") ?? ""
            return try JSONBody.response(try await container.read(context, realm).filter { $0.protocol == proto })
        }
        group.post("{id}/protocol-mappers/models") { request, context in
            let (caller, realm) = try await authorize(request, context, .manageClients)
            _ = try await container.read(context, realm)  // the owner first: a missing one is its 404
            let mapper = try Self.checkedMapper(try await decode(ProtocolMapperInput.self, request, context).mapper, newID: environment.newID)
            try await container.write(context, realm, caller) { mappers in try Self.add([mapper], to: &mappers) }
            return created(request, mapper.id ?? "")
        }
        group.post("{id}/protocol-mappers/add-models") { request, context in
            let (caller, realm) = try await authorize(request, context, .manageClients)
            _ = try await container.read(context, realm)
            let added = try await decode([ProtocolMapperInput].self, request, context).map { try Self.checkedMapper($0.mapper, newID: environment.newID) }
            try await container.write(context, realm, caller) { mappers in try Self.add(added, to: &mappers) }
            return noContent
        }
        group.put("{id}/protocol-mappers/models/{mapperId}") { request, context in
            let (caller, realm) = try await authorize(request, context, .manageClients)
            let id = context.pathParameter("mapperId") ?? ""
            // The mapper first: a missing one is Keycloak's 404 whatever the body.
            guard try await container.read(context, realm).contains(where: { $0.id == id }) else { throw AdminError.notFound("Model not found") }
            var mapper = try Self.checkedMapper(try await decode(ProtocolMapperInput.self, request, context).mapper, newID: environment.newID)
            mapper.id = id
            let replacement = mapper
            try await container.write(context, realm, caller) { mappers in
                guard let index = mappers.firstIndex(where: { $0.id == id }) else { throw AdminError.notFound("Model not found") }
                guard !mappers.contains(where: { $0.id != id && $0.name == replacement.name }) else {
                    throw AdminError.conflict("Protocol mapper exists with same name")
                }
                mappers[index] = replacement
            }
            return noContent
        }
        group.delete("{id}/protocol-mappers/models/{mapperId}") { request, context in
            let (caller, realm) = try await authorize(request, context, .manageClients)
            let id = context.pathParameter("mapperId") ?? ""
            try await container.write(context, realm, caller) { mappers in
                guard let index = mappers.firstIndex(where: { $0.id == id }) else { throw AdminError.notFound("Model not found") }
                mappers.remove(at: index)
            }
            return noContent
        }
    }

    /// One mapper as sent, checked; without a type it is Keycloak's 404 (no such provider).
    static func checkedMapper(_ mapper: ProtocolMapper, newID: () -> String) throws -> ProtocolMapper {
        guard !mapper.protocolMapper.isEmpty else { throw AdminError.notFound("ProtocolMapper provider not found") }
        return try Validate.protocolMappers([mapper], newID: newID)[0]
    }

    /// Adds mappers, refusing a name already present (Keycloak's rule) and past the limit.
    static func add(_ new: [ProtocolMapper], to mappers: inout [ProtocolMapper]) throws {
        for mapper in new {
            guard !mappers.contains(where: { $0.name == mapper.name }) else {
                throw AdminError.conflict("Protocol mapper exists with same name")
            }
            mappers.append(mapper)
        }
        guard mappers.count <= ClientScope.maxProtocolMappers else {
            throw AdminError.badRequest("At most \(ClientScope.maxProtocolMappers) protocol mappers are allowed")
        }
    }
}

/// A protocol mapper as sent: Keycloak's representation, checked against its fields first.
struct ProtocolMapperInput: Decodable, KeycloakShaped {
    static var keycloakShape: KeycloakShape { .protocolMapper }
    let mapper: ProtocolMapper

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        mapper = ProtocolMapper(id: try c.decodeIfPresent(String.self, forKey: .id),
                                name: try c.decodeIfPresent(String.self, forKey: .name) ?? "",
                                protocol: try c.decodeIfPresent(String.self, forKey: .protocol) ?? ClientProtocol.openIDConnect.rawValue,
                                protocolMapper: try c.decodeIfPresent(String.self, forKey: .protocolMapper) ?? "",
                                config: try c.decodeIfPresent([String: ScalarText?].self, forKey: .config)?.compactMapValues { $0?.text } ?? [:])
    }

    enum Keys: String, CodingKey { case id, name, `protocol`, protocolMapper, config }
}
