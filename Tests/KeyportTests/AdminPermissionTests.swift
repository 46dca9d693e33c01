import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportTokens
import Testing

@Suite("Admin API: who may do what")
struct AdminPermissionTests {
    /// A probe: one request standing for a permission.
    struct Probe: Sendable {
        let name: String
        let method: HTTPRequest.Method
        let path: String
        let body: JSONValue?
    }

    static func probes(userId: String, clientId: String) -> [String: Probe] {
        [
            "viewRealm": Probe(name: "viewRealm", method: .get, path: "/admin/realms/acme", body: nil),
            "manageRealm": Probe(name: "manageRealm", method: .put, path: "/admin/realms/acme", body: ["displayName": "x"]),
            "viewUsers": Probe(name: "viewUsers", method: .get, path: "/admin/realms/acme/users/\(userId)", body: nil),
            "manageUsers": Probe(name: "manageUsers", method: .put, path: "/admin/realms/acme/users/\(userId)", body: ["firstName": "x"]),
            "viewClients": Probe(name: "viewClients", method: .get, path: "/admin/realms/acme/clients/\(clientId)", body: nil),
            "manageClients": Probe(name: "manageClients", method: .put, path: "/admin/realms/acme/clients/\(clientId)", body: ["description": "x"]),
            "viewEvents": Probe(name: "viewEvents", method: .get, path: "/admin/realms/acme/events", body: nil),
        ]
    }

    /// What each realm-management role may do, by probe name.
    static let matrix: [(role: String, allowed: Set<String>)] = [
        ("realm-admin", ["viewRealm", "manageRealm", "viewUsers", "manageUsers", "viewClients", "manageClients", "viewEvents"]),
        ("manage-users", ["viewUsers", "manageUsers"]),
        ("view-users", ["viewUsers"]),
        ("manage-clients", ["viewClients", "manageClients"]),
        ("view-clients", ["viewClients"]),
        ("manage-realm", ["viewRealm", "manageRealm"]),
        ("view-realm", ["viewRealm"]),
        ("view-events", ["viewEvents"]),
        ("", []),
    ]

    @Test func realmManagementRolesGrantWhatTheirNamesSayInTheirRealmOnly() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            try await api.createRealm("other", token: admin)
            let target = try await api.createUser("acme", "target", token: admin)
            let client = try await api.createClient("acme", ["clientId": "app"], token: admin)
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            let probes = Self.probes(userId: target, clientId: client)

