import KeycloakRepresentations
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore

/// Role mappings of users and groups, and role scope mappings of client scopes and clients
/// (`scope-mappings`: which roles their tokens may carry): the same routes and rules for all.
extension AdminAPI {
    enum Holder {
        case user(User)
        case group(GroupNode)
        case clientScope(ClientScope)
        case client(Client)
    }

    /// The caller (holding a permission), the realm and the holder the path names.
    typealias HolderLookup = @Sendable (Request, KeyportRequestContext, AdminPermission) async throws -> (AdminPrincipal, Realm, Holder)

    func addUserRoleMappingRoutes(_ users: RouterGroup<KeyportRequestContext>) {
        addRoleMappingRoutes(users) { request, context, permission in
            let (caller, realm, user) = try await userInPath(request, context, permission)
            return (caller, realm, .user(user))
        }
    }

    func addGroupRoleMappingRoutes(_ groups: RouterGroup<KeyportRequestContext>) {
        addRoleMappingRoutes(groups) { request, context, permission in
            let (caller, realm, group) = try await groupInPath(request, context, permission)
            return (caller, realm, .group(group))
        }
    }

    /// Scope mappings of client scopes (`client-scopes/{id}/scope-mappings`) and clients
    /// (`clients/{id}/scope-mappings`). They only narrow what tokens carry — a token never holds
    /// a role its user lacks — so they are the clients' administrators' (view- and manage-clients).
    func addScopeMappingRoutes(_ group: RouterGroup<KeyportRequestContext>, holder: @escaping HolderLookup) {
        addRoleMappingRoutes(group, segment: "scope-mappings") { request, context, permission in
            try await holder(request, context, permission == .viewUsers ? .viewClients : .manageClients)
        }
    }

    private func addRoleMappingRoutes(
        _ group: RouterGroup<KeyportRequestContext>, segment: String = "role-mappings",
        holder: @escaping HolderLookup
    ) {
        group.get("{id}/\(segment)") { request, context in try await listRoleMappings(request, context, holder: holder) }
        group.get("{id}/\(segment)/realm") { request, context in try await listRealmRoleMappings(request, context, holder: holder) }
        group.get("{id}/\(segment)/realm/composite") { request, context in try await listEffectiveRealmRoles(request, context, holder: holder) }
        group.get("{id}/\(segment)/realm/available") { request, context in try await listAvailableRealmRoles(request, context, holder: holder) }
        group.post("{id}/\(segment)/realm") { request, context in try await grantRealmRoles(request, context, holder: holder) }
        group.delete("{id}/\(segment)/realm") { request, context in try await revokeRealmRoles(request, context, holder: holder) }
        group.get("{id}/\(segment)/clients/{client}") { request, context in try await listClientRoleMappings(request, context, holder: holder) }
        group.get("{id}/\(segment)/clients/{client}/composite") { request, context in try await listEffectiveClientRoles(request, context, holder: holder) }
        group.get("{id}/\(segment)/clients/{client}/available") { request, context in try await listAvailableClientRoles(request, context, holder: holder) }
        group.post("{id}/\(segment)/clients/{client}") { request, context in try await grantClientRoles(request, context, holder: holder) }
        group.delete("{id}/\(segment)/clients/{client}") { request, context in try await revokeClientRoles(request, context, holder: holder) }
    }

    /// Keycloak's "available": the container's roles (the realm's for nil, else that client's)
    /// that `holder` does not hold *directly* and `caller` may map (Keycloak's `canMapRole`).
    func available(to holder: Holder, clientId: String?, realm: Realm, caller: AdminPrincipal) async throws -> [Role] {
        let held = Set(try await direct(holder, realm).map(\.id))
        var result: [Role] = []
        for role in try await store.roles(realmId: realm.id, clientId: clientId, search: nil, page: .all) where !held.contains(role.id) {
            if (try? await requireMayGrant([role], caller: caller, realm: realm)) != nil { result.append(role) }
        }
        return result
    }

