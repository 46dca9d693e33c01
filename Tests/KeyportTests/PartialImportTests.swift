import Foundation
import Hummingbird
import KeycloakRepresentations
import KeyportAuth
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportRealmExchange
import KeyportServer
import KeyportStore
import Testing

/// Keycloak's `POST /admin/realms/{realm}/partialImport` (python-keycloak's `partial_import_realm`).
@Suite("Partial import")
struct PartialImportTests {
    /// A realm holding `alice` (password `Alice-pw-1`), client `app`, realm role `dev` (held by
    /// alice), group `team`.
    static func existingRealm(_ api: APIHarness, admin: String) async throws -> String {
        try await api.createRealm("pi", token: admin)
        _ = try await api.createClient("pi", ["clientId": "app", "description": "before"], token: admin)
        _ = try await api.call(.post, "/admin/realms/pi/roles", token: admin, json: ["name": "dev", "description": "before"])
        _ = try await api.call(.post, "/admin/realms/pi/groups", token: admin, json: ["name": "team"])
        let alice = try await api.createUser("pi", "alice", password: "Alice-pw-1", token: admin, extra: ["email": "alice@pi.test", "realmRoles": ["dev"]])
        return alice
    }

    /// What a script posts: one resource of each kind that exists, and new ones — roles and groups
    /// named with spaces, a plain-text password, a composite, a built-in client Keycloak exports.
    static func body(_ policy: String) -> JSONValue {
        let alice: JSONValue = ["username": "alice", "email": "alice@pi.test", "enabled": true,
                                "credentials": [["type": "password", "value": "Alice-new-2"]]]
        let bob: JSONValue = ["username": "bob", "enabled": true, "realmRoles": ["Ops Team"], "groups": ["/Platform Team/On Call"],
                              "credentials": [["type": "password", "value": "Bob-pw-1"]]]
        let clients: JSONValue = [
            ["clientId": "app", "description": "after"],
            ["clientId": "robot", "secret": "robot-secret-1", "serviceAccountsEnabled": true],
            ["clientId": "account", "description": "Keycloak exports it; never imported over"],
        ]
        let realmRoles: JSONValue = [
            ["name": "dev", "description": "after"],
            ["name": "Ops Team", "composites": ["realm": ["dev"]]],
            ["name": "default-roles-pi"],
        ]
        let clientRoles: JSONValue = ["robot": [["name": "deploy"]]]
        let groups: JSONValue = [
            ["name": "team"],
            ["name": "Platform Team", "subGroups": [["name": "On Call", "realmRoles": ["Ops Team"]]]],
        ]
        return .object(["ifResourceExists": .string(policy), "users": .array([alice, bob]), "clients": clients,
                        "roles": .object(["realm": realmRoles, "client": clientRoles]), "groups": groups])
    }

    static func results(_ response: APIResponse) -> [String: String] {
        var found: [String: String] = [:]
        for item in response["results"]?.array ?? [] {
            found["\(item["resourceType"]?.stringValue ?? ""):\(item["resourceName"]?.stringValue ?? "")"] = item["action"]?.stringValue
        }
        return found
    }

