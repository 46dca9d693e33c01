import KeycloakRepresentations
import Foundation
import KeyportAuth
import KeyportModel
import KeyportProvisioning
import KeyportStore

/// One partial import's plan in the making: what the body brings, what the realm holds, and
/// the decisions so far, read by each step in turn — clients, roles, composites, groups, users.
final class PartialImportPlanner {
    typealias Failure = RealmImporter.Failure

    let importer: RealmImporter
    let body: PartialImportRepresentation
    let realm: Realm
    let policy: PartialImport.Policy
    let hashed: [String: Credential]
    var plan: PartialImport.Plan

    /// clientId → the id it will have, for the clients this import creates.
    var bodyClients: [String: String] = [:]
    /// clientId → the id of the client this import replaces.
    var replacedClientOldIds: [String: String] = [:]
    /// Clients this import replaces: their service-account users go with them.
    var replacedClientIds: Set<String> = []
    var clientIdCache: [String: String?] = [:]
    /// Roles this import creates: realm roles by name, client roles by clientId and name.
    var bodyRealmRoles: [String: String] = [:]
    var bodyClientRoles: [String: [String: String]] = [:]
    /// Each created role with its representation, for its composites.
    var declared: [(rep: RoleRepresentation, id: String)] = []
    var replacedRoleIds: Set<String> = []
    /// Existing roles and groups by name, each read once however many users name them (the
    /// body's size bounds the names; this bounds the reads).
    var existingRoles: [String: Role?] = [:]
    var existingGroups: [String: GroupNode?] = [:]
    /// Groups this import creates, by path; top-level names it replaces.
    var bodyGroupPaths: [String: String] = [:]
    var replacedGroupNames: Set<String> = []

    var store: any IdentityStore { importer.store }
    var provisioning: Provisioning { importer.provisioning }
    var env: TimeAndRandomness { importer.provisioner.environment }

    init(_ body: PartialImportRepresentation, into realm: Realm, importer: RealmImporter, hashed: [String: Credential]) async throws {
        let policyName = (body.ifResourceExists ?? body.policy ?? PartialImport.Policy.fail.rawValue).uppercased()
        guard let policy = PartialImport.Policy(rawValue: policyName) else {
            throw Failure("ifResourceExists must be FAIL, SKIP or OVERWRITE")
        }
        let count = (body.users?.count ?? 0) + (body.clients?.count ?? 0) + (body.groups?.count ?? 0) + (body.roles?.realm?.count ?? 0)
            + (body.roles?.client ?? [:]).values.reduce(0) { $0 + min($1.count, PartialImport.maxResources) }
        guard count <= PartialImport.maxResources else {
            throw Failure("at most \(PartialImport.maxResources) resources can be imported at once")
        }
        guard let versions = try await importer.store.realmVersions(realmId: realm.id) else { throw StoreError.notFound(.realm) }
        self.importer = importer
        self.body = body
        self.realm = realm
        self.policy = policy
        self.hashed = hashed
        plan = PartialImport.Plan(results: [], grantedExistingRoleIds: [], joinedExistingGroupIds: [], notices: [], pending: [],
                                  versions: versions, realmId: realm.id)
        guard (body.identityProviders ?? []).count <= IdentityProvider.limitPerRealm else {
            throw Failure("at most \(IdentityProvider.limitPerRealm) identity providers can be imported at once")
        }
    }

    /// What the policy says of an object that exists (nil: it does not); FAIL throws.
    func decide(_ exists: Bool, _ conflict: @autoclosure () -> String) throws -> PartialImport.Policy? {
        guard exists else { return nil }
        if policy == .fail { throw PartialImport.Conflict(description: conflict()) }
        return policy
    }

    func result(_ action: String, _ type: String, _ name: String, _ id: String) {
        plan.results.append(.init(action: action, resourceType: type, resourceName: name, id: id))
    }

    func check<T>(_ what: String, _ body: () throws -> T) throws -> T { try importer.check(what, body) }

