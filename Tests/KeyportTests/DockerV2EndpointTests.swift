import Crypto
import Foundation
import Hummingbird
import KeyportHTTP
import KeyportDockerV2
@testable import KeyportServer
import KeyportJSON
import KeyportKeys
import KeyportStore
import KeyportTokens
import Testing
import X509

/// A realm set up through the admin API as an operator would: docker-v2 on, a registry
/// client, roles with grants, users in groups.
struct RegistryRealm {
    let api: APIHarness
    let admin: String
    let clientId: String

    static func make(_ api: APIHarness, clientAttributes: JSONValue = [:]) async throws -> RegistryRealm {
        let admin = try await api.token()
        try await api.createRealm("acme", token: admin, extra: ["dockerV2Enabled": true])
        let client = try await api.createClient("acme", ["clientId": "registry.acme.io", "protocol": "docker-v2", "attributes": clientAttributes], token: admin)
        let realm = RegistryRealm(api: api, admin: admin, clientId: client)
        try await realm.role("team-a-dev", grants: ["repository:team-a/*:pull,push"])
        try await realm.role("reader", grants: ["repository:team-a/*:pull", "repository:library/**:pull"])
        try await realm.role("personal", grants: ["repository:${username}/**:*"])
        try await realm.role("catalog", grants: ["registry:catalog:*"])
        return realm
    }

    func role(_ name: String, grants: [String]) async throws {
        let response = try await api.call(.post, "/admin/realms/acme/clients/\(clientId)/roles", token: admin,
                                          json: ["name": .string(name), "attributes": ["docker.grant": .array(grants.map { .string($0) })]])
        try #require(response.status == .created, "role \(name): \(response.text)")
    }

