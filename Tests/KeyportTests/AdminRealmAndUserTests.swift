import Foundation
import Hummingbird
import KeyportHTTP
import Testing

@Suite("Admin API: realms and users")
struct AdminRealmAndUserTests {
    @Test func realmLifecycleFollowsKeycloaksConventions() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let created = try await api.createRealm("acme", token: admin)
            #expect(created.location == "http://keyport.test/admin/realms/acme")
            #expect(created.text.isEmpty)
            let conflict = try await api.call(.post, "/admin/realms", token: admin, json: ["realm": "acme"])
            #expect(conflict.status == .conflict)
            #expect(conflict["errorMessage"]?.stringValue == "Conflict detected. See logs for details")

            let got = try await api.call(.get, "/admin/realms/acme", token: admin)
            #expect(got.status == .ok)
            #expect(got["realm"]?.stringValue == "acme")
            #expect(got["dockerV2Enabled"]?.bool == false)
            #expect(got["accessTokenLifespan"]?.int == 300)
            #expect(got["defaultRole"]?["name"]?.stringValue == "default-roles-acme")

            // Partial PUT merges; GET output is accepted back whole.
            #expect(try await api.call(.put, "/admin/realms/acme", token: admin, json: ["dockerV2Enabled": true, "accessTokenLifespan": 120]).status == .noContent)
            var whole = try #require(try await api.call(.get, "/admin/realms/acme", token: admin).json)
            #expect(whole["dockerV2Enabled"]?.bool == true)
            #expect(whole["enabled"]?.bool == true)
            whole["displayName"] = "Acme Corp"
            whole["smtpServer"] = ["host": "mail.example"]  // Keycloak's, not used by Keyport: accepted
            #expect(try await api.call(.put, "/admin/realms/acme", token: admin, json: whole).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme", token: admin)["displayName"]?.stringValue == "Acme Corp")

            let list = try await api.call(.get, "/admin/realms", token: admin)
            #expect(Set(list.values("realm")) == ["master", "acme"])

            // A new realm has Keycloak's built-ins.
            let clients = try await api.call(.get, "/admin/realms/acme/clients", token: admin)
            #expect(Set(clients.values("clientId")).isSuperset(of: ["admin-cli", "realm-management"]))

