import KeycloakRepresentations
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportModel
import KeyportStore

/// A role container — the realm, or one client — with the permissions its routes need.
struct RoleContainer: Sendable {
    let api: AdminAPI
    let view: AdminPermission
    let manage: AdminPermission
    /// The client whose roles the request names (nil: the realm's roles).
    let client: @Sendable (KeyportRequestContext, Realm) async throws -> Client?

    /// The caller (holding `permission`), the realm and the container.
    func scope(_ request: Request, _ context: KeyportRequestContext, _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, Client?) {
        let (caller, realm) = try await api.authorize(request, context, permission)
        return (caller, realm, try await client(context, realm))
    }

    /// As `scope`, with the role the path names.
    func named(_ request: Request, _ context: KeyportRequestContext, _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, Client?, Role) {
        let (caller, realm, client) = try await scope(request, context, permission)
        guard let name = context.pathParameter("roleName"),
              let role = try await api.store.role(named: name, realmId: realm.id, clientId: client?.id)
        else { throw AdminError.notFound("Could not find role") }
        return (caller, realm, client, role)
    }
}

extension AdminAPI {
    func addRoleRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        // Realm roles.
        addRoleContainerRoutes(admin.group("realms/{realm}/roles"), view: .viewRealm, manage: .manageRealm) { _, _ in nil }
        // Roles by id, whichever container they belong to.
        let byId = admin.group("realms/{realm}/roles-by-id")
        byId.get("{roleId}", use: getRoleById)
        byId.put("{roleId}", use: updateRoleById)
        byId.delete("{roleId}", use: deleteRoleById)
        byId.get("{roleId}/composites", use: listCompositesById)
        byId.post("{roleId}/composites", use: addCompositesById)
        byId.delete("{roleId}/composites", use: removeCompositesById)
        byId.get("{roleId}/composites/realm") { request, context in try await listCompositesById(request, context, of: .realm) }
        byId.get("{roleId}/composites/clients/{client}") { request, context in try await listCompositesById(request, context, of: .client) }
    }

    /// The routes of a role container (the realm, or one client), identical for both.
    func addRoleContainerRoutes(
        _ group: RouterGroup<KeyportRequestContext>, view: AdminPermission, manage: AdminPermission,
        container client: @escaping @Sendable (KeyportRequestContext, Realm) async throws -> Client?
    ) {
        let container = RoleContainer(api: self, view: view, manage: manage, client: client)
        group.get { request, context in try await listRoles(request, context, in: container) }
        group.post { request, context in try await createRole(request, context, in: container) }
        group.get("{roleName}") { request, context in try await getRoleByName(request, context, in: container) }
        group.put("{roleName}") { request, context in try await updateRoleByName(request, context, in: container) }
        group.delete("{roleName}") { request, context in try await deleteRoleByName(request, context, in: container) }
        group.get("{roleName}/composites") { request, context in try await listCompositesByName(request, context, in: container) }
        group.post("{roleName}/composites") { request, context in try await addCompositesByName(request, context, in: container) }
        group.delete("{roleName}/composites") { request, context in try await removeCompositesByName(request, context, in: container) }
        group.get("{roleName}/users") { request, context in try await listRoleUsers(request, context, in: container) }
        group.get("{roleName}/groups") { request, context in try await listRoleGroups(request, context, in: container) }
        group.get("{roleName}/composites/realm") { request, context in try await listCompositesByName(request, context, in: container, of: .realm) }
        group.get("{roleName}/composites/clients/{client}") { request, context in
            try await listCompositesByName(request, context, in: container, of: .client)
        }
    }

    func roleById(_ request: Request, _ context: KeyportRequestContext, write: Bool) async throws -> (AdminPrincipal, Realm, Role) {
        let caller = try await principal(context)
        guard let name = context.pathParameter("realm"), let realm = try await store.realm(named: name) else {
            throw caller.isMasterAdmin ? AdminError.notFound("Realm not found.") : AdminError.forbidden
        }
        guard let id = context.pathParameter("roleId"), let role = try await store.role(id: id, realmId: realm.id) else {
            guard caller.administers(realm) else { throw AdminError.forbidden }
            throw AdminError.notFound("Could not find role with id")
        }
        let permission: AdminPermission = role.isClientRole ? (write ? .manageClients : .viewClients) : (write ? .manageRealm : .viewRealm)
        guard caller.may(permission, in: realm) else { throw AdminError.forbidden }
        return (caller, realm, role)
    }

    func updateRole(_ existing: Role, realm: Realm, caller: AdminPrincipal, _ request: Request, _ context: KeyportRequestContext) async throws {
        try await requireMayConfigure(existing, caller: caller, realm: realm)
        let rep = try await decode(RoleRepresentation.self, request, context)
        var role = existing
        let (name, description, attributes) = try provision { try provisioning.roleFields(rep) }
        if let name { role.name = name }
        if let description { role.description = description }
        if let attributes { role.attributes = attributes }
        if role.name != existing.name, !existing.isClientRole, existing.name == realm.defaultRoleName {
            throw AdminError.badRequest("The realm's default role cannot be renamed")
        }
        // A rename must not turn a role into an administration role (say, master's `admin`),
        // nor take an administration role's name away.
        if role.name != existing.name {
            try await requireMayConfigure(role, caller: caller, realm: realm)
            // An LDAP role mapper gives its container's roles by name: a new name decides which
            // directory group's members hold this role (and what it contains).
            if try await coveredByDirectoryRoleMapper(existing, realm: realm) {
                try await requireMayGrant([existing], caller: caller, realm: realm)
            }
            if try await isBuiltInAdministrationRole(existing, realm: realm) {
                throw AdminError.badRequest("The built-in administration role \(existing.name) cannot be renamed")
            }
        }
        // Only the fields given are written, onto the row as it is in the transaction.
        try await store.updateRole(id: existing.id, realmId: realm.id) { current in
            if let name { current.name = name }
            if let description { current.description = description }
            if let attributes { current.attributes = attributes }
        }
    }

    func deleteRole(_ role: Role, realm: Realm, caller: AdminPrincipal) async throws {
        try await requireMayConfigure(role, caller: caller, realm: realm)
        // Authorization is decided by these names: without them nobody administers the realm.
        if try await isBuiltInAdministrationRole(role, realm: realm) {
            throw AdminError.badRequest("The built-in administration role \(role.name) cannot be deleted")
        }
        if !role.isClientRole && role.name == realm.defaultRoleName { throw AdminError.badRequest("The realm's default role cannot be deleted") }
        try await store.deleteRole(id: role.id, realmId: realm.id)
    }

    func isBuiltInAdministrationRole(_ role: Role, realm: Realm) async throws -> Bool {
        let builtIn = Set(BuiltInRoles.realmManagementRoles.map(\.name) + [BuiltInRoles.realmAdmin, BuiltInRoles.masterAdmin, BuiltInRoles.createRealm])
        guard builtIn.contains(role.name) else { return false }
        return try await adminRoleKind(role, realm: realm) != nil
    }


    /// Composites are named by id (Keycloak), or by name as a realm role when no id is given.
    func compositeRoles(_ request: Request, _ context: KeyportRequestContext, realm: Realm) async throws -> [Role] {
        let reps = try await decode([RoleRepresentation].self, request, context)
        var roles: [Role] = []
        for rep in reps {
            var role: Role?
            if let id = rep.id { role = try await store.role(id: id, realmId: realm.id) }
            else if let name = rep.name { role = try await store.role(named: name, realmId: realm.id, clientId: nil) }
            guard let role else { throw AdminError.notFound("Could not find composite role") }
            roles.append(role)
        }
        return roles
    }

    /// Whoever holds `role` (the default role: every new user) gains the children: they are
    /// granted, so the grant rule applies to them.
    func addComposites(_ role: Role, realm: Realm, caller: AdminPrincipal, _ request: Request, _ context: KeyportRequestContext) async throws {
        try await requireMayConfigure(role, caller: caller, realm: realm)
        let children = try await compositeRoles(request, context, realm: realm)
        try await requireMayGrant(children, caller: caller, realm: realm)
        try await store.addComposites(parentId: role.id, childIds: children.map(\.id), realmId: realm.id)
    }

    func removeComposites(_ role: Role, realm: Realm, caller: AdminPrincipal, _ request: Request, _ context: KeyportRequestContext) async throws {
        try await requireMayConfigure(role, caller: caller, realm: realm)
        let children = try await compositeRoles(request, context, realm: realm)
        try await requireMayGrant(children, caller: caller, realm: realm)
        guard !children.isEmpty else { return }
        try await store.removeComposites(parentId: role.id, childIds: children.map(\.id), realmId: realm.id)
    }
}