    /// Identity providers, checked as the admin API checks them; a type Keyport does not
    /// implement is skipped and said (a partial import keeps nothing it does not run).
    func planIdentityProviders() async throws {
        var aliases: Set<String> = []
        for var rep in body.identityProviders ?? [] {
            let alias = String((rep.alias ?? "").prefix(80))
            if let type = rep.providerId, !IdentityProvider.supportedProviders.contains(type) {
                plan.notices.append("identity provider \(alias) (\(type.prefix(64))): skipped — Keyport implements \(IdentityProvider.supportedProviders.sorted().joined(separator: " and "))")
                continue
            }
            if rep.config?["clientSecret"] == IdentityProvider.maskedSecret { rep.config?["clientSecret"] = nil }
            let made = try check("identity provider \(alias)") { [rep] in try provisioning.newIdentityProvider(rep, id: env.newID(), realmId: realm.id) }
            guard aliases.insert(made.alias).inserted else { throw Failure("identity provider \(made.alias) appears twice") }
            let existing = try await store.identityProvider(alias: made.alias, realmId: realm.id)
            switch try decide(existing != nil, "Identity provider '\(made.alias)' already exists") {
            case .skip?:
                result("SKIPPED", "IDP", made.alias, existing!.id)
                continue
            case .overwrite?:
                plan.deletions.append(.deleteIdentityProvider(alias: made.alias, realmId: realm.id))
                result("OVERWRITTEN", "IDP", made.alias, made.id)
                for key in IdentityProvider.secretConfigKeys.sorted() where existing?.config[key] != nil && made.config[key] == nil {
                    plan.notices.append("identity provider \(made.alias): its stored \(key) is not kept (the body's was masked or absent): set it again")
                }
            default:
                result("ADDED", "IDP", made.alias, made.id)
            }
            plan.identityProviders.append(made)
        }
    }

    /// The imported users' links to identity providers: a provider of this import, or one the
    /// realm has; a link to neither, or without its upstream subject, is skipped and said.
    func planLinks() async throws {
        for (userId, alias, rep) in plan.pendingLinks {
            var provider = plan.identityProviders.first { $0.alias == alias }
            if provider == nil, alias.utf8.count <= 255 { provider = try await store.identityProvider(alias: alias, realmId: realm.id) }
            guard let provider, let subject = rep.userId, (1...255).contains(subject.utf8.count) else {
                plan.notices.append("a user's link to identity provider \(alias.prefix(80)): skipped (no such provider, or no userId)")
                continue
            }
            let name = rep.userName ?? subject
            try check("a user's link to \(alias.prefix(80))") { try ObjectRules.plain(subject, what: "userId"); try ObjectRules.plain(name, what: "userName") }
            plan.links.append(FederatedIdentity(realmId: realm.id, providerId: provider.id, userId: userId, upstreamUserId: subject, upstreamUsername: name))
        }
    }

    /// Clients, Keycloak's built-in ones never imported over.
    func planClients() async throws {
        var skippedClients: Set<String> = []
        var skippedInternal: [String] = []
        for rep in body.clients ?? [] {
            if PartialImport.isInternalClient(rep.clientId) { skippedInternal.append(rep.clientId ?? ""); continue }
            let made = try importer.client(rep, realmId: realm.id, id: env.newID(), notices: &plan.notices)
            guard bodyClients[made.clientId] == nil, !skippedClients.contains(made.clientId) else { throw Failure("client \(made.clientId) appears twice") }
            let existing = try await store.client(clientId: made.clientId, realmId: realm.id)
            switch try decide(existing != nil, "Client id '\(made.clientId)' already exists") {
            case .skip?:
                result("SKIPPED", "CLIENT", made.clientId, existing!.id)
                skippedClients.insert(made.clientId)
                continue
            case .overwrite?:
                plan.deletions.append(.deleteClient(id: existing!.id, realmId: realm.id))
                replacedClientOldIds[made.clientId] = existing!.id
                result("OVERWRITTEN", "CLIENT", made.clientId, made.id)
            default:
                result("ADDED", "CLIENT", made.clientId, made.id)
            }
            bodyClients[made.clientId] = made.id
            plan.clients.append(made)
        }
        if !skippedInternal.isEmpty {
            plan.notices.append("clients: Keycloak's built-in clients are never imported over: \(skippedInternal.joined(separator: ", "))")
        }
        // Clients this import replaces: their service-account users go with them.
        replacedClientIds = Set(plan.deletions.compactMap { change -> String? in
            if case .deleteClient(let id, _) = change { return id } else { return nil }
        })
    }

