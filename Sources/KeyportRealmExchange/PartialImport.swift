import KeycloakRepresentations
import Foundation
import KeyportAuth
import KeyportModel
import KeyportProvisioning
import KeyportStore

/// Keycloak's partial import (`POST /admin/realms/{realm}/partialImport`): users, clients, groups
/// and roles added to a realm that exists, each one that exists already failing the import,
/// skipped, or replaced, as `ifResourceExists` says.
///
/// It is planned from the realm as read, then written as one list of changes in one transaction
/// that begins by checking the realm's versions: if a role, group, mapping, client or setting
/// changed in between (or a name was taken), nothing is written and the plan is made again
/// (`PartialImportRun`). The object rules are the realm importer's (one provisioning layer):
/// the same client mapping, the same credential handling, the same checks.
///
/// What Keyport decides where Keycloak is loose, and why:
/// - Keycloak's built-in clients (`account`, `admin-cli`, `realm-management`, …, and any
///   `…-realm` client) and their roles are never touched, as in Keycloak.
/// - The realm's own built-in realm roles (the default role, `offline_access`,
///   `uma_authorization`; `admin` and `create-realm` in master) are never replaced: under
///   OVERWRITE they are reported skipped (deleting them would break every user's login).
/// - A user may be made the service account of a client only if this import creates that
///   client: otherwise it would take over an existing client's `client_credentials` identity.
/// - A replaced user starts with `notBefore` at the import: tokens issued to the user it
///   replaces never work for it, even under the same id.
public enum PartialImport {
    public enum Policy: String, Sendable {
        case fail = "FAIL", skip = "SKIP", overwrite = "OVERWRITE"
    }

    /// A resource that exists while the policy is FAIL (Keycloak answers 409 with these words).
    public struct Conflict: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Plan: Sendable {
        /// The changes, in one transaction; the first checks the versions the plan was made from.
        public var changes: [StoreChange] { assembled() }
        public var results: [PartialImportResultsRepresentation.Result]
        /// Roles that existed before the import and that it makes someone hold — by a user's or
        /// group's mapping, or as a child of a composite it creates: the admin-role rule applies to
        /// them (with all they contain). Roles the import creates are never administration roles.
        public var grantedExistingRoleIds: Set<String>
        /// Groups that existed before the import and that its users join (their roles, and their
        /// ancestors', reach those users).
        public var joinedExistingGroupIds: Set<String>
        /// Users that existed before the import and that it replaces (`OVERWRITE`): replacing a
        /// user sets its password, so the rule for acting on a user applies to each.
        public var overwrittenUserIds: Set<String> = []
        public var notices: [String]
        /// Plain-text passwords still to hash (`PartialImport.hashPasswords`).
        var pending: [RealmImporter.PlainPassword]

        var versions: RealmVersions
        var deletions: [StoreChange] = []
        var clients: [Client] = []
        var roles: [Role] = []
        var composites: [(parent: String, children: [String])] = []
        var groups: [Group] = []
        var groupRoles: [(group: String, roles: [String])] = []
        var users: [UserSeed] = []
        var identityProviders: [IdentityProvider] = []
        /// Users' links to providers, as the body names them: (user id, provider alias, link).
        var pendingLinks: [(userId: String, alias: String, link: FederatedIdentityRepresentation)] = []
        var links: [FederatedIdentity] = []
        /// The providers (internal ids) the import links users through: their mappers' grants
        /// reach those users at their next sign-in.
        public var linkedProviderIds: Set<String> { Set(links.map(\.providerId)) }
        var realmId: String

        func assembled() -> [StoreChange] {
            var changes: [StoreChange] = [.requireVersions(versions)]
            changes += deletions
            changes += clients.map { .createClient($0) }
            changes += roles.map { .createRole($0) }
            changes += composites.map { .addComposites(parentId: $0.parent, childIds: $0.children, realmId: realmId) }
            changes += groups.map { .createGroup($0) }
            changes += groupRoles.map { .grantGroupRoles(groupId: $0.group, roleIds: $0.roles, realmId: realmId) }
            changes += users.map { .createUser($0) }
            changes += identityProviders.map { .createIdentityProvider($0) }
            changes += links.map { .linkFederatedIdentity($0) }
            return changes
        }
    }

    /// At most this many resources in one partial import (the body's size bounds it too).
    public static let maxResources = 10_000

    /// Keycloak's built-in clients: never imported over (Keycloak's `ClientsPartialImport` filters them).
    static func isInternalClient(_ clientId: String?) -> Bool {
        guard let clientId else { return false }
        return clientId.hasSuffix("-realm") || [
            BuiltInRoles.accountClient, BuiltInRoles.accountConsoleClient, BuiltInRoles.adminCLIClient, BuiltInRoles.brokerClient,
            BuiltInRoles.realmManagementClient, BuiltInRoles.securityAdminConsoleClient,
        ].contains(clientId)
    }

    static func builtInRealmRoles(of realm: Realm) -> Set<String> {
        var names: Set<String> = [realm.defaultRoleName, BuiltInRoles.offlineAccess, BuiltInRoles.umaAuthorization]
        if realm.name == BuiltInRoles.masterRealm { names.formUnion([BuiltInRoles.masterAdmin, BuiltInRoles.createRealm]) }
        return names
    }
}

extension RealmImporter {
    /// Plans a partial import into `realm`, step by step (`PartialImportPlanner`). `hashed`:
    /// passwords already hashed by an earlier attempt at the same body (by username), so a
    /// replanned import does not hash them again. Throws `Failure` for a body that breaks a rule
    /// (400) and `PartialImport.Conflict` for an existing resource under FAIL (409).
    public func planPartialImport(_ body: PartialImportRepresentation, into realm: Realm,
                                  hashed: [String: Credential] = [:]) async throws -> PartialImport.Plan {
        let planner = try await PartialImportPlanner(body, into: realm, importer: self, hashed: hashed)
        try await planner.planClients()
        try await planner.planRoles()
        try await planner.planComposites()
        try await planner.planGroups()
        try await planner.planUsers()
        try await planner.planIdentityProviders()
        try await planner.planLinks()
        return planner.plan
    }

    /// Hashes the plan's plain-text passwords (checked against the realm's policy), one at a time,
    /// and records each in `hashed` so that a replanned import reuses them.
    public func hashPasswords(_ plan: inout PartialImport.Plan, realm: Realm, hashed: inout [String: Credential]) async throws {
        for password in plan.pending {
            let credential = try await hash(password, realm: realm)
            plan.users[password.index].credentials = [credential]
            hashed[password.user.username] = credential
        }
        plan.pending = []
    }
}
