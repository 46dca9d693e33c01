import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import Testing

/// Issue 24, item 2: an administrator acts on a user (credentials, tokens, sessions, state,
/// roles, groups, deletion) only if it could grant every role that user holds. Keycloak without
/// fine-grained permissions lets `manage-users` set a `realm-admin`'s password; Keyport does not.
@Suite("Admin API: acting on a user needs the power to grant what it holds")
struct ActingOnUsersTests {
    /// Every route that changes one user, as (name, method, path, body). `{u}` is the target.
    static func routes(realm: String, target: String, group: String, management: String, session: String) -> [(String, HTTPRequest.Method, String, JSONValue?)] {
        let user = "/admin/realms/\(realm)/users/\(target)"
        return [
            ("reset-password", .put, "\(user)/reset-password", ["type": "password", "value": "Taken-Over-1", "temporary": false]),
            ("credentials in an update", .put, user, ["credentials": [["type": "password", "value": "Taken-Over-2", "temporary": false]]]),
            ("disable", .put, user, ["enabled": false]),
            ("rename", .put, user, ["firstName": "Mallory"]),
            ("personal access token", .post, "\(user)/personal-access-tokens", ["name": "mine", "client": "registry"]),
            ("delete a credential", .delete, "\(user)/credentials/none", nil),
            ("logout", .post, "\(user)/logout", nil),
            ("revoke identity tokens", .delete, "\(user)/consents/registry", nil),
            ("join a group", .put, "\(user)/groups/\(group)", nil),
            ("leave a group", .delete, "\(user)/groups/\(group)", nil),
            ("remove a role", .delete, "\(user)/role-mappings/clients/\(management)", .array([])),
            ("unlock", .delete, "/admin/realms/\(realm)/attack-detection/brute-force/users/\(target)", nil),
            ("end a session", .delete, "/admin/realms/\(realm)/sessions/\(session)", nil),
            ("delete", .delete, user, nil),
        ]
    }

