import Foundation
import KeyportJSON
import KeyportModel
import KeyportPasswords
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

    public func export(realmNamed name: String) async throws -> KeycloakRealmJSON {
        guard let realm = try await store.realm(named: name) else { throw NotFound(description: "realm \(name) does not exist") }
        let clients = try await store.clients(realmId: realm.id, page: .all).sorted { $0.clientId < $1.clientId }
        let clientIdOf = Dictionary(uniqueKeysWithValues: clients.map { ($0.id, $0.clientId) })

        func names(_ roles: [Role]) -> (realm: [String]?, client: [String: [String]]?) {
            let realmNames = roles.filter { !$0.isClientRole }.map(\.name).sorted()
            var clientNames: [String: [String]] = [:]
            for role in roles where role.isClientRole { clientNames[clientIdOf[role.clientId!] ?? role.clientId!, default: []].append(role.name) }
            return (realmNames.isEmpty ? nil : realmNames, clientNames.isEmpty ? nil : clientNames.mapValues { $0.sorted() })
        }
        func role(_ r: Role) async throws -> KeycloakRealmJSON.Role {
            let children = try await store.composites(of: r.id, realmId: realm.id)
            let (realmChildren, clientChildren) = names(children)
            return KeycloakRealmJSON.Role(
                id: r.id, name: r.name, description: r.description, composite: !children.isEmpty, clientRole: r.isClientRole,
                containerId: r.containerId, attributes: r.attributes,
                composites: children.isEmpty ? nil : .init(realm: realmChildren, client: clientChildren))
        }

        var realmRoles: [KeycloakRealmJSON.Role] = []
        for r in try await store.roles(realmId: realm.id, clientId: nil, search: nil, page: .all) { realmRoles.append(try await role(r)) }
        var clientRoles: [String: [KeycloakRealmJSON.Role]] = [:]
        for client in clients {
            var list: [KeycloakRealmJSON.Role] = []
            for r in try await store.roles(realmId: realm.id, clientId: client.id, search: nil, page: .all) { list.append(try await role(r)) }
            if !list.isEmpty { clientRoles[client.clientId] = list }
        }
        let defaultRole = realmRoles.first { $0.name == realm.defaultRoleName }

        func groups(parent: String?) async throws -> [KeycloakRealmJSON.Group] {
            var result: [KeycloakRealmJSON.Group] = []
            for node in try await store.groups(realmId: realm.id, parentId: parent, search: nil, page: .all) {
                let (realmNames, clientNames) = names(try await store.groupRoles(groupId: node.group.id, realmId: realm.id))
                result.append(KeycloakRealmJSON.Group(
                    id: node.group.id, name: node.group.name, path: node.path, attributes: node.group.attributes,
                    realmRoles: realmNames ?? [], clientRoles: clientNames ?? [:], subGroups: try await groups(parent: node.group.id)))
            }
            return result
        }

        var users: [KeycloakRealmJSON.User] = []
        for u in try await store.users(realmId: realm.id, matching: UserQuery(includeServiceAccounts: true), page: .all) {
            let (realmNames, clientNames) = names(try await store.userRoles(userId: u.id, realmId: realm.id))
            var credentials: [KeycloakRealmJSON.Credential] = []
            for c in try await store.credentials(userId: u.id) {
                guard let (secretData, credentialData) = KeycloakCredential.exported(stored: c.secret.revealed) else { continue }
                credentials.append(KeycloakRealmJSON.Credential(id: c.id, type: c.type, userLabel: c.userLabel, createdDate: c.createdAt.millisecondsSince1970,
                                                                secretData: secretData, credentialData: credentialData))
            }
            users.append(KeycloakRealmJSON.User(
                id: u.id, username: u.username, email: u.email, emailVerified: u.emailVerified, firstName: u.firstName, lastName: u.lastName,
                enabled: u.enabled, createdTimestamp: u.createdAt.millisecondsSince1970, attributes: u.attributes,
                requiredActions: u.requiredActions, realmRoles: realmNames ?? [], clientRoles: clientNames ?? [:],
                groups: try await store.groupsOfUser(userId: u.id, realmId: realm.id).map(\.path).sorted(), credentials: credentials,
                serviceAccountClientId: u.serviceAccountClientId.flatMap { clientIdOf[$0] }))
        }

        let b = realm.bruteForce, p = realm.passwordHashing
        return KeycloakRealmJSON(
            id: realm.id, realm: realm.name, displayName: realm.displayName, enabled: realm.enabled,
            accessTokenLifespan: realm.accessTokenLifespan, ssoSessionIdleTimeout: realm.refreshTokenLifespan,
            duplicateEmailsAllowed: realm.duplicateEmailsAllowed, bruteForceProtected: b.enabled, failureFactor: b.failureFactor,
            waitIncrementSeconds: b.waitIncrementSeconds, maxFailureWaitSeconds: b.maxFailureWaitSeconds,
            quickLoginCheckMilliSeconds: b.quickLoginCheckMilliSeconds, minimumQuickLoginWaitSeconds: b.minimumQuickLoginWaitSeconds,
            maxDeltaTimeSeconds: b.maxDeltaTimeSeconds, permanentLockout: b.permanentLockout, passwordPolicy: realm.passwordPolicy,
            eventsExpiration: realm.eventsExpiration, eventsEnabled: realm.eventsEnabled,
            enabledEventTypes: realm.enabledEventTypes.isEmpty ? nil : realm.enabledEventTypes, attributes: realm.attributes, dockerV2Enabled: realm.dockerV2Enabled,
            passwordHashing: .init(algorithm: "argon2id", memory: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism,
                                   hashLength: p.hashLength, saltLength: p.saltLength),
            roles: .init(realm: realmRoles, client: clientRoles),
            defaultRole: defaultRole.map { KeycloakRealmJSON.Role(id: $0.id, name: $0.name, description: $0.description, composite: true, clientRole: false, containerId: realm.id) },
            groups: try await groups(parent: nil), users: users,
            clients: clients.map { c in
                KeycloakRealmJSON.Client(
                    id: c.id, clientId: c.clientId, name: c.name, description: c.description, enabled: c.enabled, protocol: c.protocolName.rawValue,
                    publicClient: c.publicClient, bearerOnly: c.attributes["bearer-only"] == "true", secret: c.secret?.revealed,
                    directAccessGrantsEnabled: c.directAccessGrantsEnabled, serviceAccountsEnabled: c.serviceAccountsEnabled,
                    standardFlowEnabled: c.standardFlowEnabled, redirectUris: c.redirectUris,
                    attributes: c.attributes.filter { $0.key != "bearer-only" }, protocolMappers: c.protocolMappers)
            })
    }

    /// The export as Keycloak writes it: indented JSON, keys sorted for stable diffs.
    public func exportData(realmNamed name: String) async throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(try await export(realmNamed: name))
    }
}