    /// The id a client has after the import, or nil when none will exist.
    func clientUUID(_ clientId: String) async throws -> String? {
        if let id = bodyClients[clientId] { return id }
        if let cached = clientIdCache[clientId] { return cached }
        let id = try await store.client(clientId: clientId, realmId: realm.id)?.id
        clientIdCache[clientId] = id
        return id
    }

    /// Roles: the realm's, then each client's.
    func planRoles() async throws {
        let builtIns = PartialImport.builtInRealmRoles(of: realm)
        for rep in body.roles?.realm ?? [] {
            let name = try check("a role") { try ObjectRules.roleName(rep.name) }
            guard bodyRealmRoles[name] == nil else { throw Failure("realm role \(name) appears twice") }
            let existing = try await store.role(named: name, realmId: realm.id, clientId: nil)
            let action = try decide(existing != nil, "Realm role '\(name)' already exists.")
            if action == .skip || (action == .overwrite && builtIns.contains(name)) {
                result("SKIPPED", "REALM_ROLE", name, existing!.id)
                continue
            }
            let role = try check("role \(name)") { try provisioning.newRole(rep, id: env.newID(), realmId: realm.id, clientId: nil) }
            if let existing {
                plan.deletions.append(.deleteRole(id: existing.id, realmId: realm.id))
                replacedRoleIds.insert(existing.id)
            }
            result(existing == nil ? "ADDED" : "OVERWRITTEN", "REALM_ROLE", name, role.id)
            bodyRealmRoles[name] = role.id
            plan.roles.append(role)
            declared.append((rep, role.id))
        }
        for (clientId, reps) in (body.roles?.client ?? [:]).sorted(by: { $0.key < $1.key }) {
            if PartialImport.isInternalClient(clientId) {
                if !reps.isEmpty { plan.notices.append("roles of client \(clientId): Keycloak's built-in client roles are never imported over") }
                continue
            }
            guard let owner = try await clientUUID(clientId) else { throw Failure("roles of client \(clientId), which does not exist") }
            // A client this import replaces starts with no roles: its old ones go with it.
            let ownerIsNew = bodyClients[clientId] != nil
            for rep in reps {
                let name = try check("a role") { try ObjectRules.roleName(rep.name) }
                guard bodyClientRoles[clientId]?[name] == nil else { throw Failure("role \(name) of client \(clientId) appears twice") }
                let existing = ownerIsNew ? nil : try await store.role(named: name, realmId: realm.id, clientId: owner)
                let action = try decide(existing != nil, "Client role '\(name)' for client '\(clientId)' already exists.")
                if action == .skip {
                    result("SKIPPED", "CLIENT_ROLE", "\(clientId)-\(name)", existing!.id)
                    continue
                }
                let role = try check("role \(name)") { try provisioning.newRole(rep, id: env.newID(), realmId: realm.id, clientId: owner) }
                if let existing {
                    plan.deletions.append(.deleteRole(id: existing.id, realmId: realm.id))
                    replacedRoleIds.insert(existing.id)
                }
                // A role of a replaced client goes with it; reported as Keycloak does, replaced.
                var replacedWithClient = false
                if existing == nil, let oldOwner = replacedClientOldIds[clientId] {
                    replacedWithClient = try await store.role(named: name, realmId: realm.id, clientId: oldOwner) != nil
                }
                result(existing == nil && !replacedWithClient ? "ADDED" : "OVERWRITTEN", "CLIENT_ROLE", "\(clientId)-\(name)", role.id)
                bodyClientRoles[clientId, default: [:]][name] = role.id
                plan.roles.append(role)
                declared.append((rep, role.id))
            }
        }
    }

    func existingRole(_ name: String, owner: String?) async throws -> Role? {
        let key = (owner ?? "") + "\u{0}" + name
        if let known = existingRoles[key] { return known }
        let role = try await store.role(named: name, realmId: realm.id, clientId: owner)
        existingRoles[key] = role
        return role
    }
    func existingGroup(_ path: String) async throws -> GroupNode? {
        if let known = existingGroups[path] { return known }
        let group = try await store.group(path: path, realmId: realm.id)
        existingGroups[path] = group
        return group
    }

