import KeycloakRepresentations
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportModel
import KeyportTokens
import KeyportStore

/// What an admin request may want to do in a realm.
public enum AdminPermission: String, Sendable, CaseIterable {
    case viewRealm, manageRealm, viewUsers, manageUsers, viewClients, manageClients, viewEvents, manageEvents
    case viewIdentityProviders, manageIdentityProviders

    /// The realm-management roles that grant it (`realm-admin` grants all).
    var grantedBy: Set<String> {
        switch self {
        case .viewRealm: ["view-realm", "manage-realm"]
        case .manageRealm: ["manage-realm"]
        case .viewUsers: ["view-users", "manage-users"]
        case .manageUsers: ["manage-users"]
        case .viewClients: ["view-clients", "manage-clients"]
        case .manageClients: ["manage-clients"]
        case .viewEvents: ["view-events", "manage-events"]
        case .manageEvents: ["manage-events"]
        // Keycloak: view-realm sees identity providers too; only manage-identity-providers changes them.
        case .viewIdentityProviders: ["view-identity-providers", "manage-identity-providers", "view-realm", "manage-realm"]
        case .manageIdentityProviders: ["manage-identity-providers"]
        }
    }
}

/// The verified caller of an admin request and the roles that matter for administration.
public struct AdminPrincipal: Sendable {
    public let realm: Realm
    public let user: User
    /// Effective realm roles of the caller in its own realm.
    public let realmRoles: Set<String>
    /// Effective `realm-management` client roles of the caller in its own realm.
    public let managementRoles: Set<String>
    /// Ids of every role the caller holds, directly, through groups or through composites.
    public let heldRoleIds: Set<String>

    public init(realm: Realm, user: User, realmRoles: Set<String>, managementRoles: Set<String>, heldRoleIds: Set<String>) {
        self.realm = realm
        self.user = user
        self.realmRoles = realmRoles
        self.managementRoles = managementRoles
        self.heldRoleIds = heldRoleIds
    }

    /// The master realm's `admin`: everything, in every realm.
    public var isMasterAdmin: Bool { realm.name == BuiltInRoles.masterRealm && realmRoles.contains(BuiltInRoles.masterAdmin) }

    public var mayCreateRealms: Bool { isMasterAdmin || (realm.name == BuiltInRoles.masterRealm && realmRoles.contains(BuiltInRoles.createRealm)) }

    /// A token from realm A never acts on realm B, unless it is master's admin.
    public func may(_ permission: AdminPermission, in target: Realm) -> Bool {
        if isMasterAdmin { return true }
        guard target.id == realm.id else { return false }
        if managementRoles.contains(BuiltInRoles.realmAdmin) { return true }
        return !permission.grantedBy.isDisjoint(with: managementRoles)
    }

    /// Whether the caller has any administrative role in `target` at all.
    public func administers(_ target: Realm) -> Bool {
        isMasterAdmin || (target.id == realm.id && !managementRoles.isEmpty)
    }
}

extension AdminAPI {
    /// The caller the authentication middleware verified, with the roles that matter for
    /// administration read from the database (not the token): a revoked role stops working at once.
    func principal(_ context: KeyportRequestContext) async throws -> AdminPrincipal {
        guard let caller = context.caller else { throw AdminError.unauthorized }
        let roles = try await store.effectiveRoles(userId: caller.user.id, realmId: caller.realm.id)
        let management = try await store.client(clientId: BuiltInRoles.realmManagementClient, realmId: caller.realm.id)
        return AdminPrincipal(
            realm: caller.realm, user: caller.user,
            realmRoles: Set(roles.filter { $0.clientId == nil }.map(\.name)),
            managementRoles: Set(roles.filter { $0.clientId != nil && $0.clientId == management?.id }.map(\.name)),
            heldRoleIds: Set(roles.map(\.id)))
    }

    /// Authenticates, finds the realm of the path and checks the permission there. A caller
    /// that may not see a realm cannot learn whether it exists.
    func authorize(_ request: Request, _ context: KeyportRequestContext, _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm) {
        let caller = try await principal(context)
        guard let name = context.pathParameter("realm"), name.utf8.count <= 255, let realm = try await store.realm(named: name) else {
            throw caller.isMasterAdmin ? AdminError.notFound("Realm not found.") : AdminError.forbidden
        }
        guard caller.may(permission, in: realm) else { throw AdminError.forbidden }
        return (caller, realm)
    }
}

/// 401 for any admin request without a valid bearer token (missing, expired, tampered, wrongly
/// signed, revoked, logged out); otherwise the verified caller goes into the context.
struct AdminAuthenticationMiddleware: RouterMiddleware {
    typealias Context = KeyportRequestContext
    let verifier: AccessTokenVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let bearer = BearerToken.from(request) else { throw AdminError.unauthorized }
        let verified: VerifiedToken
        do { verified = try await verifier.verify(bearer) } catch is VerificationFailure { throw AdminError.unauthorized }
        var context = context
        context.caller = AuthenticatedCaller(realm: verified.realm, user: verified.user,
                                             authTime: verified.claims.auth_time.map { Timestamp(secondsSince1970: $0) })
        return try await next(request, context)
    }
}
