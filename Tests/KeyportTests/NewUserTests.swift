import KeyportAuth
import KeyportModel
import KeyportProvisioning
import KeyportStore
import Testing

/// What a new user becomes is decided in one place (`Provisioning.newUserSeed`), whichever door
/// it comes in by.
@Suite("A new user is the same whatever door it comes in by")
struct NewUserTests {
    let user = User(id: "u1", realmId: "r1", username: "alice", enabled: true, createdAt: Timestamp(millisecondsSince1970: 1))
    let password = Credential(id: "c1", userId: "u1", secret: Sensitive("$argon2id$..."), createdAt: Timestamp(millisecondsSince1970: 1))

    @Test func theDefaultRoleComesFirstAndNothingTwice() {
        let seed = Provisioning.newUserSeed(user, defaultRoleId: "default", roleIds: ["a", "default", "b", "a"], groupIds: ["g", "g", "h"])
        #expect(seed.roleIds == ["default", "a", "b"])
        #expect(seed.groupIds == ["g", "h"])
        #expect(seed.credentials.isEmpty)
    }

    @Test func aTemporaryPasswordAsksForANewOneOnce() {
        var asked = user
        asked.requiredActions = [RequiredAction.updatePassword]
        let seed = Provisioning.newUserSeed(asked, defaultRoleId: nil, password: password, temporaryPassword: true)
        #expect(seed.user.requiredActions == [RequiredAction.updatePassword])
        #expect(seed.credentials == [password])
        let permanent = Provisioning.newUserSeed(user, defaultRoleId: nil, password: password)
        #expect(permanent.user.requiredActions.isEmpty)
    }

    @Test func everyDoorGivesTheRealmsDefaultRole() async throws {
        try await APIHarness.run { api in
            let token = try await api.token()
            try await api.createRealm("acme", token: token)
            // The admin API, a partial import, and a client's service account.
            _ = try await api.createUser("acme", "by-api", token: token)
            let imported = try await api.call(.post, "/admin/realms/acme/partialImport", token: token,
                                              json: ["ifResourceExists": "FAIL", "users": [["username": "by-import", "enabled": true]]])
            #expect(imported.status == .ok, "\(imported.text)")
            _ = try await api.createClient("acme", ["clientId": "robot", "publicClient": false, "serviceAccountsEnabled": true], token: token)
            let users = try await api.call(.get, "/admin/realms/acme/users?briefRepresentation=true", token: token)
            #expect(Set(users.values("username")) == ["by-api", "by-import"])
            for username in ["by-api", "by-import", "service-account-robot"] {
                let id: String
                if username.hasPrefix("service-account-") {
                    let client = try await api.clientUUID("acme", "robot", token: token)
                    id = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(client)/service-account-user", token: token)["id"]?.stringValue)
                } else {
                    id = try #require(users.items.first { $0["username"]?.stringValue == username }?["id"]?.stringValue)
                }
                let roles = try await api.call(.get, "/admin/realms/acme/users/\(id)/role-mappings/realm", token: token)
                #expect(roles.values("name") == ["default-roles-acme"], "\(username): \(roles.text)")
            }
        }
    }
}