// MARK: Handlers

extension AdminAPI {
    func getRoleById(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, role) = try await roleById(request, context, write: false)
        return try JSONBody.response(try await representations([role], realm: realm)[0])
    }

    func updateRoleById(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, role) = try await roleById(request, context, write: true)
        try await updateRole(role, realm: realm, caller: caller, request, context)
        return noContent
    }

    func deleteRoleById(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, role) = try await roleById(request, context, write: true)
        try await deleteRole(role, realm: realm, caller: caller)
        return noContent
    }

    func listCompositesById(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, role) = try await roleById(request, context, write: false)
        return try JSONBody.response(try await representations(try await store.composites(of: role.id, realmId: realm.id), realm: realm))
    }

    /// Which of a role's direct composites `composites/realm` and `composites/clients/{client}` list.
    enum CompositeContainer { case realm, client }

    func listCompositesById(_ request: Request, _ context: KeyportRequestContext, of container: CompositeContainer) async throws -> Response {
        let (_, realm, role) = try await roleById(request, context, write: false)
        return try JSONBody.response(try await composites(of: role, in: container, realm: realm, context))
    }

    func listCompositesByName(_ request: Request, _ context: KeyportRequestContext, in roles: RoleContainer,
                              of container: CompositeContainer) async throws -> Response {
        let (_, realm, _, role) = try await roles.named(request, context, roles.view)
        return try JSONBody.response(try await composites(of: role, in: container, realm: realm, context))
    }

    /// The role's direct composites that are realm roles, or roles of the client the path names.
    func composites(of role: Role, in container: CompositeContainer, realm: Realm, _ context: KeyportRequestContext) async throws -> [RoleRepresentation] {
        let all = try await store.composites(of: role.id, realmId: realm.id)
        switch container {
        case .realm:
            return try await representations(all.filter { !$0.isClientRole }, realm: realm)
        case .client:
            let client = try await clientInPath(context, realm: realm, parameter: "client")
            return try await representations(all.filter { $0.clientId == client.id }, realm: realm)
        }
    }

    func addCompositesById(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, role) = try await roleById(request, context, write: true)
        try await addComposites(role, realm: realm, caller: caller, request, context)
        return noContent
    }

    func removeCompositesById(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, role) = try await roleById(request, context, write: true)
        try await removeComposites(role, realm: realm, caller: caller, request, context)
        return noContent
    }
}

