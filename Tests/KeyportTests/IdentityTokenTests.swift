import Foundation
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportModel
@testable import KeyportServer
import Testing

/// docker-v2 identity tokens (reference §7) and the OAuth2 POST flow, on the wire: what the
/// Docker engine and containerd send, every error, and every way a token dies.
extension RegistryRealm {
    static let path = "/realms/acme/protocol/docker-v2/auth"

    /// `docker login`: GET with Basic credentials and `offline_token=true`; the identity token.
    func login(_ user: String, _ password: String = "pw") async throws -> String {
        let response = try await api.call(.get, "\(Self.path)?account=\(user)&client_id=docker&offline_token=true&service=registry.acme.io",
                                          headers: [.authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()])
        return try #require(response["refresh_token"]?.stringValue, "no identity token: \(response.status) \(response.text)")
    }

    /// The Docker engine holding an identity token: POST `grant_type=refresh_token`.
    func refresh(_ token: String, service: String = "registry.acme.io", scope: String? = nil, realm: String = "acme") async throws -> APIResponse {
        var form = [("client_id", "docker"), ("grant_type", "refresh_token"), ("refresh_token", token), ("service", service)]
        if let scope { form.append(("scope", scope)) }
        return try await api.call(.post, "/realms/\(realm)/protocol/docker-v2/auth", form: form)
    }

    /// containerd: POST `grant_type=password`.
    func passwordGrant(_ user: String, _ password: String = "pw", scope: String? = nil, offline: Bool = false) async throws -> APIResponse {
        var form = [("client_id", "containerd-client"), ("grant_type", "password"), ("password", password), ("service", "registry.acme.io"),
                    ("username", user)]
        if let scope { form.append(("scope", scope)) }
        if offline { form.append(("access_type", "offline")) }
        return try await api.call(.post, Self.path, form: form)
    }
}

@Suite("docker-v2 identity tokens and the POST flow")
struct IdentityTokenTests {
    @Test func dockerLoginGetsAnOpaqueIdentityTokenOnlyWhenItAsks() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            #expect(try await r.token("alice")["refresh_token"] == nil, "skopeo and podman do not ask: no identity token")
            let token = try await r.login("alice")
            #expect(token.hasPrefix("kpit_"), "a prefix secret scanners can match")
            #expect(token.utf8.count >= 40 && !token.contains("."), "opaque and high-entropy, not a JWT")
            #expect(try await r.login("alice") != token, "each login its own")