    @Test func failRefusesTheWholeImportWhenOneResourceExists() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            _ = try await Self.existingRealm(api, admin: admin)
            let response = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin, json: Self.body("FAIL"))
            #expect(response.status == .conflict, "\(response.text)")
            #expect(response["errorMessage"]?.stringValue == "Client id 'app' already exists")
            // Nothing of it was written: not even what came before the resource that exists.
            #expect(try await api.call(.get, "/admin/realms/pi/users?username=bob&exact=true", token: admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/pi/clients?clientId=robot", token: admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/pi/roles/Ops%20Team", token: admin).status == .notFound)
            // Keycloak's default when no policy is given is FAIL too.
            var silent = Self.body("FAIL")
            if case .object(var fields) = silent { fields["ifResourceExists"] = nil; silent = .object(fields) }
            #expect(try await api.call(.post, "/admin/realms/pi/partialImport", token: admin, json: silent).status == .conflict)
            #expect(try await api.call(.post, "/admin/realms/pi/partialImport", token: admin,
                                       json: ["ifResourceExists": "MERGE", "users": []]).status == .badRequest)
        }
    }

    @Test func skipAddsWhatIsNewAndLeavesWhatExists() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let alice = try await Self.existingRealm(api, admin: admin)
            let response = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin, json: Self.body("SKIP"))
            #expect(response.status == .ok, "\(response.text)")
            #expect(Self.results(response) == [
                "CLIENT:app": "SKIPPED", "CLIENT:robot": "ADDED",
                "REALM_ROLE:dev": "SKIPPED", "REALM_ROLE:Ops Team": "ADDED", "REALM_ROLE:default-roles-pi": "SKIPPED",
                "CLIENT_ROLE:robot-deploy": "ADDED",
                "GROUP:team": "SKIPPED", "GROUP:Platform Team": "ADDED",
                "USER:alice": "SKIPPED", "USER:bob": "ADDED",
            ])
            #expect(response["added"]?.int == 5 && response["skipped"]?.int == 5 && response["overwritten"]?.int == 0)
            // Every result carries the resource's id: the existing one for a skipped resource.
            let aliceResult = response["results"]?.array.first { $0["resourceName"]?.stringValue == "alice" }
            #expect(aliceResult?["id"]?.stringValue == alice)

            // alice is as she was; bob logs in with the password the body gave in clear, holding
            // the new role (and, through it, dev) and the nested group named with spaces.
            #expect(try await api.login(realm: "pi", username: "alice", password: "Alice-pw-1").status == .ok)
            #expect(try await api.login(realm: "pi", username: "alice", password: "Alice-new-2").status == .unauthorized)
            let bobLogin = try await api.login(realm: "pi", username: "bob", password: "Bob-pw-1")
            #expect(bobLogin.status == .ok, "\(bobLogin.text)")
            let bobToken = try #require(bobLogin["access_token"]?.stringValue)
            let claims = try #require(decodeClaims(bobToken))
            let bobRoles = Set(claims["realm_access"]?["roles"]?.strings ?? [])
            #expect(bobRoles.isSuperset(of: ["Ops Team", "dev", "offline_access"]), "\(bobRoles)")
            let group = try await api.call(.get, "/admin/realms/pi/group-by-path/Platform%20Team/On%20Call", token: admin)
            #expect(group.status == .ok && group["path"]?.stringValue == "/Platform Team/On Call")
            #expect(try await api.call(.get, "/admin/realms/pi/clients?clientId=app", token: admin).items.first?["description"]?.stringValue == "before")
            #expect(try await api.call(.get, "/admin/realms/pi/clients?clientId=account", token: admin).items.first?["description"]?.stringValue
                    != "Keycloak exports it; never imported over")
            // The new client's service account exists, so client_credentials works with its secret.
            let robot = try await api.call(.post, "/realms/pi/protocol/openid-connect/token", form: [
                ("grant_type", "client_credentials"), ("client_id", "robot"), ("client_secret", "robot-secret-1")])
            #expect(robot.status == .ok, "\(robot.text)")
            // The same body again: everything exists now, nothing is added.
            let again = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin, json: Self.body("SKIP"))
            #expect(again["added"]?.int == 0 && again["skipped"]?.int == 10)
        }
    }

    @Test func overwriteReplacesWhatExistsAndTheReplacedUsersTokensDie() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let alice = try await Self.existingRealm(api, admin: admin)
            let oldToken = try await api.token(realm: "pi", username: "alice", password: "Alice-pw-1")
            #expect(try await api.call(.get, "/realms/pi/protocol/openid-connect/userinfo", token: oldToken).status == .ok)
            api.clock.advance(seconds: 5)
            var body = Self.body("OVERWRITE")
            // Replaced under the very same id: the old tokens still must not pass for the new user.
            if case .object(var fields) = body, case .array(var users) = fields["users"], case .object(var first) = users[0] {
                first["id"] = .string(alice)
                users[0] = .object(first)
                fields["users"] = .array(users)
                body = .object(fields)
            }
            let response = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin, json: body)
            #expect(response.status == .ok, "\(response.text)")
            #expect(Self.results(response)["USER:alice"] == "OVERWRITTEN")
            #expect(Self.results(response)["CLIENT:app"] == "OVERWRITTEN")
            #expect(Self.results(response)["REALM_ROLE:dev"] == "OVERWRITTEN")
            // The realm's built-in roles are never replaced: the default role is reported skipped.
            #expect(Self.results(response)["REALM_ROLE:default-roles-pi"] == "SKIPPED")
            #expect(response["overwritten"]?.int == 4)

            #expect(try await api.call(.get, "/realms/pi/protocol/openid-connect/userinfo", token: oldToken).status == .unauthorized)
            #expect(try await api.login(realm: "pi", username: "alice", password: "Alice-pw-1").status == .unauthorized)
            #expect(try await api.login(realm: "pi", username: "alice", password: "Alice-new-2").status == .ok)
            #expect(try await api.call(.get, "/admin/realms/pi/roles/dev", token: admin)["description"]?.stringValue == "after")
            #expect(try await api.call(.get, "/admin/realms/pi/clients?clientId=app", token: admin).items.first?["description"]?.stringValue == "after")
            // The default role survived, with what it held: new users still get offline_access.
            let defaults = try await api.call(.get, "/admin/realms/pi/roles/default-roles-pi/composites", token: admin).values("name")
            #expect(defaults.contains("offline_access"))
        }
    }

    @Test func aDelegatedAdministratorGrantsNothingItCouldNotGrantOtherwise() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            _ = try await Self.existingRealm(api, admin: admin)
            let management = try await api.clientUUID("pi", "realm-management", token: admin)
            let realmAdmin = try await api.role("pi", "realm-admin", client: management, token: admin)
            // A group carrying realm-admin, and a role wrapping it, set up by the master admin.
            let carrier = try #require(try await api.call(.post, "/admin/realms/pi/groups", token: admin, json: ["name": "admins"]).createdID)
            _ = try await api.call(.post, "/admin/realms/pi/groups/\(carrier)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
            _ = try await api.call(.post, "/admin/realms/pi/roles", token: admin, json: ["name": "innocent"])
            _ = try await api.call(.post, "/admin/realms/pi/roles/innocent/composites", token: admin, json: [realmAdmin])

            let delegate = try await api.createUser("pi", "delegate", password: "Delegate-pw-1", token: admin)
            for role in ["manage-realm", "manage-users", "manage-clients"] {
                _ = try await api.call(.post, "/admin/realms/pi/users/\(delegate)/role-mappings/clients/\(management)", token: admin,
                                       json: [try await api.role("pi", role, client: management, token: admin)])
            }
            let token = try await api.token(realm: "pi", username: "delegate", password: "Delegate-pw-1")
            let attempts: [(String, JSONValue)] = [
                ("a user mapped to realm-admin", ["users": [["username": "puppet1", "clientRoles": ["realm-management": ["realm-admin"]]]]]),
                ("a user in a group carrying it", ["users": [["username": "puppet2", "groups": ["/admins"]]]]),
                ("a user holding a role wrapping it", ["users": [["username": "puppet3", "realmRoles": ["innocent"]]]]),
                ("a new role wrapping it, held by a new user", ["roles": ["realm": [["name": "wrapper", "composites": ["client": ["realm-management": ["realm-admin"]]]]]],
                                                              "users": [["username": "puppet4", "realmRoles": ["wrapper"]]]]),
                ("a new group carrying it", ["groups": [["name": "sneaky", "clientRoles": ["realm-management": ["realm-admin"]]]]]),
                ("the delegate itself, overwritten with realm-admin", ["ifResourceExists": "OVERWRITE",
                                                                       "users": [["username": "delegate", "clientRoles": ["realm-management": ["realm-admin"]]]]]),
            ]
            for (what, body) in attempts {
                let response = try await api.call(.post, "/admin/realms/pi/partialImport", token: token, json: body)
                #expect(response.status == .forbidden, "\(what): \(response.status) \(response.text)")
            }
            for name in ["puppet1", "puppet2", "puppet3", "puppet4"] {
                #expect(try await api.call(.get, "/admin/realms/pi/users?username=\(name)&exact=true", token: admin).items.isEmpty)
            }
            #expect(try await api.call(.get, "/admin/realms/pi/roles/wrapper", token: admin).status == .notFound)
            // Built-in clients are never imported over, whoever asks: realm-management keeps its roles.
            let overwriteManagement: JSONValue = ["ifResourceExists": "OVERWRITE", "clients": [["clientId": "realm-management", "description": "mine"]],
                                                  "roles": ["client": ["realm-management": [["name": "realm-admin"]]]]]
            #expect(try await api.call(.post, "/admin/realms/pi/partialImport", token: token, json: overwriteManagement).status == .ok)
            #expect(try await api.call(.get, "/admin/realms/pi/clients/\(management)/roles/realm-admin/composites", token: admin).items.count > 5)
            // What it may do, it may do through partial import too.
            let allowed = try await api.call(.post, "/admin/realms/pi/partialImport", token: token,
                                             json: ["users": [["username": "carol", "realmRoles": ["dev"]]]])
            #expect(allowed.status == .ok, "\(allowed.text)")

            // Each kind of resource needs its permission: manage-realm alone imports roles, not users or clients.
            let realmOnly = try await api.createUser("pi", "realm-only", password: "Realm-only-1", token: admin)
            _ = try await api.call(.post, "/admin/realms/pi/users/\(realmOnly)/role-mappings/clients/\(management)", token: admin,
                                   json: [try await api.role("pi", "manage-realm", client: management, token: admin)])
            let realmOnlyToken = try await api.token(realm: "pi", username: "realm-only", password: "Realm-only-1")
            #expect(try await api.call(.post, "/admin/realms/pi/partialImport", token: realmOnlyToken, json: ["users": [["username": "dave"]]]).status == .forbidden)
            #expect(try await api.call(.post, "/admin/realms/pi/partialImport", token: realmOnlyToken, json: ["clients": [["clientId": "c2"]]]).status == .forbidden)
            #expect(try await api.call(.post, "/admin/realms/pi/partialImport", token: realmOnlyToken, json: ["roles": ["realm": [["name": "r2"]]]]).status == .ok)
            // And another realm's admin reaches nothing here.
            try await api.createRealm("other", token: admin)
            _ = try await api.createUser("other", "boss", password: "Boss-pw-1", token: admin)
            let otherManagement = try await api.clientUUID("other", "realm-management", token: admin)
            let boss = try #require(try await api.call(.get, "/admin/realms/other/users?username=boss&exact=true", token: admin).items.first?["id"]?.stringValue)
            _ = try await api.call(.post, "/admin/realms/other/users/\(boss)/role-mappings/clients/\(otherManagement)", token: admin,
                                   json: [try await api.role("other", "realm-admin", client: otherManagement, token: admin)])
            let bossToken = try await api.token(realm: "other", username: "boss", password: "Boss-pw-1")
            #expect(try await api.call(.post, "/admin/realms/pi/partialImport", token: bossToken, json: ["users": [["username": "eve"]]]).status == .forbidden)
        }
    }

    @Test func aServiceAccountBelongsOnlyToAClientTheImportCreates() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            _ = try await Self.existingRealm(api, admin: admin)
            _ = try await api.createClient("pi", ["clientId": "ci", "secret": "ci-secret-1", "serviceAccountsEnabled": true], token: admin)
            // Taking over an existing client's service account is refused.
            let hijack = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin,
                                            json: ["users": [["username": "service-account-ci2", "serviceAccountClientId": "ci"]]])
            #expect(hijack.status == .badRequest)
            #expect(hijack["errorMessage"]?.stringValue?.contains("which this import does not create") == true)
            // With its client in the same body, the service account user comes through with its roles.
            let response = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin, json: [
                "clients": [["clientId": "bot", "secret": "bot-secret-1", "serviceAccountsEnabled": true]],
                "users": [["username": "service-account-bot", "serviceAccountClientId": "bot", "realmRoles": ["dev"]]],
            ])
            #expect(response.status == .ok, "\(response.text)")
            let bot = try await api.call(.post, "/realms/pi/protocol/openid-connect/token", form: [
                ("grant_type", "client_credentials"), ("client_id", "bot"), ("client_secret", "bot-secret-1")])
            let botToken = try #require(bot["access_token"]?.stringValue, "\(bot.text)")
            let claims = try #require(decodeClaims(botToken))
            #expect(claims["realm_access"]?["roles"]?.strings.contains("dev") == true)
        }
    }

    @Test func badBodiesAreRefusedWithASentenceAndWriteNothing() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            _ = try await Self.existingRealm(api, admin: admin)
            let cases: [JSONValue] = [
                ["users": [["username": "x1", "realmRoles": ["no-such-role"]]]],
                ["users": [["username": "x2", "groups": ["/no/such/group"]]]],
                ["users": [["username": "x3"], ["username": "X3"]]],
                ["users": [["username": "x4", "credentials": [["type": "password", "value": ""]]]]],
                ["roles": ["client": ["no-such-client": [["name": "r"]]]]],
                ["clients": [["clientId": "c", "protocol": "saml"]]],
                ["users": [["username": "x5", "id": "bad\u{0}id"]]],
            ]
            for body in cases {
                let response = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin, json: body)
                #expect(response.status == .badRequest, "\(body): \(response.status) \(response.text)")
                #expect(response["errorMessage"]?.stringValue?.isEmpty == false)
            }
            #expect(try await api.call(.get, "/admin/realms/pi/users?search=x", token: admin).values("username").filter { $0.hasPrefix("x") }.isEmpty)
            // The realm's password policy holds for plain-text passwords here as everywhere.
            _ = try await api.call(.put, "/admin/realms/pi", token: admin, json: ["passwordPolicy": "length(12)"])
            let short = try await api.call(.post, "/admin/realms/pi/partialImport", token: admin,
                                           json: ["users": [["username": "shorty", "credentials": [["type": "password", "value": "Short-1"]]]]])
            #expect(short.status == .badRequest && short.text.contains("minimum length 12"), "\(short.text)")
            // A realm that does not exist is a 404 for the master admin.
            #expect(try await api.call(.post, "/admin/realms/nope/partialImport", token: admin, json: ["users": []]).status == .notFound)
        }
    }

    /// The write checks the versions the plan was made from: a change in between writes nothing.
    @Test func aPlanMadeBeforeAConcurrentChangeWritesNothing() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            _ = try await Self.existingRealm(api, admin: admin)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "pi"))
            let importer = KeyportServer.realmImporter(store: store, provisioner: api.server.services.provisioner)
            var body = PartialImportRepresentation()
            var role = RoleRepresentation()
            role.name = "late"
            body.roles = RolesRepresentation(realm: [role])
            let plan = try await importer.planPartialImport(body, into: realm)
            // Someone changes what decides roles (a group membership) after the plan was made.
            let alice = try #require(try await store.user(username: "alice", realmId: realm.id))
            let team = try #require(try await store.group(path: "/team", realmId: realm.id))
            #expect(try await api.call(.put, "/admin/realms/pi/users/\(alice.id)/groups/\(team.group.id)", token: admin).status == .noContent)
            await #expect(throws: StoreError.conflict(.concurrentChange)) { try await store.apply(plan.changes) }
            #expect(try await store.role(named: "late", realmId: realm.id, clientId: nil) == nil)
            // Planned again, it goes through.
            try await store.apply(try await importer.planPartialImport(body, into: realm).changes)
            #expect(try await store.role(named: "late", realmId: realm.id, clientId: nil) != nil)
        }
    }
}
