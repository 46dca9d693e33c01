import KeycloakRepresentations
import KeyportAuth
import KeyportModel
import KeyportStore

/// Keycloak's rule for administration roles (`RolePermissions.checkAdminRoles`), in one place.
///
/// An *administration role* is any role of the realm's `realm-management` client, the master
/// realm's `admin` and `create-realm`, and any role of a master-realm client named `{realm}-realm`
/// (Keycloak's per-realm admin clients). Such a role reaches a user only through someone who
/// already holds it — and `realm-admin`, or any master-realm administration role, only through
/// the master realm's `admin`. Every path that can make a user hold a role goes through
/// `requireMayGrant`: role mappings of users and groups, composites (the default role
/// included), group membership and moves, and user creation with roles or groups. What is
/// checked is the *closure* — the roles given and everything they contain — so wrapping an
/// administration role in an innocent-looking composite or group does not get it past.
struct RoleGrantRule: Sendable {
    enum Kind: Equatable {
        /// `realm-admin`: only the master realm's `admin` grants it.
        case realmAdmin
        /// A `realm-management` role of the realm: its holder may pass it on.
        case management
        /// `admin`, `create-realm`, `{realm}-realm` client roles of the master realm: server-wide power.
        case master
    }

    /// Which administration role `role` is, if any. `ownerClientId` is the `clientId` of the
    /// client owning a client role.
    static func kind(of role: Role, in realm: Realm, ownerClientId: String?) -> Kind? {
        if let owner = ownerClientId {
            if owner == BuiltInRoles.realmManagementClient {
                return role.name == BuiltInRoles.realmAdmin ? .realmAdmin : .management
            }
            if realm.name == BuiltInRoles.masterRealm && owner.hasSuffix("-realm") { return .master }
            return nil
        }
        if realm.name == BuiltInRoles.masterRealm && [BuiltInRoles.masterAdmin, BuiltInRoles.createRealm].contains(role.name) {
            return .master
        }
        return nil
    }

    /// The pure decision: may `caller` make someone hold `role` (of kind `kind`) in `realm`?
    static func mayGrant(kind: Kind?, roleId: String, caller: AdminPrincipal, realm: Realm) -> Bool {
        guard let kind else { return true }
        if caller.isMasterAdmin { return true }
        switch kind {
        case .realmAdmin, .master: return false
        case .management: return caller.realm.id == realm.id && caller.heldRoleIds.contains(roleId)
        }
    }

    /// May `caller` change an administration role itself (create, rename, delete, change its
    /// composites or attributes) or the `realm-management` client? Only the realm's
    /// `realm-admin` (for its own realm's management roles) and the master `admin`.
    static func mayConfigure(kind: Kind?, caller: AdminPrincipal, realm: Realm) -> Bool {
        guard let kind else { return true }
        if caller.isMasterAdmin { return true }
        switch kind {
        case .realmAdmin, .management: return caller.realm.id == realm.id && caller.managementRoles.contains(BuiltInRoles.realmAdmin)
        case .master: return false
        }
    }
}

extension AdminAPI {
    /// The `clientId` of each client owning one of `roles`.
    private func ownerClientIds(_ roles: [Role], realm: Realm) async throws -> [String: String] {
        var owners: [String: String] = [:]
        for id in Set(roles.compactMap(\.clientId)) {
            if let client = try await store.client(id: id, realmId: realm.id) { owners[id] = client.clientId }
        }
        return owners
    }

    func adminRoleKind(_ role: Role, realm: Realm) async throws -> RoleGrantRule.Kind? {
        let owner: String? = if let id = role.clientId { try await store.client(id: id, realmId: realm.id)?.clientId } else { nil }
        return RoleGrantRule.kind(of: role, in: realm, ownerClientId: owner)
    }

    /// `roles` and every role they contain, transitively (bounded: a realm's role graph is finite,
    /// and the bound keeps one request from walking a pathological one for long).
    func closure(of roles: [Role], realm: Realm) async throws -> [Role] {
        var seen: [String: Role] = [:]
        var queue = roles
        while let role = queue.popLast() {
            guard seen[role.id] == nil else { continue }
            seen[role.id] = role
            guard seen.count <= 50_000 else { throw AdminError.badRequest("The roles given contain too many roles to check") }
            queue += try await store.composites(of: role.id, realmId: realm.id)
        }
        return Array(seen.values)
    }

