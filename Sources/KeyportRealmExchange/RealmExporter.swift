import Foundation
import KeycloakRepresentations
import KeyportJSON
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportStore

/// Writes a realm in Keycloak's export format: settings, roles with composites and
/// attributes, clients (with secrets: an export is a backup), groups, users with their
/// password hashes as `secretData` / `credentialData`, role mappings and groups. Lists are
/// in a stable order so that export → import → export gives the same bytes. Signing keys are
/// not exported: an import makes new ones.
public struct RealmExporter: Sendable {
    let store: any IdentityStore

    public init(store: any IdentityStore) {
        self.store = store
    }

    public struct NotFound: Error, CustomStringConvertible {
        public let description: String
    }

    /// What a partial export (Keycloak's `partial-export`) carries besides the realm's settings.
    /// It never carries users, and client secrets are masked: it is a template, not a backup.
    public struct PartialExport: Sendable {
        public var clients: Bool
        public var groupsAndRoles: Bool
        public init(clients: Bool, groupsAndRoles: Bool) {
            self.clients = clients
            self.groupsAndRoles = groupsAndRoles
        }
    }

    public func export(realmNamed name: String, partial: PartialExport? = nil) async throws -> RealmRepresentation {
        guard let realm = try await store.realm(named: name) else { throw NotFound(description: "realm \(name) does not exist") }
        let providers = try await store.identityProviders(realmId: realm.id)
        let providerAliases = Dictionary(providers.map { ($0.id, $0.alias) }) { a, _ in a }
        let clients = try await store.clients(realmId: realm.id, page: .all).sorted { $0.clientId < $1.clientId }
        let clientIdOf = Dictionary(uniqueKeysWithValues: clients.map { ($0.id, $0.clientId) })

        func names(_ roles: [Role]) -> (realm: [String]?, client: [String: [String]]?) {
            let realmNames = roles.filter { !$0.isClientRole }.map(\.name).sorted()
            var clientNames: [String: [String]] = [:]
            for role in roles where role.isClientRole { clientNames[clientIdOf[role.clientId!] ?? role.clientId!, default: []].append(role.name) }
            return (realmNames.isEmpty ? nil : realmNames, clientNames.isEmpty ? nil : clientNames.mapValues { $0.sorted() })
        }
        func role(_ r: Role) async throws -> RoleRepresentation {
            let children = try await store.composites(of: r.id, realmId: realm.id)
            let (realmChildren, clientChildren) = names(children)
            var rep = RoleRepresentation(r, composite: !children.isEmpty)
            rep.composites = children.isEmpty ? nil : CompositesRepresentation(realm: realmChildren, client: clientChildren)
            return rep
        }

        var realmRoles: [RoleRepresentation] = []
        for r in try await store.roles(realmId: realm.id, clientId: nil, search: nil, page: .all) { realmRoles.append(try await role(r)) }
        var clientRoles: [String: [RoleRepresentation]] = [:]
        for client in clients {
            var list: [RoleRepresentation] = []
            for r in try await store.roles(realmId: realm.id, clientId: client.id, search: nil, page: .all) { list.append(try await role(r)) }
            if !list.isEmpty { clientRoles[client.clientId] = list }
        }
        // Keycloak names the default role in the realm's header; its composites are in `roles`.
        let defaultRole = realmRoles.first { $0.name == realm.defaultRoleName }.map { full -> RoleRepresentation in
            var brief = RoleRepresentation()
            brief.id = full.id
            brief.name = full.name
            brief.description = full.description
            brief.composite = true
            brief.clientRole = false
            brief.containerId = realm.id
            return brief
        }

        func groups(parent: String?) async throws -> [GroupRepresentation] {
            var result: [GroupRepresentation] = []
            for node in try await store.groups(realmId: realm.id, parentId: parent, search: nil, page: .all) {
                let (realmNames, clientNames) = names(try await store.groupRoles(groupId: node.group.id, realmId: realm.id))
                var rep = GroupRepresentation()
                rep.id = node.group.id
                rep.name = node.group.name
                rep.path = node.path
                rep.attributes = node.group.attributes.mapValues(StringList.init)
                rep.realmRoles = realmNames ?? []
                rep.clientRoles = clientNames ?? [:]
                rep.subGroups = try await groups(parent: node.group.id)
                result.append(rep)
            }
            return result
        }

        var users: [UserRepresentation] = []
        for u in partial != nil ? [] : try await store.users(realmId: realm.id, matching: UserQuery(includeServiceAccounts: true), page: .all) {
            let (realmNames, clientNames) = names(try await store.userRoles(userId: u.id, realmId: realm.id))
            var credentials: [CredentialRepresentation] = []
            for c in try await store.credentials(userId: u.id) {
                guard let (secretData, credentialData) = KeycloakCredential.exported(stored: c.secret.revealed) else { continue }
                var credential = CredentialRepresentation(id: c.id, type: c.type, userLabel: c.userLabel, createdDate: c.createdAt.millisecondsSince1970)
                credential.secretData = secretData
                credential.credentialData = credentialData
                credentials.append(credential)
            }
            var rep = UserRepresentation()
            rep.id = u.id
            rep.username = u.username
            rep.email = u.email
            rep.emailVerified = u.emailVerified
            rep.firstName = u.firstName
            rep.lastName = u.lastName
            rep.enabled = u.enabled
            rep.createdTimestamp = u.createdAt.millisecondsSince1970
            var attributes = u.attributes
            // Keycloak's way to say which directory entry an imported user is.
            if let entry = u.federationId, u.federationLink != nil { attributes["LDAP_ID"] = [entry] }
            rep.attributes = attributes.mapValues(StringList.init)
            rep.federationLink = u.federationLink
            rep.requiredActions = u.requiredActions
            rep.realmRoles = realmNames ?? []
            rep.clientRoles = clientNames ?? [:]
            rep.groups = try await store.groupsOfUser(userId: u.id, realmId: realm.id).map(\.path).sorted()
            rep.credentials = credentials
            rep.serviceAccountClientId = u.serviceAccountClientId.flatMap { clientIdOf[$0] }
            let links = try await store.federatedIdentities(userId: u.id, realmId: realm.id)
                .compactMap { link in providerAliases[link.providerId].map { FederatedIdentityRepresentation(link, providerAlias: $0) } }
            rep.federatedIdentities = links.isEmpty ? nil : links
            users.append(rep)
        }

        // The realm's settings as the admin API shows them, less what only the API adds.
        var document = RealmRepresentation(realm, defaultRole: nil)
        document.ssoSessionMaxLifespan = nil
        document.loginWithEmailAllowed = nil
        document.notBefore = nil
        document.enabledEventTypes = realm.enabledEventTypes.isEmpty ? nil : realm.enabledEventTypes
        document.roles = RolesRepresentation(realm: realmRoles, client: clientRoles)
        document.defaultRole = defaultRole
        document.groups = try await groups(parent: nil)
        document.users = users
        document.clients = clients.map { c in
            var rep = ClientRepresentation()
            rep.id = c.id
            rep.clientId = c.clientId
            rep.name = c.name
            rep.description = c.description
            rep.enabled = c.enabled
            rep.protocol = c.protocolName.rawValue
            rep.publicClient = c.publicClient
            rep.bearerOnly = c.attributes["bearer-only"] == "true"
            // An export is a backup: it keeps the secret (the admin API never shows it).
            rep.secret = c.secret?.revealed
            rep.directAccessGrantsEnabled = c.directAccessGrantsEnabled
            rep.serviceAccountsEnabled = c.serviceAccountsEnabled
            rep.standardFlowEnabled = c.standardFlowEnabled
            rep.redirectUris = c.redirectUris
            rep.consentRequired = c.consentRequired
            rep.attributes = c.attributes.filter { !Client.modeledAttributes.contains($0.key) }
            rep.clientAuthenticatorType = c.attributes[Client.keptKeycloakAuthenticatorAttribute] ?? c.authenticatorType
            rep.protocolMappers = c.protocolMappers
            rep.fullScopeAllowed = c.fullScopeAllowed
            rep.webOrigins = c.webOrigins
            return rep
        }
        // Client scopes: the realm's, which new clients get, each client's, and the roles each
        // scope (and each client's own scope) lets into tokens — by name, as Keycloak writes them.
        let scopes = try await store.clientScopes(realmId: realm.id)
        document.clientScopes = scopes.map(ClientScopeRepresentation.init)
        let realmScopes = try await store.realmClientScopes(realmId: realm.id)
        document.defaultDefaultClientScopes = realmScopes.filter(\.isDefault).map(\.scope.name)
        document.defaultOptionalClientScopes = realmScopes.filter { !$0.isDefault }.map(\.scope.name)
        var scopeMappings: [ScopeMappingRepresentation] = []
        var clientScopeMappings: [String: [ScopeMappingRepresentation]] = [:]
        func mapped(_ roles: [Role], client: String?, clientScope: String?) {
            let realmNames = roles.filter { !$0.isClientRole }.map(\.name).sorted()
            if !realmNames.isEmpty { scopeMappings.append(ScopeMappingRepresentation(client: client, clientScope: clientScope, roles: realmNames)) }
            for (owner, owned) in Dictionary(grouping: roles.filter(\.isClientRole), by: { $0.clientId ?? "" }) {
                clientScopeMappings[clientIdOf[owner] ?? owner, default: []].append(
                    ScopeMappingRepresentation(client: client, clientScope: clientScope, roles: owned.map(\.name).sorted()))
            }
        }
        for scope in scopes { mapped(try await store.scopeRoles(of: .clientScope(scope.id), realmId: realm.id), client: nil, clientScope: scope.name) }
        for i in document.clients?.indices ?? [].indices {
            guard let id = document.clients?[i].id, let clientId = document.clients?[i].clientId else { continue }
            let assigned = try await store.clientScopes(ofClient: id, realmId: realm.id)
            document.clients?[i].defaultClientScopes = assigned.filter(\.isDefault).map(\.scope.name)
            document.clients?[i].optionalClientScopes = assigned.filter { !$0.isDefault }.map(\.scope.name)
            mapped(try await store.scopeRoles(of: .client(id), realmId: realm.id), client: clientId, clientScope: nil)
        }
        document.scopeMappings = scopeMappings
        document.clientScopeMappings = clientScopeMappings
        // Identity providers, with their client secrets as clients' are: kept in a backup, masked in a template.
        // None: left out, so a realm imported before Keyport modeled them exports the ones it kept.
        document.identityProviders = providers.isEmpty ? nil : providers.map { IdentityProviderRepresentation($0, withSecrets: partial == nil) }
        var mappers: [IdentityProviderMapperRepresentation] = []
        for mapper in try await store.identityProviderMappers(realmId: realm.id) {
            // Named as what they give is called now (they give it by id).
            if let alias = providerAliases[mapper.providerId] { mappers.append(IdentityProviderMapperRepresentation(try await store.displayed(mapper), providerAlias: alias)) }
        }
        document.identityProviderMappers = mappers.isEmpty ? nil : mappers
        // LDAP providers with their mappers; the credential as client secrets are (a backup keeps it).
        let federation = try await store.storageComponents(realmId: realm.id)
        var providersOut: [ComponentExportRepresentation] = []
        for provider in federation where provider.parentId == nil {
            var mappers: [ComponentExportRepresentation] = []
            for mapper in federation where mapper.parentId == provider.id {
                mappers.append(ComponentExportRepresentation(storage: try await store.displayed(mapper), children: nil, withSecrets: partial == nil))
            }
            providersOut.append(ComponentExportRepresentation(storage: provider, children: mappers.isEmpty ? [:] : [StorageComponent.ldapMapperType: mappers],
                                                              withSecrets: partial == nil))
        }
        document.components = providersOut.isEmpty ? nil : [StorageComponent.userStorageProviderType: providersOut]
        if let partial {
            document.users = nil
            if !partial.clients {
                document.clients = nil
                document.roles?.client = nil
            } else {
                for i in document.clients?.indices ?? [].indices where document.clients?[i].secret != nil { document.clients?[i].secret = "**********" }
            }
            if !partial.clients {
                document.clientScopeMappings = nil
                document.scopeMappings = document.scopeMappings?.filter { $0.client == nil }
            }
            if !partial.groupsAndRoles {
                document.groups = nil
                document.roles?.realm = nil
                if !partial.clients { document.roles = nil }
            }
        }
        return document
    }

    /// The export as Keycloak writes it: indented JSON, keys sorted for stable diffs.
    public func exportData(realmNamed name: String) async throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let document = try await export(realmNamed: name)
        let realm = try await store.realm(named: name)
        // With what the realm keeps without running it, where the file it came from had it.
        return try encoder.encode(RealmFileTriage.restore(realm?.keycloakContent ?? [:], into: try document.withKeptSettings(realm?.keycloakSettings ?? [:])))
    }
}