            for (role, allowed) in Self.matrix {
                let name = "holder-\(role.isEmpty ? "none" : role)"
                let id = try await api.createUser("acme", name, password: "pw", token: admin)
                if !role.isEmpty {
                    let rep = try await api.role("acme", role, client: management, token: admin)
                    #expect(try await api.call(.post, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(management)", token: admin, json: [rep]).status == .noContent)
                }
                let token = try await api.token(realm: "acme", username: name, password: "pw")
                for (probeName, probe) in probes {
                    let status = try await api.call(probe.method, probe.path, token: token, json: probe.body).status
                    let expected: HTTPResponse.Status = allowed.contains(probeName) ? (probe.method == .get ? .ok : .noContent) : .forbidden
                    #expect(status == expected, "\(role.isEmpty ? "no role" : role) → \(probeName): \(status)")
                }
                // Never another realm, whatever the role; never a new realm.
                #expect(try await api.call(.get, "/admin/realms/other", token: token).status == .forbidden)
                #expect(try await api.call(.get, "/admin/realms/other/users", token: token).status == .forbidden)
                #expect(try await api.call(.get, "/admin/realms/nonexistent", token: token).status == .forbidden)
                #expect(try await api.call(.post, "/admin/realms", token: token, json: ["realm": "mine"]).status == .forbidden)
                let visible = try await api.call(.get, "/admin/realms", token: token).values("realm")
                #expect(!visible.contains("other") && !visible.contains("master"))
            }
        }
    }

    @Test func onlyTheMasterAdminRoleCrossesRealms() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            // A master user without the admin role may do nothing.
            _ = try await api.createUser("master", "plain", password: "pw", token: admin)
            let plain = try await api.token(username: "plain", password: "pw")
            #expect(try await api.call(.get, "/admin/realms/acme", token: plain).status == .forbidden)
            #expect(try await api.call(.post, "/admin/realms", token: plain, json: ["realm": "x"]).status == .forbidden)
            #expect(try await api.call(.get, "/admin/serverinfo", token: plain).status == .forbidden)
            // The master admin sees a missing realm as missing.
            #expect(try await api.call(.get, "/admin/realms/nonexistent", token: admin).status == .notFound)
            #expect(try await api.call(.get, "/admin/serverinfo", token: admin)["systemInfo"]?["version"]?.stringValue != nil)
        }
    }

    @Test func missingExpiredTamperedOrForeignTokensAre401() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            #expect(try await api.call(.get, "/admin/realms").status == .unauthorized)
            #expect(try await api.call(.get, "/admin/realms", headers: [.authorization: "Basic YWRtaW46YWRtaW4tcHc="]).status == .unauthorized)
            #expect(try await api.call(.get, "/admin/realms", token: "not-a-jwt").status == .unauthorized)

            // Tampered: change one claim, keep the signature.
            var parts = admin.split(separator: ".").map(String.init)
            var claims = try #require(decodeClaims(admin))
            claims["sub"] = "someone-else"
            parts[1] = Base64URL.encode(try JSONEncoder().encode(claims))
            #expect(try await api.call(.get, "/admin/realms", token: parts.joined(separator: ".")).status == .unauthorized)

            // Signed by a key this server never had, with the same kid.
            let header = try JSONDecoder().decode(JWS.Header.self, from: Base64URL.decode(String(admin.split(separator: ".")[0]))!)
            let foreignKey = try RealmKeyFactory(environment: testEnvironment()).makeKey(algorithm: .rs256, realmId: "x", realmName: "master")
            let forged = try JWS.sign(try #require(decodeClaims(admin)), with: try SigningKey(foreignKey), kid: header.kid!)
            #expect(try await api.call(.get, "/admin/realms", token: forged).status == .unauthorized)

            // alg=none is never accepted.
            let none = Base64URL.encode(Data(#"{"alg":"none","kid":"\#(header.kid!)"}"#.utf8)) + "." + admin.split(separator: ".")[1] + "."
            #expect(try await api.call(.get, "/admin/realms", token: none).status == .unauthorized)

            #expect(try await api.call(.get, "/admin/realms", token: admin).status == .ok)
            // The scheme in any case, spaces around the token; nothing else is a bearer token.
            #expect(try await api.call(.get, "/admin/realms", headers: [.authorization: "bEARER   \(admin) \t"]).status == .ok)
            for header in ["Bearer", "Bearer   ", "Bearerx \(admin)", "Basic \(admin)", "Bearer\t\(admin)", "Bearer \(admin).x", "Bearer \(admin)."] {
                #expect(try await api.call(.get, "/admin/realms", headers: [.authorization: header]).status == .unauthorized, "\(header.prefix(12))")
            }
            // A token of two dots only (a JWS with no payload) or four parts is malformed.
            let pieces = admin.split(separator: ".")
            #expect(try await api.call(.get, "/admin/realms", token: "\(pieces[0])..\(pieces[2])").status == .unauthorized)
            api.clock.advance(seconds: 301)
            let expired = try await api.call(.get, "/admin/realms", token: admin)
            #expect(expired.status == .unauthorized)
            #expect(expired["error"]?.stringValue == "HTTP 401 Unauthorized")
        }
    }

    @Test func aDisabledOrRevokedAdminLosesAccessAtOnce() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            let id = try await api.createUser("acme", "ops", password: "pw", token: admin)
            let realmAdmin = try await api.role("acme", "realm-admin", client: management, token: admin)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
            let ops = try await api.token(realm: "acme", username: "ops", password: "pw")
            #expect(try await api.call(.get, "/admin/realms/acme/users", token: ops).status == .ok)
            // Roles are read at each request: revoking realm-admin takes effect with the same token.
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
            #expect(try await api.call(.get, "/admin/realms/acme/users", token: ops).status == .forbidden)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
            #expect(try await api.call(.put, "/admin/realms/acme/users/\(id)", token: admin, json: ["enabled": false]).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/users", token: ops).status == .unauthorized)
        }
    }
}