    @discardableResult
    func user(_ name: String, password: String = "pw", roles: [String] = [], enabled: Bool = true) async throws -> String {
        let id = try await api.createUser("acme", name, password: password, token: admin, extra: ["enabled": .bool(enabled)])
        if !roles.isEmpty {
            var reps: [JSONValue] = []
            for role in roles { reps.append(try await api.role("acme", role, client: clientId, token: admin)) }
            let r = try await api.call(.post, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(clientId)", token: admin, json: .array(reps))
            try #require(r.status == .noContent)
        }
        return id
    }

    func token(_ user: String?, _ password: String = "pw", service: String = "registry.acme.io", scopes: [String] = [], realm: String = "acme") async throws -> APIResponse {
        var query = "service=\(service.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? service)"
        for scope in scopes { query += "&scope=" + scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
        var headers: HTTPFields = [:]
        if let user { headers[.authorization] = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
        return try await api.call(.get, "/realms/\(realm)/protocol/docker-v2/auth?\(query)", headers: headers)
    }

    /// The `access` claim of a successful answer.
    func access(_ response: APIResponse) throws -> [[String]] {
        let token = try #require(response["token"]?.stringValue, "no token: \(response.status) \(response.text)")
        let claims = try #require(decodeClaims(token))
        return (claims["access"]?.array ?? []).map { entry in
            [entry["type"]?.stringValue ?? "", entry["name"]?.stringValue ?? ""] + (entry["actions"]?.strings ?? [])
        }
    }
}

@Suite("docker-v2 endpoint")
struct DockerV2EndpointTests {
    @Test func theTokenCarriesWhatTheRegistryChecks() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            let response = try await r.token("alice", scopes: ["repository:team-a/app:pull,push"])
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let token = try #require(response["token"]?.stringValue)
            #expect(response["access_token"]?.stringValue == token)
            #expect(response["expires_in"]?.int == 300)
            let issuedAt = try #require(response["issued_at"]?.stringValue)
            #expect(issuedAt.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/) != nil)

            let header = try JSONDecoder().decode(JWS.Header.self, from: Base64URL.decode(String(token.split(separator: ".")[0]))!)
            #expect(header.alg == "RS256")
            #expect(header.typ == "JWT")
            let kid = try #require(header.kid)
            #expect(kid.split(separator: ":").count == 12)
            let certificate = try Certificate(derEncoded: Array(Data(base64Encoded: try #require(header.x5c?.first))!))
            #expect(certificate.subject.description == "CN=acme")

            let claims = try #require(decodeClaims(token))
            let now = Int(api.clock.now.secondsSince1970)
            #expect(claims["iss"]?.stringValue == "http://keyport.test/realms/acme")
            #expect(claims["sub"]?.stringValue == "alice")
            #expect(claims["aud"]?.stringValue == "registry.acme.io")
            #expect(claims["iat"]?.int == now && claims["nbf"]?.int == now && claims["exp"]?.int == now + 300)
            #expect((claims["jti"]?.stringValue?.count ?? 0) >= 22)
            #expect(try r.access(response) == [["repository", "team-a/app", "pull", "push"]])

            // The kid names a key in the bundle the registry is given, and the JWKS file.
            let bundle = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/installation/providers/docker-v2-cert-bundle", token: r.admin)
            #expect(bundle.text.contains("kid \(kid)"))
            #expect(bundle.text.contains(String(header.x5c!.first!.prefix(64))))
            let jwks = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/installation/providers/docker-v2-jwks", token: r.admin)
            #expect(jwks["keys"]?.array.contains { $0["kid"]?.stringValue == kid } == true)

            // And the signature verifies with the certificate in x5c.
            let acme = try #require(try await api.server.services.store.realm(named: "acme"))
            let signer = try #require(try await api.server.services.tokens.keyRing.keys(realmId: acme.id).verifier(kid: kid))
            let parts = token.split(separator: ".")
            #expect(signer.isValidSignature(Base64URL.decode(String(parts[2]))!, for: Data("\(parts[0]).\(parts[1])".utf8)))
        }
    }

    /// Registry 3.x with a JWKS alone verifies only tokens without x5c, by kid:
    /// `docker.token.x5c: false` makes those, at once, and the configuration Keyport serves says
    /// which registry setting goes with which shape.
    @Test func tokensWithoutX5CForARegistryThatTrustsTheJWKSAlone() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            func header(_ response: APIResponse) throws -> JWS.Header {
                try JSONDecoder().decode(JWS.Header.self, from: Base64URL.decode(String(try #require(response["token"]?.stringValue).split(separator: ".")[0]))!)
            }
            let base = "/admin/realms/acme/clients/\(r.clientId)/installation/providers"
            #expect(try header(try await r.token("alice", scopes: ["repository:team-a/app:pull"])).x5c?.count == 1)
            let defaultConfig = try await api.call(.get, "\(base)/docker-v2-registry-config-file", token: r.admin).text
            #expect(defaultConfig.contains("\n    rootcertbundle: ") && !defaultConfig.contains("\n    jwks: "))
            #expect(defaultConfig.contains("a JWKS\n# alone fails every token"))

            var client = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin).json)
            client["attributes"]?["docker.token.x5c"] = "maybe"
            #expect(try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: client).status == .badRequest)
            client["attributes"]?["docker.token.x5c"] = "false"
            #expect(try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: client).status == .noContent)

            // The same request moments later: not the token signed with x5c (reuse keys on the shape).
            let plain = try header(try await r.token("alice", scopes: ["repository:team-a/app:pull"]))
            #expect(plain.x5c == nil)
            let kid = try #require(plain.kid)
            let jwks = try await api.call(.get, "\(base)/docker-v2-jwks", token: r.admin)
            #expect(jwks["keys"]?.array.contains { $0["kid"]?.stringValue == kid } == true)
            let config = try await api.call(.get, "\(base)/docker-v2-registry-config-file", token: r.admin).text
            #expect(config.contains("\n    rootcertbundle: /etc/docker/registry/keyport-acme.pem\n    jwks: /etc/docker/registry/keyport-acme.jwks.json\n"))
            let env = try await api.call(.get, "\(base)/docker-v2-variable-override", token: r.admin).text
            #expect(env.contains("-e REGISTRY_AUTH_TOKEN_JWKS=/etc/docker/registry/keyport-acme.jwks.json \\"))
        }
    }

    @Test func grantsComeFromClientRolesDirectCompositeAndGroups() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev", "personal"])
            try await r.user("rita", roles: ["reader"])
            try await r.user("nobody")
            // A realm role containing a client role, granted through a parent group.
            #expect(try await api.call(.post, "/admin/realms/acme/roles", token: r.admin, json: ["name": "staff"]).status == .created)
            let catalog = try await api.role("acme", "catalog", client: r.clientId, token: r.admin)
            _ = try await api.call(.post, "/admin/realms/acme/roles/staff/composites", token: r.admin, json: [catalog])
            let staff = try await api.role("acme", "staff", token: r.admin)
            let parent = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "all"]).createdID)
            let child = try #require(try await api.call(.post, "/admin/realms/acme/groups/\(parent)/children", token: r.admin, json: ["name": "ops"]).createdID)
            _ = try await api.call(.post, "/admin/realms/acme/groups/\(parent)/role-mappings/realm", token: r.admin, json: [staff])
            let olga = try await r.user("olga")
            _ = try await api.call(.put, "/admin/realms/acme/users/\(olga)/groups/\(child)", token: r.admin)