            #expect(try await api.call(.delete, "/admin/realms/acme", token: admin).status == .noContent)
            let gone = try await api.call(.get, "/admin/realms/acme", token: admin)
            #expect(gone.status == .notFound)
            #expect(gone["error"]?.stringValue == "Realm not found.")
            #expect(try await api.call(.delete, "/admin/realms/master", token: admin).status == .badRequest)
        }
    }

    @Test func usersAreCreatedFoundUpdatedAndDeleted() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createUser("acme", "Alice", password: "pw-alice", token: admin,
                                              extra: ["email": "Alice@Acme.io", "firstName": "Alice", "attributes": ["team": ["a"], "floor": "3"]])
            let dup = try await api.call(.post, "/admin/realms/acme/users", token: admin, json: ["username": "ALICE"])
            #expect(dup.status == .conflict)
            #expect(dup["errorMessage"]?.stringValue == "User exists with same username")
            let dupEmail = try await api.call(.post, "/admin/realms/acme/users", token: admin, json: ["username": "alice2", "email": "alice@acme.io"])
            #expect(dupEmail.status == .conflict)
            #expect(dupEmail["errorMessage"]?.stringValue == "User exists with same email")

            let user = try await api.call(.get, "/admin/realms/acme/users/\(id)", token: admin)
            #expect(user["username"]?.stringValue == "alice")
            #expect(user["email"]?.stringValue == "alice@acme.io")
            #expect(user["attributes"]?["floor"]?.strings == ["3"])
            #expect(user["createdTimestamp"]?.int != nil)
            #expect(!user.text.contains("pw-alice"))

            let found = try await api.call(.get, "/admin/realms/acme/users?username=ALICE&exact=True", token: admin)
            #expect(found.items.count == 1)
            #expect(try await api.call(.get, "/admin/realms/acme/users?search=lic", token: admin).items.count == 1)
            #expect(try await api.call(.get, "/admin/realms/acme/users?username=ali&exact=false", token: admin).items.count == 1)
            let count = try await api.call(.get, "/admin/realms/acme/users/count", token: admin)
            #expect(count.text == "1")

            // A partial PUT changes only what it names (python-keycloak's update_user).
            #expect(try await api.call(.put, "/admin/realms/acme/users/\(id)", token: admin, json: ["lastName": "Liddell"]).status == .noContent)
            let updated = try await api.call(.get, "/admin/realms/acme/users/\(id)", token: admin)
            #expect(updated["lastName"]?.stringValue == "Liddell")
            #expect(updated["firstName"]?.stringValue == "Alice")
            #expect(updated["email"]?.stringValue == "alice@acme.io")
            let whole = try #require(updated.json)
            #expect(try await api.call(.put, "/admin/realms/acme/users/\(id)", token: admin, json: whole).status == .noContent)

            let credentials = try await api.call(.get, "/admin/realms/acme/users/\(id)/credentials", token: admin)
            #expect(credentials.items.first?["type"]?.stringValue == "password")
            #expect(!credentials.text.contains("argon2"))

            #expect(try await api.call(.delete, "/admin/realms/acme/users/\(id)", token: admin).status == .noContent)
            let missing = try await api.call(.get, "/admin/realms/acme/users/\(id)", token: admin)
            #expect(missing.status == .notFound)
            #expect(missing["error"]?.stringValue == "User not found")
        }
    }

    @Test func resetPasswordHashesWithThePolicyAndTemporaryBlocksTokens() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin, extra: ["passwordPolicy": "length(8) and digits(1)"])
            let id = try await api.createUser("acme", "bob", token: admin)
            let short = try await api.call(.put, "/admin/realms/acme/users/\(id)/reset-password", token: admin, json: ["type": "password", "value": "abc1", "temporary": false])
            #expect(short.status == .badRequest)
            #expect(short["errorMessage"]?.stringValue == "Invalid password: minimum length 8.")

            #expect(try await api.call(.put, "/admin/realms/acme/users/\(id)/reset-password", token: admin,
                                       json: ["type": "password", "value": "longenough1", "temporary": true]).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(id)", token: admin)["requiredActions"]?.strings == ["UPDATE_PASSWORD"])
            let blocked = try await api.login(realm: "acme", username: "bob", password: "longenough1")
            #expect(blocked.status == .badRequest)
            #expect(blocked["error_description"]?.stringValue == "Account is not fully set up")

            #expect(try await api.call(.put, "/admin/realms/acme/users/\(id)/reset-password", token: admin,
                                       json: ["type": "password", "value": "longenough2", "temporary": false]).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(id)", token: admin)["requiredActions"]?.strings == [])
            #expect(try await api.login(realm: "acme", username: "bob", password: "longenough2").status == .ok)
            #expect(try await api.login(realm: "acme", username: "bob", password: "longenough1").status == .unauthorized)

            let realm = try #require(try await api.server.services.store.realm(named: "acme"))
            let stored = try await api.server.services.store.credentials(userId: id)
            #expect(stored.first?.secret.revealed.hasPrefix("$argon2id$v=19$m=\(realm.passwordHashing.memoryKiB),t=\(realm.passwordHashing.iterations),") == true)
        }
    }

    @Test func aUserCreatedWithGroupsAndRolesGetsThemInOneTransaction() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            #expect(try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "dev"]).status == .created)
            let group = try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "eng"])
            #expect(group.status == .created)
            // A missing group makes the whole create fail: no user is left behind.
            let bad = try await api.call(.post, "/admin/realms/acme/users", token: admin,
                                         json: ["username": "carol", "groups": ["/eng", "/nope"], "credentials": [["type": "password", "value": "pw"]]])
            #expect(bad.status == .badRequest)
            #expect(bad["errorMessage"]?.stringValue == "Group /nope not found")
            #expect(try await api.call(.get, "/admin/realms/acme/users?username=carol&exact=true", token: admin).items.isEmpty)

            let id = try await api.createUser("acme", "carol", password: "pw", token: admin, extra: ["groups": ["/eng"], "realmRoles": ["dev"]])
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(id)/groups", token: admin).items.first?["path"]?.stringValue == "/eng")
            let mappings = try await api.call(.get, "/admin/realms/acme/users/\(id)/role-mappings/realm", token: admin)
            #expect(Set(mappings.values("name")) == ["dev", "default-roles-acme"])
        }
    }
}
