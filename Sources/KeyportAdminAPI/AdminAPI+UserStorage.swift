import Hummingbird
import KeycloakRepresentations
import KeyportAuth
import KeyportHTTP
import KeyportJSON
import KeyportLDAP
import KeyportModel
import KeyportProvisioning
import KeyportStore

/// User federation through Keycloak's `components`: LDAP user storage providers (`parentId` the
/// realm) and their mappers (`parentId` the provider), with `manage-realm` as in Keycloak; plus
/// `testLDAPConnection` and a provider's `unlink-users` and `remove-imported-users`.
///
/// Who may change what, beyond `manage-realm`:
/// - a mapper that decides who holds a role or group (`LDAPMapperConfig.Kind.grantsRoles`) is
///   made, changed and removed only by an admin who may grant what it gives (`requireMayGrant`);
/// - a provider's trust (`Provisioning.ldapTrustKeys`: which directory, which entries, which
///   entry a person is) moves only with the power to grant what its mappers give and to act on
///   every user it imported — otherwise `manage-realm` could point the provider at a directory
///   of its own and sign in as an imported realm administrator; the same for removing the
///   provider or its users (Keycloak deletes them);
/// - the stored `bindCredential` is answered `**********` and never sent to a changed URL or
///   bind DN (`Provisioning.merge`); the connection test uses it only for the provider's own.
extension AdminAPI {
    func addUserStorageRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.post("realms/{realm}/testLDAPConnection", use: testLDAPConnection)
        admin.post("realms/{realm}/user-storage/{id}/sync", use: syncDirectoryUsers)
        admin.post("realms/{realm}/user-storage/{id}/mappers/{mapperId}/sync", use: syncDirectoryMapper)
        admin.post("realms/{realm}/user-storage/{id}/unlink-users", use: unlinkDirectoryUsers)
        admin.post("realms/{realm}/user-storage/{id}/remove-imported-users", use: removeDirectoryUsers)
    }

    /// What a new component is: a key provider, an LDAP provider, or a mapper of the provider it names.
    enum NewComponent {
        case keyProvider
        case userStorage(parent: StorageComponent?)
    }

    func newComponentKind(_ rep: ComponentRepresentation, realm: Realm) async throws -> NewComponent {
        func provider(_ parentId: String?) async throws -> StorageComponent? {
            guard let parentId, let parent = try await store.storageComponent(id: parentId, realmId: realm.id) else { return nil }
            guard parent.parentId == nil else { throw AdminError.badRequest("An LDAP mapper's parentId is an LDAP provider of this realm") }
            return parent
        }
        switch rep.providerType {
        case StorageComponent.userStorageProviderType:
            return .userStorage(parent: nil)
        case StorageComponent.ldapMapperType:
            guard let parent = try await provider(rep.parentId) else {
                throw AdminError.badRequest("An LDAP mapper's parentId is an LDAP provider of this realm")
            }
            return .userStorage(parent: parent)
        case nil:
            if let parent = try await provider(rep.parentId) { return .userStorage(parent: parent) }
            return rep.providerId == "ldap" ? .userStorage(parent: nil) : .keyProvider
        default:
            return .keyProvider
        }
    }

    // MARK: What a component can make people hold

    /// What a mapper makes people hold through the role, group or client it was saved with.
    func rolesGranted(byStorageMapper mapper: StorageComponent, realm: Realm) async throws -> [Role] {
        guard mapper.parentId != nil, let kind = LDAPMapperConfig.Kind(rawValue: mapper.providerId), kind.grantsRoles else { return [] }
        switch kind {
        case .hardcodedRole:
            guard let id = mapper.targetId else { return [] }
            return try await store.role(id: id, realmId: realm.id).map { [$0] } ?? []
        case .hardcodedGroup:
            guard let id = mapper.targetId else { return [] }
            return try await rolesThroughGroup(id, realm: realm)
        case .group:
            // Directory groups become groups under the path: whatever a group there (or the path
            // and its ancestors) gives, the directory now decides who holds.
            var roles: [Role] = []
            if let pathGroup = mapper.targetId { roles = try await rolesThroughGroup(pathGroup, realm: realm) }
            var queue: [String?] = [mapper.targetId]
            var seen = 0
            while let parent = queue.popLast() {
                for node in try await store.groups(realmId: realm.id, parentId: parent, search: nil, page: Page(first: 0, max: 10_001)) {
                    seen += 1
                    guard seen <= 10_000 else { throw AdminError.badRequest("The groups under groups.path are too many to check: choose a narrower path") }
                    roles += try await store.groupRoles(groupId: node.group.id, realmId: realm.id)
                    if node.subGroupCount > 0 { queue.append(node.group.id) }
                }
            }
            return roles
        case .role:
            // Directory groups become roles of the realm or client by name: any of them.
            let roles = try await store.roles(realmId: realm.id, clientId: mapper.targetId, search: nil, page: Page(first: 0, max: 10_001))
            guard roles.count <= 10_000 else { throw AdminError.badRequest("The roles a role mapper could give are too many to check") }
            return roles
        default:
            return []
        }
    }

    /// `mapper` with what its config names fixed by id (400 when it names nothing that exists).
    func pinned(storageMapper mapper: StorageComponent) async throws -> StorageComponent {
        var pinned = mapper
        pinned.targetId = try await store.storageMapperTargetId(mapper)
        return pinned
    }

    /// Refuses (403) unless `caller` may decide who holds what `provider`'s mappers give and act
    /// on every user it imported (at most 1,000 are checked; past that only the master realm's admin).
    func requireMayMoveDirectoryTrust(of provider: StorageComponent, caller: AdminPrincipal, realm: Realm) async throws {
        guard !caller.isMasterAdmin else { return }
        for mapper in try await store.storageComponents(realmId: realm.id) where mapper.parentId == provider.id {
            try await requireMayGrant(try await rolesGranted(byStorageMapper: mapper, realm: realm), caller: caller, realm: realm)
        }
        let limit = 1_000
        let imported = try await store.directoryUsers(providerId: provider.id, realmId: realm.id, after: nil, limit: limit + 1)
        guard imported.count <= limit else {
            throw AdminError(.forbidden, "More than \(limit) users were imported by this provider: only the master realm's admin changes whose they are")
        }
        for user in imported { try await requireMayActOn(user, caller: caller, realm: realm) }
    }

    /// Refuses (403) unless `caller` is the realm's `realm-admin` (or the master realm's admin):
    /// what reaches hosts of the caller's choosing from the server's network, or adds a source of
    /// users, is not `manage-realm`'s alone.
    func requireRealmAdministrator(_ caller: AdminPrincipal, realm: Realm, _ what: String) throws {
        guard caller.isMasterAdmin || (caller.realm.id == realm.id && caller.managementRoles.contains(BuiltInRoles.realmAdmin)) else {
            throw AdminError(.forbidden, "Only the realm's realm-admin may \(what)")
        }
    }

    /// Whether an LDAP role mapper of the realm gives `role`'s container's roles by name.
    func coveredByDirectoryRoleMapper(_ role: Role, realm: Realm) async throws -> Bool {
        try await store.storageComponents(realmId: realm.id).contains { component in
            component.parentId != nil && component.providerId == LDAPMapperConfig.Kind.role.rawValue && component.targetId == role.clientId
        }
    }

    /// The provider named by the path's `{id}` (a provider of this realm, never a mapper).
    func directoryProviderInPath(_ context: KeyportRequestContext, realm: Realm) async throws -> StorageComponent {
        guard let provider = try await store.storageComponent(id: context.parameters.get("id") ?? "", realmId: realm.id), provider.parentId == nil else {
            throw AdminError.notFound("Could not find component")
        }
        return provider
    }

    // MARK: Components

    func createStorageComponent(_ request: Request, rep: ComponentRepresentation, parent: StorageComponent?,
                                caller: AdminPrincipal, realm: Realm) async throws -> Response {
        if parent == nil, let given = rep.parentId, given != realm.id, given != realm.name {
            throw AdminError.badRequest("An LDAP provider's parentId is this realm's id")
        }
        var component = try provision {
            try provisioning.newStorageComponent(rep, id: environment.newID(), realm: realm, parent: parent)
        }
        var changes: [StoreChange] = []
        if parent == nil {
            try requireRealmAdministrator(caller, realm: realm, "add a directory: its people become users of the realm, and it reaches hosts of your choosing")
            let mappers = try provision { try provisioning.defaultMappers(of: component) { environment.newID() } }
            changes = [.createStorageComponent(component)] + mappers.map { .createStorageComponent($0) }
        } else {
            component = try await pinned(storageMapper: component)
            try await requireMayGrant(try await rolesGranted(byStorageMapper: component, realm: realm), caller: caller, realm: realm)
            changes = [.createStorageComponent(component)]
        }
        try await store.apply(changes)
        return created(request, component.id)
    }

    func updateStorageComponent(_ rep: ComponentRepresentation, existing: StorageComponent, caller: AdminPrincipal, realm: Realm) async throws -> Response {
        if let given = rep.parentId, given != (existing.parentId ?? realm.id), existing.parentId != nil || given != realm.name {
            throw AdminError.badRequest("A component cannot move to another parent")
        }
        var changed = existing
        try provision { try provisioning.merge(rep, into: &changed) }
        if existing.parentId == nil {
            let moved = Provisioning.ldapTrustKeys.contains { changed.config[$0] != existing.config[$0] }
            if moved {
                try requireRealmAdministrator(caller, realm: realm, "change which directory or entries a provider reads")
                try await requireMayMoveDirectoryTrust(of: existing, caller: caller, realm: realm)
            }
        } else {
            if rep.config != nil { changed = try await pinned(storageMapper: changed) }
            // What it gives after the change, and what it gave before (changing a mapper that gives
            // realm-admin decides who holds realm-admin).
            try await requireMayGrant(try await rolesGranted(byStorageMapper: changed, realm: realm), caller: caller, realm: realm)
            try await requireMayGrant((try? await rolesGranted(byStorageMapper: existing, realm: realm)) ?? [], caller: caller, realm: realm)
        }
        let updated = changed
        try await store.apply([.updateStorageComponent(id: existing.id, realmId: realm.id) { component in
            guard component == existing else { throw StoreError.conflict(.concurrentChange) }
            component = updated
        }])
        return noContent
    }

    func deleteStorageComponent(_ existing: StorageComponent, caller: AdminPrincipal, realm: Realm) async throws -> Response {
        if existing.parentId == nil {
            // Its users go with it (Keycloak's rule).
            try await requireMayMoveDirectoryTrust(of: existing, caller: caller, realm: realm)
        } else {
            try await requireMayGrant((try? await rolesGranted(byStorageMapper: existing, realm: realm)) ?? [], caller: caller, realm: realm)
        }
        try await store.apply([.deleteStorageComponent(id: existing.id, realmId: realm.id)])
        return noContent
    }

    // MARK: A provider's users

    /// Keycloak's `POST user-storage/{id}/sync?action=triggerFullSync|triggerChangedUsersSync`.
    /// New people are imported with the realm's default role only (what the provider's mappers
    /// give follows at their sign-in, under the mappers' own grant checks); a full sync removes the
    /// users whose entries are gone — as Keycloak does, and as the directory decides.
    func syncDirectoryUsers(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageRealm)
        let provider = try await directoryProviderInPath(context, realm: realm)
        let action = FormParameters.query(of: request)["action"] ?? ""
        guard ["triggerFullSync", "triggerChangedUsersSync"].contains(action) else {
            throw AdminError.badRequest("action is triggerFullSync or triggerChangedUsersSync")
        }
        guard let sync = extensions.syncUserStorage else { throw AdminError(.serviceUnavailable, "Directory sync is not available on this server") }
        return try JSONBody.response(try await sync(realm, provider, action == "triggerChangedUsersSync"))
    }

    /// Keycloak's `POST user-storage/{id}/mappers/{mapperId}/sync?direction=fedToKeycloak`: a group
    /// mapper's directory groups made groups under its path now (empty: memberships follow at each
    /// person's sign-in), so they can be given access before anyone signs in. The groups are the
    /// ones the mapper would make at a sign-in, under the path its saver was allowed to fill:
    /// `manage-realm`, as the users' sync. `keycloakToFed` writes the directory: refused.
    func syncDirectoryMapper(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageRealm)
        let provider = try await directoryProviderInPath(context, realm: realm)
        guard let mapper = try await store.storageComponent(id: context.parameters.get("mapperId") ?? "", realmId: realm.id),
              mapper.parentId == provider.id
        else { throw AdminError.notFound("Could not find component") }
        switch FormParameters.query(of: request)["direction"] ?? "" {
        case "fedToKeycloak": break
        case "keycloakToFed": throw AdminError.badRequest("Keyport reads directories and never writes them: only direction=fedToKeycloak")
        default: throw AdminError.badRequest("direction is fedToKeycloak")
        }
        guard let sync = extensions.syncStorageMapper else { throw AdminError(.serviceUnavailable, "Directory sync is not available on this server") }
        guard let result = try await sync(realm, mapper) else {
            throw AdminError.badRequest("Only a group-ldap-mapper of an enabled provider syncs its groups")
        }
        return try JSONBody.response(result)
    }

    /// Keycloak's `unlink-users`: the provider's users stay, as local users without a password
    /// (no longer the directory's: their sign-in is an admin's to set).
    func unlinkDirectoryUsers(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        try await changeDirectoryUsers(request, context) { .unlinkDirectoryUsers(providerId: $0.id, realmId: $0.realmId) }
    }

    /// Keycloak's `remove-imported-users`: the users the provider imported are deleted (the next
    /// sign-in or sync imports them again).
    func removeDirectoryUsers(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        try await changeDirectoryUsers(request, context) { .removeDirectoryUsers(providerId: $0.id, realmId: $0.realmId) }
    }

    /// A change to every user the provider in the path imported: only by who may act on them all.
    func changeDirectoryUsers(_ request: Request, _ context: KeyportRequestContext,
                              _ change: (StorageComponent) -> StoreChange) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageRealm)
        let provider = try await directoryProviderInPath(context, realm: realm)
        try await requireMayMoveDirectoryTrust(of: provider, caller: caller, realm: realm)
        try await store.apply([change(provider)])
        return noContent
    }

    // MARK: Connection test

    /// Keycloak's `POST testLDAPConnection` (`TestLdapConnectionRepresentation`, JSON or a form):
    /// `action` `testConnection` (connect, StartTLS when asked) or `testAuthentication` (and bind).
    /// Only a realm's `realm-admin` (or the master admin) may run it: it reaches a host of the
    /// caller's choosing from the server's network. `bindCredential` `**********` with a
    /// `componentId` uses that provider's stored credential — only for the provider's own URL and
    /// bind DN. Answers 204, or 400 with what went wrong.
    func testLDAPConnection(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageRealm)
        try requireRealmAdministrator(caller, realm: realm, "test directory connections")
        let fields = try await LDAPConnectionTest.fields(of: request, context: context)
        let action = fields["action"] ?? "testConnection"
        guard ["testConnection", "testAuthentication"].contains(action) else {
            throw AdminError.badRequest("action is testConnection or testAuthentication")
        }
        var config: [String: [String]] = [:]
        for key in ["connectionUrl", "bindDn", "startTls", "connectionTimeout", "authType"] {
            if let value = fields[key], !value.isEmpty { config[key] = [value] }
        }
        var credential = fields["bindCredential"]
        if credential == StorageComponent.maskedSecret {
            credential = nil
            if let id = fields["componentId"], !id.isEmpty, let stored = try await store.storageComponent(id: id, realmId: realm.id), stored.parentId == nil,
               !LDAPProviderConfig.credentialMustBeReentered(old: stored.config, new: config) {
                credential = stored.config["bindCredential"]?.first
            } else if action == "testAuthentication" {
                throw AdminError.badRequest("Enter the bind credential: a stored one is used only for its provider's own connection URL and bind DN")
            }
        }
        // The rest of a provider's required keys, so the provider's own parser checks the URL,
        // the DN and the bounds exactly as it does for a saved provider (the test reads the
        // directory's root DSE, never the users DN).
        config["editMode"] = ["READ_ONLY"]
        config["usersDn"] = [config["bindDn"]?.first ?? "cn=connection-test"]
        if action == "testConnection", config["bindDn"] == nil { config["authType"] = ["none"] }
        config["readTimeout"] = config["connectionTimeout"]
        let parsed: LDAPProviderConfig
        do { parsed = try LDAPProviderConfig.parse(config) } catch { throw AdminError.badRequest(error.message) }
        let provider = LDAPUserProvider(config: parsed, bindCredential: credential, realm: realm.id)
        defer { provider.shutdown() }
        do {
            try await provider.test(authenticate: action == "testAuthentication")
        } catch {
            throw AdminError.badRequest(LDAPConnectionTest.message(for: error))
        }
        return noContent
    }
}

