import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import Testing

/// Keycloak's rule for administration roles: a delegated admin can hand on only what it holds,
/// `realm-admin` and master's `admin` only the master admin can give — whatever the path.
@Suite("Admin API: no escalation through any granting path")
struct AdminEscalationTests {
    /// A delegated administrator: its realm-management role, what that lets it do, what it holds.
    struct Delegate: Sendable {
        let role: String
        let permissions: Set<String>
        let holds: Set<String>
    }

    static let delegates: [Delegate] = [
        Delegate(role: "manage-users", permissions: ["manageUsers"], holds: ["manage-users"]),
        Delegate(role: "manage-clients", permissions: ["manageClients"], holds: ["manage-clients"]),
        Delegate(role: "manage-realm", permissions: ["manageRealm"], holds: ["manage-realm"]),
        Delegate(role: "realm-admin", permissions: ["manageUsers", "manageClients", "manageRealm", "configureManagement"],
                 holds: ["realm-admin", "manage-users", "manage-clients", "manage-realm"]),
    ]

    /// Each way of making someone hold a role, and the permission it needs.
    static let paths: [(name: String, needs: Set<String>)] = [
        ("map-to-user", ["manageUsers"]),
        ("map-to-group", ["manageUsers"]),
        ("composite-of-realm-role", ["manageRealm"]),
        ("composite-of-default-role", ["manageRealm"]),
        ("join-group-carrying-it", ["manageUsers"]),
        ("create-user-with-role", ["manageUsers"]),
        ("create-user-in-group", ["manageUsers"]),
        ("composite-of-management-role", ["manageClients", "configureManagement"]),
    ]

    /// Targets: realm-management roles of the realm, and in master the `admin` realm role.
    static func targets(realm: String) -> [String] {
        realm == "master" ? ["realm-admin", "manage-users", "manage-realm", "admin"] : ["realm-admin", "manage-users", "manage-realm"]
    }

    static func expectedAllowed(_ delegate: Delegate, path: (name: String, needs: Set<String>), target: String) -> Bool {
        guard path.needs.isSubset(of: delegate.permissions) else { return false }
        // realm-admin and master's admin come from the master admin only; the rest from a holder.
        guard target != "realm-admin", target != "admin" else { return false }
        return delegate.holds.contains(target)
    }