            let scopes = ["repository:team-a/app:pull,push", "repository:alice/tools/x:push,pull,delete", "registry:catalog:*", "repository:team-b/app:pull"]
            #expect(try r.access(try await r.token("alice", scopes: scopes)) == [
                ["repository", "team-a/app", "pull", "push"], ["repository", "alice/tools/x", "push", "pull", "delete"],
                ["registry", "catalog"], ["repository", "team-b/app"],
            ])
            #expect(try r.access(try await r.token("rita", scopes: scopes)) == [
                ["repository", "team-a/app", "pull"], ["repository", "alice/tools/x"], ["registry", "catalog"], ["repository", "team-b/app"],
            ])
            #expect(try r.access(try await r.token("olga", scopes: scopes)) == [
                ["repository", "team-a/app"], ["repository", "alice/tools/x"], ["registry", "catalog", "*"], ["repository", "team-b/app"],
            ])
            // Nothing granted is not an error; login without scope always succeeds.
            #expect(try r.access(try await r.token("nobody", scopes: scopes)).allSatisfy { $0.count == 2 })
            #expect(try r.access(try await r.token("nobody")) == [])
            // Cross-repository mount: two scopes, each answered.
            #expect(try r.access(try await r.token("alice", scopes: ["repository:team-a/copy:push,pull", "repository:team-a/hello:pull"])) == [
                ["repository", "team-a/copy", "push", "pull"], ["repository", "team-a/hello", "pull"],
            ])
        }
    }

    @Test func everyFailureHasItsShape() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            try await r.user("dora", roles: ["team-a-dev"], enabled: false)
            let scope = ["repository:team-a/app:pull"]

            for (user, password) in [("alice", "wrong"), ("ghost", "pw"), ("dora", "pw")] {
                let response = try await r.token(user, password, scopes: scope)
                #expect(response.status == .unauthorized)
                #expect(response.text == #"{"errors":[{"code":"UNAUTHORIZED","detail":[{"Action":"pull","Name":"team-a/app","Type":"repository"}],"message":"Invalid username or password."}]}"#)
            }
            let anonymous = try await r.token(nil, scopes: scope)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == "Basic realm=\"acme\"")

            let noService = try await api.call(.get, "/realms/acme/protocol/docker-v2/auth")
            #expect(noService.status == .badRequest)
            #expect(noService["error"]?.stringValue == "invalid_request")
            #expect(noService["error_description"]?.stringValue == "service parameter must be provided")
            #expect(noService["errors"]?.array.first?["message"]?.stringValue == "service parameter must be provided")
            let unknownService = try await r.token("alice", service: "other")
            #expect(unknownService.status == .badRequest)
            #expect(unknownService["error_description"]?.stringValue == "Client specified by 'service' parameter does not exist")
            // An OIDC client is not a registry.
            let oidcClient = try await r.token("alice", service: "admin-cli")
            #expect(oidcClient["error"]?.stringValue == "invalid_client")
            _ = try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: ["enabled": false])
            let disabledClient = try await r.token("alice")
            #expect(disabledClient.status == .badRequest)
            #expect(disabledClient["error_description"]?.stringValue == "Client specified by 'service' is disabled")
            _ = try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: ["enabled": true])

            let badScope = try await r.token("alice", scopes: ["repository:Bad:pull"])
            #expect(badScope.status == .badRequest)
            #expect(badScope["error_description"]?.stringValue?.hasPrefix("Invalid scope 'repository:Bad:pull'") == true)

            // The flag off, an unknown realm, a disabled realm: 404 naming the cause, at once.
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["dockerV2Enabled": false])
            let off = try await r.token("alice")
            #expect(off.status == .notFound)
            #expect(off["error"]?.stringValue == "docker_v2_disabled")
            #expect(off["error_description"]?.stringValue == "The docker-v2 protocol is not enabled for realm 'acme'")
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["dockerV2Enabled": true])
            #expect(try await r.token("alice").status == .ok)
            #expect(try await r.token("alice", realm: "ghost")["error"]?.stringValue == "realm_not_found")
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["enabled": false])
            #expect(try await r.token("alice")["error"]?.stringValue == "realm_disabled")
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["enabled": true])

            // POST is OAuth2's flow (IdentityTokenTests); without a grant it is a bad request, not a 405.
            let post = try await api.call(.post, "/realms/acme/protocol/docker-v2/auth", form: [("service", "registry.acme.io")])
            #expect(post.status == .badRequest)
            #expect(post["error"]?.stringValue == "invalid_request")
        }
    }

    @Test func wrongUnknownAndDisabledCostTheSameHash() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            try await r.user("dora", enabled: false)
            func hashes() async throws -> Int { try await TokenPathReuseTests.hashes(api) }
            var costs: [Int] = []
            for (user, password) in [("alice", "wrong"), ("ghost", "pw"), ("dora", "pw"), ("alice", "pw")] {
                var before = try await hashes()
                _ = try await r.token(user, password)
                costs.append(try await hashes() - before)
                // The OAuth2 POST (containerd's password grant) costs the same.
                before = try await hashes()
                _ = try await r.passwordGrant(user, password)
                costs.append(try await hashes() - before)
            }
            // A right password that succeeded is remembered (VerifiedCredentialCache): alice's second login is free.
            #expect(costs == [1, 1, 1, 1, 1, 1, 1, 0])
        }
    }

    @Test func allowAllAndES256AreClientSettings() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api, clientAttributes: ["docker.authorization": "allow-all", "docker.signature.algorithm": "ES256"])
            try await r.user("anyone")
            let response = try await r.token("anyone", scopes: ["repository:whatever/x:pull,push,delete", "registry:catalog:*"])
            #expect(try r.access(response) == [["repository", "whatever/x", "pull", "push", "delete"], ["registry", "catalog", "*"]])
            let header = try JSONDecoder().decode(JWS.Header.self, from: Base64URL.decode(String(response["token"]!.stringValue!.split(separator: ".")[0]))!)
            #expect(header.alg == "ES256")

            // Bad settings and bad grants are refused with a 400 that quotes them.
            let badMode = try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: ["attributes": ["docker.authorization": "everyone"]])
            #expect(badMode.status == .badRequest)
            #expect(badMode["errorMessage"]?.stringValue == "docker.authorization must be roles or allow-all, not 'everyone'")
            let badGrant = try await api.call(.post, "/admin/realms/acme/clients/\(r.clientId)/roles", token: r.admin,
                                              json: ["name": "x", "attributes": ["docker.grant": ["repository:team-a/*:pull,fly"]]])
            #expect(badGrant.status == .badRequest)
            #expect(badGrant["errorMessage"]?.stringValue == "Invalid docker.grant 'repository:team-a/*:pull,fly': unknown action 'fly': use pull, push, delete or *")
            // New docker-v2 clients default to roles.
            let fresh = try await api.createClient("acme", ["clientId": "other-registry", "protocol": "docker-v2"], token: r.admin)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(fresh)", token: r.admin)["attributes"]?["docker.authorization"]?.stringValue == "roles")
        }
    }

    /// The access tester (`clients/{id}/docker-v2-access`, `kpadm docker access`): per requested
    /// resource the grants behind each action and the role carrying each, how the user holds
    /// those roles (directly, through a group, through composites), and why a login is refused.
    @Test func theAccessTesterSaysWhichGrantAndRolePathDecidedAndWhyALoginIsRefused() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["reader"])
            // developers (a realm role) is a composite of team-a-dev; /eng/backend holds developers.
            try #require(try await api.call(.post, "/admin/realms/acme/roles", token: r.admin, json: ["name": "developers"]).status == .created)
            let teamADev = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            try #require(try await api.call(.post, "/admin/realms/acme/roles/developers/composites", token: r.admin, json: [teamADev]).status == .noContent)
            try #require(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "eng"]).status == .created)
            let eng = try #require(try await api.call(.get, "/admin/realms/acme/group-by-path/eng", token: r.admin)["id"]?.stringValue)
            try #require(try await api.call(.post, "/admin/realms/acme/groups/\(eng)/children", token: r.admin, json: ["name": "backend"]).status == .created)
            let backend = try #require(try await api.call(.get, "/admin/realms/acme/group-by-path/eng/backend", token: r.admin)["id"]?.stringValue)
            let developers = try await api.role("acme", "developers", token: r.admin)
            try #require(try await api.call(.post, "/admin/realms/acme/groups/\(eng)/role-mappings/realm", token: r.admin, json: [developers]).status == .noContent)
            try #require(try await api.call(.put, "/admin/realms/acme/users/\(alice)/groups/\(backend)", token: r.admin).status == .noContent)

            func ask(_ scopes: [String]) async throws -> APIResponse {
                let query = scopes.map { "&scope=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }.joined()
                return try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-access?username=alice\(query)", token: r.admin)
            }
            let answer = try await ask(["repository:team-a/app:pull,push,delete", "repository:other/x:pull"])
            #expect(answer.status == .ok)
            #expect(answer["canLogIn"]?.bool == true)
            #expect(answer["refusals"]?.array.isEmpty == true)
            let decisions = answer["decisions"]?.array ?? []
            try #require(decisions.count == 2)
            #expect(decisions[0]["requested"]?.strings == ["pull", "push", "delete"])
            #expect(decisions[0]["granted"]?.strings == ["pull", "push"])
            let because = (decisions[0]["because"]?.array ?? []).map { "\($0["role"]?.stringValue ?? "-"): \($0["grant"]?.stringValue ?? "") → \($0["actions"]?.strings ?? [])" }
            #expect(Set(because) == ["team-a-dev: repository:team-a/*:pull,push → [\"pull\", \"push\"]", "reader: repository:team-a/*:pull → [\"pull\"]"])
            #expect(decisions[1]["granted"]?.strings == [])
            #expect(decisions[1]["because"]?.array.isEmpty == true)
            #expect(answer["roleSources"]?["reader"]?.strings == ["direct"])
            #expect(answer["roleSources"]?["team-a-dev"]?.strings == ["group /eng → composite realm role developers"])
            // The user's page in the console: every effective role with where it comes from.
            let effective = try await api.call(.get, "/admin/realms/acme/users/\(alice)/effective-roles", token: r.admin)
            let rows = (effective["roles"]?.array ?? []).map { "\($0["client"]?.stringValue ?? "realm")/\($0["name"]?.stringValue ?? ""): \($0["sources"]?.strings ?? [])" }
            #expect(rows.contains(#"realm/developers: ["group /eng"]"#), "\(rows)")
            #expect(rows.contains(#"registry.acme.io/team-a-dev: ["group /eng → composite realm role developers"]"#), "\(rows)")
            #expect(rows.contains(#"realm/offline_access: ["direct → composite realm role default-roles-acme"]"#), "\(rows)")
            #expect(rows.first?.hasPrefix("realm/") == true, "realm roles first")

            // Why a login would be refused, each reason in words an administrator can act on.
            try #require(try await api.call(.put, "/admin/realms/acme", token: r.admin,
                                             json: ["bruteForceProtected": true, "failureFactor": 1, "waitIncrementSeconds": 120]).status == .noContent)
            #expect(try await r.token("alice", "wrong-password").status == .unauthorized)
            try #require(try await api.call(.put, "/admin/realms/acme/users/\(alice)", token: r.admin, json: ["requiredActions": ["UPDATE_PASSWORD"]]).status == .noContent)
            try #require(try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["dockerV2Enabled": false]).status == .noContent)
            let refused = try await ask(["repository:team-a/app:pull"])
            #expect(refused["canLogIn"]?.bool == false)
            let reasons = refused["refusals"]?.strings ?? []
            #expect(reasons.contains("docker-v2 is off for realm acme (kpadm docker enable -r acme)"), "\(reasons)")
            #expect(reasons.contains { $0.hasPrefix("user alice is locked for 120 more seconds after 1 failed logins") }, "\(reasons)")
            #expect(reasons.contains("user alice must first complete UPDATE_PASSWORD: password logins are refused until then"), "\(reasons)")
            // A scope that asks for too much matching is a 400, not a failure.
            let many = (0..<200).map { "repository:team-a/\(String(repeating: "a", count: 200))\($0):pull" }
            #expect(try await ask(many).status == .badRequest)
        }
    }

    /// The access matrix: one row per granting role of the registry client (paged, by name), each
    /// grant split into type, pattern and actions, with its direct holders — users, groups,
    /// composite roles — sampled; anonymous grants apart; a non-registry client is a 400.
    @Test func theAccessMatrixShowsEachGrantingRoleWithItsHolders() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.role("no-grants", grants: [])
            for index in 0..<22 { try await r.user("dev\(index)", roles: ["team-a-dev"]) }
            try await r.user("alice", roles: ["reader"])
            try #require(try await api.call(.post, "/admin/realms/acme/roles", token: r.admin, json: ["name": "developers"]).status == .created)
            let teamADev = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            try #require(try await api.call(.post, "/admin/realms/acme/roles/developers/composites", token: r.admin, json: [teamADev]).status == .noContent)
            try #require(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "eng"]).status == .created)
            let eng = try #require(try await api.call(.get, "/admin/realms/acme/group-by-path/eng", token: r.admin)["id"]?.stringValue)
            try #require(try await api.call(.post, "/admin/realms/acme/groups/\(eng)/role-mappings/clients/\(r.clientId)", token: r.admin,
                                             json: [teamADev]).status == .noContent)
            #expect(try await r.setClientAttribute("docker.anonymous.grant", "repository:public/*:pull").status == .noContent)

            let matrix = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-matrix", token: r.admin)
            #expect(matrix.status == .ok, "\(matrix.text)")
            #expect(matrix["total"]?.int == 4, "catalog, personal, reader, team-a-dev; no-grants has no row")
            let rows = matrix["rows"]?.array ?? []
            #expect(rows.map { $0["role"]?.stringValue ?? "" } == ["catalog", "personal", "reader", "team-a-dev"])
            let dev = try #require(rows.last)
            #expect(dev["grants"]?.array.first?["pattern"]?.stringValue == "team-a/*")
            #expect(dev["grants"]?.array.first?["actions"]?.strings == ["pull", "push"])
            #expect(dev["users"]?.array.count == 20)
            #expect(dev["moreUsers"]?.bool == true)
            #expect(dev["groups"]?.strings == ["/eng"])
            #expect(dev["composites"]?.strings == ["realm role developers"])
            #expect(rows[2]["users"]?.strings == ["alice"])
            #expect(rows[2]["moreUsers"]?.bool == false)
            #expect(matrix["anonymous"]?.array.first?["grant"]?.stringValue == "repository:public/*:pull")
            let page = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-matrix?first=1&max=2", token: r.admin)
            #expect(page["rows"]?.array.map { $0["role"]?.stringValue ?? "" } == ["personal", "reader"])

            // It names users: view-users is needed besides view-clients.
            let viewer = try await api.createUser("acme", "viewer", password: "pw", token: r.admin)
            let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
            let viewClients = try await api.role("acme", "view-clients", client: management, token: r.admin)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(viewer)/role-mappings/clients/\(management)", token: r.admin, json: [viewClients])
            let viewerToken = try await api.token(realm: "acme", username: "viewer", password: "pw")
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-matrix", token: viewerToken).status == .forbidden)
            let plain = try await api.createClient("acme", ["clientId": "web"], token: r.admin)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(plain)/docker-v2-matrix", token: r.admin).status == .badRequest)

            // The grant editor's check as you type: the server's parser, each grant's meaning or its fault.
            let check = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-grant-check?grant="
                                           + urlEncoded([("", "repository:team-a/*:pull,push")]).dropFirst() + "&grant=repository:x:fly", token: r.admin)
            #expect(check.items.first?["valid"]?.bool == true)
            #expect(check.items.first?["pattern"]?.stringValue == "team-a/*")
            #expect(check.items.first?["actions"]?.strings == ["pull", "push"])
            #expect(check.items.last?["valid"]?.bool == false)
            #expect(check.items.last?["message"]?.stringValue == "Invalid docker.grant 'repository:x:fly': unknown action 'fly': use pull, push, delete or *")
            let tooMany = (0..<51).map { "grant=repository:r\($0):pull" }.joined(separator: "&")
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-grant-check?\(tooMany)", token: r.admin).status == .badRequest)
        }
    }

    @Test func theLifespanComesFromTheRealmAndIsAtLeast60() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["accessTokenLifespan": 30])
            let short = try await r.token("alice")
            #expect(short["expires_in"]?.int == 60)
            #expect(decodeClaims(short["token"]!.stringValue!)?["exp"]?.int == Int(api.clock.now.secondsSince1970) + 60)
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["accessTokenLifespan": 900])
            #expect(try await r.token("alice")["expires_in"]?.int == 900)
        }
    }

    @Test func everyRequestIsAnEvent() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["reader"])
            _ = try await r.token("alice", scopes: ["repository:team-a/app:pull,push"])
            api.clock.advance(seconds: 1)
            _ = try await r.token("alice", "nope", scopes: ["repository:team-a/app:pull"])
            await api.server.services.events.waitUntilIdle()
            let events = try await api.call(.get, "/admin/realms/acme/events?client=registry.acme.io", token: r.admin)
            #expect(events.values("type") == ["LOGIN_ERROR", "LOGIN"])
            let login = try #require(events.items.last)
            #expect(login["userId"]?.stringValue == alice)
            #expect(login["details"]?["auth_method"]?.stringValue == "docker-v2")
            #expect(login["details"]?["requested_access"]?.stringValue == "repository:team-a/app:pull,push")
            #expect(login["details"]?["granted_access"]?.stringValue == "repository:team-a/app:pull")
            #expect(events.items.first?["error"]?.stringValue == "invalid_user_credentials")
            #expect(try await api.call(.get, "/admin/realms/acme/events?type=LOGIN&user=alice", token: r.admin).items.count == 1)
            let today = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(api.clock.now.secondsSince1970))).prefix(10)
            #expect(try await api.call(.get, "/admin/realms/acme/events?dateFrom=\(today)&dateTo=\(today)", token: r.admin).items.count == 2)
            #expect(try await api.call(.get, "/admin/realms/acme/events?dateFrom=2000-01-01&dateTo=2000-01-02", token: r.admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/acme/events?dateFrom=yesterday", token: r.admin).status == .badRequest)
            #expect(!events.text.contains("nope"))
        }
    }

    @Test func theRegistryConfigurationComesFromKeyport() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let base = "/admin/realms/acme/clients/\(r.clientId)/installation/providers"
            let config = try await api.call(.get, "\(base)/docker-v2-registry-config-file", token: r.admin)
            #expect(config.text.contains("    realm: http://keyport.test/realms/acme/protocol/docker-v2/auth\n"))
            #expect(config.text.contains("    service: registry.acme.io\n"))
            #expect(config.text.contains("    issuer: http://keyport.test/realms/acme\n"))
            #expect(config.text.contains("    rootcertbundle: "))
            let env = try await api.call(.get, "\(base)/docker-v2-variable-override", token: r.admin)
            #expect(env.text.contains("-e REGISTRY_AUTH_TOKEN_SERVICE=registry.acme.io \\"))
            let bundle = try await api.call(.get, "\(base)/docker-v2-cert-bundle", token: r.admin)
            #expect(bundle.text.components(separatedBy: "-----BEGIN CERTIFICATE-----").count == 3)
            #expect(!bundle.text.contains("PRIVATE"))
            let jwks = try await api.call(.get, "\(base)/docker-v2-jwks", token: r.admin)
            #expect(jwks["keys"]?.array.count == 2)
            #expect(!jwks.text.contains("\"d\""))
            #expect(try await api.call(.get, "\(base)/nope", token: r.admin).status == .notFound)
            let oidc = try await api.clientUUID("acme", "admin-cli", token: r.admin)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(oidc)/installation/providers/docker-v2-jwks", token: r.admin).status == .badRequest)
        }
    }
}

