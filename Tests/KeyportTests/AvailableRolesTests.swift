import KeyportJSON
import Testing

/// Keycloak's "available" role lists and a group's own role names, which Ansible's role-mapping
/// modules read to decide whether anything is left to do (so that a second run changes nothing).
@Suite("Available roles and a group's role names")
struct AvailableRolesTests {
    /// Keycloak's rule (`RoleMapperResource`): the container's roles the holder does not hold
    /// *directly*, among those the caller may map.
    @Test func availableIsWhatTheHolderDoesNotHoldDirectlyAndTheCallerMayMap() async throws {
        try await APIHarness.run { api in
            let token = try await api.token()
            try await api.createRealm("acme", token: token)
            for name in ["dev", "ops"] {
                let made = try await api.call(.post, "/admin/realms/acme/roles", token: token, json: ["name": .string(name)])
                #expect(made.status == .created)
            }
            let app = try await api.createClient("acme", ["clientId": "app", "publicClient": false], token: token)
            #expect(try await api.call(.post, "/admin/realms/acme/clients/\(app)/roles", token: token, json: ["name": "push"]).status == .created)
            let team = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: token, json: ["name": "team"]).createdID)
            let alice = try await api.createUser("acme", "alice", token: token)
            #expect(try await api.call(.put, "/admin/realms/acme/users/\(alice)/groups/\(team)", token: token).status == .noContent)
            let dev = try await api.role("acme", "dev", token: token)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(team)/role-mappings/realm", token: token, json: [dev]).status == .noContent)

            // Only the default role is held directly: dev (through the group) and the default role's
            // composites are still available, as Keycloak lists them.
            let realmAvailable = try await api.call(.get, "/admin/realms/acme/users/\(alice)/role-mappings/realm/available", token: token)
            #expect(realmAvailable.status == .ok)
            #expect(realmAvailable.values("name") == ["dev", "offline_access", "ops", "uma_authorization"], "\(realmAvailable.text)")
            let groupAvailable = try await api.call(.get, "/admin/realms/acme/groups/\(team)/role-mappings/realm/available", token: token)
            #expect(Set(groupAvailable.values("name")).isSuperset(of: ["ops", "default-roles-acme"]) && !groupAvailable.values("name").contains("dev"))

            let clientPath = "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(app)/available"
            #expect(try await api.call(.get, clientPath, token: token).values("name") == ["push"])
            let push = try await api.role("acme", "push", client: app, token: token)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(team)/role-mappings/clients/\(app)", token: token, json: [push]).status == .noContent)
            #expect(try await api.call(.get, clientPath, token: token).values("name") == ["push"])
            #expect(try await api.call(.get, "/admin/realms/acme/groups/\(team)/role-mappings/clients/\(app)/available", token: token).values("name") == [])
            try await api.call(.post, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(app)", token: token, json: [push])
            #expect(try await api.call(.get, clientPath, token: token).values("name") == [])

            // A manage-users administrator is offered no administration role it could not grant.
            let management = try await api.clientUUID("acme", "realm-management", token: token)
            let clerk = try await api.createUser("acme", "clerk", password: "clerk-pw-123", token: token)
            let manageUsers = try await api.role("acme", "manage-users", client: management, token: token)
            try await api.call(.post, "/admin/realms/acme/users/\(clerk)/role-mappings/clients/\(management)", token: token, json: [manageUsers])
            let clerkToken = try await api.token(realm: "acme", username: "clerk", password: "clerk-pw-123")
            let offered = try await api.call(.get, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(management)/available", token: clerkToken)
            #expect(offered.status == .ok && Set(offered.values("name")) == ["manage-users"], "\(offered.text)")
            let all = try await api.call(.get, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(management)/available", token: token)
            #expect(all.values("name").contains("realm-admin"))

            // A group's own answer names its mappings, realm roles and client roles by clientId.
            let group = try await api.call(.get, "/admin/realms/acme/groups/\(team)", token: token)
            #expect(group["realmRoles"]?.strings == ["dev"])
            #expect(group["clientRoles"]?["app"]?.strings == ["push"])
            let byPath = try await api.call(.get, "/admin/realms/acme/group-by-path/team", token: token)
            #expect(byPath["realmRoles"]?.strings == ["dev"])

            // Unknown holders and clients are 404s, not empty lists.
            #expect(try await api.call(.get, "/admin/realms/acme/users/nobody/role-mappings/realm/available", token: token).status == .notFound)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(alice)/role-mappings/clients/nope/available", token: token).status == .notFound)
        }
    }
}
