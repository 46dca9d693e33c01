import KeycloakRepresentations
import Foundation
import KeyportAuth
import KeyportLDAP
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportStore

/// A realm file's seed in the making, one step at a time: the realm and its settings (at
/// `init`), then clients, roles, composites, groups and users — every name resolved to an id
/// before the store is touched. What the file refers to must be in the file (or built in).
final class RealmSeedBuilder {
    typealias Failure = RealmImporter.Failure

    let importer: RealmImporter
    let doc: RealmRepresentation
    /// Keyport's built-in clients, roles and keys for the realm, for what the file lacks.
    let base: RealmSeed
    var seed: RealmSeed
    /// What the import decided on the file's behalf, for the operator.
    var notices: [String] = []
    /// Passwords given in clear, hashed once the whole file is read.
    var plain: [RealmImporter.PlainPassword] = []
    /// clientId → id, the file's clients and the built-ins it lacks.
    var clientUUID: [String: String] = [:]
    /// The built-in clients the file lacks (their roles come too).
    var baseClientIds: Set<String> = []
    var realmRole: [String: String] = [:]
    var clientRole: [String: [String: String]] = [:]
    /// Each role of the file with its representation, for its composites.
    var declared: [(role: RoleRepresentation, id: String)] = []
    var groupByPath: [String: String] = [:]
    /// provider id/entry id of the users linked so far (one user per directory entry).
    var directoryEntries: Set<String> = []

    var env: TimeAndRandomness { importer.provisioner.environment }
    var provisioning: Provisioning { importer.provisioning }
    var realm: Realm { seed.realm }

    func check<T>(_ what: String, _ body: () throws -> T) throws -> T { try importer.check(what, body) }