@Suite("Event retention")
struct EventRetentionTests {
    @Test func eventsOlderThanTheRealmsSettingArePurged() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["eventsExpiration": 3600])
            _ = try await r.token("alice")
            api.clock.advance(seconds: 1800)
            _ = try await r.token("alice")
            await api.server.services.events.waitUntilIdle()
            api.clock.advance(seconds: 1801)
            let retention = EventRetentionService(store: api.server.services.store, environment: testEnvironment(clock: api.clock),
                                                  dockerEventsRetention: 7 * 24 * 3600, logger: .init(label: "test"))
            #expect(try await retention.purgeOnce() == 1)
            let admin = try await api.token()
            #expect(try await api.call(.get, "/admin/realms/acme/events", token: admin).items.count == 1)
        }
    }

    @Test func dockerEventsGoAfterTheDefaultRetentionWhenTheRealmSetsNone() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            _ = try await r.token("alice")
            _ = try await api.login(realm: "acme", username: "alice", password: "pw")
            await api.server.services.events.waitUntilIdle()
            let retention = EventRetentionService(store: api.server.services.store, environment: testEnvironment(clock: api.clock),
                                                  dockerEventsRetention: 7 * 24 * 3600, logger: .init(label: "test"))
            api.clock.advance(seconds: 7 * 24 * 3600 - 10)
            #expect(try await retention.purgeOnce() == 0)
            api.clock.advance(seconds: 20)
            #expect(try await retention.purgeOnce() == 1)
            // The OIDC login stays: the realm keeps its other events until it says otherwise.
            let left = try await api.call(.get, "/admin/realms/acme/events", token: try await api.token())
            #expect(left.items.count == 1)
            #expect(left.items.first?["details"]?["auth_method"]?.stringValue == "openid-connect")
        }
    }
}