    func direct(_ holder: Holder, _ realm: Realm) async throws -> [Role] {
        switch holder {
        case .user(let u): try await store.userRoles(userId: u.id, realmId: realm.id)
        case .group(let g): try await store.groupRoles(groupId: g.group.id, realmId: realm.id)
        case .clientScope(let s): try await store.scopeRoles(of: .clientScope(s.id), realmId: realm.id)
        case .client(let c): try await store.scopeRoles(of: .client(c.id), realmId: realm.id)
        }
    }

    /// For a user: everything effective (groups, composites). For a group: its roles with composites expanded.
    func effective(_ holder: Holder, _ realm: Realm) async throws -> [Role] {
        switch holder {
        case .user(let u):
            return try await store.effectiveRoles(userId: u.id, realmId: realm.id)
        case .group, .clientScope, .client:
            let all = try await closure(of: try await direct(holder, realm), realm: realm)
            return all.sorted { ($0.clientId ?? "", $0.name) < ($1.clientId ?? "", $1.name) }
        }
    }

    func grant(_ holder: Holder, _ roles: [Role], _ realm: Realm) async throws {
        switch holder {
        case .user(let u): try await store.grantUserRoles(userId: u.id, roleIds: roles.map(\.id), realmId: realm.id)
        case .group(let g): try await store.grantGroupRoles(groupId: g.group.id, roleIds: roles.map(\.id), realmId: realm.id)
        case .clientScope(let s): try await store.apply([.addScopeRoles(.clientScope(s.id), roleIds: roles.map(\.id), realmId: realm.id)])
        case .client(let c): try await store.apply([.addScopeRoles(.client(c.id), roleIds: roles.map(\.id), realmId: realm.id)])
        }
    }

    func revoke(_ holder: Holder, _ roles: [Role], _ realm: Realm) async throws {
        guard !roles.isEmpty else { return }
        switch holder {
        case .user(let u): try await store.revokeUserRoles(userId: u.id, roleIds: roles.map(\.id), realmId: realm.id)
        case .group(let g): try await store.revokeGroupRoles(groupId: g.group.id, roleIds: roles.map(\.id), realmId: realm.id)
        case .clientScope(let s): try await store.apply([.removeScopeRoles(.clientScope(s.id), roleIds: roles.map(\.id), realmId: realm.id)])
        case .client(let c): try await store.apply([.removeScopeRoles(.client(c.id), roleIds: roles.map(\.id), realmId: realm.id)])
        }
    }

    /// Keycloak resolves mapped roles by name within the realm (or the client) and checks
    /// that an `id`, when given, is that role's.
    func resolveMappings(_ request: Request, _ context: KeyportRequestContext, realm: Realm, clientId: String?) async throws -> [Role] {
        let reps = try await decode([RoleRepresentation].self, request, context)
        var roles: [Role] = []
        for rep in reps {
            var role: Role?
            if let name = rep.name {
                role = try await store.role(named: name, realmId: realm.id, clientId: clientId)
                if let id = rep.id, role?.id != id { role = nil }
            } else if let id = rep.id {
                role = try await store.role(id: id, realmId: realm.id)
                if role?.clientId != clientId { role = nil }
            }
            guard let role else { throw AdminError.notFound("Could not find role") }
            roles.append(role)
        }
        return roles
    }

    func representations(_ roles: [Role], realm: Realm) async throws -> [RoleRepresentation] {
        let composite = try await store.compositeRoleIds(among: roles.map(\.id))
        return roles.map { RoleRepresentation($0, composite: composite.contains($0.id)) }
    }
}

