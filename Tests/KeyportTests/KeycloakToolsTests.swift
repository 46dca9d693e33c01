import Foundation
import Hummingbird
import KeyportJSON
import Testing

/// What Keycloak's own tools (python-keycloak, Ansible's Keycloak modules) rely on, seen on the
/// wire: Keycloak's defaults for new clients, its words for conflicts and ended sessions, its
/// reading of booleans in attribute maps.
@Suite("Keycloak's tools: defaults, words and shapes they rely on")
struct KeycloakToolsTests {
    @Test func newClientsGetKeycloaksDefaults() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            func client(_ id: String) async throws -> APIResponse {
                try await api.call(.get, "/admin/realms/acme/clients/\(try await api.clientUUID("acme", id, token: admin))", token: admin)
            }
            // Nothing said: public, with the standard flow and direct access grants, as Keycloak.
            _ = try await api.createClient("acme", ["clientId": "plain"], token: admin)
            let plain = try await client("plain")
            #expect(plain["publicClient"]?.bool == true)
            #expect(plain["directAccessGrantsEnabled"]?.bool == true)
            #expect(plain["standardFlowEnabled"]?.bool == true)
            // A secret given without publicClient stays (Keycloak would drop it): confidential.
            _ = try await api.createClient("acme", ["clientId": "with-secret", "secret": "s3cret-value"], token: admin)
            #expect(try await client("with-secret")["publicClient"]?.bool == false)
            let secretID = try await api.clientUUID("acme", "with-secret", token: admin)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(secretID)/client-secret", token: admin)["value"]?.stringValue == "s3cret-value")
            // Explicit choices win.
            _ = try await api.createClient("acme", ["clientId": "strict", "publicClient": false, "directAccessGrantsEnabled": false], token: admin)
            let strict = try await client("strict")
            #expect(strict["publicClient"]?.bool == false)
            #expect(strict["directAccessGrantsEnabled"]?.bool == false)
            // A confidential client created as python-keycloak's fixtures do logs users in by password.
            _ = try await api.createClient("acme", ["clientId": "app", "publicClient": false, "secret": "app-secret",
                                                    "clientAuthenticatorType": "client-secret"], token: admin)
            _ = try await api.createUser("acme", "alice", password: "alice-pw-1", token: admin)
            let login = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                           form: [("grant_type", "password"), ("client_id", "app"), ("client_secret", "app-secret"),
                                                  ("username", "alice"), ("password", "alice-pw-1")])
            #expect(login.status == .ok, "\(login.text)")
            // docker-v2 clients keep their own defaults: no password grant on them.
            try await api.call(.put, "/admin/realms/acme", token: admin, json: ["dockerV2Enabled": true])
            _ = try await api.createClient("acme", ["clientId": "registry", "protocol": "docker-v2"], token: admin)
            #expect(try await client("registry")["directAccessGrantsEnabled"]?.bool == false)
        }
    }

    @Test func conflictsAndMissingObjectsUseKeycloaksWords() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createClient("acme", ["clientId": "backend"], token: admin)
            let cases: [(String, JSONValue, String)] = [
                ("/admin/realms/acme/clients", ["clientId": "frontend"], "Client frontend already exists"),
                ("/admin/realms/acme/roles", ["name": "ops"], "Role with name ops already exists"),
                ("/admin/realms/acme/clients/\(id)/roles", ["name": "pull"], "Role with name pull already exists"),
                ("/admin/realms/acme/groups", ["name": "eng"], "Top level group named 'eng' already exists."),
            ]
            for (path, body, message) in cases {
                try #require(try await api.call(.post, path, token: admin, json: body).status == .created)
                let again = try await api.call(.post, path, token: admin, json: body)
                #expect(again.status == .conflict)
                #expect(again["errorMessage"]?.stringValue == message, "\(path): \(again.text)")
            }
            let eng = try await api.call(.get, "/admin/realms/acme/group-by-path/eng", token: admin)["id"]?.stringValue ?? ""
            try #require(try await api.call(.post, "/admin/realms/acme/groups/\(eng)/children", token: admin, json: ["name": "db"]).status == .created)
            let sibling = try await api.call(.post, "/admin/realms/acme/groups/\(eng)/children", token: admin, json: ["name": "db"])
            #expect(sibling["errorMessage"]?.stringValue == "Sibling group named 'db' already exists.")
            let provider = try await api.call(.get, "/admin/realms/acme/clients/\(id)/installation/providers/nope", token: admin)
            #expect(provider.status == .notFound)
            #expect(provider["error"]?.stringValue == "Unknown Provider")
        }
    }

    /// `roles/{name}/groups` (realm and client roles): the groups holding the role directly,
    /// paged, brief unless asked; a role that does not exist is Keycloak's 404.
    @Test func aRolesGroupsAreListedPagedAndBrief() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            try #require(try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "ops"]).status == .created)
            let ops = try #require(try await api.call(.get, "/admin/realms/acme/roles/ops", token: admin).json)
            let client = try await api.createClient("acme", ["clientId": "backend"], token: admin)
            try #require(try await api.call(.post, "/admin/realms/acme/clients/\(client)/roles", token: admin, json: ["name": "pull"]).status == .created)
            let pull = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(client)/roles/pull", token: admin).json)
            var ids: [String: String] = [:]
            for name in ["zeta", "alpha", "mid", "bystander"] {
                try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": .string(name)]).status == .created)
                ids[name] = try await api.call(.get, "/admin/realms/acme/group-by-path/\(name)", token: admin)["id"]?.stringValue
            }
            // A child of mid holds ops too: groups anywhere in the tree count.
            let child = try await api.call(.post, "/admin/realms/acme/groups/\(ids["mid"]!)/children", token: admin, json: ["name": "inner"])
            try #require(child.status == .created)
            let inner = try #require(try await api.call(.get, "/admin/realms/acme/group-by-path/mid/inner", token: admin)["id"]?.stringValue)
            for group in ["zeta", "alpha", "mid"] {
                try #require(try await api.call(.post, "/admin/realms/acme/groups/\(ids[group]!)/role-mappings/realm", token: admin,
                                                 json: .array([ops])).status == .noContent)
            }
            try #require(try await api.call(.post, "/admin/realms/acme/groups/\(inner)/role-mappings/realm", token: admin, json: .array([ops])).status == .noContent)
            try #require(try await api.call(.post, "/admin/realms/acme/groups/\(ids["alpha"]!)/role-mappings/clients/\(client)", token: admin,
                                             json: .array([pull])).status == .noContent)

            let all = try await api.call(.get, "/admin/realms/acme/roles/ops/groups", token: admin)
            #expect(all.status == .ok)
            #expect(all.items.map { $0["name"]?.stringValue ?? "" } == ["alpha", "inner", "mid", "zeta"])
            #expect(all.items.first { $0["name"]?.stringValue == "inner" }?["path"]?.stringValue == "/mid/inner")
            #expect(all.items.allSatisfy { $0["realmRoles"] == nil }, "brief by default")
            let page = try await api.call(.get, "/admin/realms/acme/roles/ops/groups?first=1&max=2", token: admin)
            #expect(page.items.map { $0["name"]?.stringValue ?? "" } == ["inner", "mid"])
            let full = try await api.call(.get, "/admin/realms/acme/roles/ops/groups?briefRepresentation=false&max=1", token: admin)
            #expect(full.items.first?["realmRoles"]?.arrayValue?.compactMap(\.stringValue) == ["ops"])
            #expect(full.items.first?["clientRoles"]?["backend"]?.arrayValue?.compactMap(\.stringValue) == ["pull"])

            let byClient = try await api.call(.get, "/admin/realms/acme/clients/\(client)/roles/pull/groups", token: admin)
            #expect(byClient.items.map { $0["name"]?.stringValue ?? "" } == ["alpha"])
            let missing = try await api.call(.get, "/admin/realms/acme/roles/nope/groups", token: admin)
            #expect(missing.status == .notFound)
            #expect(missing["error"]?.stringValue == "Could not find role")
            // Another realm's administrator sees nothing of it.
            try await api.createRealm("other", token: admin)
            _ = try await api.createUser("other", "eve", password: "eve-pw-12345", token: admin)
            let eve = try await api.token(realm: "other", username: "eve", password: "eve-pw-12345")
            #expect(try await api.call(.get, "/admin/realms/acme/roles/ops/groups", token: eve).status == .forbidden)
        }
    }

    /// `client-session-stats` counts each client's sessions (active and offline, as strings);
    /// the cache-clearing routes need manage-realm, and clearing the user cache makes the next
    /// login with the same password hash again.
    @Test func sessionStatisticsAndCacheClearing() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            #expect(try await api.call(.get, "/admin/realms/acme/client-session-stats", token: admin).items.isEmpty)
            _ = try await api.createClient("acme", ["clientId": "app", "publicClient": true], token: admin)
            _ = try await api.createUser("acme", "alice", password: "alice-pw-1", token: admin)
            func login() async throws -> APIResponse {
                try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                   form: [("grant_type", "password"), ("client_id", "app"), ("username", "alice"), ("password", "alice-pw-1")])
            }
            func hashes() async throws -> Int {
                let text = try await api.call(.get, "/metrics").text
                return text.split(separator: "\n").first { $0.hasPrefix("keyport_password_hash_duration_seconds_count") }
                    .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            #expect(try await login().status == .ok)
            let afterFirst = try await hashes()
            #expect(try await login().status == .ok)
            #expect(try await hashes() == afterFirst, "a right password just checked is remembered")
            let stats = try await api.call(.get, "/admin/realms/acme/client-session-stats", token: admin)
            #expect(stats.items.count == 1)
            #expect(stats.items.first?["clientId"]?.stringValue == "app")
            #expect(stats.items.first?["active"]?.stringValue == "2")
            #expect(stats.items.first?["offline"]?.stringValue == "0")

            _ = try await api.createUser("acme", "viewer", password: "viewer-pw-1", token: admin)
            let viewerId = try await api.call(.get, "/admin/realms/acme/users?username=viewer&exact=true", token: admin).items.first?["id"]?.stringValue ?? ""
            let realmManagement = try await api.clientUUID("acme", "realm-management", token: admin)
            let viewRealm = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(realmManagement)/roles/view-realm", token: admin).json)
            try #require(try await api.call(.post, "/admin/realms/acme/users/\(viewerId)/role-mappings/clients/\(realmManagement)", token: admin,
                                             json: .array([viewRealm])).status == .noContent)
            let viewer = try await api.token(realm: "acme", username: "viewer", password: "viewer-pw-1")
            #expect(try await api.call(.get, "/admin/realms/acme/client-session-stats", token: viewer).status == .ok)
            for cache in ["realm", "user", "keys"] {
                #expect(try await api.call(.post, "/admin/realms/acme/clear-\(cache)-cache", token: viewer).status == .forbidden)
                #expect(try await api.call(.post, "/admin/realms/acme/clear-\(cache)-cache", token: admin).status == .noContent)
            }
            let beforeRelogin = try await hashes()
            #expect(try await login().status == .ok, "everything still works from the database")
            #expect(try await hashes() == beforeRelogin + 1, "the remembered password was forgotten")

            // A realm's own administrator clears that realm's entries only: the remembered
            // passwords (which do not name their realm) stay, so no realm's logins hash again.
            _ = try await api.createUser("acme", "keeper", password: "keeper-pw-1", token: admin)
            let keeperId = try await api.call(.get, "/admin/realms/acme/users?username=keeper&exact=true", token: admin).items.first?["id"]?.stringValue ?? ""
            let manageRealm = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(realmManagement)/roles/manage-realm", token: admin).json)
            try #require(try await api.call(.post, "/admin/realms/acme/users/\(keeperId)/role-mappings/clients/\(realmManagement)", token: admin,
                                             json: .array([manageRealm])).status == .noContent)
            let keeper = try await api.token(realm: "acme", username: "keeper", password: "keeper-pw-1")
            for cache in ["realm", "user", "keys"] {
                #expect(try await api.call(.post, "/admin/realms/acme/clear-\(cache)-cache", token: keeper).status == .noContent)
            }
            let beforeRealmClear = try await hashes()
            #expect(try await login().status == .ok)
            #expect(try await hashes() == beforeRealmClear, "a realm administrator cannot make logins hash again")
        }
    }

    @Test func refreshAfterTheSessionEndedSaysSessionNotActive() async throws {
        try await APIHarness.run { api in
            let login = try await api.login()
            let refresh = try #require(login["refresh_token"]?.stringValue)
            let logout = try await api.call(.post, "/realms/master/protocol/openid-connect/logout",
                                            form: [("client_id", "admin-cli"), ("refresh_token", refresh)])
            #expect(logout.status == .noContent)
            for (token, description) in [(refresh, "Session not active"), ("bad", "Invalid refresh token")] {
                let again = try await api.call(.post, "/realms/master/protocol/openid-connect/token",
                                               form: [("grant_type", "refresh_token"), ("client_id", "admin-cli"), ("refresh_token", token)])
                #expect(again.status == .badRequest)
                #expect(again["error"]?.stringValue == "invalid_grant")
                #expect(again["error_description"]?.stringValue == description)
            }
        }
    }

    @Test func attributeMapsTakeBooleansAndNumbersAsText() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createClient("acme", ["clientId": "device", "publicClient": false,
                                                         "attributes": ["oauth2.device.authorization.grant.enabled": true, "x.count": 5,
                                                                        "x.ratio": .number(1.5), "x.none": .null]], token: admin)
            let attributes = try await api.call(.get, "/admin/realms/acme/clients/\(id)", token: admin)["attributes"]
            #expect(attributes?["oauth2.device.authorization.grant.enabled"]?.stringValue == "true")
            #expect(attributes?["x.count"]?.stringValue == "5")
            #expect(attributes?["x.ratio"]?.stringValue == "1.5")
            #expect(attributes?["x.none"] == nil)
            // Arrays and objects are still not text.
            let bad = try await api.call(.post, "/admin/realms/acme/clients", token: admin,
                                         json: ["clientId": "bad", "attributes": ["x": ["a"]]])
            #expect(bad.status == .badRequest)
            #expect(try await api.call(.get, "/admin/realms/acme/clients?clientId=bad", token: admin).items.isEmpty)
            // User attributes: a lone boolean is a list of one.
            let user = try await api.createUser("acme", "bob", token: admin, extra: ["attributes": ["vip": true]])
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(user)", token: admin)["attributes"]?["vip"]?.strings == ["true"])
        }
    }

    @Test func groupCountsHonourSearchAndTop() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            for name in ["eng", "ops"] {
                try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": .string(name)])
            }
            let eng = try await api.call(.get, "/admin/realms/acme/group-by-path/eng", token: admin)["id"]?.stringValue ?? ""
            try await api.call(.post, "/admin/realms/acme/groups/\(eng)/children", token: admin, json: ["name": "backend"])
            for (query, count) in [("", 3), ("?top=true", 2), ("?search=ENG", 1), ("?search=zzz", 0), ("?search=%25", 0)] {
                let answer = try await api.call(.get, "/admin/realms/acme/groups/count\(query)", token: admin)
                #expect(answer["count"]?.int == count, "\(query): \(answer.text)")
            }
        }
    }

    @Test func keycloakJSONCarriesTheSecretOnlyForThoseWhoMayReadIt() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createClient("acme", ["clientId": "app", "publicClient": false, "secret": "app-secret"], token: admin)
            let file = try await api.call(.get, "/admin/realms/acme/clients/\(id)/installation/providers/keycloak-oidc-keycloak-json", token: admin)
            #expect(file["realm"]?.stringValue == "acme")
            #expect(file["resource"]?.stringValue == "app")
            #expect(file["auth-server-url"]?.stringValue == "http://keyport.test/")
            #expect(file["credentials"]?["secret"]?.stringValue == "app-secret")
            // A view-clients admin of the realm gets the file without the secret.
            let viewer = try await api.createUser("acme", "viewer", password: "viewer-pw-1", token: admin)
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            let role = try await api.role("acme", "view-clients", client: management, token: admin)
            try await api.call(.post, "/admin/realms/acme/users/\(viewer)/role-mappings/clients/\(management)", token: admin, json: [role])
            let viewerToken = try await api.token(realm: "acme", username: "viewer", password: "viewer-pw-1")
            let seen = try await api.call(.get, "/admin/realms/acme/clients/\(id)/installation/providers/keycloak-oidc-keycloak-json", token: viewerToken)
            #expect(seen.status == .ok, "\(seen.text)")
            #expect(seen["resource"]?.stringValue == "app")
            #expect(seen["credentials"] == nil)
            #expect(!seen.text.contains("app-secret"))
            // Nor does its representation of the client carry the secret; the realm admin's does (Ansible compares it).
            let viewed = try await api.call(.get, "/admin/realms/acme/clients/\(id)", token: viewerToken)
            #expect(viewed.status == .ok && viewed["secret"] == nil && !viewed.text.contains("app-secret"))
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(id)", token: admin)["secret"]?.stringValue == "app-secret")
            #expect(try await api.call(.get, "/admin/realms/acme/clients?clientId=app", token: viewerToken).items.first?["secret"] == nil)
        }
    }
}