@Suite("Events cannot fill the disk")
struct EventFloodTests {
    @Test func aFloodOfRequestsWithoutCredentialsWritesNothing() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let acme = try #require(try await store.realm(named: "acme"))
            // 100 scopes of 200-character names per request, as in the reported flood.
            let scopes = (0..<100).map { "repository:flood/" + String(repeating: "a", count: 190) + String(format: "%03d", $0) + ":pull,push" }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var unauthorized = 0
                        for _ in 0..<1_250 where try await r.token(nil, scopes: scopes).status == .unauthorized { unauthorized += 1 }
                        return unauthorized
                    }
                }
                let total = try await group.reduce(0, +)
                #expect(total == 5_000)
            }
            await api.server.services.events.waitUntilIdle()
            #expect(try await store.events(realmId: acme.id, matching: EventQuery(), page: .all).isEmpty)
            let metrics = try await api.call(.get, "/metrics").text
            #expect(metrics.contains(#"keyport_events_suppressed_total{reason="unauthenticated"} 5000"#))
            // The database file stays small: a few MB at most, WAL included.
            let db = api.server.services.configuration.databasePath
            let size = ((try? FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0)
                + ((try? FileManager.default.attributesOfItem(atPath: db + "-wal")[.size] as? Int) ?? 0)
            #expect(size < 4 * 1024 * 1024, "database grew to \(size) bytes")
        }
    }

    @Test func failedLoginsAreStoredAtABoundedRateWithCappedDetails() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            let long = (0..<100).map { "repository:x/" + String(repeating: "b", count: 190) + String(format: "%03d", $0) + ":pull" }
            for _ in 0..<80 { _ = try await r.token("nobody", "wrong", scopes: long) }
            await api.server.services.events.waitUntilIdle()
            let admin = try await api.token()
            let stored = try await api.call(.get, "/admin/realms/acme/events?max=1000", token: admin).items
            #expect(stored.count == 60)
            #expect(stored.allSatisfy { ($0["details"]?["requested_access"]?.stringValue?.utf8.count ?? 0) <= 1024 })
            #expect(try await api.call(.get, "/metrics").text.contains(#"keyport_events_suppressed_total{reason="rate_limited"} 20"#))
            // A minute later the bucket has refilled.
            api.clock.advance(seconds: 60)
            _ = try await r.token("nobody", "wrong")
            await api.server.services.events.waitUntilIdle()
            #expect(try await api.call(.get, "/admin/realms/acme/events?max=1000", token: admin).items.count == 61)
        }
    }

    @Test func eventsEnabledAndEnabledEventTypesAreHonoured() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            let admin = try await api.token()
            #expect(try await api.call(.put, "/admin/realms/acme", token: admin, json: ["enabledEventTypes": ["LOGIN_ERROR"]]).status == .noContent)
            let rep = try await api.call(.get, "/admin/realms/acme", token: admin)
            #expect(rep["enabledEventTypes"]?.strings == ["LOGIN_ERROR"] && rep["eventsEnabled"]?.bool == true)
            _ = try await r.token("alice")
            _ = try await r.token("alice", "wrong")
            await api.server.services.events.waitUntilIdle()
            #expect(try await api.call(.get, "/admin/realms/acme/events", token: admin).items.compactMap { $0["type"]?.stringValue } == ["LOGIN_ERROR"])
            #expect(try await api.call(.put, "/admin/realms/acme", token: admin, json: ["eventsEnabled": false]).status == .noContent)
            _ = try await r.token("alice", "wrong")
            await api.server.services.events.waitUntilIdle()
            #expect(try await api.call(.get, "/admin/realms/acme/events", token: admin).items.count == 1)
            #expect(try await api.call(.put, "/admin/realms/acme", token: admin, json: ["enabledEventTypes": ["login; DROP"]]).status == .badRequest)
        }
    }
}

