import KeycloakRepresentations
import Hummingbird
import KeyportHTTP
import KeyportModel
import KeyportStore

extension AdminAPI {
    func addGroupRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        let groups = admin.group("realms/{realm}/groups")
        groups.get(use: listGroups)
        groups.post { request, context in try await createGroup(request, context, parent: nil) }
        groups.get("count", use: countGroups)
        groups.get("{id}", use: getGroup)
        groups.put("{id}", use: updateGroup)
        groups.delete("{id}", use: deleteGroup)
        groups.get("{id}/children", use: listChildGroups)
        groups.post("{id}/children", use: createChildGroup)
        groups.get("{id}/members", use: listGroupMembers)
        addGroupRoleMappingRoutes(groups)
        admin.get("realms/{realm}/group-by-path/**", use: getGroupByPath)
    }

    func groupInPath(_ request: Request, _ context: KeyportRequestContext, _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, GroupNode) {
        let (caller, realm) = try await authorize(request, context, permission)
        guard let id = context.pathParameter("id"), let node = try await store.group(id: id, realmId: realm.id) else {
            throw AdminError.notFound("Could not find group by id")
        }
        return (caller, realm, node)
    }

    /// Creates a group under `parent` (or at the top); with the `id` of an existing group,
    /// moves that group instead, as Keycloak does.
    func createGroup(_ request: Request, _ context: KeyportRequestContext, parent: GroupNode?) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageUsers)
        let rep = try await decode(GroupRepresentation.self, request, context)
        if let id = rep.id, let existing = try await store.group(id: id, realmId: realm.id) {
            // Moving a group under another gives its members the new ancestors' roles.
            if let parent { try await requireMayGrant(try await rolesThroughGroup(parent.group.id, realm: realm), caller: caller, realm: realm) }
            let height = try await subtreeHeight(existing, realm: realm)
            guard (parent?.depth ?? 0) + height <= GroupNode.maxDepth else {
                throw AdminError.badRequest("Groups may be nested at most \(GroupNode.maxDepth) levels deep")
            }
            let parentId = parent?.group.id
            try await store.updateGroup(id: existing.group.id, realmId: realm.id) { $0.parentId = parentId }
            return noContent
        }
        guard (parent?.depth ?? 0) < GroupNode.maxDepth else {
            throw AdminError.badRequest("Groups may be nested at most \(GroupNode.maxDepth) levels deep")
        }
        let group = try provision { try provisioning.newGroup(rep, id: environment.newID(), realmId: realm.id, parentId: parent?.group.id) }
        try await AdminError.naming(group.name) { try await store.createGroup(group) }
        return created(request, group.id)
    }

    /// Levels from `node` down to its deepest descendant (1 for a leaf), bounded by `maxDepth + 1`.
    func subtreeHeight(_ node: GroupNode, realm: Realm) async throws -> Int {
        var level = [node.group.id]
        var height = 0
        while !level.isEmpty && height <= GroupNode.maxDepth {
            height += 1
            var next: [String] = []
            for id in level {
                next += try await store.groups(realmId: realm.id, parentId: id, search: nil, page: .all).map(\.group.id)
            }
            level = next
        }
        return height
    }

    /// Top-level groups holding `matches`, each with only the branches that lead to a match.
    func treeLeadingTo(_ matches: [GroupNode], realm: Realm) async throws -> [GroupRepresentation] {
        var nodes: [String: GroupNode] = [:]
        var children: [String: Set<String>] = [:]
        var roots: Set<String> = []
        for match in matches {
            var current: GroupNode? = match
            while let node = current {
                nodes[node.group.id] = node
                if let parent = node.group.parentId {
                    children[parent, default: []].insert(node.group.id)
                    current = nodes[parent] == nil ? try await store.group(id: parent, realmId: realm.id) : nil
                } else {
                    roots.insert(node.group.id)
                    current = nil
                }
            }
        }
        func build(_ id: String) -> GroupRepresentation {
            let kids = (children[id] ?? []).compactMap { nodes[$0] }.sorted { $0.group.name < $1.group.name }
            return GroupRepresentation(nodes[id]!, subGroups: kids.map { build($0.group.id) })
        }
        return roots.compactMap { nodes[$0] }.sorted { $0.group.name < $1.group.name }.map { build($0.group.id) }
    }
}

// MARK: Handlers

