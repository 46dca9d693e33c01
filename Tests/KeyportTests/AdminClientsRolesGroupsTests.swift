import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import Testing

@Suite("Admin API: clients, roles, groups and mappings")
struct AdminClientsRolesGroupsTests {
    @Test func clientsKeepTheirSecretOutOfRepresentations() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createClient("acme", ["clientId": "backend", "publicClient": false, "serviceAccountsEnabled": true,
                                                         "attributes": ["owner": "ops"]], token: admin)
            let conflict = try await api.call(.post, "/admin/realms/acme/clients", token: admin, json: ["clientId": "backend"])
            #expect(conflict.status == .conflict)
            #expect(conflict["errorMessage"]?.stringValue == "Client backend already exists")

            let got = try await api.call(.get, "/admin/realms/acme/clients/\(id)", token: admin)
            #expect(got["clientId"]?.stringValue == "backend")
            #expect(got["protocol"]?.stringValue == "openid-connect")
            #expect(got["attributes"]?["owner"]?.stringValue == "ops")
            let secret = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(id)/client-secret", token: admin)["value"]?.stringValue)
            #expect(secret.count >= 32)
            // The secret is in the client's representation only for who may read it anyway (manage-clients).
            #expect(got["secret"]?.stringValue == secret)
            #expect(try await api.call(.get, "/admin/realms/acme/clients?clientId=backend", token: admin).values("id") == [id])