    /// A role by name as it will be after the import; existing ones are noted for the admin-role rule.
    func roleIds(realm names: [String]?, clients: [String: [String]]?, for what: String) async throws -> [String] {
        try await RealmImporter.resolving(what) {
            try await RoleNames.resolve(realm: names, clients: clients) { name, clientId in
                if let clientId {
                    if let id = bodyClientRoles[clientId]?[name] { return id }
                    // A client this import brings has only the roles it brings.
                    guard bodyClients[clientId] == nil, let owner = try await clientUUID(clientId) else { return nil }
                    guard let role = try await existingRole(name, owner: owner), !replacedRoleIds.contains(role.id) else { return nil }
                    plan.grantedExistingRoleIds.insert(role.id)
                    return role.id
                }
                if let id = bodyRealmRoles[name] { return id }
                guard let role = try await existingRole(name, owner: nil), !replacedRoleIds.contains(role.id) else { return nil }
                plan.grantedExistingRoleIds.insert(role.id)
                return role.id
            }
        }
    }

    /// The composites of the roles this import creates.
    func planComposites() async throws {
        for (rep, parent) in declared {
            guard let composites = rep.composites else { continue }
            let children = try await roleIds(realm: composites.realm, clients: composites.client, for: "composite role \(rep.name ?? "")")
            if !children.isEmpty { plan.composites.append((parent, children)) }
        }
    }

    /// Groups: top-level ones by name, each with its subtree.
    func planGroups() async throws {
        for rep in body.groups ?? [] {
            let name = try check("a group") { try ObjectRules.groupName(rep.name) }
            let existing = try await store.group(path: "/" + name, realmId: realm.id)
            switch try decide(existing != nil, "Group '\(name)' already exists") {
            case .skip?:
                result("SKIPPED", "GROUP", name, existing!.group.id)
                continue
            case .overwrite?:
                plan.deletions.append(.deleteGroup(id: existing!.group.id, realmId: realm.id))
                replacedGroupNames.insert(name)
            default: break
            }
            guard bodyGroupPaths["/" + name] == nil else { throw Failure("group /\(String(name.prefix(80))) appears twice") }
            try await addGroups([rep], parent: nil)
            result(existing == nil ? "ADDED" : "OVERWRITTEN", "GROUP", name, bodyGroupPaths["/" + name]!)
        }
    }

    func addGroups(_ list: [GroupRepresentation], parent: (id: String, path: String)?) async throws {
        for rep in list {
            let name = try check("a group") { try ObjectRules.groupName(rep.name) }
            let path = (parent?.path ?? "") + "/" + name
            guard bodyGroupPaths[path] == nil else { throw Failure("group \(String(path.prefix(80))) appears twice") }
            guard path.split(separator: "/").count <= GroupNode.maxDepth else {
                throw Failure("group \(String(path.prefix(80)))… is nested more than \(GroupNode.maxDepth) levels deep")
            }
            let group = try check("group \(name)") { try provisioning.newGroup(rep, id: env.newID(), realmId: realm.id, parentId: parent?.id) }
            bodyGroupPaths[path] = group.id
            plan.groups.append(group)
            let roles = try await roleIds(realm: rep.realmRoles, clients: rep.clientRoles, for: "group \(path)")
            if !roles.isEmpty { plan.groupRoles.append((group.id, roles)) }
            try await addGroups(rep.subGroups ?? [], parent: (group.id, path))
        }
    }

