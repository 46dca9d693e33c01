import Foundation
import GRDB
import KeyportJSON
import KeyportKeys
import Testing

/// What a token carries follows the client's scopes, as in Keycloak.
@Suite("Tokens follow client scopes, scope mappings and protocol mappers")
struct TokenScopesTests {
    func claims(_ token: String?) throws -> JSONValue {
        let payload = try #require(token?.split(separator: ".").dropFirst().first.flatMap { Base64URL.decode(String($0)) })
        return try JSONDecoder().decode(JSONValue.self, from: payload)
    }

    func login(_ api: APIHarness, scope: String? = nil, client: String = "app") async throws -> APIResponse {
        var form = [("grant_type", "password"), ("client_id", client), ("client_secret", "app-secret"), ("username", "alice"), ("password", "alice-pw-1")]
        if let scope { form.append(("scope", scope)) }
        return try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: form)
    }

    /// A realm with alice (in group /eng, holding realm role dev and app's role reader) and a confidential client `app`.
    func setUp(_ api: APIHarness) async throws -> (admin: String, app: String) {
        let admin = try await api.token()
        try await api.createRealm("acme", token: admin)
        let app = try await api.createClient("acme", ["clientId": "app", "publicClient": false, "secret": "app-secret"], token: admin)
        try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "dev"])
        try await api.call(.post, "/admin/realms/acme/clients/\(app)/roles", token: admin, json: ["name": "reader"])
        try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "eng"])
        _ = try await api.createUser("acme", "alice", password: "alice-pw-1", token: admin, extra: [
            "email": "alice@acme.io", "firstName": "Alice", "lastName": "Liddell", "groups": ["/eng"],
            "realmRoles": ["dev"], "clientRoles": ["app": ["reader"]], "attributes": ["phoneNumber": ["+1 555 0100"], "team": ["blue"]]])
        return (admin, app)
    }

    func scopeId(_ api: APIHarness, _ name: String, admin: String) async throws -> String {
        try #require(try await api.call(.get, "/admin/realms/acme/client-scopes", token: admin).items.first { $0["name"]?.stringValue == name }?["id"]?.stringValue)
    }

    @Test func defaultScopesGiveKeycloaksClaimsAndOptionalOnesComeWhenAsked() async throws {
        try await APIHarness.run { api in
            _ = try await setUp(api)
            let plain = try await login(api)
            #expect(plain["scope"]?.stringValue == "email profile")
            let c = try claims(plain["access_token"]?.stringValue)
            #expect(c["preferred_username"]?.stringValue == "alice" && c["email"]?.stringValue == "alice@acme.io" && c["name"]?.stringValue == "Alice Liddell")
            #expect(c["email_verified"]?.bool == false && c["given_name"]?.stringValue == "Alice")
            #expect(c["realm_access"]?["roles"]?.strings.contains("dev") == true)
            #expect(c["resource_access"]?["app"]?["roles"]?.strings == ["reader"])
            #expect(c["acr"]?.stringValue == "1" && c["phone_number"] == nil)
            // An optional scope, asked for: its claims, and its name in `scope`, kept through a refresh.
            let phone = try await login(api, scope: "openid phone")
            #expect(phone["scope"]?.stringValue == "openid email profile phone")
            #expect(try claims(phone["access_token"]?.stringValue)["phone_number"]?.stringValue == "+1 555 0100")
            let refreshed = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                ("grant_type", "refresh_token"), ("client_id", "app"), ("client_secret", "app-secret"), ("refresh_token", phone["refresh_token"]?.stringValue ?? "")])
            #expect(refreshed["scope"]?.stringValue == "openid email profile phone")
            #expect(try claims(refreshed["access_token"]?.stringValue)["phone_number"]?.stringValue == "+1 555 0100")
            // A scope the client does not have is Keycloak's invalid_scope, and no session starts.
            let unknown = try await login(api, scope: "openid nope")
            #expect(unknown.status == .badRequest && unknown["error"]?.stringValue == "invalid_scope")
        }
    }

    @Test func removingScopesRemovesTheirClaims() async throws {
        try await APIHarness.run { api in
            let (admin, app) = try await setUp(api)
            for name in ["profile", "roles"] {
                let id = try await scopeId(api, name, admin: admin)
                #expect(try await api.call(.delete, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(id)", token: admin).status == .noContent)
            }
            let c = try claims(try await login(api)["access_token"]?.stringValue)
            #expect(c["preferred_username"] == nil && c["name"] == nil && c["realm_access"] == nil && c["resource_access"] == nil)
            #expect(c["email"]?.stringValue == "alice@acme.io")
            // The token still names its subject, client and audience.
            #expect(c["sub"] != nil && c["azp"]?.stringValue == "app" && c["aud"]?.stringValue == "app")
        }
    }

    @Test func withoutFullScopeOnlyMappedRolesAndTheClientsOwnReachTheToken() async throws {
        try await APIHarness.run { api in
            let (admin, app) = try await setUp(api)
            try await api.call(.put, "/admin/realms/acme/clients/\(app)", token: admin, json: ["fullScopeAllowed": false])
            var c = try claims(try await login(api)["access_token"]?.stringValue)
            #expect(!(c["realm_access"]?["roles"]?.strings.contains("dev") ?? false))
            #expect(c["resource_access"]?["app"]?["roles"]?.strings == ["reader"])  // the client's own roles
            let dev = try await api.role("acme", "dev", token: admin)
            try await api.call(.post, "/admin/realms/acme/clients/\(app)/scope-mappings/realm", token: admin, json: [dev])
            c = try claims(try await login(api)["access_token"]?.stringValue)
            #expect(c["realm_access"]?["roles"]?.strings == ["dev"])
            // A scope's mapping counts when the scope applies.
            try await api.call(.delete, "/admin/realms/acme/clients/\(app)/scope-mappings/realm", token: admin, json: [dev])
            let phone = try await scopeId(api, "phone", admin: admin)
            try await api.call(.post, "/admin/realms/acme/client-scopes/\(phone)/scope-mappings/realm", token: admin, json: [dev])
            #expect(try claims(try await login(api)["access_token"]?.stringValue)["realm_access"]?["roles"]?.strings.contains("dev") != true)
            #expect(try claims(try await login(api, scope: "phone")["access_token"]?.stringValue)["realm_access"]?["roles"]?.strings == ["dev"])
        }
    }

    /// A client's scopes are kept per configuration version: each change to a scope's mapper or
    /// to the client's assignments is in the very next token and userinfo answer.
    @Test func aChangedScopeIsInTheNextToken() async throws {
        try await APIHarness.run { api in
            let (admin, app) = try await setUp(api)
            let scope = try #require(try await api.call(.post, "/admin/realms/acme/client-scopes", token: admin, json: [
                "name": "tenant", "protocolMappers": [
                    ["name": "tenant", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                     "config": ["claim.name": "tenant", "claim.value": "red", "access.token.claim": "true", "userinfo.token.claim": "true"]]]]).createdID)
            func tenant() async throws -> (token: String?, userinfo: String?) {
                let answer = try await login(api)
                guard let access = answer["access_token"]?.stringValue else {
                    Issue.record("no access token: \(answer.status)")
                    return (nil, nil)
                }
                let info = try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", headers: [.authorization: "Bearer \(access)"])
                let carried = try claims(access)
                return (carried["tenant"]?.stringValue, info["tenant"]?.stringValue)
            }
            #expect(try await tenant() == (nil, nil))
            try await api.call(.put, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(scope)", token: admin)
            #expect(try await tenant() == ("red", "red"))
            let mapper = try #require(try await api.call(.get, "/admin/realms/acme/client-scopes/\(scope)/protocol-mappers/models", token: admin)
                .items.first?["id"]?.stringValue)
            #expect(try await api.call(.put, "/admin/realms/acme/client-scopes/\(scope)/protocol-mappers/models/\(mapper)", token: admin, json: [
                "id": .string(mapper), "name": "tenant", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                "config": ["claim.name": "tenant", "claim.value": "blue", "access.token.claim": "true", "userinfo.token.claim": "true"]]).status == .noContent)
            #expect(try await tenant() == ("blue", "blue"))
            #expect(try await api.call(.delete, "/admin/realms/acme/client-scopes/\(scope)/protocol-mappers/models/\(mapper)", token: admin).status == .noContent)
            #expect(try await tenant() == (nil, nil))
            try await api.call(.post, "/admin/realms/acme/client-scopes/\(scope)/protocol-mappers/models", token: admin, json: [
                "name": "tenant", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                "config": ["claim.name": "tenant", "claim.value": "green", "access.token.claim": "true", "userinfo.token.claim": "true"]])
            #expect(try await tenant() == ("green", "green"))
            #expect(try await api.call(.delete, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(scope)", token: admin).status == .noContent)
            #expect(try await tenant() == (nil, nil))
        }
    }

    /// A restored backup can move the version clock back to a number this node has seen: an
    /// administrator's "clear realm cache" then makes the next token read the scopes again.
    @Test func clearingTheRealmCacheForgetsTheClientsScopes() async throws {
        try await APIHarness.run { api in
            let (admin, app) = try await setUp(api)
            let scope = try #require(try await api.call(.post, "/admin/realms/acme/client-scopes", token: admin, json: [
                "name": "tenant", "protocolMappers": [
                    ["name": "tenant", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                     "config": ["claim.name": "tenant", "claim.value": "red", "access.token.claim": "true"]]]]).createdID)
            try await api.call(.put, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(scope)", token: admin)
            func tenant() async throws -> String? { try claims(try await login(api)["access_token"]?.stringValue)["tenant"]?.stringValue }
            #expect(try await tenant() == "red")
            // As a restore would leave it: the mapper changed, the realm's version as before.
            var waiting = Configuration()
            waiting.busyMode = .timeout(10)  // the server's event writer may hold the write lock a moment
            try await DatabaseQueue(path: api.server.services.configuration.databasePath, configuration: waiting).write { db in
                let version = try Int64.fetchOne(db, sql: "SELECT configuration_version FROM authorization_versions v JOIN realms r ON r.id = v.realm_id WHERE r.name = 'acme'")
                try db.execute(sql: "UPDATE client_scopes SET protocol_mappers = replace(protocol_mappers, '\"red\"', '\"blue\"') WHERE id = ?", arguments: [scope])
                try db.execute(sql: "UPDATE authorization_versions SET configuration_version = ? WHERE realm_id = (SELECT id FROM realms WHERE name = 'acme')",
                               arguments: [version])
            }
            #expect(try await tenant() == "red", "the node keeps what it read at that version")
            #expect(try await api.call(.post, "/admin/realms/acme/clear-realm-cache", token: admin).status == .noContent)
            #expect(try await tenant() == "blue")
        }
    }

    @Test func mappersAddClaimsAudiencesAndGroupsButNeverReplaceTheTokensOwn() async throws {
        try await APIHarness.run { api in
            let (admin, app) = try await setUp(api)
            let create = try await api.call(.post, "/admin/realms/acme/client-scopes", token: admin, json: [
                "name": "acme", "protocolMappers": [
                    ["name": "tenant", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                     "config": ["claim.name": "org.tenant", "claim.value": "acme", "access.token.claim": "true", "userinfo.token.claim": "true"]],
                    ["name": "forged expiry", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                     "config": ["claim.name": "exp", "claim.value": "99999999999", "jsonType.label": "long"]],
                    ["name": "team", "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
                     "config": ["user.attribute": "team", "claim.name": "team", "multivalued": "true"]],
                    ["name": "api audience", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                     "config": ["included.custom.audience": "https://api.acme.io"]],
                ]])
            let scope = try #require(create.createdID)
            try await api.call(.put, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(scope)", token: admin)
            try await api.call(.post, "/admin/realms/acme/clients/\(app)/protocol-mappers/models", token: admin, json: [
                "name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
                "config": ["claim.name": "groups", "full.path": "true", "access.token.claim": "true"]])
            let token = try #require(try await login(api)["access_token"]?.stringValue)
            let c = try claims(token)
            #expect(c["org"]?["tenant"]?.stringValue == "acme")
            #expect(c["team"]?.strings == ["blue"])
            #expect(c["groups"]?.strings == ["/eng"])
            #expect(c["aud"]?.strings.contains("https://api.acme.io") == true && c["aud"]?.strings.contains("app") == true)
            #expect((c["exp"]?.int ?? 0) < 99_999_999_999)
            // Userinfo: the claims meant for it (the tenant; not the team, which says nothing of userinfo).
            let info = try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", headers: [.authorization: "Bearer \(token)"])
            #expect(info["org"]?["tenant"]?.stringValue == "acme" && info["sub"] != nil && info["team"] == nil)
            #expect(info["preferred_username"]?.stringValue == "alice")
            // Introspection shows every claim of the token.
            let introspected = try await api.call(.post, "/realms/acme/protocol/openid-connect/token/introspect",
                                                  form: [("client_id", "app"), ("client_secret", "app-secret"), ("token", token)])
            #expect(introspected["active"]?.bool == true && introspected["org"]?["tenant"]?.stringValue == "acme")
        }
    }
}