    /// Refuses (403) unless `caller` may make someone hold every role of `roles` and all they contain.
    func requireMayGrant(_ roles: [Role], caller: AdminPrincipal, realm: Realm) async throws {
        guard !caller.isMasterAdmin, !roles.isEmpty else { return }
        let all = try await closure(of: roles, realm: realm)
        let owners = try await ownerClientIds(all, realm: realm)
        for role in all {
            let kind = RoleGrantRule.kind(of: role, in: realm, ownerClientId: role.clientId.flatMap { owners[$0] })
            guard RoleGrantRule.mayGrant(kind: kind, roleId: role.id, caller: caller, realm: realm) else {
                throw AdminError(.forbidden, "You may not grant the administration role '\(role.name)'")
            }
        }
    }

    /// Refuses (403) unless `caller` may act on `user` — set or remove its credentials, create or
    /// revoke its tokens and sessions, change, disable, unlock, log out or delete it, change its
    /// roles or groups: only if the caller could grant every role the user holds (effective
    /// roles: composites and groups included). Otherwise `manage-users` would take over a
    /// `realm-admin` by setting its password and logging in as it. Keycloak without
    /// fine-grained permissions lets it; Keyport does not (docs/threat-model.md). Acting on
    /// oneself grants nothing new and is allowed.
    func requireMayActOn(_ user: User, caller: AdminPrincipal, realm: Realm) async throws {
        guard !caller.isMasterAdmin, !(user.id == caller.user.id && realm.id == caller.realm.id) else { return }
        let held = try await store.effectiveRoles(userId: user.id, realmId: realm.id)
        let owners = try await ownerClientIds(held, realm: realm)
        for role in held {
            let kind = RoleGrantRule.kind(of: role, in: realm, ownerClientId: role.clientId.flatMap { owners[$0] })
            guard RoleGrantRule.mayGrant(kind: kind, roleId: role.id, caller: caller, realm: realm) else {
                throw AdminError(.forbidden, "You may not act on user '\(user.username)': it holds the administration role '\(role.name)', which you could not grant")
            }
        }
    }

    /// The roles a member of `groupId` holds through it: its own and its ancestors'.
    func rolesThroughGroup(_ groupId: String, realm: Realm) async throws -> [Role] {
        var roles: [Role] = []
        var current: String? = groupId
        var depth = 0
        while let id = current, depth < 10_000 {
            depth += 1
            roles += try await store.groupRoles(groupId: id, realmId: realm.id)
            current = try await store.group(id: id, realmId: realm.id)?.group.parentId
        }
        return roles
    }

    /// Refuses (403) unless `caller` may change `role` itself (see `RoleGrantRule.mayConfigure`).
    func requireMayConfigure(_ role: Role, caller: AdminPrincipal, realm: Realm) async throws {
        guard !caller.isMasterAdmin else { return }
        let kind = try await adminRoleKind(role, realm: realm)
        guard RoleGrantRule.mayConfigure(kind: kind, caller: caller, realm: realm) else {
            throw AdminError(.forbidden, "You may not change the administration role '\(role.name)'")
        }
    }

    /// The built-in `realm-management` client is configured only by the realm's `realm-admin`
    /// (or the master `admin`): `manage-clients` must not reshape the roles that define it. Nor
    /// the clients whose tokens the admin and account APIs trust for people's own sign-ins
    /// (`security-admin-console`, `account-console`, `account`, `admin-cli`): a redirect URI
    /// elsewhere, or PKCE switched off, would let a `manage-clients` admin catch a realm admin's
    /// or a user's single sign-on code.
    static let guardedClients: Set<String> = [BuiltInRoles.realmManagementClient, BuiltInRoles.securityAdminConsoleClient,
                                              BuiltInRoles.accountConsoleClient, BuiltInRoles.accountClient, BuiltInRoles.adminCLIClient]

    func requireMayConfigure(_ client: Client, caller: AdminPrincipal, realm: Realm) throws {
        guard Self.guardedClients.contains(client.clientId)
                || (realm.name == BuiltInRoles.masterRealm && client.clientId.hasSuffix("-realm")) else { return }
        let kind: RoleGrantRule.Kind = Self.guardedClients.contains(client.clientId) ? .management : .master
        guard RoleGrantRule.mayConfigure(kind: kind, caller: caller, realm: realm) else {
            throw AdminError(.forbidden, "You may not change the built-in client '\(client.clientId)'")
        }
    }
}
