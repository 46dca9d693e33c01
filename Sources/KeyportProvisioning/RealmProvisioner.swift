import KeyportAuth
import KeyportKeys
import KeyportModel
import KeyportPasswords
import KeyportStore

/// Decides what a new realm starts with, Keycloak's way: signing keys (RS256 and ES256),
/// the composite `default-roles-{realm}` role that every new user gets, the public
/// `admin-cli` client, the `realm-management` client with its administration roles, and
/// Keycloak's other built-ins — `account` (with the roles the default role holds),
/// `account-console`, `security-admin-console`, `broker` — so files and scripts written for
/// Keycloak find what they refer to. (Migration 0018 adds them to realms made before.)
/// The master realm also gets the `admin` role and its first administrator.
public struct RealmProvisioner: Sendable {
    public let environment: TimeAndRandomness
    let keys: RealmKeyFactory

    public init(environment: TimeAndRandomness) {
        self.environment = environment
        self.keys = RealmKeyFactory(environment: environment)
    }

    public func seed(for realm: Realm) throws -> RealmSeed {
        var seed = RealmSeed(realm: realm, keys: try keys.makeRealmKeys(realmId: realm.id, realmName: realm.name))
        let now = environment.now()

        func realmRole(_ name: String, _ description: String) -> Role {
            let role = Role(id: environment.newID(), realmId: realm.id, name: name, description: description)
            seed.roles.append(role)
            return role
        }
        let defaultRole = realmRole(realm.defaultRoleName, "${role_default-roles}")
        let offline = realmRole(BuiltInRoles.offlineAccess, "${role_offline-access}")
        let uma = realmRole(BuiltInRoles.umaAuthorization, "${role_uma_authorization}")
        seed.composites += [(defaultRole.id, offline.id), (defaultRole.id, uma.id)]

        seed.clients.append(Client(
            id: environment.newID(), realmId: realm.id, clientId: BuiltInRoles.adminCLIClient, name: "${client_admin-cli}",
            publicClient: true, directAccessGrantsEnabled: true, standardFlowEnabled: false,
            // `kpadm config credentials --device`: an admin signs in through a browser, and the
            // terminal never sees a password (Keycloak's admin-cli lacks this switch).
            attributes: ["oauth2.device.authorization.grant.enabled": "true"], createdAt: now))

        let management = Client(
            id: environment.newID(), realmId: realm.id, clientId: BuiltInRoles.realmManagementClient, name: "${client_realm-management}",
            publicClient: false, standardFlowEnabled: false, attributes: ["bearer-only": "true"], createdAt: now)
        seed.clients.append(management)
        var managementRoles: [String: Role] = [:]
        for (name, _) in BuiltInRoles.realmManagementRoles + [(BuiltInRoles.realmAdmin, [])] {
            let role = Role(id: environment.newID(), realmId: realm.id, clientId: management.id, name: name, description: "${role_\(name)}")
            managementRoles[name] = role
            seed.roles.append(role)
        }
        for (name, contains) in BuiltInRoles.realmManagementRoles {
            for child in contains { seed.composites.append((managementRoles[name]!.id, managementRoles[child]!.id)) }
            seed.composites.append((managementRoles[BuiltInRoles.realmAdmin]!.id, managementRoles[name]!.id))
        }

        func client(_ clientId: String, publicClient: Bool, attributes: [String: String] = [:], redirectUris: [String] = []) -> Client {
            let client = Client(id: environment.newID(), realmId: realm.id, clientId: clientId, name: "${client_\(clientId)}",
                                publicClient: publicClient, directAccessGrantsEnabled: false, standardFlowEnabled: publicClient,
                                redirectUris: redirectUris, attributes: attributes, createdAt: now)
            seed.clients.append(client)
            return client
        }
        func clientRoles(_ owner: Client, _ roles: [(name: String, contains: [String])]) -> [String: Role] {
            var made: [String: Role] = [:]
            for (name, _) in roles {
                let role = Role(id: environment.newID(), realmId: realm.id, clientId: owner.id, name: name, description: "${role_\(name)}")
                made[name] = role
                seed.roles.append(role)
            }
            for (name, contains) in roles {
                for child in contains { seed.composites.append((made[name]!.id, made[child]!.id)) }
            }
            return made
        }
        let account = clientRoles(client(BuiltInRoles.accountClient, publicClient: true), BuiltInRoles.accountRoles)
        for name in BuiltInRoles.accountDefaultRoles { seed.composites.append((defaultRole.id, account[name]!.id)) }
        // The consoles sign people in through the browser: PKCE with S256, as Keycloak's.
        for console in [BuiltInRoles.accountConsoleClient, BuiltInRoles.securityAdminConsoleClient] {
            _ = client(console, publicClient: true, attributes: Self.consoleAttributes, redirectUris: Self.consoleRedirectUris(console, realm: realm.name))
        }
        _ = clientRoles(client(BuiltInRoles.brokerClient, publicClient: false, attributes: ["bearer-only": "true"]),
                        BuiltInRoles.brokerRoles.map { ($0, []) })
        withBuiltinClientScopes(&seed, offlineAccessRoleId: offline.id)
        return seed
    }