    /// Users, with their passwords, roles and groups; then the service accounts of the clients created.
    func planUsers() async throws {
        let defaultRoleId = try await store.role(named: realm.defaultRoleName, realmId: realm.id, clientId: nil)?.id
        var usernames: Set<String> = []
        let now = env.now()
        for rep in body.users ?? [] {
            let username = User.normalize(try check("a user") { try ObjectRules.username(rep.username) })
            guard usernames.insert(username).inserted else { throw Failure("user \(username) appears twice") }
            let byName = try await store.user(username: username, realmId: realm.id)
            var byEmail: User? = nil
            if let email = rep.email, !email.isEmpty, !realm.duplicateEmailsAllowed {
                byEmail = try await store.user(email: email, realmId: realm.id).first
            }
            if let byName, let byEmail, byName.id != byEmail.id {
                throw PartialImport.Conflict(description: "User with user name \(username) or with email \(rep.email ?? "") already exists.")
            }
            let existing = byName ?? byEmail
            let action = try decide(existing != nil, "User with user name \(username) already exists.")
            if action == .skip {
                result("SKIPPED", "USER", username, existing!.id)
                continue
            }
            // Only a client this import creates can be given a service account here.
            let serviceAccountClientId = try rep.serviceAccountClientId.map { clientId in
                guard let id = bodyClients[clientId] else {
                    throw Failure("user \(username) is the service account of client \(clientId), which this import does not create")
                }
                return id
            }
            var id = env.newID()
            if let given = rep.id, !given.isEmpty {
                try check("user \(username)") { try ObjectRules.plain(given, what: "User id") }
                id = given
            }
            var user = try check("user \(username)") {
                try provisioning.newUser(rep, id: id, realmId: realm.id, createdAt: now, enabledByDefault: true,
                                         serviceAccountClientId: serviceAccountClientId)
            }
            if let link = rep.federationLink,
               !Provisioning.linkToDirectory(&user, provider: try await store.storageComponent(id: link, realmId: realm.id)) {
                plan.notices.append("user \(username): its federationLink names no LDAP provider of the realm, or it has no LDAP_ID; imported as a local user")
            }
            if let existing {
                plan.overwrittenUserIds.insert(existing.id)
                if !(existing.serviceAccountClientId.map(replacedClientIds.contains) ?? false) {
                    plan.deletions.append(.deleteUser(id: existing.id, realmId: realm.id))
                }
                // Tokens of the user it replaces never pass for it, even under the same id.
                user.notBefore = max(user.notBefore, now)
            }
            let roles = try await roleIds(realm: rep.realmRoles, clients: rep.clientRoles, for: "user \(username)")
            var groupIds: [String] = []
            for path in rep.groups ?? [] {
                let normalized = path.hasPrefix("/") ? path : "/" + path
                if let groupId = bodyGroupPaths[normalized] { groupIds.append(groupId); continue }
                let top = normalized.split(separator: "/").first.map(String.init) ?? ""
                guard !replacedGroupNames.contains(top), let group = try await existingGroup(normalized) else {
                    throw Failure("user \(username) is in group \(path), which does not exist")
                }
                plan.joinedExistingGroupIds.insert(group.group.id)
                groupIds.append(group.group.id)
            }
            guard groupIds.count <= 100 else { throw Failure("user \(username) is in more than 100 groups") }
            let c = (rep.credentials ?? []).last { ($0.type ?? Credential.password) == Credential.password }
            var password: Credential?
            if let c, c.value != nil, let done = hashed[username] {
                password = Credential(id: done.id, userId: id, secret: done.secret, createdAt: done.createdAt, userLabel: done.userLabel)
            } else if let c {
                password = try importer.credential(c, user: user, index: plan.users.count, created: now, plain: &plan.pending)
            }
            guard (rep.federatedIdentities?.count ?? 0) <= IdentityProvider.limitPerRealm else { throw Failure("user \(username) has too many federatedIdentities") }
            // A service account signs in with its client's credentials, never through a browser.
            if serviceAccountClientId == nil { plan.pendingLinks += (rep.federatedIdentities ?? []).map { (id, $0.identityProvider ?? "", $0) } }
            result(existing == nil ? "ADDED" : "OVERWRITTEN", "USER", username, id)
            // As a user created through the admin API: the realm's default role, unless the body maps it.
            plan.users.append(Provisioning.newUserSeed(user, defaultRoleId: defaultRoleId, password: password,
                                                       temporaryPassword: c?.value != nil && c?.temporary == true, roleIds: roles, groupIds: groupIds))
        }
        // Clients with service accounts this import creates, whose users the body does not bring.
        plan.users += importer.missingServiceAccounts(clients: plan.clients, users: plan.users, defaultRoleId: defaultRoleId)
    }
}