@Suite("Realm keys through the admin API")
struct RealmKeysAdminTests {
    @Test func keysAreListedWithoutPrivateHalves() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let keys = try await api.call(.get, "/admin/realms/acme/keys", token: admin)
            #expect(keys.status == .ok)
            let list = keys["keys"]?.array ?? []
            #expect(Set(list.compactMap { $0["algorithm"]?.stringValue }) == ["RS256", "ES256"])
            #expect(list.allSatisfy { $0["status"]?.stringValue == "ACTIVE" && ($0["libtrustKeyId"]?.stringValue?.count ?? 0) == 59 })
            #expect(keys["active"]?["RS256"]?.stringValue == list.first { $0["algorithm"]?.stringValue == "RS256" }?["kid"]?.stringValue)
            #expect(!keys.text.contains("PRIVATE"))
            // The kid OIDC tokens carry is listed.
            let token = try await api.token()
            let header = try JSONDecoder().decode(JSONValue.self, from: Base64URL.decode(String(token.split(separator: ".")[0]))!)
            let master = try await api.call(.get, "/admin/realms/master/keys", token: token)
            #expect(master["active"]?["RS256"] == header["kid"])
        }
    }
}

@Suite("Registry certificate files (--docker-certs-dir)")
struct RegistryCertificateWriterTests {
    @Test func filesFollowTheRealmsWithDockerV2On() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let dir = temporaryDirectory().appendingPathComponent("certs").path
            let installation = RegistryInstallation(keyRing: api.server.services.tokens.keyRing, issuer: api.server.services.tokens.issuer)
            let writer = RegistryCertificateWriter(directory: dir, store: api.server.services.store, installation: installation,
                                                   interval: .seconds(15), logger: .init(label: "test"))
            // Under the umask of Keyport's systemd unit, the registry's user can still read them.
            let previous = umask(0o077)
            defer { umask(previous) }
            #expect(try await writer.syncOnce() == ["acme.pem", "acme.jwks.json"])
            for (path, mode) in [(dir, 0o755), (dir + "/acme.pem", 0o644), (dir + "/acme.jwks.json", 0o644)] {
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o777 } == mode, "\(path)")
            }
            let bundle = try String(contentsOfFile: dir + "/acme.pem", encoding: .utf8)
            let served = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/installation/providers/docker-v2-cert-bundle", token: r.admin)
            #expect(bundle == served.text)
            // Nothing changed, nothing written; a realm turning docker-v2 on gets its files.
            #expect(try await writer.syncOnce().isEmpty)
            try await api.createRealm("other", token: r.admin)
            #expect(try await writer.syncOnce().isEmpty)
            _ = try await api.call(.put, "/admin/realms/other", token: r.admin, json: ["dockerV2Enabled": true])
            #expect(try await writer.syncOnce() == ["other.pem", "other.jwks.json"])
            // A new key (passive: in the bundle before it signs) and a status change rewrite the bundle.
            func certificates() throws -> Int { try String(contentsOfFile: dir + "/acme.pem", encoding: .utf8).components(separatedBy: "BEGIN CERTIFICATE").count - 1 }
            let added = try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: [
                "name": "ecdsa-next", "providerId": "ecdsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
                "config": ["active": ["false"], "priority": ["200"]]])
            #expect(added.status == .created)
            #expect(try await writer.syncOnce() == ["acme.pem", "acme.jwks.json"])
            #expect(try certificates() == 3)
            let id = try #require(added.headers[.location]?.split(separator: "/").last.map(String.init))
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(id)", token: r.admin, json: ["config": ["enabled": ["false"]]]).status == .noContent)
            #expect(try await writer.syncOnce() == ["acme.pem", "acme.jwks.json"])
            #expect(try certificates() == 2)
        }
    }
}