    /// The realm and its settings, checked as the admin API's PUT checks them.
    init(_ doc: RealmRepresentation, importer: RealmImporter) throws {
        self.importer = importer
        self.doc = doc
        let env = importer.provisioner.environment
        var notices: [String] = []
        guard let name = doc.realm, RealmBounds.realmNameLength.contains(name.utf8.count),
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }), name != ".", name != ".."
        else { throw Failure("the realm name is missing, longer than \(RealmBounds.realmNameLength.upperBound) characters, or not made of letters, digits, '-', '_' and '.'") }
        var realm = Realm(id: doc.id ?? env.newID(), name: name, displayName: doc.displayName, enabled: doc.enabled ?? true, createdAt: env.now())
        // The same mapping and the same checks as the admin API's PUT (`Realm.apply`).
        // A Keycloak file that says nothing of events keeps Keyport's default (events on).
        let change = doc.settingsChange
        do {
            try realm.apply(change, ceiling: importer.ceiling)
        } catch {
            throw Failure(error.description)
        }
        // Keycloak's rules Keyport does not enforce (PBKDF2's hashing, password expiry) are dropped, and named.
        let policy = PasswordPolicy.importing(doc.passwordPolicy)
        realm.passwordPolicy = policy.policy
        if !policy.dropped.isEmpty {
            notices.append("realm \(name): password policy rules Keyport does not enforce were dropped: \(policy.dropped.joined(separator: ", "))")
        }
        realm.attributes = try importer.check("the realm") { try ObjectRules.singleAttributes(doc.attributes ?? [:]) }

        // Keycloak's docker-v2 switch is server-wide, so its files say nothing per realm: a realm
        // that brings registry clients and no explicit switch gets docker-v2 on, and is told so.
        if doc.dockerV2Enabled == nil, (doc.clients ?? []).contains(where: { $0.protocol == ClientProtocol.dockerV2.rawValue }) {
            realm.dockerV2Enabled = true
            notices.append("realm \(name): docker-v2 turned on — the file has docker-v2 clients and no dockerV2Enabled (Keycloak's switch is server-wide)")
        }
        let base = try importer.provisioner.seed(for: realm)
        self.base = base
        seed = RealmSeed(realm: realm, keys: base.keys)
        self.notices = notices
    }

    /// Clients: the file's, then the built-ins it lacks (with their roles).
    func addClients() throws {
        for c in doc.clients ?? [] {
            let client = try importer.client(c, realmId: realm.id, id: c.id ?? env.newID(), notices: &notices)
            guard clientUUID[client.clientId] == nil else { throw Failure("client \(client.clientId) appears twice") }
            clientUUID[client.clientId] = client.id
            seed.clients.append(client)
        }
        baseClientIds = Set(base.clients.filter { clientUUID[$0.clientId] == nil }.map(\.id))
        for client in base.clients where baseClientIds.contains(client.id) {
            clientUUID[client.clientId] = client.id
            seed.clients.append(client)
        }
    }

    /// Roles by name: realm roles and each client's, then the built-ins the file lacks and the composite edges among them.
    func addRoles() throws {
        for r in doc.roles?.realm ?? [] { try addRole(r, clientId: nil) }
        for (clientId, roles) in doc.roles?.client ?? [:] {
            for r in roles { try addRole(r, clientId: clientId) }
        }
        // Built-in roles the file lacks, and the composite edges among them.
        var added: Set<String> = []
        for role in base.roles {
            if let owner = role.clientId {
                guard baseClientIds.contains(owner), let clientId = base.clients.first(where: { $0.id == owner })?.clientId else { continue }
                clientRole[clientId, default: [:]][role.name] = role.id
            } else {
                guard realmRole[role.name] == nil else { continue }
                realmRole[role.name] = role.id
            }
            seed.roles.append(role)
            added.insert(role.id)
        }
        seed.composites += base.composites.filter { added.contains($0.0) && added.contains($0.1) }
    }

    func addRole(_ r: RoleRepresentation, clientId: String?) throws {
        let roleName = try check("a role") { try ObjectRules.roleName(r.name) }
        let owner = try clientId.map { id -> String in
            guard let uuid = clientUUID[id] else { throw Failure("roles of client \(id), which the file does not define") }
            return uuid
        }
        let role = try check("role \(roleName)") { try provisioning.newRole(r, id: r.id ?? env.newID(), realmId: realm.id, clientId: owner) }
        if let clientId {
            guard clientRole[clientId, default: [:]][roleName] == nil else { throw Failure("role \(roleName) of client \(clientId) appears twice") }
            clientRole[clientId, default: [:]][roleName] = role.id
        } else {
            guard realmRole[roleName] == nil else { throw Failure("realm role \(roleName) appears twice") }
            realmRole[roleName] = role.id
        }
        seed.roles.append(role)
        declared.append((r, role.id))
    }

    /// Role names as the file will have them.
    func roleIds(realm names: [String]?, clients: [String: [String]]?, for what: String) async throws -> [String] {
        try await RealmImporter.resolving(what) {
            try await RoleNames.resolve(realm: names, clients: clients) { name, clientId in
                if let clientId { return clientRole[clientId]?[name] }
                return realmRole[name]
            }
        }
    }

    /// The composites of the file's roles.
    func addComposites() async throws {
        for (r, parent) in declared {
            guard let composites = r.composites, let roleName = r.name else { continue }
            for child in try await roleIds(realm: composites.realm, clients: composites.client, for: "composite role \(roleName)") {
                seed.composites.append((parent, child))
            }
        }
    }

    /// Groups, parents before children.
    func addGroups() async throws {
        try await addGroupLevel(doc.groups ?? [], parent: nil)
    }

    func addGroupLevel(_ list: [GroupRepresentation], parent: (id: String, path: String)?) async throws {
        for g in list {
            let groupName = try check("a group") { try ObjectRules.groupName(g.name) }
            let group = try check("group \(groupName)") { try provisioning.newGroup(g, id: g.id ?? env.newID(), realmId: realm.id, parentId: parent?.id, keepingDirectoryMapper: true) }
            let path = (parent?.path ?? "") + "/" + groupName
            guard path.split(separator: "/").count <= GroupNode.maxDepth else {
                throw Failure("group \(String(path.prefix(80)))… is nested more than \(GroupNode.maxDepth) levels deep")
            }
            groupByPath[path] = group.id
            seed.groups.append(group)
            for roleId in try await roleIds(realm: g.realmRoles, clients: g.clientRoles, for: "group \(path)") { seed.groupRoles.append((group.id, roleId)) }
            try await addGroupLevel(g.subGroups ?? [], parent: (group.id, path))
        }
    }

    /// Users, with their hashes, roles and groups; then the service accounts of clients that have none in the file.
    func addUsers() async throws {
        var usernames: Set<String> = []
        for u in doc.users ?? [] {
            let username = try check("a user") { try ObjectRules.username(u.username) }
            guard usernames.insert(User.normalize(username)).inserted else { throw Failure("user \(username) appears twice") }
            let created = u.createdTimestamp.map { Timestamp(millisecondsSince1970: $0) } ?? env.now()
            let serviceAccountClientId = try u.serviceAccountClientId.map { id in
                guard let uuid = clientUUID[id] else { throw Failure("user \(username) is the service account of client \(id), which does not exist") }
                return uuid
            }
            // A realm file's users are enabled unless it says otherwise.
            var user = try check("user \(username)") {
                try provisioning.newUser(u, id: u.id ?? env.newID(), realmId: realm.id, createdAt: created, enabledByDefault: true,
                                         serviceAccountClientId: serviceAccountClientId)
            }
            if let link = u.federationLink { try linkToDirectory(&user, provider: link) }
            let groupIds = try (u.groups ?? []).map { path in
                guard let id = groupByPath[path.hasPrefix("/") ? path : "/" + path] else { throw Failure("user \(username) is in group \(path), which does not exist") }
                return id
            }
            // One password per user: the file's last one (a plain one is hashed once the file is read).
            let c = (u.credentials ?? []).last { ($0.type ?? Credential.password) == Credential.password }
            let made = try c.flatMap { try importer.credential($0, user: user, index: seed.users.count, created: created, plain: &plain) }
            // A realm file's users carry their own mappings (Keycloak's exports list the default role).
            let roleIds = try await roleIds(realm: u.realmRoles, clients: u.clientRoles, for: "user \(username)")
            seed.users.append(Provisioning.newUserSeed(user, defaultRoleId: nil, password: made, temporaryPassword: c?.value != nil && c?.temporary == true,
                                                       roleIds: roleIds, groupIds: groupIds))
        }
        seed.users += importer.missingServiceAccounts(clients: seed.clients, users: seed.users, defaultRoleId: realmRole[realm.defaultRoleName])
    }

    /// LDAP providers and their mappers (`components`), checked as the admin API checks them (a
    /// masked credential is none); what a mapper gives — a role, a group, a client's roles, the
    /// group directory groups go under — resolved from the file's own. Keycloak's files carry the
    /// mappers a provider has, so none are added.
    func addUserFederation() throws {
        let providers = doc.components?[StorageComponent.userStorageProviderType] ?? []
        guard providers.count <= StorageComponent.providersPerRealm else {
            throw Failure("the file has more than \(StorageComponent.providersPerRealm) LDAP providers")
        }
        for var rep in providers {
            if rep.config?["bindCredential"]?.first == StorageComponent.maskedSecret { rep.config?["bindCredential"] = nil }
            let provider = try check("LDAP provider \((rep.name ?? "?").prefix(80))") {
                try provisioning.newStorageComponent(rep.asComponent(providerType: StorageComponent.userStorageProviderType, parentId: nil),
                                                     id: rep.id ?? env.newID(), realm: realm, parent: nil)
            }
            seed.storageComponents.append(provider)
            for (type, list) in rep.subComponents ?? [:] where type != StorageComponent.ldapMapperType && !list.isEmpty {
                notices.append("LDAP provider \(provider.name.prefix(80)): its \(type.prefix(80)) components are not used, skipped")
            }
            let mappers = rep.subComponents?[StorageComponent.ldapMapperType] ?? []
            guard mappers.count <= StorageComponent.mappersPerProvider else {
                throw Failure("LDAP provider \(provider.name.prefix(80)) has more than \(StorageComponent.mappersPerProvider) mappers")
            }
            for m in mappers {
                let label = "LDAP mapper \((m.name ?? "?").prefix(80))"
                if let type = m.providerId, LDAPMapperConfig.Kind(rawValue: type) == nil {
                    notices.append("\(label) (\(type.prefix(64))): not a type Keyport runs, skipped")
                    continue
                }
                var mapper = try check(label) {
                    try provisioning.newStorageComponent(m.asComponent(providerType: StorageComponent.ldapMapperType, parentId: provider.id),
                                                         id: m.id ?? env.newID(), realm: realm, parent: provider)
                }
                let target: String??
                switch try? LDAPMapperConfig.parse(providerId: mapper.providerId, mapper.config) {
                case .hardcodedRole(let name)?:
                    target = RoleNames.resolveSync(qualified: name) { name, client in client.map { clientRole[$0]?[name] } ?? realmRole[name] }.map { .some($0) }
                case .hardcodedGroup(let path)?:
                    target = groupByPath[path.hasPrefix("/") ? path : "/" + path].map { .some($0) }
                case .group(let membership)?:
                    target = membership.groupsPath == "/" ? .some(nil) : groupByPath[membership.groupsPath].map { .some($0) }
                case .role(let membership)?:
                    target = membership.clientId.map { clientUUID[$0].map { .some($0) } } ?? .some(nil)
                default:
                    target = .some(nil)
                }
                guard let resolved = target else {
                    notices.append("\(label): the role, group or client it names is not in the file, skipped")
                    continue
                }
                mapper.targetId = resolved
                seed.storageComponents.append(mapper)
            }
        }
    }

    /// A file's user imported from a directory (`federationLink`, its entry's id in
    /// `attributes.LDAP_ID`, as Keycloak exports it): linked to the file's provider, or told and
    /// left a local user when the file lacks either.
    func linkToDirectory(_ user: inout User, provider link: String) throws {
        guard Provisioning.linkToDirectory(&user, provider: seed.storageComponents.first { $0.id == link }) else {
            notices.append("user \(user.username.prefix(80)): its federationLink names no LDAP provider of the file, or it has no LDAP_ID; imported as a local user")
            return
        }
        guard directoryEntries.insert("\(link)/\(user.federationId ?? "")").inserted else {
            throw Failure("user \(user.username.prefix(80)): another user of the file is the same directory entry (LDAP_ID)")
        }
    }

    /// Identity providers, checked as the admin API checks them (a masked secret is no secret).
    func addIdentityProviders() throws {
        guard let reps = doc.identityProviders else { return }
        guard reps.count <= IdentityProvider.limitPerRealm else { throw Failure("the file has more than \(IdentityProvider.limitPerRealm) identity providers") }
        var aliases: Set<String> = []
        for var rep in reps {
            let alias = rep.alias ?? ""
            guard aliases.insert(alias).inserted else { throw Failure("identity provider \(alias.prefix(80)) appears twice") }
            if rep.config?["clientSecret"] == IdentityProvider.maskedSecret { rep.config?["clientSecret"] = nil }
            let provider = try check("identity provider \(alias.prefix(80))") {
                try provisioning.newIdentityProvider(rep, id: rep.internalId ?? env.newID(), realmId: realm.id)
            }
            seed.identityProviders.append(provider)
        }
    }

    /// What brokered sign-in keeps: the providers' mappers (Keycloak's top-level
    /// `identityProviderMappers`) and each user's links (`federatedIdentities`). One for a
    /// provider the file does not define here (a type Keyport does not implement) is skipped and said.
    func addBrokering() throws {
        let providers = Dictionary(seed.identityProviders.map { ($0.alias, $0) }) { a, _ in a }
        let mappers = doc.identityProviderMappers ?? []
        guard mappers.count <= IdentityProvider.limitPerRealm * 10 else { throw Failure("the file has too many identity provider mappers") }
        for rep in mappers {
            let alias = rep.identityProviderAlias ?? ""
            guard let provider = providers[alias] else {
                notices.append("identity provider mapper \((rep.name ?? "?").prefix(80)): provider \(alias.prefix(80)) is not one Keyport uses, skipped")
                continue
            }
            if let type = rep.identityProviderMapper, IdentityProviderMapper.Kind(rawValue: type) == nil {
                notices.append("identity provider mapper \((rep.name ?? "?").prefix(80)) (\(type.prefix(64))): not a type Keyport implements, skipped")
                continue
            }
            var mapper = try check("identity provider mapper \((rep.name ?? "?").prefix(80))") {
                try provisioning.newIdentityProviderMapper(rep, id: rep.id ?? env.newID(), realmId: realm.id, providerId: provider.id)
            }
            // The role or group it gives, by id, from the file's own roles and groups.
            if let kind = mapper.kind, kind.grantsRoles {
                mapper.targetId = kind.givesRole ? RoleNames.resolveSync(qualified: mapper.config["role"] ?? "") { name, client in
                    client.map { clientRole[$0]?[name] } ?? realmRole[name]
                } : groupByPath[mapper.config["group"] ?? ""]
                guard mapper.targetId != nil else {
                    notices.append("identity provider mapper \(mapper.name.prefix(80)): its \(kind.givesRole ? "role" : "group") is not in the file, skipped")
                    continue
                }
            }
            seed.identityProviderMappers.append(mapper)
        }
        let userIds = Dictionary(seed.users.map { ($0.user.username, $0.user.id) }) { a, _ in a }
        for u in doc.users ?? [] {
            for link in u.federatedIdentities ?? [] {
                guard let id = userIds[User.normalize(u.username ?? "")] else { continue }
                guard let provider = providers[link.identityProvider ?? ""], let subject = link.userId, (1...255).contains(subject.utf8.count) else {
                    notices.append("user \((u.username ?? "?").prefix(80)): link to \((link.identityProvider ?? "?").prefix(80)) skipped (no such provider here, or no userId)")
                    continue
                }
                seed.federatedIdentities.append(FederatedIdentity(realmId: realm.id, providerId: provider.id, userId: id, upstreamUserId: subject,
                                                                  upstreamUsername: link.userName ?? subject))
            }
        }
    }

    /// Client scopes: the file's (with the realm's defaults, each client's assignments and the
    /// scope mappings, all by name), or Keycloak's built-ins when the file has none (as Keycloak
    /// does for such a file). A client that names no scopes gets the realm's of its protocol.
    /// A scope name the file refers to but does not define is skipped and said, as Keycloak does.
    func addClientScopes() throws {
        if let reps = doc.clientScopes {
            guard reps.count <= ClientScope.limitPerRealm else { throw Failure("the file has more than \(ClientScope.limitPerRealm) client scopes") }
            var names: Set<String> = []
            for rep in reps {
                let name = try check("a client scope") { try ObjectRules.clientScopeName(rep.name) }
                guard names.insert(name).inserted else { throw Failure("client scope \(name) appears twice") }
                let scope = try check("client scope \(name)") {
                    ClientScope(id: rep.id ?? env.newID(), realmId: realm.id, name: name,
                                description: try ObjectRules.optionalText(rep.description, what: "description"),
                                protocolName: rep.protocol ?? ClientProtocol.openIDConnect.rawValue,
                                attributes: try ObjectRules.singleAttributes(rep.attributes ?? [:]),
                                protocolMappers: try ObjectRules.protocolMappers(rep.protocolMappers ?? [], newID: env.newID))
                }
                seed.clientScopes.scopes.append(scope)
            }
            for (list, isDefault) in [(doc.defaultDefaultClientScopes, true), (doc.defaultOptionalClientScopes, false)] {
                for name in list ?? [] {
                    guard let id = scopeId(name, for: "the realm's \(isDefault ? "default" : "optional") client scopes") else { continue }
                    seed.clientScopes.realmDefaults.append((id, isDefault))
                }
            }
        } else {
            importer.provisioner.withBuiltinClientScopes(&seed, offlineAccessRoleId: realmRole[BuiltInRoles.offlineAccess])
            seed.clientClientScopes = []
        }
        let fileClients = Dictionary((doc.clients ?? []).compactMap { rep in rep.clientId.map { ($0, rep) } }, uniquingKeysWith: { first, _ in first })
        for client in seed.clients {
            let rep = fileClients[client.clientId]
            if rep?.defaultClientScopes == nil && rep?.optionalClientScopes == nil {
                for assignment in seed.clientScopes.realmDefaults
                where seed.clientScopes.scopes.first(where: { $0.id == assignment.scopeId })?.protocolName == client.protocolName.rawValue {
                    seed.clientClientScopes.append((client.id, assignment.scopeId, assignment.isDefault))
                }
                continue
            }
            for (list, isDefault) in [(rep?.defaultClientScopes, true), (rep?.optionalClientScopes, false)] {
                for name in list ?? [] {
                    guard let id = scopeId(name, for: "client \(client.clientId)") else { continue }
                    seed.clientClientScopes.append((client.id, id, isDefault))
                }
            }
        }
        // Scope mappings: realm roles (`scopeMappings`) and each client's roles (`clientScopeMappings`).
        var mappings: [(owner: String?, mapping: ScopeMappingRepresentation)] = (doc.scopeMappings ?? []).map { (nil, $0) }
        for (owner, list) in doc.clientScopeMappings ?? [:] { mappings += list.map { (owner, $0) } }
        for (owner, mapping) in mappings {
            var roleIds: [String] = []
            for name in mapping.roles ?? [] {
                let id = owner.map { clientRole[$0]?[name] } ?? realmRole[name]
                guard let id else {
                    throw Failure("a scope mapping refers to \(owner.map { "role \(name) of client \($0)" } ?? "realm role \(name)"), which does not exist")
                }
                roleIds.append(id)
            }
            if let scopeName = mapping.clientScope {
                guard let scope = scopeId(scopeName, for: "a scope mapping") else { continue }
                seed.clientScopes.scopeRoles += roleIds.map { (scope, $0) }
            } else if let clientId = mapping.client {
                guard let client = clientUUID[clientId] else { throw Failure("a scope mapping refers to client \(clientId), which does not exist") }
                seed.clientScopeMappings += roleIds.map { (client, $0) }
            }
        }
    }

    /// The id of the file's client scope `name`. A file that names one of Keycloak's built-in
    /// scopes without defining it (files trimmed by hand, or by the projects that publish them)
    /// gets Keycloak's, as references to built-in clients and roles resolve; any other missing
    /// name is skipped. Either is said in a notice.
    func scopeId(_ name: String, for what: String) -> String? {
        if let scope = seed.clientScopes.scopes.first(where: { $0.name == name }) { return scope.id }
        let builtins = BuiltinClientScopeCatalog(newID: env.newID).scopes(realmId: realm.id, offlineAccessRoleId: realmRole[BuiltInRoles.offlineAccess])
        guard let builtin = builtins.scopes.first(where: { $0.name == name }) else {
            notices.append("\(what): client scope \(name) does not exist in the file; skipped")
            return nil
        }
        seed.clientScopes.scopes.append(builtin)
        seed.clientScopes.scopeRoles += builtins.scopeRoles.filter { $0.scopeId == builtin.id }
        notices.append("client scope \(name) is named but not defined in the file: Keycloak's built-in \(name) added")
        return builtin.id
    }
}
