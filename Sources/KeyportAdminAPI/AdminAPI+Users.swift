import KeycloakRepresentations
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportStore

extension AdminAPI {
    func addUserRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        let users = admin.group("realms/{realm}/users")
        users.get(use: listUsers)
        users.post(use: createUser)
        users.get("count", use: countUsers)
        users.get("{id}", use: getUser)
        users.put("{id}", use: updateUser)
        users.delete("{id}", use: deleteUser)
        users.put("{id}/reset-password", use: resetPassword)
        users.get("{id}/credentials", use: listCredentials)
        users.delete("{id}/credentials/{credentialId}", use: deleteCredential)
        users.post("{id}/logout", use: logOutUser)
        users.get("{id}/groups", use: listUserGroups)
        users.get("{id}/effective-roles", use: listEffectiveRolesWithSources)
        users.put("{id}/groups/{groupId}", use: joinGroup)
        users.delete("{id}/groups/{groupId}", use: leaveGroup)
        addUserRoleMappingRoutes(users)

        // Keycloak's brute-force status of a user, and the administrator's unlock.
        let attack = admin.group("realms/{realm}/attack-detection/brute-force/users")
        attack.get("{id}", use: getLoginFailures)
        attack.delete("{id}", use: clearLoginFailures)
        attack.delete(use: clearAllLoginFailures)
    }

    func userInPath(_ request: Request, _ context: KeyportRequestContext, _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, User) {
        let (caller, realm) = try await authorize(request, context, permission)
        guard let id = context.pathParameter("id"), let user = try await store.user(id: id, realmId: realm.id) else {
            throw AdminError.notFound("User not found")
        }
        // Every route that changes a user goes through here with `manageUsers`.
        if permission == .manageUsers { try await requireMayActOn(user, caller: caller, realm: realm) }
        return (caller, realm, user)
    }

    func userQuery(_ request: Request) throws -> UserQuery {
        let q = FormParameters.query(of: request)
        for name in ["search", "username", "email", "firstName", "lastName"] {
            if let v = q[name], v.utf8.count > 255 { throw AdminError.badRequest("Query parameter '\(name)' is longer than 255 characters") }
        }
        return UserQuery(search: q["search"], username: q["username"], email: q["email"], firstName: q["firstName"], lastName: q["lastName"],
                         exact: try bool(request, "exact") ?? false, enabled: try bool(request, "enabled"), includeServiceAccounts: false)
    }

    func userRepresentation(_ user: User, realm: Realm, brief: Bool = false) async throws -> UserRepresentation {
        var rep = UserRepresentation(user, brief: brief)
        if let clientId = user.serviceAccountClientId {
            rep.serviceAccountClientId = try await store.client(id: clientId, realmId: realm.id)?.clientId
        }
        return rep
    }

    func listUsers(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewUsers)
        let query = try userQuery(request)
        let brief = try bool(request, "briefRepresentation") ?? false
        let users = try await store.users(realmId: realm.id, matching: query, page: try page(request))
        return try JSONBody.response(users.map { UserRepresentation($0, brief: brief) })
    }

    func createUser(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageUsers)
        let rep = try await decode(UserRepresentation.self, request, context)
        let now = environment.now()
        // Keycloak's API creates a user disabled unless the representation says otherwise.
        let user = try provision {
            try provisioning.newUser(rep, id: environment.newID(), realmId: realm.id, createdAt: now, enabledByDefault: false)
        }
        let password = try await passwordCredential(rep.credentials, for: user, realm: realm)
        guard (rep.groups?.count ?? 0) <= 100 else { throw AdminError.badRequest("At most 100 groups can be given") }
        var granted: [Role] = []
        var groupIds: [String] = []
        for path in rep.groups ?? [] {
            guard let group = try await store.group(path: path, realmId: realm.id) else { throw AdminError.badRequest("Group \(path) not found") }
            groupIds.append(group.group.id)
            granted += try await rolesThroughGroup(group.group.id, realm: realm)
        }
        let named = try await resolveRoleNames(realm: realm, realmRoles: rep.realmRoles ?? [], clientRoles: rep.clientRoles ?? [:])
        granted += named
        // The realm's default role is the realm's choice, not the caller's: every new user gets it.
        try await requireMayGrant(granted.filter { !($0.clientId == nil && $0.name == realm.defaultRoleName) }, caller: caller, realm: realm)
        let seed = Provisioning.newUserSeed(user, defaultRoleId: try await defaultRoleId(realm), password: password?.credential,
                                            temporaryPassword: password?.temporary ?? false, roleIds: named.map(\.id), groupIds: groupIds)
        // Keycloak links a new user to its accounts at identity providers when told to.
        var links: [StoreChange] = []
        guard (rep.federatedIdentities?.count ?? 0) <= IdentityProvider.limitPerRealm else { throw AdminError.badRequest("Too many federatedIdentities") }
        for link in rep.federatedIdentities ?? [] {
            guard let alias = link.identityProvider, alias.utf8.count <= 255, let provider = try await store.identityProvider(alias: alias, realmId: realm.id) else {
                throw AdminError.badRequest("Identity provider \((link.identityProvider ?? "").prefix(80)) not found")
            }
            guard let subject = link.userId, (1...255).contains(subject.utf8.count) else { throw AdminError.badRequest("A federated identity needs its userId") }
            try await requireMayLink(through: provider, caller: caller, realm: realm)
            let name = link.userName ?? subject
            try Validate.rule { try ObjectRules.plain(subject, what: "userId"); try ObjectRules.plain(name, what: "userName") }
            links.append(.linkFederatedIdentity(FederatedIdentity(realmId: realm.id, providerId: provider.id, userId: user.id,
                                                                  upstreamUserId: subject, upstreamUsername: name)))
        }
        do {
            try await store.apply([.createUser(seed)] + links)
        } catch StoreError.conflict(.upstreamAccountLinked) {
            throw AdminError(.conflict, "The identity provider account is linked to another user")
        } catch StoreError.conflict(.userAlreadyLinked) {
            throw AdminError.badRequest("A user is linked to each identity provider once")
        }
        return created(request, user.id)
    }

    func updateUser(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, existing) = try await userInPath(request, context, .manageUsers)
        let rep = try await decode(UserRepresentation.self, request, context)
        let now = environment.now()
        // Checked on the user as read (so a bad field is a 400 before anything is hashed), then
        // merged again into the row as it is inside the write transaction: a concurrent edit of
        // other fields survives.
        var preview = existing
        try merge(rep, into: &preview, now: now)
        let credential = try await passwordCredential(rep.credentials, for: preview, realm: realm)
        let temporary = credential?.temporary ?? false
        var changes: [StoreChange] = [.updateUser(id: existing.id, realmId: realm.id) { user in
            try merge(rep, into: &user, now: now)
            if temporary && !user.requiredActions.contains(RequiredAction.updatePassword) {
                user.requiredActions.append(RequiredAction.updatePassword)
            }
        }]
        if let credential { changes.append(.setCredential(credential.credential, revokeTokensBefore: now)) }
        // Disabling a user ends its sessions and the tokens already issued.
        if rep.enabled == false { changes.append(.deleteSessions(userId: existing.id, realmId: realm.id)) }
        try await store.apply(changes)
        return noContent
    }

    /// The realm's default role (`default-roles-{realm}`), which every user created here gets.
    func defaultRoleId(_ realm: Realm) async throws -> String? {
        try await store.role(named: realm.defaultRoleName, realmId: realm.id, clientId: nil)?.id
    }

    /// The fields present in `rep`, checked and merged into `user` (`Provisioning`).
    func merge(_ rep: UserRepresentation, into user: inout User, now: Timestamp) throws {
        try provision { try provisioning.merge(rep, into: &user, now: now) }
    }

    struct ResetPassword: Decodable {
        var type: String?
        var value: String?
        var temporary: Bool?
    }

    func resetPassword(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, existing) = try await userInPath(request, context, .manageUsers)
        let body = try await decode(ResetPassword.self, request, context)
        // Its password is the directory's, checked by a bind: one stored here would never be used.
        if existing.federationLink != nil { throw AdminError.badRequest("The user's password is its directory's (LDAP): change it there") }
        if let type = body.type, type != Credential.password { throw AdminError.badRequest("Only password credentials can be reset") }
        guard let value = body.value, !value.isEmpty else { throw AdminError.badRequest("Field 'value' is required: the new password") }
        let made = try await makePasswordCredential(value, temporary: body.temporary ?? false, for: existing, realm: realm)
        let now = environment.now()
        try await store.apply([
            .updateUser(id: existing.id, realmId: realm.id) { user in
                user.requiredActions.removeAll { $0 == RequiredAction.updatePassword }
                if made.temporary { user.requiredActions.append(RequiredAction.updatePassword) }
                // A new password ends every session and token issued before it.
                user.notBefore = max(user.notBefore, now)
            },
            .setCredential(made.credential, revokeTokensBefore: now),
            .deleteSessions(userId: existing.id, realmId: realm.id),
        ])
        return noContent
    }

    /// The password among `credentials`, checked against the realm's policy and hashed.
    func passwordCredential(_ credentials: [CredentialRepresentation]?, for user: User, realm: Realm) async throws -> (credential: Credential, temporary: Bool)? {
        guard let credentials, !credentials.isEmpty else { return nil }
        guard credentials.count == 1, let first = credentials.first, (first.type ?? Credential.password) == Credential.password else {
            throw AdminError.badRequest("Only one credential, of type password, can be given")
        }
        if first.value == nil, let secretData = first.secretData, let credentialData = first.credentialData {
            // A hash carried over from Keycloak: stored as is, rehashed to the realm's policy at the first login.
            let stored: String
            do {
                stored = try KeycloakCredential.storedHash(secretData: secretData, credentialData: credentialData, ceiling: ceiling)
            } catch {
                throw AdminError.badRequest("Cannot use the hashed credential: \(error.description)")
            }
            return (Credential(id: environment.newID(), userId: user.id, secret: Sensitive(stored), createdAt: environment.now()), first.temporary ?? false)
        }
        guard let value = first.value, !value.isEmpty else { throw AdminError.badRequest("A password credential needs a 'value' (or Keycloak's secretData and credentialData)") }
        return try await makePasswordCredential(value, temporary: first.temporary ?? false, for: user, realm: realm)
    }

    func makePasswordCredential(_ value: String, temporary: Bool, for user: User, realm: Realm) async throws -> (credential: Credential, temporary: Bool) {
        try provision { try PasswordPolicy(realm.passwordPolicy).check(value, username: user.username, email: user.email) }
        let hash = try await hasher.hash(Sensitive(value), parameters: realm.passwordHashing, partition: realm.id)
        return (Credential(id: environment.newID(), userId: user.id, secret: hash, createdAt: environment.now()), temporary)
    }

    func requiredActions(_ actions: [String]?) throws -> [String] {
        try provision { try Provisioning.requiredActions(actions ?? []) }
    }

    /// Role ids for Keycloak's `realmRoles` / `clientRoles` name lists (clients by clientId).
    func resolveRoleNames(realm: Realm, realmRoles: [String], clientRoles: [String: [String]]) async throws -> [Role] {
        var clients: [String: String] = [:]
        do {
            return try await RoleNames.resolve(realm: realmRoles, clients: clientRoles) { name, clientId in
                guard let clientId else { return try await store.role(named: name, realmId: realm.id, clientId: nil) }
                if clients[clientId] == nil {
                    guard let client = try await store.client(clientId: clientId, realmId: realm.id) else {
                        throw AdminError.badRequest("Client \(clientId) not found")
                    }
                    clients[clientId] = client.id
                }
                return try await store.role(named: name, realmId: realm.id, clientId: clients[clientId])
            }
        } catch RoleNames.Failure.tooMany {
            throw AdminError.badRequest("At most \(RoleNames.limit) roles can be given")
        } catch RoleNames.Failure.unknown(let name, let client) {
            throw AdminError.badRequest(client.map { "Role \(name) of client \($0) not found" } ?? "Role \(name) not found")
        }
    }
}