    /// The consoles' clients sign in at the consoles' own pages (relative: on this server, as
    /// Keycloak registers them), and log out back to them (`+`).
    public static let consoleAttributes = ["pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "+"]
    public static func consoleRedirectUris(_ clientId: String, realm: String) -> [String] {
        clientId == BuiltInRoles.accountConsoleClient ? ["/realms/\(realm)/account/*"] : ["/admin/\(realm)/console/*"]
    }

    /// Keycloak's built-in client scopes for the seed's realm, its OpenID Connect clients given
    /// the realm's default and optional ones (as Keycloak does for the clients it creates).

    public func withBuiltinClientScopes(_ seed: inout RealmSeed, offlineAccessRoleId: String?) {
        seed.clientScopes = BuiltinClientScopeCatalog(newID: environment.newID).scopes(realmId: seed.realm.id, offlineAccessRoleId: offlineAccessRoleId)
        for client in seed.clients where client.protocolName == .openIDConnect {
            for assignment in seed.clientScopes.realmDefaults {
                seed.clientClientScopes.append((client.id, assignment.scopeId, assignment.isDefault))
            }
        }
    }

    /// The master realm with its `admin` role and the bootstrap administrator holding it.
    public func masterSeed(name: String = "master", adminUsername: String, adminPasswordHash: Sensitive, temporaryAdmin: Bool = false) throws -> RealmSeed {
        let now = environment.now()
        let realm = Realm(id: environment.newID(), name: name, displayName: "Keyport", enabled: true, createdAt: now)
        var seed = try seed(for: realm)
        let admin = Role(id: environment.newID(), realmId: realm.id, name: BuiltInRoles.masterAdmin, description: "${role_admin}")
        let createRealm = Role(id: environment.newID(), realmId: realm.id, name: BuiltInRoles.createRealm, description: "${role_create-realm}")
        seed.roles += [admin, createRealm]
        seed.composites.append((admin.id, createRealm.id))
        let defaultRoleId = seed.roles.first { $0.name == realm.defaultRoleName }!.id
        seed.users.append(administratorSeed(realmId: realm.id, username: adminUsername, passwordHash: adminPasswordHash,
                                            roleIds: [defaultRoleId, admin.id], temporary: temporaryAdmin))
        return seed
    }

    /// Keycloak marks an administrator made by `bootstrap-admin` (or by the first start from
    /// the `KC_BOOTSTRAP_ADMIN_*` variables) with this attribute; its console then asks for a
    /// permanent one.
    public static let temporaryAdminAttribute = "is_temporary_admin"

    /// A master-realm administrator: the user, its password and its roles, written in one
    /// transaction by `createUser`/`createRealm`.
    public func administratorSeed(realmId: String, username: String, passwordHash: Sensitive, roleIds: [String], temporary: Bool) -> UserSeed {
        let now = environment.now()
        let user = User(id: environment.newID(), realmId: realmId, username: username, enabled: true, createdAt: now,
                        attributes: temporary ? [Self.temporaryAdminAttribute: ["true"]] : [:])
        let credential = Credential(id: environment.newID(), userId: user.id, secret: passwordHash, createdAt: now)
        return Provisioning.newUserSeed(user, defaultRoleId: nil, password: credential, roleIds: roleIds)
    }
}
