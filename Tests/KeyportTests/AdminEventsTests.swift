import Foundation
import KeyportJSON
import Testing

@Suite("Admin events: who changed what, secrets redacted")
struct AdminEventsTests {
    @Test func changesAreRecordedOnceTurnedOnWithSecretsRedacted() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            // Off by default, as in Keycloak.
            _ = try await api.createClient("acme", ["clientId": "before"], token: admin)
            #expect(try await api.call(.get, "/admin/realms/acme/admin-events", token: admin).items.isEmpty)
            let config = try await api.call(.get, "/admin/realms/acme/events/config", token: admin)
            #expect(config["adminEventsEnabled"]?.bool == false)
            #expect(config["eventsListeners"]?.strings == ["jboss-logging"])

            let turnOn = try await api.call(.put, "/admin/realms/acme/events/config", token: admin,
                                            json: ["adminEventsEnabled": true, "adminEventsDetailsEnabled": true])
            #expect(turnOn.status == .noContent, "\(turnOn.text)")
            api.clock.advance(seconds: 1)
            #expect(try await api.call(.get, "/admin/realms/acme", token: admin)["adminEventsDetailsEnabled"]?.bool == true)
            let bad = try await api.call(.put, "/admin/realms/acme/events/config", token: admin, json: ["bad": "conf"])
            #expect(bad.status == .badRequest)
            #expect(bad["error"]?.stringValue?.contains("Unrecognized field \"bad\"") == true)

            let user = try await api.createUser("acme", "alice", password: "alice-secret-pw-1", token: admin)
            api.clock.advance(seconds: 1)
            let client = try await api.createClient("acme", ["clientId": "app", "publicClient": false, "secret": "client-secret-value"], token: admin)
            api.clock.advance(seconds: 1)
            try await api.call(.put, "/admin/realms/acme/users/\(user)/reset-password", token: admin,
                               json: ["type": "password", "value": "alice-new-pw-2", "temporary": false])
            api.clock.advance(seconds: 1)
            let role = try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "ops"])
            api.clock.advance(seconds: 1)
            #expect(role.status == .created)
            let ops = try await api.role("acme", "ops", token: admin)
            try await api.call(.post, "/admin/realms/acme/users/\(user)/role-mappings/realm", token: admin, json: [ops])
            api.clock.advance(seconds: 1)
            // A refused change is not recorded: nothing changed.
            #expect(try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "ops"]).status == .conflict)
            try await api.call(.delete, "/admin/realms/acme/clients/\(client)", token: admin)
            api.clock.advance(seconds: 1)

            let events = try await api.call(.get, "/admin/realms/acme/admin-events", token: admin)
            #expect(!events.text.contains("alice-secret-pw-1") && !events.text.contains("alice-new-pw-2") && !events.text.contains("client-secret-value"))
            let summary = events.items.map { "\($0["operationType"]?.stringValue ?? "") \($0["resourceType"]?.stringValue ?? "") \($0["resourcePath"]?.stringValue ?? "")" }
            #expect(summary == [
                "DELETE CLIENT clients/\(client)",
                "CREATE REALM_ROLE_MAPPING users/\(user)/role-mappings/realm",
                "CREATE REALM_ROLE roles/ops",
                "ACTION USER users/\(user)/reset-password",
                "CREATE CLIENT clients/\(client)",
                "CREATE USER users/\(user)",
                "UPDATE REALM events/config",
            ], "\(summary)")
            let created = try #require(events.items.first { $0["resourcePath"]?.stringValue == "users/\(user)" })
            let masterAdmin = try await api.call(.get, "/admin/realms/master/users?username=admin&exact=true", token: admin).items.first?["id"]?.stringValue
            #expect(created["authDetails"]?["userId"]?.stringValue == masterAdmin)
            let representation = try #require(created["representation"]?.stringValue)
            #expect(representation.contains("\"username\":\"alice\"") && representation.contains("**********"))

            // Keycloak's filters.
            let userEvents = try await api.call(.get, "/admin/realms/acme/admin-events?resourceTypes=USER&operationTypes=CREATE", token: admin)
            #expect(userEvents.values("resourcePath") == ["users/\(user)"])
            let byPath = try await api.call(.get, "/admin/realms/acme/admin-events?resourcePath=users/*&max=2", token: admin)
            #expect(byPath.items.count == 2)
            #expect(try await api.call(.get, "/admin/realms/acme/admin-events?authUser=nobody", token: admin).items.isEmpty)

            // Clearing them is recorded as the first event after.
            api.clock.advance(seconds: 1)
            #expect(try await api.call(.delete, "/admin/realms/acme/admin-events", token: admin).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/admin-events", token: admin).values("resourcePath") == ["admin-events"])
        }
    }

    @Test func readingNeedsViewEventsAndConfiguringManageEvents() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            for (name, roleName) in [("viewer", "view-events"), ("clerk", "manage-users")] {
                let id = try await api.createUser("acme", name, password: "\(name)-pw-123", token: admin)
                let role = try await api.role("acme", roleName, client: management, token: admin)
                try await api.call(.post, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(management)", token: admin, json: [role])
            }
            let viewer = try await api.token(realm: "acme", username: "viewer", password: "viewer-pw-123")
            let clerk = try await api.token(realm: "acme", username: "clerk", password: "clerk-pw-123")
            #expect(try await api.call(.get, "/admin/realms/acme/admin-events", token: viewer).status == .ok)
            #expect(try await api.call(.get, "/admin/realms/acme/events/config", token: viewer).status == .ok)
            #expect(try await api.call(.put, "/admin/realms/acme/events/config", token: viewer, json: ["adminEventsEnabled": false]).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/acme/admin-events", token: viewer).status == .forbidden)
            #expect(try await api.call(.get, "/admin/realms/acme/admin-events", token: clerk).status == .forbidden)
        }
    }
}