/// The connection test's input and its answers in words an administrator can act on (and
/// nothing of the credential).
enum LDAPConnectionTest {
    static let fieldNames: Set<String> = ["action", "connectionUrl", "bindDn", "bindCredential", "useTruststoreSpi", "connectionTimeout",
                                          "componentId", "startTls", "authType"]

    /// Keycloak's console posts JSON; older clients (and kcadm) a form.
    static func fields(of request: Request, context: KeyportRequestContext) async throws -> [String: String] {
        let body = try await BodyReader.read(request, context: context)
        let type = request.headers[.contentType]?.lowercased() ?? ""
        var fields: [String: String] = [:]
        if type.hasPrefix("application/x-www-form-urlencoded") {
            for (key, value) in FormParameters(encoded: String(buffer: body)).pairs where fields[key] == nil { fields[key] = value }
        } else {
            guard let json = JSONValue.parse(String(buffer: body)), case .object(let object) = json else {
                throw AdminError.badRequest("The body is a JSON object (Keycloak's TestLdapConnectionRepresentation)")
            }
            for (key, value) in object {
                switch value {
                case .string(let s): fields[key] = s
                case .bool(let b): fields[key] = b ? "true" : "false"
                case .number(let n) where n == n.rounded() && abs(n) < 1e12: fields[key] = String(Int64(n))
                case .null: continue
                default: throw AdminError.badRequest("\(String(key.prefix(40))) is a string")
                }
            }
        }
        return fields.filter { fieldNames.contains($0.key) }
    }

    static func message(for error: DirectoryError) -> String {
        switch error {
        case .badSettings(let text): "The settings are wrong: \(text)"
        case .unavailable(let text): "The directory could not be reached: \(text)"
        case .busy: "Too many directory calls are under way; try again in a moment"
        // 49: invalidCredentials, the provider's own bind refused.
        case .invalidCredentials, .refused(code: 49, _): "The directory refused the bind DN and credential"
        case .refused(let code, let text): "The directory refused (LDAP result \(code)): \(text)"
        case .tooLarge, .tooManyEntries, .ambiguous: "The directory's answer was not what a connection test expects"
        }
    }
}