@Suite("Unknown fields are refused as Keycloak refuses them")
struct UnknownFieldTests {
    @Test func aFieldKeycloakDoesNotHaveIsA400NamingItAndNothingIsWritten() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let user = try await api.createUser("acme", "alice", token: admin)
            let client = try await api.createClient("acme", ["clientId": "app"], token: admin)
            let cases: [(HTTPRequest.Method, String, JSONValue, String)] = [
                (.put, "/admin/realms/acme/users/\(user)", ["firstName": "Mallory", "wrong": "payload"], "UserRepresentation. Unrecognized field \"wrong\""),
                (.put, "/admin/realms/acme", ["displayName": "X", "wrong": "payload"], "RealmRepresentation. Unrecognized field \"wrong\""),
                (.put, "/admin/realms/acme/clients/\(client)", ["name": "X", "redirectUri": ["https://x/*"]], "ClientRepresentation. Unrecognized field \"redirectUri\""),
                (.post, "/admin/realms/acme/users", ["username": "bob", "credentials": [["type": "password", "valu": "x"]]],
                 "CredentialRepresentation. Unrecognized field \"valu\""),
                (.post, "/admin/realms/acme/roles", ["name": "r", "composites": ["realms": ["x"]]], "RoleRepresentation.Composites. Unrecognized field \"realms\""),
                (.post, "/admin/realms/acme/groups", ["name": "g", "subGroups": [["name": "h", "member": "x"]]], "GroupRepresentation. Unrecognized field \"member\""),
                (.post, "/admin/realms", ["realm": "other", "users": [["username": "u", "pasword": "x"]]], "UserRepresentation. Unrecognized field \"pasword\""),
            ]
            for (method, path, body, message) in cases {
                let answer = try await api.call(method, path, token: admin, json: body)
                #expect(answer.status == .badRequest, "\(path): \(answer.status)")
                #expect(answer["error"]?.stringValue == "Invalid json representation for \(message)", "\(path): \(answer.text)")
            }
            // Nothing of a refused body was written.
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(user)", token: admin)["firstName"] == nil)
            #expect(try await api.call(.get, "/admin/realms/acme", token: admin)["displayName"]?.stringValue != "X")
            #expect(try await api.call(.get, "/admin/realms/acme/users?username=bob&exact=true", token: admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/other", token: admin).status == .notFound)
            // Fields Keycloak has but Keyport does not use are accepted, and so are Keyport's own realm settings.
            let known = try await api.call(.put, "/admin/realms/acme", token: admin,
                                           json: ["accountTheme": "keycloak.v3", "verifyEmail": false, "dockerV2Enabled": true, "smtpServer": [:]])
            #expect(known.status == .noContent, "\(known.text)")
            let keycloakOnly = try await api.call(.put, "/admin/realms/acme/users/\(user)", token: admin,
                                                  json: ["origin": "x", "self": "y", "totp": false, "federationLink": .null])
            #expect(keycloakOnly.status == .noContent, "\(keycloakOnly.text)")
        }
    }
}

