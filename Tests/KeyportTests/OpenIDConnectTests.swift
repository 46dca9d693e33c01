import Crypto
import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportKeys
import KeyportTokens
import Testing

@Suite("OpenID Connect subset")
struct OpenIDConnectTests {
    @Test func thePasswordGrantIssuesKeycloakShapedTokens() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin, extra: ["accessTokenLifespan": 120])
            let id = try await api.createUser("acme", "alice", password: "pw", token: admin,
                                              extra: ["email": "alice@acme.io", "firstName": "Alice", "lastName": "Liddell"])
            let response = try await api.login(realm: "acme", username: "alice", password: "pw")
            #expect(response.status == .ok)
            #expect(response["token_type"]?.stringValue == "Bearer")
            #expect(response["expires_in"]?.int == 120)
            #expect(response["refresh_expires_in"]?.int == 1800)
            #expect(response["not-before-policy"]?.int == 0)
            #expect(response["session_state"]?.stringValue != nil)
            let access = try #require(response["access_token"]?.stringValue)
            let claims = try #require(decodeClaims(access))
            let now = Int(api.clock.now.secondsSince1970)
            #expect(claims["iss"]?.stringValue == "http://keyport.test/realms/acme")
            #expect(claims["sub"]?.stringValue == id)
            #expect(claims["typ"]?.stringValue == "Bearer")
            #expect(claims["azp"]?.stringValue == "admin-cli")
            #expect(claims["preferred_username"]?.stringValue == "alice")
            #expect(claims["email"]?.stringValue == "alice@acme.io")
            #expect(claims["name"]?.stringValue == "Alice Liddell")
            #expect(claims["iat"]?.int == now)
            #expect(claims["exp"]?.int == now + 120)
            #expect(claims["jti"]?.stringValue?.count == 36)
            #expect(claims["aud"] != nil)
            #expect(claims["scope"]?.stringValue == "email profile")

            // The signature verifies with the realm's published RS256 key.
            let header = try JSONDecoder().decode(JWS.Header.self, from: Base64URL.decode(String(access.split(separator: ".")[0]))!)
            #expect(header.alg == "RS256")
            let certs = try await api.call(.get, "/realms/acme/protocol/openid-connect/certs")
            #expect(Set(certs["keys"]?.array.compactMap { $0["alg"]?.stringValue } ?? []) == ["RS256", "ES256"])
            #expect(certs["keys"]?.array.contains { $0["kid"]?.stringValue == header.kid } == true)
            #expect(!certs.text.contains("\"d\""))

            let discovery = try await api.call(.get, "/realms/acme/.well-known/openid-configuration")
            #expect(discovery["issuer"]?.stringValue == "http://keyport.test/realms/acme")
            #expect(discovery["token_endpoint"]?.stringValue == "http://keyport.test/realms/acme/protocol/openid-connect/token")
            #expect(discovery["jwks_uri"]?.stringValue == "http://keyport.test/realms/acme/protocol/openid-connect/certs")
            let realm = try await api.call(.get, "/realms/acme")
            #expect(realm["realm"]?.stringValue == "acme")
            #expect((realm["public_key"]?.stringValue?.count ?? 0) > 300)

            let userinfo = try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access)
            #expect(userinfo["sub"]?.stringValue == id)
            #expect(userinfo["preferred_username"]?.stringValue == "alice")
            // A token of one realm is not accepted by another's userinfo.
            #expect(try await api.call(.get, "/realms/master/protocol/openid-connect/userinfo", token: access).status == .unauthorized)
        }
    }

    /// OpenID Connect Core §5.3.2, Keycloak's `user.info.response.signature.alg`: a client that
    /// asks for signed userinfo gets a JWT (issuer, the client as audience) that verifies with the
    /// realm's published key; an algorithm Keyport cannot sign with is a clear error.
    @Test func userinfoIsSignedForAClientThatAsksForIt() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createUser("acme", "alice", password: "alice-pw-1", token: admin)
            let client = try await api.createClient("acme", ["clientId": "app", "publicClient": true,
                                                             "attributes": ["user.info.response.signature.alg": "ES256"]], token: admin)
            let login = try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                           form: [("grant_type", "password"), ("client_id", "app"), ("username", "alice"), ("password", "alice-pw-1")])
            let access = try #require(login["access_token"]?.stringValue)
            let answer = try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access)
            #expect(answer.status == .ok)
            #expect(answer.headers[.contentType] == "application/jwt")
            let parts = answer.text.split(separator: ".").map(String.init)
            try #require(parts.count == 3)
            let header = try JSONDecoder().decode(JWS.Header.self, from: try #require(Base64URL.decode(parts[0])))
            #expect(header.alg == "ES256")
            let claims = try JSONDecoder().decode(JSONValue.self, from: try #require(Base64URL.decode(parts[1])))
            #expect(claims["sub"]?.stringValue == id)
            #expect(claims["preferred_username"]?.stringValue == "alice")
            #expect(claims["iss"]?.stringValue == "http://keyport.test/realms/acme")
            #expect(claims["aud"]?.stringValue == "app")
            let certs = try await api.call(.get, "/realms/acme/protocol/openid-connect/certs")
            let jwk = try #require(certs["keys"]?.array.first { $0["kid"]?.stringValue == header.kid })
            let x = try #require(Base64URL.decode(jwk["x"]?.stringValue ?? "")), y = try #require(Base64URL.decode(jwk["y"]?.stringValue ?? ""))
            let key = try P256.Signing.PublicKey(rawRepresentation: x + y)
            let signature = try P256.Signing.ECDSASignature(rawRepresentation: try #require(Base64URL.decode(parts[2])))
            #expect(key.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))
            let discovery = try await api.call(.get, "/realms/acme/.well-known/openid-configuration")
            #expect(discovery["userinfo_signing_alg_values_supported"]?.array.compactMap(\.stringValue).contains("ES256") == true)

            // An algorithm Keyport has no keys for says so.
            try #require(try await api.call(.put, "/admin/realms/acme/clients/\(client)", token: admin,
                                             json: ["attributes": ["user.info.response.signature.alg": "HS256"]]).status == .noContent)
            let refused = try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access)
            #expect(refused["error_description"]?.stringValue == "userinfo can be signed with RS256 or ES256, not HS256")
            // Without the attribute, plain JSON again.
            try #require(try await api.call(.put, "/admin/realms/acme/clients/\(client)", token: admin,
                                             json: ["attributes": .object([:])]).status == .noContent)
            #expect(try await api.call(.get, "/realms/acme/protocol/openid-connect/userinfo", token: access)["sub"]?.stringValue == id)
        }
    }

    @Test func grantErrorsUseRFC6749Codes() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            _ = try await api.createUser("acme", "alice", password: "pw", token: admin)
            _ = try await api.createUser("acme", "dora", password: "pw", token: admin, extra: ["enabled": false])
            let token = "/realms/acme/protocol/openid-connect/token"
            func post(_ form: [(String, String)]) async throws -> APIResponse { try await api.call(.post, token, form: form) }

            let wrong = try await post([("grant_type", "password"), ("client_id", "admin-cli"), ("username", "alice"), ("password", "Wr0ng-Secret!")])
            let unknown = try await post([("grant_type", "password"), ("client_id", "admin-cli"), ("username", "nobody"), ("password", "Wr0ng-Secret!")])
            let disabled = try await post([("grant_type", "password"), ("client_id", "admin-cli"), ("username", "dora"), ("password", "pw")])
            for r in [wrong, unknown, disabled] {
                #expect(r.status == .unauthorized)
                #expect(r.text == #"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#)
            }
            let noGrant = try await post([("client_id", "admin-cli")])
            #expect(noGrant.status == .badRequest)
            #expect(noGrant["error"]?.stringValue == "invalid_request")
            let badGrant = try await post([("grant_type", "implicit"), ("client_id", "admin-cli")])
            #expect(badGrant["error"]?.stringValue == "unsupported_grant_type")
            let noCode = try await post([("grant_type", "authorization_code"), ("client_id", "admin-cli")])
            #expect(noCode["error"]?.stringValue == "invalid_request" && noCode["error_description"]?.stringValue == "Missing parameter: code")
            let noClient = try await post([("grant_type", "password"), ("client_id", "ghost"), ("username", "alice"), ("password", "pw")])
            #expect(noClient.status == .unauthorized)
            #expect(noClient["error"]?.stringValue == "invalid_client")
            let publicCC = try await post([("grant_type", "client_credentials"), ("client_id", "admin-cli")])
            #expect(publicCC["error"]?.stringValue == "unauthorized_client")
            let noRealm = try await api.call(.post, "/realms/ghost/protocol/openid-connect/token", form: [("grant_type", "password")])
            #expect(noRealm.status == .notFound)

            // Clients may also send scope=openid, code=, redirect_uri=: tolerated.
            let tolerant = try await post([("grant_type", "password"), ("client_id", "admin-cli"), ("username", "alice"), ("password", "pw"),
                                           ("scope", "openid"), ("code", ""), ("redirect_uri", "")])
            #expect(tolerant.status == .ok)
            #expect(tolerant["scope"]?.stringValue == "openid email profile")

            // Direct access grants off → refused.
            let app = try await api.createClient("acme", ["clientId": "web", "publicClient": true, "directAccessGrantsEnabled": false], token: admin)
            _ = app
            let refused = try await post([("grant_type", "password"), ("client_id", "web"), ("username", "alice"), ("password", "pw")])
            #expect(refused["error"]?.stringValue == "unauthorized_client")

            // The events say what happened, without the password.
            await api.server.services.events.waitUntilIdle()
            let events = try await api.call(.get, "/admin/realms/acme/events?type=LOGIN_ERROR", token: admin)
            #expect(events.items.count == 3)
            #expect(Set(events.items.compactMap { $0["error"]?.stringValue }) == ["invalid_user_credentials", "user_not_found", "user_disabled"])
            #expect(!events.text.contains("Wr0ng-Secret!") && !events.text.contains("\"pw\""))
        }
    }

    @Test func refreshTokensRefreshAndDieWhenTheyShould() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createUser("acme", "alice", password: "pw", token: admin)
            let endpoint = "/realms/acme/protocol/openid-connect/token"
            func refresh(_ token: String, client: String = "admin-cli") async throws -> APIResponse {
                try await api.call(.post, endpoint, form: [("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", token)])
            }
            func freshRefreshToken() async throws -> String {
                try #require(try await api.login(realm: "acme", username: "alice", password: "pw")["refresh_token"]?.stringValue)
            }

            let first = try await freshRefreshToken()
            api.clock.advance(seconds: 60)
            let refreshed = try await refresh(first)
            #expect(refreshed.status == .ok)
            #expect(decodeClaims(refreshed["access_token"]!.stringValue!)?["iat"]?.int == Int(api.clock.now.secondsSince1970))
            // Idle past the realm's lifespan: dead.
            api.clock.advance(seconds: 1801)
            #expect(try await refresh(first)["error"]?.stringValue == "invalid_grant")

            // Logout revokes.
            let second = try await freshRefreshToken()
            #expect(try await api.call(.post, "/realms/acme/protocol/openid-connect/logout", form: [("client_id", "admin-cli"), ("refresh_token", second)]).status == .noContent)
            #expect(try await refresh(second).status == .badRequest)

            // A password change kills earlier sessions.
            let third = try await freshRefreshToken()
            api.clock.advance(seconds: 1)
            let admin2 = try await api.token()
            _ = try await api.call(.put, "/admin/realms/acme/users/\(id)/reset-password", token: admin2, json: ["type": "password", "value": "pw2", "temporary": false])
            #expect(try await refresh(third).status == .badRequest)

            // Disabling kills sessions; deleting the user too.
            let fourth = try #require(try await api.login(realm: "acme", username: "alice", password: "pw2")["refresh_token"]?.stringValue)
            _ = try await api.call(.put, "/admin/realms/acme/users/\(id)", token: admin2, json: ["enabled": false])
            #expect(try await refresh(fourth).status == .badRequest)
            _ = try await api.call(.put, "/admin/realms/acme/users/\(id)", token: admin2, json: ["enabled": true])
            let fifth = try #require(try await api.login(realm: "acme", username: "alice", password: "pw2")["refresh_token"]?.stringValue)
            _ = try await api.call(.delete, "/admin/realms/acme/users/\(id)", token: admin2)
            #expect(try await refresh(fifth).status == .badRequest)

            // Another client cannot use someone else's refresh token.
            _ = try await api.createUser("acme", "bob", password: "pw", token: admin2)
            _ = try await api.createClient("acme", ["clientId": "other", "publicClient": true, "directAccessGrantsEnabled": true], token: admin2)
            let bobs = try #require(try await api.login(realm: "acme", username: "bob", password: "pw")["refresh_token"]?.stringValue)
            #expect(try await refresh(bobs, client: "other")["error_description"]?.stringValue == "Invalid refresh token. Token client and authorized client don't match")
        }
    }

    @Test func introspectionNeedsAConfidentialClient() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            _ = try await api.createUser("acme", "alice", password: "pw", token: admin)
            let rs = try await api.createClient("acme", ["clientId": "resource-server", "publicClient": false], token: admin)
            let secret = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(rs)/client-secret", token: admin)["value"]?.stringValue)
            let login = try await api.login(realm: "acme", username: "alice", password: "pw")
            let access = try #require(login["access_token"]?.stringValue)
            let basic = "Basic " + Data("resource-server:\(secret)".utf8).base64EncodedString()
            let path = "/realms/acme/protocol/openid-connect/token/introspect"
            let active = try await api.call(.post, path, form: [("token", access)], headers: [.authorization: basic])
            #expect(active["active"]?.bool == true)
            #expect(active["username"]?.stringValue == "alice")
            let refresh = try await api.call(.post, path, form: [("token", login["refresh_token"]!.stringValue!), ("client_id", "resource-server"), ("client_secret", secret)])
            #expect(refresh["active"]?.bool == true)
            #expect(refresh["token_type"]?.stringValue == "Refresh")
            let junk = try await api.call(.post, path, form: [("token", "garbage")], headers: [.authorization: basic])
            #expect(junk.text == #"{"active":false}"#)
            api.clock.advance(seconds: 301)
            #expect(try await api.call(.post, path, form: [("token", access)], headers: [.authorization: basic])["active"]?.bool == false)
            let publicClient = try await api.call(.post, path, form: [("token", access), ("client_id", "admin-cli")])
            #expect(publicClient.status == .unauthorized)
        }
    }
}