// MARK: Handlers

extension AdminAPI {
    func countUsers(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewUsers)
        let count = try await store.countUsers(realmId: realm.id, matching: try userQuery(request))
        return JSONBody.raw(String(count))
    }

    func getUser(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        return try JSONBody.response(try await userRepresentation(user, realm: realm))
    }

    func deleteUser(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .manageUsers)
        try await store.deleteUser(id: user.id, realmId: realm.id)
        return noContent
    }

    func listCredentials(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, _, user) = try await userInPath(request, context, .viewUsers)
        let credentials = try await store.credentials(userId: user.id)
        // Never the secret: type, id, label and date only.
        return try JSONBody.response(credentials.map { c in
            CredentialRepresentation(id: c.id, type: c.type, value: nil, temporary: nil, userLabel: c.userLabel,
                                     createdDate: c.createdAt.millisecondsSince1970)
        })
    }

    func deleteCredential(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, _, user) = try await userInPath(request, context, .manageUsers)
        let credentialId = context.pathParameter("credentialId") ?? ""
        // What the credential opened (sessions, identity tokens) closes with it.
        let now = environment.now()
        try await store.deleteCredential(id: credentialId, userId: user.id, revokeTokensBefore: now)
        return noContent
    }

    func logOutUser(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .manageUsers)
        let now = environment.now()
        // Each browser session ends telling the clients it signed in; the rest goes below.
        for browser in try await store.browserSessions(userId: user.id, realmId: realm.id) {
            _ = try await endBrowserSession(browser, realm: realm)
        }
        try await store.apply([.updateUser(id: user.id, realmId: realm.id) { $0.notBefore = max($0.notBefore, now) },
                               .deleteSessions(userId: user.id, realmId: realm.id)])
        return noContent
    }

    func listUserGroups(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let groups = try await store.groupsOfUser(userId: user.id, realmId: realm.id)
        let page = try page(request)
        return try JSONBody.response(groups.dropFirst(page.first).prefix(page.max).map { GroupRepresentation($0) })
    }

    func joinGroup(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, user) = try await userInPath(request, context, .manageUsers)
        let groupId = context.pathParameter("groupId") ?? ""
        // A member holds the group's roles and its ancestors': joining is granting them.
        try await requireMayGrant(try await rolesThroughGroup(groupId, realm: realm), caller: caller, realm: realm)
        try await store.addMember(groupId: groupId, userId: user.id, realmId: realm.id)
        return noContent
    }

    func leaveGroup(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, user) = try await userInPath(request, context, .manageUsers)
        try await requireMayGrant(try await rolesThroughGroup(context.pathParameter("groupId") ?? "", realm: realm), caller: caller, realm: realm)
        try await store.removeMember(groupId: context.pathParameter("groupId") ?? "", userId: user.id, realmId: realm.id)
        return noContent
    }

    func getLoginFailures(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let failures = try await store.loginFailures(userId: user.id, realmId: realm.id)
        let now = environment.now()
        let body: JSONValue = [
            "numFailures": .number(Double(failures?.numFailures ?? 0)),
            "disabled": .bool((failures?.lockedUntil ?? now) > now),
            "lastFailure": .number(Double(failures?.lastFailure.millisecondsSince1970 ?? 0)),
            "lastIPFailure": failures?.lastIPAddress.map { .string($0) } ?? .string("n/a"),
        ]
        return try JSONBody.response(body)
    }

    func clearLoginFailures(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, user) = try await userInPath(request, context, .manageUsers)
        // Unlocking is acting on the user: otherwise manage-users could go on guessing a
        // realm-admin's password past the lockout, clearing it between tries.
        try await requireMayActOn(user, caller: caller, realm: realm)
        try await store.clearLoginFailures(userId: user.id, realmId: realm.id)
        return noContent
    }

    /// `DELETE attack-detection/brute-force/users`: unlocks everyone, administrators included,
    /// so only who may act on every user may (the realm's realm-admin, the master admin).
    func clearAllLoginFailures(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageUsers)
        guard RoleGrantRule.mayConfigure(kind: .management, caller: caller, realm: realm) else {
            throw AdminError(.forbidden, "Only the realm's realm-admin may unlock every user at once; unlock users one by one")
        }
        try await store.clearLoginFailures(realmId: realm.id)
        return noContent
    }

    /// Keyport's: every effective role of the user (realm roles first, then by client and name)
    /// with each way the user holds it — `direct`, `group /eng`, or a chain of composites
    /// (`RoleSources`) — the console's answer to "where does this role come from?". View-users.
    func listEffectiveRolesWithSources(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let roles = try await store.effectiveRoles(userId: user.id, realmId: realm.id)
        let answer = try await RoleSources(store: store).of(user: user, realm: realm)
        var clientIds: [String: String] = [:]
        var list: [(sortKey: String, value: JSONValue)] = []
        for role in roles {
            var client: JSONValue = .null
            if let owner = role.clientId {
                if clientIds[owner] == nil { clientIds[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner }
                client = .string(clientIds[owner] ?? owner)
            }
            let key = "\(role.clientId == nil ? "0" : "1")\(client.stringValue ?? "")\u{0}\(role.name)"
            list.append((key, ["id": .string(role.id), "name": .string(role.name), "client": client,
                               "sources": .array((answer.sources[role.id] ?? []).map { .string($0) })]))
        }
        let body: JSONValue = ["roles": .array(list.sorted { $0.sortKey < $1.sortKey }.map(\.value)), "truncated": .bool(answer.truncated)]
        return try JSONBody.response(body)
    }
}