@Suite("Sessions, composites, unlocks and partial exports as Keycloak's tools ask for them")
struct AdminReadEndpointsTests {
    @Test func sessionsAreListedByUserAndByClient() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let user = try await api.createUser("acme", "alice", password: "alice-pw-123", token: admin)
            #expect(try await api.login(realm: "acme", username: "alice", password: "alice-pw-123").status == .ok)
            let sessions = try await api.call(.get, "/admin/realms/acme/users/\(user)/sessions", token: admin)
            #expect(sessions.items.count == 1)
            #expect(sessions.items.first?["username"]?.stringValue == "alice")
            #expect(sessions.items.first?["clients"]?.objectValue?.values.first?.stringValue == "admin-cli")
            let adminCLI = try await api.clientUUID("acme", "admin-cli", token: admin)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(adminCLI)/user-sessions", token: admin).values("userId") == [user])
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(adminCLI)/user-sessions?first=1", token: admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(adminCLI)/offline-sessions", token: admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(user)/consents", token: admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(user)/offline-sessions", token: admin).items.isEmpty)
        }
    }

    @Test func compositesAreListedByContainer() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let client = try await api.createClient("acme", ["clientId": "app"], token: admin)
            for body: JSONValue in [["name": "lead"], ["name": "dev"]] { try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: body) }
            try await api.call(.post, "/admin/realms/acme/clients/\(client)/roles", token: admin, json: ["name": "deploy"])
            let dev = try await api.role("acme", "dev", token: admin)
            let deploy = try await api.role("acme", "deploy", client: client, token: admin)
            try await api.call(.post, "/admin/realms/acme/roles/lead/composites", token: admin, json: [dev, deploy])
            let lead = try #require(try await api.role("acme", "lead", token: admin)["id"]?.stringValue)
            #expect(try await api.call(.get, "/admin/realms/acme/roles-by-id/\(lead)/composites/realm", token: admin).values("name") == ["dev"])
            #expect(try await api.call(.get, "/admin/realms/acme/roles-by-id/\(lead)/composites/clients/\(client)", token: admin).values("name") == ["deploy"])
            #expect(try await api.call(.get, "/admin/realms/acme/roles/lead/composites/realm", token: admin).values("name") == ["dev"])
            #expect(try await api.call(.get, "/admin/realms/acme/roles/lead/composites/clients/\(client)", token: admin).values("name") == ["deploy"])
            #expect(try await api.call(.get, "/admin/realms/acme/roles-by-id/\(lead)/composites/clients/nope", token: admin).status == .notFound)
        }
    }

    @Test func unlockingEveryoneNeedsTheRealmsRealmAdmin() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin, extra: ["bruteForceProtected": true, "failureFactor": 1])
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            let clerk = try await api.createUser("acme", "clerk", password: "clerk-pw-123", token: admin)
            let manageUsers = try await api.role("acme", "manage-users", client: management, token: admin)
            try await api.call(.post, "/admin/realms/acme/users/\(clerk)/role-mappings/clients/\(management)", token: admin, json: [manageUsers])
            let boss = try await api.createUser("acme", "boss", password: "boss-pw-12345", token: admin)
            let realmAdmin = try await api.role("acme", "realm-admin", client: management, token: admin)
            try await api.call(.post, "/admin/realms/acme/users/\(boss)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
            let clerkToken = try await api.token(realm: "acme", username: "clerk", password: "clerk-pw-123")
            // The clerk may neither unlock everyone nor the realm-admin alone.
            #expect(try await api.call(.delete, "/admin/realms/acme/attack-detection/brute-force/users", token: clerkToken).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/acme/attack-detection/brute-force/users/\(boss)", token: clerkToken).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/acme/attack-detection/brute-force/users", token: admin).status == .noContent)
        }
    }

    @Test func partialExportsNeverCarryUsersOrSecrets() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            _ = try await api.createClient("acme", ["clientId": "app", "publicClient": false, "secret": "app-secret-value"], token: admin)
            _ = try await api.createUser("acme", "alice", password: "alice-pw-123", token: admin)
            try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "eng"])
            let bare = try await api.call(.post, "/admin/realms/acme/partial-export", token: admin)
            #expect(bare.status == .ok)
            #expect(bare["realm"]?.stringValue == "acme")
            #expect(bare["clients"] == nil && bare["groups"] == nil && bare["users"] == nil && bare["roles"] == nil)
            let full = try await api.call(.post, "/admin/realms/acme/partial-export?exportClients=true&exportGroupsAndRoles=true", token: admin)
            #expect(full["clients"]?.array.contains { $0["clientId"]?.stringValue == "app" } == true)
            #expect(full["groups"]?.array.first?["name"]?.stringValue == "eng")
            #expect(full["users"] == nil)
            #expect(!full.text.contains("app-secret-value") && !full.text.contains("alice"))
        }
    }
}