@Suite("Keycloak's shapes for unreadable bodies and empty answers")
struct KeycloakShapesTests {
    @Test func aValueOfTheWrongTypeAnswersAsKeycloaksReaderDoes() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let user = try await api.createUser("acme", "alice", token: admin)
            // python-keycloak's assign_realm_roles(roles=["bad"]) sends names where objects belong.
            let wrongType = try await api.call(.post, "/admin/realms/acme/users/\(user)/role-mappings/realm", token: admin, json: ["bad"])
            #expect(wrongType.status == .badRequest)
            #expect(wrongType.text.hasPrefix(#"{"error":"unknown_error""#), "\(wrongType.text)")
            #expect(wrongType["errorMessage"]?.stringValue?.contains("wrong type") == true)
            let notJSON = try await api.call(.post, "/admin/realms/acme/roles", token: admin, raw: "{nope")
            #expect(notJSON["error"]?.stringValue == "invalid_request" && notJSON["errorMessage"] != nil)
            // A holder without mappings answers {}, as Keycloak leaves empty lists out.
            let none = try await api.call(.get, "/admin/realms/acme/users/\(user)/role-mappings", token: admin)
            #expect(none["realmMappings"]?.array.map { $0["name"]?.stringValue } == ["default-roles-acme"] && none["clientMappings"] == nil)
            let group = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "g"]).createdID)
            #expect(try await api.call(.get, "/admin/realms/acme/groups/\(group)/role-mappings", token: admin).json == .object([:]))
            // A mapper without a type is Keycloak's 404; a mapper for a client that does not exist, the client's.
            let scope = try #require(try await api.call(.get, "/admin/realms/acme/client-scopes", token: admin).items.first?["id"]?.stringValue)
            let untyped = try await api.call(.post, "/admin/realms/acme/client-scopes/\(scope)/protocol-mappers/models", token: admin, json: [:])
            #expect(untyped.status == .notFound && untyped["error"]?.stringValue == "ProtocolMapper provider not found")
            let noClient = try await api.call(.post, "/admin/realms/acme/clients/does-not-exist/protocol-mappers/models", token: admin, json: [:])
            #expect(noClient.status == .notFound && noClient["error"]?.stringValue == "Could not find client")
        }
    }
}