    @Test(arguments: ["acme", "master"])
    func everyGrantingPathFollowsTheRule(realm: String) async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            if realm != "master" { try await api.createRealm(realm, token: admin) }
            let base = "/admin/realms/\(realm)"
            let management = try await api.clientUUID(realm, "realm-management", token: admin)
            let defaultRole = "default-roles-\(realm)"
            func targetRep(_ target: String) async throws -> JSONValue {
                target == "admin" ? try await api.role(realm, "admin", token: admin) : try await api.role(realm, target, client: management, token: admin)
            }
            func effectiveNames(_ userId: String) async throws -> Set<String> {
                let realmRoles = try await api.call(.get, "\(base)/users/\(userId)/role-mappings/realm/composite", token: admin).values("name")
                let clientRoles = try await api.call(.get, "\(base)/users/\(userId)/role-mappings/clients/\(management)/composite", token: admin).values("name")
                return Set(realmRoles + clientRoles)
            }
            // A group carrying each target, set up by the master admin.
            var carrier: [String: String] = [:]
            for target in Self.targets(realm: realm) {
                let response = try await api.call(.post, "\(base)/groups", token: admin, json: ["name": .string("carries-\(target)")])
                let id = try #require(response.createdID)
                let path = target == "admin" ? "realm" : "clients/\(management)"
                #expect(try await api.call(.post, "\(base)/groups/\(id)/role-mappings/\(path)", token: admin, json: [try await targetRep(target)]).status == .noContent)
                carrier[target] = id
            }
            var counter = 0
            for delegate in Self.delegates {
                let name = "delegate-\(delegate.role)"
                let delegateId = try await api.createUser(realm, name, password: "Pw-\(name)", token: admin)
                let rep = try await api.role(realm, delegate.role, client: management, token: admin)
                try #require(try await api.call(.post, "\(base)/users/\(delegateId)/role-mappings/clients/\(management)", token: admin, json: [rep]).status == .noContent)
                let token = try await api.token(realm: realm, username: name, password: "Pw-\(name)")
                let heldBefore = try await effectiveNames(delegateId)

                for path in Self.paths {
                    for target in Self.targets(realm: realm) {
                        counter += 1
                        let targetJSON = try await targetRep(target)
                        let mappingPath = target == "admin" ? "realm" : "clients/\(management)"
                        let victim = try await api.createUser(realm, "victim-\(counter)", token: admin)
                        var expectedStatus: HTTPResponse.Status = .noContent
                        var undo: (() async throws -> Void)? = nil
                        let response: APIResponse
                        switch path.name {
                        case "map-to-user":
                            response = try await api.call(.post, "\(base)/users/\(victim)/role-mappings/\(mappingPath)", token: token, json: [targetJSON])
                        case "map-to-group":
                            let group = try #require(try await api.call(.post, "\(base)/groups", token: admin, json: ["name": .string("g-\(counter)")]).createdID)
                            response = try await api.call(.post, "\(base)/groups/\(group)/role-mappings/\(mappingPath)", token: token, json: [targetJSON])
                        case "composite-of-realm-role":
                            let roleName = "ops-\(counter)"
                            _ = try await api.call(.post, "\(base)/roles", token: admin, json: ["name": .string(roleName)])
                            response = try await api.call(.post, "\(base)/roles/\(roleName)/composites", token: token, json: [targetJSON])
                        case "composite-of-default-role":
                            response = try await api.call(.post, "\(base)/roles/\(defaultRole)/composites", token: token, json: [targetJSON])
                            undo = { _ = try await api.call(.delete, "\(base)/roles/\(defaultRole)/composites", token: admin, json: [targetJSON]) }
                        case "join-group-carrying-it":
                            response = try await api.call(.put, "\(base)/users/\(victim)/groups/\(carrier[target]!)", token: token)
                        case "create-user-with-role":
                            let body: JSONValue = target == "admin"
                                ? ["username": .string("puppet-\(counter)"), "realmRoles": ["admin"]]
                                : ["username": .string("puppet-\(counter)"), "clientRoles": ["realm-management": [.string(target)]]]
                            response = try await api.call(.post, "\(base)/users", token: token, json: body)
                            expectedStatus = .created
                        case "create-user-in-group":
                            response = try await api.call(.post, "\(base)/users", token: token,
                                                          json: ["username": .string("puppet-\(counter)"), "groups": [.string("/carries-\(target)")]])
                            expectedStatus = .created
                        default: // composite-of-management-role
                            response = try await api.call(.post, "\(base)/clients/\(management)/roles/manage-clients/composites", token: token, json: [targetJSON])
                            undo = { _ = try await api.call(.delete, "\(base)/clients/\(management)/roles/manage-clients/composites", token: admin, json: [targetJSON]) }
                        }
                        let allowed = Self.expectedAllowed(delegate, path: path, target: target)
                        #expect(response.status == (allowed ? expectedStatus : .forbidden),
                                "\(realm): \(delegate.role) → \(path.name) → \(target): \(response.status) \(response.text)")
                        if allowed, let undo { try await undo() }
                        if !allowed {
                            // Nothing was written: the victim holds nothing new, nor does the delegate.
                            #expect(try await effectiveNames(victim).isDisjoint(with: ["realm-admin", "manage-users", "manage-realm", "admin"]))
                        }
                    }
                }
                #expect(try await effectiveNames(delegateId) == heldBefore, "\(delegate.role) changed its own roles")
                // Still not able to create realms or reach another realm.
                #expect(try await api.call(.post, "/admin/realms", token: token, json: ["realm": .string("mine-\(counter)")]).status == .forbidden)
            }
            // The master admin may do all of it.
            let victim = try await api.createUser(realm, "by-master", token: admin)
            #expect(try await api.call(.post, "\(base)/users/\(victim)/role-mappings/clients/\(management)", token: admin,
                                       json: [try await targetRep("realm-admin")]).status == .noContent)
        }
    }

    @Test func theReportedEscalationsAreRefused() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("tenant", token: admin)
            for realm in ["tenant", "master"] {
                let base = "/admin/realms/\(realm)"
                let management = try await api.clientUUID(realm, "realm-management", token: admin)
                func delegate(_ role: String) async throws -> (id: String, token: String) {
                    let name = "\(role)-holder"
                    let id = try await api.createUser(realm, name, password: "Pw-\(role)", token: admin)
                    let rep = try await api.role(realm, role, client: management, token: admin)
                    _ = try await api.call(.post, "\(base)/users/\(id)/role-mappings/clients/\(management)", token: admin, json: [rep])
                    return (id, try await api.token(realm: realm, username: name, password: "Pw-\(role)"))
                }
                let realmAdmin = try await api.role(realm, "realm-admin", client: management, token: admin)
                let clients = try await delegate("manage-clients")
                // manage-clients makes realm-admin a composite of manage-clients (or of master's admin).
                #expect(try await api.call(.post, "\(base)/clients/\(management)/roles/manage-clients/composites", token: clients.token, json: [realmAdmin]).status == .forbidden)
                if realm == "master" {
                    let masterAdmin = try await api.role("master", "admin", token: admin)
                    #expect(try await api.call(.post, "\(base)/clients/\(management)/roles/manage-clients/composites", token: clients.token, json: [masterAdmin]).status == .forbidden)
                }
                // manage-clients reconfigures the realm-management client or its roles.
                #expect(try await api.call(.put, "\(base)/clients/\(management)", token: clients.token, json: ["description": "mine"]).status == .forbidden)
                #expect(try await api.call(.post, "\(base)/clients/\(management)/roles", token: clients.token, json: ["name": "extra"]).status == .forbidden)
                #expect(try await api.call(.delete, "\(base)/clients/\(management)/roles/manage-users", token: clients.token).status == .forbidden)
                #expect(try await api.call(.put, "\(base)/clients/\(management)/roles/manage-users", token: clients.token, json: ["name": "renamed"]).status == .forbidden)
                // … or its protocol mappers.
                let mapper: JSONValue = ["name": "claim", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                                         "config": ["claim.name": "x", "claim.value": "y"]]
                #expect(try await api.call(.post, "\(base)/clients/\(management)/protocol-mappers/models", token: clients.token, json: mapper).status == .forbidden)
                #expect(try await api.call(.post, "\(base)/clients/\(management)/protocol-mappers/add-models", token: clients.token, json: [mapper]).status == .forbidden)
                // manage-realm adds realm-admin to the default role: every user an admin.
                let realmManager = try await delegate("manage-realm")
                #expect(try await api.call(.post, "\(base)/roles/default-roles-\(realm)/composites", token: realmManager.token, json: [realmAdmin]).status == .forbidden)
                // manage-users maps realm-admin to itself, makes a sock puppet, joins a group carrying it.
                let users = try await delegate("manage-users")
                #expect(try await api.call(.post, "\(base)/users/\(users.id)/role-mappings/clients/\(management)", token: users.token, json: [realmAdmin]).status == .forbidden)
                #expect(try await api.call(.post, "\(base)/users", token: users.token,
                                           json: ["username": "puppet", "enabled": true, "clientRoles": ["realm-management": ["realm-admin"]]]).status == .forbidden)
                #expect(try await api.call(.get, "\(base)/users?username=puppet&exact=true", token: admin).items.isEmpty)
                let group = try #require(try await api.call(.post, "\(base)/groups", token: admin, json: ["name": "admins"]).createdID)
                _ = try await api.call(.post, "\(base)/groups/\(group)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
                #expect(try await api.call(.put, "\(base)/users/\(users.id)/groups/\(group)", token: users.token).status == .forbidden)
                // Nor can it take an administration role away from someone else.
                let other = try await delegate("realm-admin")
                #expect(try await api.call(.delete, "\(base)/users/\(other.id)/role-mappings/clients/\(management)", token: users.token, json: [realmAdmin]).status == .forbidden)
                // A composite wrapping an administration role does not get it past either.
                _ = try await api.call(.post, "\(base)/roles", token: admin, json: ["name": "innocent"])
                _ = try await api.call(.post, "\(base)/roles/innocent/composites", token: admin, json: [realmAdmin])
                let innocent = try await api.role(realm, "innocent", token: admin)
                #expect(try await api.call(.post, "\(base)/users/\(users.id)/role-mappings/realm", token: users.token, json: [innocent]).status == .forbidden)
                // Nothing above changed what the delegates hold; still no realm-admin powers.
                #expect(try await api.call(.get, "\(base)/clients/\(management)/client-secret", token: users.token).status == .forbidden)
                #expect(try await api.call(.put, base, token: users.token, json: ["displayName": "pwned"]).status == .forbidden)
                #expect(try await api.call(.post, "/admin/realms", token: users.token, json: ["realm": "pwned"]).status == .forbidden)
                // A realm admin delegates what it holds (but not realm-admin itself, unless master's admin).
                let helper = try await api.createUser(realm, "helper", token: admin)
                let manageUsers = try await api.role(realm, "manage-users", client: management, token: admin)
                #expect(try await api.call(.post, "\(base)/users/\(helper)/role-mappings/clients/\(management)", token: other.token, json: [manageUsers]).status == .noContent)
                #expect(try await api.call(.post, "\(base)/users/\(helper)/role-mappings/clients/\(management)", token: other.token, json: [realmAdmin]).status == .forbidden)
                if realm == "master" {
                    // In master, realm-admin is not the server admin: master's admin stays out of reach.
                    let masterAdmin = try await api.role("master", "admin", token: admin)
                    #expect(try await api.call(.post, "\(base)/users/\(other.id)/role-mappings/realm", token: other.token, json: [masterAdmin]).status == .forbidden)
                    #expect(try await api.call(.delete, "\(base)/roles/admin", token: other.token).status == .forbidden)
                    #expect(try await api.call(.put, "\(base)/roles/innocent", token: other.token, json: ["name": "admin"]).status != .noContent)
                }
            }
        }
    }

    @Test func aRenamedRoleCannotBecomeMastersAdmin() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let management = try await api.clientUUID("master", "realm-management", token: admin)
            let id = try await api.createUser("master", "realm-manager", password: "Pw-rm-1", token: admin)
            let manageRealm = try await api.role("master", "manage-realm", client: management, token: admin)
            _ = try await api.call(.post, "/admin/realms/master/users/\(id)/role-mappings/clients/\(management)", token: admin, json: [manageRealm])
            _ = try await api.call(.post, "/admin/realms/master/roles", token: admin, json: ["name": "mine"])
            let mine = try await api.role("master", "mine", token: admin)
            _ = try await api.call(.post, "/admin/realms/master/users/\(id)/role-mappings/realm", token: admin, json: [mine])
            let token = try await api.token(realm: "master", username: "realm-manager", password: "Pw-rm-1")
            // Delete master's admin role and rename one's own role to take its name: refused at both steps.
            #expect(try await api.call(.delete, "/admin/realms/master/roles/admin", token: token).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/master/roles/create-realm", token: token).status == .forbidden)
            #expect(try await api.call(.put, "/admin/realms/master/roles/mine", token: token, json: ["name": "create-realm"]).status == .forbidden)
            #expect(try await api.call(.post, "/admin/realms", token: token, json: ["realm": "x"]).status == .forbidden)
        }
    }

    @Test func theMasterAdminCannotLockEveryoneOut() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            #expect(try await api.call(.put, "/admin/realms/master", token: admin, json: ["enabled": false]).status == .badRequest)
            #expect(try await api.call(.delete, "/admin/realms/master/roles/admin", token: admin).status == .badRequest)
            #expect(try await api.call(.put, "/admin/realms/master/roles/admin", token: admin, json: ["name": "former-admin"]).status == .badRequest)
            let management = try await api.clientUUID("master", "realm-management", token: admin)
            #expect(try await api.call(.delete, "/admin/realms/master/clients/\(management)/roles/realm-admin", token: admin).status == .badRequest)
            // A custom role of the realm-management client is the master admin's to remove.
            #expect(try await api.call(.post, "/admin/realms/master/clients/\(management)/roles", token: admin, json: ["name": "extra"]).status == .created)
            #expect(try await api.call(.delete, "/admin/realms/master/clients/\(management)/roles/extra", token: admin).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms", token: try await api.token()).status == .ok)
        }
    }
}