extension AdminAPI {
    func listGroups(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewUsers)
        let search = FormParameters.query(of: request)["search"].flatMap { $0.isEmpty ? nil : $0 }
        let page = try page(request)
        guard let search else {
            let top = try await store.groups(realmId: realm.id, parentId: nil, search: nil, page: page)
            return try JSONBody.response(top.map { GroupRepresentation($0) })
        }
        // Keycloak answers a search with the tree down to each match.
        let matches = try await store.groups(realmId: realm.id, parentId: nil, search: search, page: .all)
        return try JSONBody.response(Array(try await treeLeadingTo(matches, realm: realm).dropFirst(page.first).prefix(page.max)))
    }

    func countGroups(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewUsers)
        let search = FormParameters.query(of: request)["search"]
        return try JSONBody.response(["count": try await store.countGroups(realmId: realm.id, search: search, topOnly: try bool(request, "top") ?? false)])
    }

    func getGroup(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, node) = try await groupInPath(request, context, .viewUsers)
        let children = try await store.groups(realmId: realm.id, parentId: node.group.id, search: nil, page: .all)
        return try JSONBody.response(try await withRoleNames(GroupRepresentation(node, subGroups: children.map { GroupRepresentation($0) }), realm: realm))
    }

    /// Keycloak's full group answer names the group's own mappings (`realmRoles`, `clientRoles` by
    /// clientId), as realm files do; Ansible's group role-mapping module reads them.
    func withRoleNames(_ group: GroupRepresentation, realm: Realm) async throws -> GroupRepresentation {
        guard let id = group.id else { return group }
        var rep = group
        let roles = try await store.groupRoles(groupId: id, realmId: realm.id)
        rep.realmRoles = roles.filter { !$0.isClientRole }.map(\.name)
        var clientRoles: [String: [String]] = [:]
        var clientIds: [String: String] = [:]
        for role in roles {
            guard let owner = role.clientId else { continue }
            if clientIds[owner] == nil { clientIds[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner }
            clientRoles[clientIds[owner]!, default: []].append(role.name)
        }
        rep.clientRoles = clientRoles
        return rep
    }

    func updateGroup(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, node) = try await groupInPath(request, context, .manageUsers)
        let rep = try await decode(GroupRepresentation.self, request, context)
        let name = try rep.name.map { try Validate.groupName($0) }
        let attributes = try rep.attributes.map { try Validate.multiAttributes($0.mapValues(\.values)) }
        try await store.updateGroup(id: node.group.id, realmId: realm.id) { group in
            if let name { group.name = name }
            if var attributes {
                // Which LDAP mapper made the group is the mapper's, never an administrator's to set or take.
                attributes[Group.directoryMapperAttribute] = group.attributes[Group.directoryMapperAttribute]
                group.attributes = attributes
            }
        }
        return noContent
    }

    func deleteGroup(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, node) = try await groupInPath(request, context, .manageUsers)
        try await store.deleteGroup(id: node.group.id, realmId: realm.id)
        return noContent
    }

    func listChildGroups(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, node) = try await groupInPath(request, context, .viewUsers)
        let children = try await store.groups(realmId: realm.id, parentId: node.group.id, search: nil, page: try page(request))
        return try JSONBody.response(children.map { GroupRepresentation($0) })
    }

    func createChildGroup(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, _, node) = try await groupInPath(request, context, .manageUsers)
        return try await createGroup(request, context, parent: node)
    }

    func listGroupMembers(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, node) = try await groupInPath(request, context, .viewUsers)
        let brief = try bool(request, "briefRepresentation") ?? false
        let members = try await store.members(groupId: node.group.id, realmId: realm.id, page: try page(request))
        return try JSONBody.response(members.map { UserRepresentation($0, brief: brief) })
    }

    func getGroupByPath(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewUsers)
        let path = "/" + context.parameters.getCatchAll().joined(separator: "/")
        guard let node = try await store.group(path: path.removingPercentEncoding ?? path, realmId: realm.id) else {
            throw AdminError.notFound("Group path does not exist")
        }
        let children = try await store.groups(realmId: realm.id, parentId: node.group.id, search: nil, page: .all)
        return try JSONBody.response(try await withRoleNames(GroupRepresentation(node, subGroups: children.map { GroupRepresentation($0) }), realm: realm))
    }
}