extension AdminAPI {
    func listRoles(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (_, realm, client) = try await container.scope(request, context, container.view)
        let search = FormParameters.query(of: request)["search"]
        let roles = try await store.roles(realmId: realm.id, clientId: client?.id, search: search, page: try page(request))
        var reps = try await representations(roles, realm: realm)
        // Keycloak's lists are brief unless asked otherwise: no attributes.
        if try bool(request, "briefRepresentation") ?? true {
            for i in reps.indices { reps[i].attributes = nil }
        }
        return try JSONBody.response(reps)
    }

    func createRole(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (caller, realm, client) = try await container.scope(request, context, container.manage)
        let rep = try await decode(RoleRepresentation.self, request, context)
        let role = try provision { try provisioning.newRole(rep, id: environment.newID(), realmId: realm.id, clientId: client?.id) }
        let kind = RoleGrantRule.kind(of: role, in: realm, ownerClientId: client?.clientId)
        guard RoleGrantRule.mayConfigure(kind: kind, caller: caller, realm: realm) else {
            throw AdminError(.forbidden, "You may not create the administration role '\(role.name)'")
        }
        try await AdminError.naming(role.name) { try await store.createRole(role) }
        return created(request, role.name)
    }

    func getRoleByName(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (_, realm, _, role) = try await container.named(request, context, container.view)
        return try JSONBody.response(try await representations([role], realm: realm)[0])
    }

    func updateRoleByName(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (caller, realm, _, role) = try await container.named(request, context, container.manage)
        try await updateRole(role, realm: realm, caller: caller, request, context)
        return noContent
    }

    func deleteRoleByName(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (caller, realm, _, role) = try await container.named(request, context, container.manage)
        try await deleteRole(role, realm: realm, caller: caller)
        return noContent
    }

    func listCompositesByName(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (_, realm, _, role) = try await container.named(request, context, container.view)
        return try JSONBody.response(try await representations(try await store.composites(of: role.id, realmId: realm.id), realm: realm))
    }

    func addCompositesByName(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (caller, realm, _, role) = try await container.named(request, context, container.manage)
        try await addComposites(role, realm: realm, caller: caller, request, context)
        return noContent
    }

    func removeCompositesByName(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (caller, realm, _, role) = try await container.named(request, context, container.manage)
        try await removeComposites(role, realm: realm, caller: caller, request, context)
        return noContent
    }

    func listRoleUsers(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (_, realm, _, role) = try await container.named(request, context, .viewUsers)
        let users = try await store.usersWithRole(roleId: role.id, realmId: realm.id, page: try page(request))
        return try JSONBody.response(users.map { UserRepresentation($0) })
    }

    /// The groups a role is mapped to directly, by name and paged (Keycloak's `…/groups`):
    /// `briefRepresentation` (the default) leaves out attributes and role mappings.
    func listRoleGroups(_ request: Request, _ context: KeyportRequestContext, in container: RoleContainer) async throws -> Response {
        let (_, realm, _, role) = try await container.named(request, context, .viewUsers)
        let brief = try bool(request, "briefRepresentation") ?? true
        let groups = try await store.groupsWithRole(roleId: role.id, realmId: realm.id, page: try page(request))
        var list: [GroupRepresentation] = []
        for node in groups {
            list.append(brief ? GroupRepresentation(node) : try await withRoleNames(GroupRepresentation(node), realm: realm))
        }
        return try JSONBody.response(list)
    }
}