@Suite("Admin writes: concurrent partial updates")
struct ConcurrentAdminUpdateTests {
    /// Two administrators change different fields of one user (and of one realm) at once: both keep theirs.
    @Test func concurrentPutsOfDifferentFieldsBothSurvive() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createUser("acme", "alice", token: admin)
            for round in 0..<10 {
                async let a = api.call(.put, "/admin/realms/acme/users/\(id)", token: admin, json: ["firstName": .string("First\(round)")])
                async let b = api.call(.put, "/admin/realms/acme/users/\(id)", token: admin, json: ["email": .string("alice\(round)@acme.io")])
                async let c = api.call(.put, "/admin/realms/acme", token: admin, json: ["displayName": .string("Acme \(round)")])
                async let d = api.call(.put, "/admin/realms/acme", token: admin, json: ["accessTokenLifespan": .number(Double(100 + round))])
                let statuses = try await [a.status, b.status, c.status, d.status]
                #expect(statuses.allSatisfy { $0 == .noContent })
                let user = try await api.call(.get, "/admin/realms/acme/users/\(id)", token: admin)
                #expect(user["firstName"]?.stringValue == "First\(round)" && user["email"]?.stringValue == "alice\(round)@acme.io")
                let realm = try await api.call(.get, "/admin/realms/acme", token: admin)
                #expect(realm["displayName"]?.stringValue == "Acme \(round)" && realm["accessTokenLifespan"]?.int == 100 + round)
            }
        }
    }
}