    @Test(arguments: ["acme", "master"])
    func aDelegatedAdminCannotTakeOverAnyoneHoldingMoreThanItCouldGrant(realm: String) async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            if realm != "master" { try await api.createRealm(realm, token: admin) }
            let base = "/admin/realms/\(realm)"
            let management = try await api.clientUUID(realm, "realm-management", token: admin)
            _ = try await api.createClient(realm, ["clientId": "registry", "publicClient": true, "directAccessGrantsEnabled": true], token: admin)
            func holder(_ name: String, _ roles: [String]) async throws -> String {
                let id = try await api.createUser(realm, name, password: "Pw-\(name)-1", token: admin)
                var reps: [JSONValue] = []
                for role in roles { reps.append(try await api.role(realm, role, client: management, token: admin)) }
                if !reps.isEmpty {
                    #expect(try await api.call(.post, "\(base)/users/\(id)/role-mappings/clients/\(management)", token: admin, json: .array(reps)).status == .noContent)
                }
                return id
            }
            let boss = try await holder("boss", ["realm-admin"])
            let desk = try await holder("desk", ["manage-users"])
            let carol = try await holder("carol", [])
            // realm-admin through a group: effective roles count, not direct mappings.
            let wrapped = try await holder("wrapped", [])
            let admins = try #require(try await api.call(.post, "\(base)/groups", token: admin, json: ["name": "admins"]).createdID)
            let realmAdmin = try await api.role(realm, "realm-admin", client: management, token: admin)
            _ = try await api.call(.post, "\(base)/groups/\(admins)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
            _ = try await api.call(.put, "\(base)/users/\(wrapped)/groups/\(admins)", token: admin)
            let plain = try #require(try await api.call(.post, "\(base)/groups", token: admin, json: ["name": "plain"]).createdID)

            let viewer = try await holder("viewer", ["view-users"])
            _ = viewer
            let deskToken = try await api.token(realm: realm, username: "desk", password: "Pw-desk-1")
            let viewerToken = try await api.token(realm: realm, username: "viewer", password: "Pw-viewer-1")
            let bossToken = try await api.token(realm: realm, username: "boss", password: "Pw-boss-1")
            for (targetName, target) in [("boss", boss), ("wrapped", wrapped)] {
                // A session of the target, so that ending it is a real request.
                let login = try await api.login(realm: realm, username: targetName, password: "Pw-\(targetName)-1", clientId: "registry")
                let session = try #require(login["session_state"]?.stringValue ?? login["sid"]?.stringValue, "\(login.text)")
                for (name, method, path, body) in Self.routes(realm: realm, target: target, group: plain, management: management, session: session) {
                    let refused = try await api.call(method, path, token: deskToken, json: body)
                    #expect(refused.status == .forbidden, "manage-users on \(targetName): \(name) → \(refused.status)")
                }
                // Another realm-admin cannot do it either (realm-admin is the master admin's to give).
                if targetName == "wrapped" {
                    let refused = try await api.call(.put, "\(base)/users/\(target)/reset-password", token: bossToken,
                                                     json: ["type": "password", "value": "Taken-Over-3", "temporary": false])
                    #expect(refused.status == .forbidden)
                }
                // Nothing was changed: the target still logs in with its own password.
                #expect(try await api.login(realm: realm, username: targetName, password: "Pw-\(targetName)-1").status == .ok)
            }
            // The same routes on a user holding nothing the delegate could not grant: allowed.
            let login = try await api.login(realm: realm, username: "carol", password: "Pw-carol-1", clientId: "registry")
            let session = try #require(login["session_state"]?.stringValue ?? login["sid"]?.stringValue)
            for (name, method, path, body) in Self.routes(realm: realm, target: carol, group: plain, management: management, session: session) {
                // view-users acts on nobody.
                let viewed = try await api.call(method, path, token: viewerToken, json: body)
                #expect(viewed.status == .forbidden, "view-users on carol: \(name) → \(viewed.status)")
                let response = try await api.call(method, path, token: deskToken, json: body)
                #expect(response.status != .forbidden, "manage-users on carol: \(name) → \(response.status) \(response.text)")
            }
            // Acting on oneself grants nothing new; the master admin may act on anyone.
            #expect(try await api.call(.put, "\(base)/users/\(boss)/reset-password", token: bossToken,
                                       json: ["type": "password", "value": "Pw-boss-2", "temporary": false]).status == .noContent)
            #expect(try await api.call(.put, "\(base)/users/\(desk)/reset-password", token: admin,
                                       json: ["type": "password", "value": "Pw-desk-2", "temporary": false]).status == .noContent)
        }
    }

    /// Partial import with OVERWRITE replaces a user, password included: the same rule.
    @Test func aPartialImportCannotOverwriteARealmAdmin() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            let boss = try await api.createUser("acme", "boss", password: "Pw-boss-1", token: admin)
            let desk = try await api.createUser("acme", "desk", password: "Pw-desk-1", token: admin)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(boss)/role-mappings/clients/\(management)", token: admin,
                                   json: [try await api.role("acme", "realm-admin", client: management, token: admin)])
            _ = try await api.call(.post, "/admin/realms/acme/users/\(desk)/role-mappings/clients/\(management)", token: admin,
                                   json: [try await api.role("acme", "manage-users", client: management, token: admin),
                                          try await api.role("acme", "manage-realm", client: management, token: admin)])
            let deskToken = try await api.token(realm: "acme", username: "desk", password: "Pw-desk-1")
            let body: JSONValue = ["ifResourceExists": "OVERWRITE", "users": [["username": "boss", "enabled": true,
                                   "credentials": [["type": "password", "value": "Taken-Over-1"]]]]]
            #expect(try await api.call(.post, "/admin/realms/acme/partialImport", token: deskToken, json: body).status == .forbidden)
            #expect(try await api.login(realm: "acme", username: "boss", password: "Pw-boss-1").status == .ok)
        }
    }
}