            // Only its SHA-256 is stored.
            let store = api.server.services.store
            let session = try #require(try await store.session(refreshTokenHash: OpaqueToken.hash(token)))
            #expect(session.offline && session.refreshTokenHash != token)
        }
    }

    @Test func theRefreshGrantAnswersWithTheUsersAccessAsItIsNowAndDoesNotRotate() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["team-a-dev"])
            let token = try await r.login("alice")

            // What the engine sends on push: several scopes joined by spaces in one field.
            let push = try await r.refresh(token, scope: "repository:team-a/app:push,pull repository:team-a/base:pull repository:team-b/x:push,pull")
            #expect(push.status == .ok, "\(push.text)")
            let jwt = try #require(push["access_token"]?.stringValue)
            #expect(push["token"]?.stringValue == jwt)
            #expect(push["expires_in"]?.int == 300)
            #expect(push["issued_at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(push["refresh_token"] == nil, "the identity token does not rotate (moby#39718)")
            #expect(push["scope"]?.stringValue == "repository:team-a/app:push,pull repository:team-a/base:pull")
            #expect(try r.access(push) == [["repository", "team-a/app", "push", "pull"], ["repository", "team-a/base", "pull"], ["repository", "team-b/x"]])
            #expect(decodeClaims(jwt)?["sub"]?.stringValue == "alice")
            #expect(decodeClaims(jwt)?["aud"]?.stringValue == "registry.acme.io")

            // The same token again, and roles evaluated at each request.
            let role = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [role])
            let after = try await r.refresh(token, scope: "repository:team-a/app:push,pull")
            #expect(after.status == .ok)
            #expect(try r.access(after) == [["repository", "team-a/app"]], "a revoked role is not honoured")
            #expect(after["scope"]?.stringValue == "")
        }
    }

    @Test func thePasswordGrantIsWhatContainerdSends() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["reader"])
            // containerd's form: `+` for the space between scopes.
            let raw = "client_id=containerd-client&grant_type=password&password=pw&scope=repository%3Ateam-a%2Fapp%3Apull+repository%3Ateam-a%2Fapp%3Apull%2Cpush&service=registry.acme.io&username=alice"
            let response = try await api.call(.post, RegistryRealm.path, headers: [.contentType: "application/x-www-form-urlencoded"], body: raw)
            #expect(response.status == .ok, "\(response.text)")
            #expect(try r.access(response) == [["repository", "team-a/app", "pull"]])
            #expect(response["refresh_token"] == nil, "no access_type=offline: no identity token")
            let offline = try await r.passwordGrant("alice", offline: true)
            let token = try #require(offline["refresh_token"]?.stringValue)
            #expect(try await r.refresh(token).status == .ok)

            // A wrong password: 401 in both shapes, counted as a failure (brute-force protection applies).
            let wrong = try await r.passwordGrant("alice", "nope", scope: "repository:team-a/app:pull")
            #expect(wrong.status == .unauthorized)
            #expect(wrong["error"]?.stringValue == "invalid_grant")
            #expect(wrong["error_description"]?.stringValue == "Invalid username or password.")
            #expect(wrong["errors"]?.array.first?["code"]?.stringValue == "UNAUTHORIZED")
            #expect(try await r.passwordGrant("ghost", "nope").status == .unauthorized)
            await api.server.services.events.waitUntilIdle()
            let failures = try await api.call(.get, "/admin/realms/acme/events?type=LOGIN_ERROR", token: r.admin)
            #expect(failures.items.count == 2)
            #expect(failures.items.allSatisfy { $0["details"]?["grant_type"]?.stringValue == "password" })
            #expect(!failures.text.contains("nope"))
        }
    }

    @Test func everyBadPostHasItsOAuthError() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            let token = try await r.login("alice")
            func post(_ form: [(String, String)]) async throws -> APIResponse { try await api.call(.post, RegistryRealm.path, form: form) }

            let noGrant = try await post([("service", "registry.acme.io")])
            #expect(noGrant.status == .badRequest && noGrant["error"]?.stringValue == "invalid_request")
            let unsupported = try await post([("service", "registry.acme.io"), ("grant_type", "authorization_code")])
            #expect(unsupported.status == .badRequest && unsupported["error"]?.stringValue == "unsupported_grant_type")
            let noService = try await post([("grant_type", "refresh_token"), ("refresh_token", token)])
            #expect(noService.status == .badRequest && noService["error_description"]?.stringValue == "service parameter must be provided")
            let noUser = try await post([("service", "registry.acme.io"), ("grant_type", "password"), ("password", "pw")])
            #expect(noUser.status == .badRequest && noUser["error"]?.stringValue == "invalid_request")
            let noToken = try await post([("service", "registry.acme.io"), ("grant_type", "refresh_token")])
            #expect(noToken.status == .badRequest && noToken["error"]?.stringValue == "invalid_request")
            let json = try await api.call(.post, RegistryRealm.path, json: ["grant_type": "refresh_token", "refresh_token": .string(token)])
            #expect(json.status == .badRequest && json["error"]?.stringValue == "invalid_request")
            let badScope = try await r.refresh(token, scope: "repository:UPPER:pull")
            #expect(badScope.status == .badRequest && badScope["error"]?.stringValue == "invalid_scope")

            for dead in ["kpit_not-a-token", "", String(repeating: "k", count: 5000), "eyJhbGciOiJub25lIn0.e30."] where !dead.isEmpty {
                let answer = try await r.refresh(dead)
                #expect(answer.status == .badRequest)
                #expect(answer["error"]?.stringValue == "invalid_grant")
                #expect(answer["errors"]?.array.first?["code"]?.stringValue == "UNAUTHORIZED", "the Docker CLI prints 'unauthorized: …'")
                #expect(answer["error_description"]?.stringValue?.contains("log in again") == true)
            }

            // Bound to its registry and its realm.
            _ = try await api.createClient("acme", ["clientId": "other-registry", "protocol": "docker-v2"], token: r.admin)
            let elsewhere = try await r.refresh(token, service: "other-registry")
            #expect(elsewhere.status == .badRequest && elsewhere["error"]?.stringValue == "invalid_grant")
            #expect(elsewhere["error_description"]?.stringValue?.contains("another registry") == true)
            try await api.createRealm("globex", token: r.admin, extra: ["dockerV2Enabled": true])
            _ = try await api.createClient("globex", ["clientId": "registry.acme.io", "protocol": "docker-v2"], token: r.admin)
            #expect(try await r.refresh(token, realm: "globex")["error"]?.stringValue == "invalid_grant")
            // …and never an OIDC refresh token.
            let oidc = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                          form: [("grant_type", "refresh_token"), ("client_id", "admin-cli"), ("refresh_token", token)])
            #expect(oidc.status == .badRequest)
            #expect(try await r.refresh(token).status == .ok, "none of that hurt the token")
        }
    }

    @Test func everyWayATokenDies() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["team-a-dev"])
            func dead(_ token: String) async throws -> Bool {
                let answer = try await r.refresh(token)
                return answer.status == .badRequest && answer["error"]?.stringValue == "invalid_grant"
            }

            // An administrator's revocation of the user's tokens for this registry (Keycloak's "revoke consent").
            var token = try await r.login("alice")
            let second = try await r.login("alice")
            #expect(try await api.call(.delete, "/admin/realms/acme/users/\(alice)/consents/registry.acme.io", token: r.admin).status == .noContent)
            #expect(try await dead(token))
            #expect(try await dead(second))
            #expect(try await api.call(.delete, "/admin/realms/acme/users/\(alice)/consents/registry.acme.io", token: r.admin).status == .notFound)

            // One session ended by id; the other one lives.
            token = try await r.login("alice")
            let kept = try await r.login("alice")
            let listed = try await api.call(.get, "/admin/realms/acme/users/\(alice)/offline-sessions/\(r.clientId)", token: r.admin)
            #expect(listed.items.count == 2)
            #expect(!listed.text.contains(token) && !listed.text.contains("kpit_"), "never the secret")
            let store = api.server.services.store
            let id = try #require(try await store.session(refreshTokenHash: OpaqueToken.hash(token))?.id)
            #expect(try await api.call(.delete, "/admin/realms/acme/sessions/\(id)", token: r.admin).status == .notFound, "it is an offline session")
            #expect(try await api.call(.delete, "/admin/realms/acme/sessions/\(id)?isOffline=true", token: r.admin).status == .noContent)
            #expect(try await dead(token))
            #expect(try await r.refresh(kept).status == .ok)

            // The administrator logs the user out.
            api.clock.advance(seconds: 1)
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(alice)/logout", token: r.admin).status == .noContent)
            #expect(try await dead(kept))

            // A password reset.
            api.clock.advance(seconds: 1)
            token = try await r.login("alice")
            api.clock.advance(seconds: 1)
            let reset = try await api.call(.put, "/admin/realms/acme/users/\(alice)/reset-password", token: r.admin,
                                           json: ["type": "password", "value": "pw2", "temporary": false])
            #expect(reset.status == .noContent)
            #expect(try await dead(token))

            // The password credential deleted.
            api.clock.advance(seconds: 1)
            token = try await r.login("alice", "pw2")
            let credential = try #require(try await api.call(.get, "/admin/realms/acme/users/\(alice)/credentials", token: r.admin).items.first?["id"]?.stringValue)
            api.clock.advance(seconds: 1)
            #expect(try await api.call(.delete, "/admin/realms/acme/users/\(alice)/credentials/\(credential)", token: r.admin).status == .noContent)
            #expect(try await dead(token))
            _ = try await api.call(.put, "/admin/realms/acme/users/\(alice)/reset-password", token: r.admin,
                                   json: ["type": "password", "value": "pw", "temporary": false])

            // Disabled (and enabled again: the token stays dead), then deleted.
            api.clock.advance(seconds: 1)
            token = try await r.login("alice")
            _ = try await api.call(.put, "/admin/realms/acme/users/\(alice)", token: r.admin, json: ["enabled": false])
            #expect(try await dead(token))
            _ = try await api.call(.put, "/admin/realms/acme/users/\(alice)", token: r.admin, json: ["enabled": true])
            #expect(try await dead(token))
            token = try await r.login("alice")
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(alice)", token: r.admin)
            #expect(try await dead(token))
        }
    }

    @Test func theRealmsOfflineSessionSettingsDecideTheLifetime() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            let realm = try await api.call(.get, "/admin/realms/acme", token: r.admin)
            #expect(realm["offlineSessionIdleTimeout"]?.int == 2_592_000, "Keycloak's default: 30 days")
            #expect(realm["offlineSessionMaxLifespanEnabled"]?.boolValue == false)

            // Each use slides the idle window: 29 days, and 29 again, is fine.
            let token = try await r.login("alice")
            api.clock.advance(seconds: 29 * 86_400)
            #expect(try await r.refresh(token).status == .ok)
            api.clock.advance(seconds: 29 * 86_400)
            #expect(try await r.refresh(token).status == .ok)
            api.clock.advance(seconds: 30 * 86_400 + 1)
            #expect(try await r.refresh(token)["error"]?.stringValue == "invalid_grant", "idle longer than 30 days")

            // A maximum lifespan, however often it is used.
            let admin = try await api.token()  // the first one expired while the clock moved
            #expect(try await api.call(.put, "/admin/realms/acme", token: admin,
                                       json: ["offlineSessionMaxLifespanEnabled": true, "offlineSessionMaxLifespan": 3600]).status == .noContent)
            let capped = try await r.login("alice")
            api.clock.advance(seconds: 3000)
            #expect(try await r.refresh(capped).status == .ok)
            api.clock.advance(seconds: 601)
            #expect(try await r.refresh(capped)["error"]?.stringValue == "invalid_grant")

            let fresh = try await api.token()
            let bad = try await api.call(.put, "/admin/realms/acme", token: fresh, json: ["offlineSessionIdleTimeout": 0])
            #expect(bad.status == .badRequest)
            #expect(try await api.call(.put, "/admin/realms/acme", token: fresh, json: ["offlineSessionMaxLifespan": .number(Double(Int32.max) * 1000)]).status == .badRequest)
        }
    }

    @Test func aClientCanTurnIdentityTokensOff() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice")
            let token = try await r.login("alice")
            var client = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin).json!
            client["attributes"]?["docker.identity.tokens"] = "false"
            #expect(try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: client).status == .noContent)
            let login = try await r.token("alice")
            #expect(login.status == .ok)
            let asked = try await api.call(.get, "\(RegistryRealm.path)?offline_token=true&service=registry.acme.io",
                                           headers: [.authorization: "Basic " + Data("alice:pw".utf8).base64EncodedString()])
            #expect(asked.status == .ok && asked["refresh_token"] == nil, "the field is simply absent")
            let refused = try await r.refresh(token)
            #expect(refused["error"]?.stringValue == "invalid_grant")
            #expect(refused["error_description"]?.stringValue?.contains("turned off") == true)

            client["attributes"]?["docker.identity.tokens"] = "maybe"
            #expect(try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: client).status == .badRequest)
        }
    }

    @Test func onlyUserAdministratorsSeeAndRevokeSessions() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice")
            let token = try await r.login("alice")
            // A realm user with only view-users may list but not revoke.
            let viewer = try await api.createUser("acme", "viewer", password: "pw", token: r.admin)
            let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
            let viewUsers = try await api.role("acme", "view-users", client: management, token: r.admin)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(viewer)/role-mappings/clients/\(management)", token: r.admin, json: [viewUsers])
            let viewerToken = try await api.token(realm: "acme", username: "viewer", password: "pw")
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(alice)/offline-sessions/\(r.clientId)", token: viewerToken).status == .ok)
            #expect(try await api.call(.delete, "/admin/realms/acme/users/\(alice)/consents/registry.acme.io", token: viewerToken).status == .forbidden)
            let id = try #require(try await api.server.services.store.session(refreshTokenHash: OpaqueToken.hash(token))?.id)
            #expect(try await api.call(.delete, "/admin/realms/acme/sessions/\(id)?isOffline=true", token: viewerToken).status == .forbidden)
            // alice herself: nothing.
            let aliceToken = try await api.token(realm: "acme", username: "alice", password: "pw")
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(alice)/offline-sessions/\(r.clientId)", token: aliceToken).status == .forbidden)
            #expect(try await r.refresh(token).status == .ok)
            // Another realm's session id is not found from here.
            try await api.createRealm("globex", token: r.admin)
            #expect(try await api.call(.delete, "/admin/realms/globex/sessions/\(id)?isOffline=true", token: r.admin).status == .notFound)
            #expect(try await api.call(.delete, "/admin/realms/acme/sessions/\(id)?isOffline=maybe", token: r.admin).status == .badRequest)
        }
    }

    @Test func issueUseAndRevocationAreEvents() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["reader"])
            let token = try await r.login("alice")
            api.clock.advance(seconds: 1)
            _ = try await r.refresh(token, scope: "repository:team-a/app:pull")
            api.clock.advance(seconds: 1)
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(alice)/consents/registry.acme.io", token: r.admin)
            api.clock.advance(seconds: 1)
            _ = try await r.refresh(token)
            await api.server.services.events.waitUntilIdle()
            let events = try await api.call(.get, "/admin/realms/acme/events?client=registry.acme.io", token: r.admin)
            #expect(events.values("type") == ["REFRESH_TOKEN_ERROR", "REVOKE_GRANT", "REFRESH_TOKEN", "LOGIN"])
            let login = events.items[3], use = events.items[2], revoke = events.items[1], error = events.items[0]
            let sessionId = try #require(login["details"]?["identity_token_id"]?.stringValue)
            #expect(use["details"]?["identity_token_id"]?.stringValue == sessionId)
            #expect(use["details"]?["granted_access"]?.stringValue == "repository:team-a/app:pull")
            #expect(use["userId"]?.stringValue == alice)
            #expect(revoke["details"]?["revoked_by"]?.stringValue == "admin")
            #expect(error["error"]?.stringValue == "invalid_token")
            #expect(!events.text.contains(token))
        }
    }
}