extension AdminAPI {
    func listRoleMappings(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (_, realm, h) = try await holder(request, context, .viewUsers)
        let roles = try await direct(h, realm)
        var clientMappings: [String: JSONValue] = [:]
        for (ownerId, owned) in Dictionary(grouping: roles.filter(\.isClientRole), by: { $0.clientId! }) {
            let client = try await store.client(id: ownerId, realmId: realm.id)
            clientMappings[client?.clientId ?? ownerId] = [
                "id": .string(ownerId), "client": .string(client?.clientId ?? ownerId),
                "mappings": try JSONValue.from(try await representations(owned, realm: realm)),
            ]
        }
        // Keycloak leaves out what is empty: `{}` for a holder with no mappings.
        var body: JSONValue = [:]
        let realmRoles = roles.filter { !$0.isClientRole }
        if !realmRoles.isEmpty { body["realmMappings"] = try JSONValue.from(try await representations(realmRoles, realm: realm)) }
        if !clientMappings.isEmpty { body["clientMappings"] = .object(clientMappings) }
        return try JSONBody.response(body)
    }

    func listRealmRoleMappings(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (_, realm, h) = try await holder(request, context, .viewUsers)
        return try JSONBody.response(try await representations(try await direct(h, realm).filter { !$0.isClientRole }, realm: realm))
    }

    func listEffectiveRealmRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (_, realm, h) = try await holder(request, context, .viewUsers)
        return try JSONBody.response(try await representations(try await effective(h, realm).filter { !$0.isClientRole }, realm: realm))
    }

    /// Keycloak's "available": the realm's roles the holder does not hold directly and the caller
    /// may map (what a mapping could still add; Ansible's role-mapping modules ask it).
    func listAvailableRealmRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (caller, realm, h) = try await holder(request, context, .viewUsers)
        return try JSONBody.response(try await representations(try await available(to: h, clientId: nil, realm: realm, caller: caller), realm: realm))
    }

    func grantRealmRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (caller, realm, h) = try await holder(request, context, .manageUsers)
        let roles = try await resolveMappings(request, context, realm: realm, clientId: nil)
        try await requireMayGrant(roles, caller: caller, realm: realm)
        try await grant(h, roles, realm)
        return noContent
    }

    func revokeRealmRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (caller, realm, h) = try await holder(request, context, .manageUsers)
        let roles = try await resolveMappings(request, context, realm: realm, clientId: nil)
        // Taking an administration role away is as guarded as giving it (Keycloak: requireMapRole).
        try await requireMayGrant(roles, caller: caller, realm: realm)
        try await revoke(h, roles, realm)
        return noContent
    }

    func listClientRoleMappings(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (_, realm, h) = try await holder(request, context, .viewUsers)
        let client = try await clientInPath(context, realm: realm, parameter: "client", notFound: "Client not found")
        return try JSONBody.response(try await representations(try await direct(h, realm).filter { $0.clientId == client.id }, realm: realm))
    }

    func listEffectiveClientRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (_, realm, h) = try await holder(request, context, .viewUsers)
        let client = try await clientInPath(context, realm: realm, parameter: "client", notFound: "Client not found")
        return try JSONBody.response(try await representations(try await effective(h, realm).filter { $0.clientId == client.id }, realm: realm))
    }

    /// As `listAvailableRealmRoles`, for one client's roles.
    func listAvailableClientRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (caller, realm, h) = try await holder(request, context, .viewUsers)
        let client = try await clientInPath(context, realm: realm, parameter: "client", notFound: "Client not found")
        return try JSONBody.response(try await representations(try await available(to: h, clientId: client.id, realm: realm, caller: caller), realm: realm))
    }

    func grantClientRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (caller, realm, h) = try await holder(request, context, .manageUsers)
        let client = try await clientInPath(context, realm: realm, parameter: "client", notFound: "Client not found")
        let roles = try await resolveMappings(request, context, realm: realm, clientId: client.id)
        try await requireMayGrant(roles, caller: caller, realm: realm)
        try await grant(h, roles, realm)
        return noContent
    }

    func revokeClientRoles(_ request: Request, _ context: KeyportRequestContext, holder: HolderLookup) async throws -> Response {
        let (caller, realm, h) = try await holder(request, context, .manageUsers)
        let client = try await clientInPath(context, realm: realm, parameter: "client", notFound: "Client not found")
        let roles = try await resolveMappings(request, context, realm: realm, clientId: client.id)
        try await requireMayGrant(roles, caller: caller, realm: realm)
        try await revoke(h, roles, realm)
        return noContent
    }
}