            // client_credentials: the service account acts for the client.
            let grant = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                           form: [("grant_type", "client_credentials"), ("client_id", "backend"), ("client_secret", secret)])
            #expect(grant.status == .ok)
            #expect(grant["refresh_token"] == nil)
            let wrong = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                           form: [("grant_type", "client_credentials"), ("client_id", "backend"), ("client_secret", "nope")])
            #expect(wrong.status == .unauthorized)
            #expect(wrong["error"]?.stringValue == "invalid_client")
            let account = try await api.call(.get, "/admin/realms/acme/clients/\(id)/service-account-user", token: admin)
            #expect(account["username"]?.stringValue == "service-account-backend")
            // Service accounts are not listed among users.
            #expect(try await api.call(.get, "/admin/realms/acme/users", token: admin).items.isEmpty)

            // Rotating the secret retires the old one.
            let rotated = try #require(try await api.call(.post, "/admin/realms/acme/clients/\(id)/client-secret", token: admin)["value"]?.stringValue)
            #expect(rotated != secret)
            #expect(try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                       form: [("grant_type", "client_credentials"), ("client_id", "backend"), ("client_secret", secret)]).status == .unauthorized)

            #expect(try await api.call(.delete, "/admin/realms/acme/clients/\(id)", token: admin).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(id)", token: admin).status == .notFound)
            let realm = try #require(try await api.server.services.store.realm(named: "acme"))
            #expect(try await api.server.services.store.user(username: "service-account-backend", realmId: realm.id) == nil)
        }
    }

    @Test func rolesCompositesAndMappingsFlowIntoTokens() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let registry = try await api.createClient("acme", ["clientId": "registry", "protocol": "docker-v2"], token: admin)
            let push = try await api.call(.post, "/admin/realms/acme/clients/\(registry)/roles", token: admin,
                                          json: ["name": "team-a-push", "description": "push to team-a"])
            #expect(push.status == .created)
            #expect(push.createdID == "team-a-push")
            #expect(try await api.call(.post, "/admin/realms/acme/clients/\(registry)/roles", token: admin, json: ["name": "team-a-push"]).status == .conflict)
            let realmRole = try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "developer"])
            #expect(realmRole.location == "http://keyport.test/admin/realms/acme/roles/developer")
            let pushRole = try await api.role("acme", "team-a-push", client: registry, token: admin)
            #expect(pushRole["clientRole"]?.bool == true)
            #expect(pushRole["containerId"]?.stringValue == registry)

            // developer ⊇ registry/team-a-push (a realm role containing a client role).
            #expect(try await api.call(.post, "/admin/realms/acme/roles/developer/composites", token: admin, json: [pushRole]).status == .noContent)
            #expect(try await api.role("acme", "developer", token: admin)["composite"]?.bool == true)
            #expect(try await api.call(.get, "/admin/realms/acme/roles/developer/composites", token: admin).values("name") == ["team-a-push"])

            // Through a group and its parent.
            let eng = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "eng"]).createdID)
            let backend = try await api.call(.post, "/admin/realms/acme/groups/\(eng)/children", token: admin, json: ["name": "backend"])
            #expect(backend.status == .created)
            let backendId = try #require(backend.createdID)
            let developer = try await api.role("acme", "developer", token: admin)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(eng)/role-mappings/realm", token: admin, json: [developer]).status == .noContent)
            let alice = try await api.createUser("acme", "alice", password: "pw", token: admin)
            #expect(try await api.call(.put, "/admin/realms/acme/users/\(alice)/groups/\(backendId)", token: admin).status == .noContent)

            let members = try await api.call(.get, "/admin/realms/acme/groups/\(backendId)/members", token: admin)
            #expect(members.values("username") == ["alice"])
            let group = try await api.call(.get, "/admin/realms/acme/groups/\(eng)", token: admin)
            #expect(group["subGroupCount"]?.int == 1)
            #expect(group["subGroups"]?.array.first?["path"]?.stringValue == "/eng/backend")
            #expect(try await api.call(.get, "/admin/realms/acme/group-by-path/eng/backend", token: admin)["id"]?.stringValue == backendId)
            let search = try await api.call(.get, "/admin/realms/acme/groups?search=back", token: admin)
            #expect(search.values("name") == ["eng"])

            let effective = try await api.call(.get, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(registry)/composite", token: admin)
            #expect(effective.values("name") == ["team-a-push"])
            let token = try await api.login(realm: "acme", username: "alice", password: "pw")
            let accessToken = try #require(token["access_token"]?.stringValue)
            let claims = try #require(decodeClaims(accessToken))
            #expect(claims["resource_access"]?["registry"]?["roles"]?.strings == ["team-a-push"])
            let realmRoles = Set(claims["realm_access"]?["roles"]?.strings ?? [])
            #expect(realmRoles.isSuperset(of: ["developer", "default-roles-acme", "offline_access"]))

            // Direct client-role mappings, and the combined view.
            let bob = try await api.createUser("acme", "bob", token: admin)
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(bob)/role-mappings/clients/\(registry)", token: admin, json: [pushRole]).status == .noContent)
            let mappings = try await api.call(.get, "/admin/realms/acme/users/\(bob)/role-mappings", token: admin)
            #expect(mappings["clientMappings"]?["registry"]?["mappings"]?.array.first?["name"]?.stringValue == "team-a-push")
            #expect(try await api.call(.delete, "/admin/realms/acme/users/\(bob)/role-mappings/clients/\(registry)", token: admin, json: [pushRole]).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(bob)/role-mappings/clients/\(registry)", token: admin).items.isEmpty)

            // A role object whose id does not match its name is refused.
            let forged: JSONValue = ["name": "developer", "id": "00000000-0000-0000-0000-000000000000"]
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(bob)/role-mappings/realm", token: admin, json: [forged]).status == .notFound)

            // roles-by-id, and deleting a role removes it from tokens at once.
            let byId = try await api.call(.get, "/admin/realms/acme/roles-by-id/\(pushRole["id"]!.stringValue!)", token: admin)
            #expect(byId["name"]?.stringValue == "team-a-push")
            #expect(try await api.call(.delete, "/admin/realms/acme/clients/\(registry)/roles/team-a-push", token: admin).status == .noContent)
            let after = try await api.login(realm: "acme", username: "alice", password: "pw")
            // What is left is what every user holds through the default role, as in Keycloak: account's roles.
            #expect(decodeClaims(after["access_token"]!.stringValue!)?["resource_access"]?.objectValue.map { Set($0.keys) } == ["account"])
        }
    }
}

func decodeClaims(_ jwt: String) -> JSONValue? {
    let parts = jwt.split(separator: ".")
    guard parts.count == 3 else { return nil }
    var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while payload.count % 4 != 0 { payload += "=" }
    guard let data = Data(base64Encoded: payload) else { return nil }
    return try? JSONDecoder().decode(JSONValue.self, from: data)
}
