import Crypto
import _CryptoExtras
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import KeyportFederation
import KeyportJSON
import KeyportKeys
import KeyportModel
import Synchronization
import Testing

/// An issuer of CI identities, as GitHub Actions is one: keys, a JWKS document, signed JWTs.
final class CIIssuer: Sendable {
    static let issuer = "https://token.actions.example.test"
    let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    let ec = P256.Signing.PrivateKey()
    let served = Mutex<[String]>(["rsa-1"])
    let fetches = Mutex(0)
    /// While true the issuer answers 503.
    let down = Mutex(false)

    /// The JWKS, with the keys whose kids `served` lists.
    var jwks: String {
        let kids = served.withLock { $0 }
        var keys: [String] = []
        for kid in kids {
            if kid.hasPrefix("rsa") {
                let p = try! rsa.publicKey.getKeyPrimitives()
                keys.append(#"{"kty":"RSA","kid":"\#(kid)","use":"sig","alg":"RS256","n":"\#(Base64URL.encode(p.modulus))","e":"\#(Base64URL.encode(p.publicExponent))"}"#)
            } else {
                let raw = ec.publicKey.rawRepresentation
                keys.append(#"{"kty":"EC","kid":"\#(kid)","crv":"P-256","x":"\#(Base64URL.encode(raw.prefix(32)))","y":"\#(Base64URL.encode(raw.suffix(32)))"}"#)
            }
        }
        return #"{"keys":[\#(keys.joined(separator: ","))]}"#
    }

    func sign(_ claims: [String: JSONValue], kid: String? = "rsa-1", alg: String = "RS256", key: _RSA.Signing.PrivateKey? = nil,
              header extra: [String: JSONValue] = [:]) -> String {
        var header: [String: JSONValue] = ["alg": .string(alg), "typ": "JWT"]
        if let kid { header["kid"] = .string(kid) }
        header.merge(extra) { $1 }
        let input = Base64URL.encode(Data(JSONValue.object(header).encoded().utf8)) + "." + Base64URL.encode(Data(JSONValue.object(claims).encoded().utf8))
        let signature: Data
        switch alg {
        case "RS256": signature = try! (key ?? rsa).signature(for: SHA256.hash(data: Data(input.utf8)), padding: .insecurePKCS1v1_5).rawRepresentation
        case "ES256": signature = try! ec.signature(for: Data(input.utf8)).rawRepresentation
        case "HS256": signature = Data(HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(jwks.utf8))))
        default: signature = Data()
        }
        return input + "." + Base64URL.encode(signature)
    }

    /// A GitHub-Actions-shaped ID token for `aud`, issued `age` seconds before `now`.
    func token(now: Timestamp, aud: JSONValue = "http://keyport.test/realms/acme", sub: String = "repo:acme/app:ref:refs/heads/main",
               lifetime: Int64 = 300, age: Int64 = 0, extra: [String: JSONValue] = [:], drop: Set<String> = [], kid: String? = "rsa-1",
               alg: String = "RS256", key: _RSA.Signing.PrivateKey? = nil) -> String {
        let iat = now.secondsSince1970 - age
        var claims: [String: JSONValue] = [
            "iss": .string(Self.issuer), "aud": aud, "sub": .string(sub), "iat": .number(Double(iat)), "nbf": .number(Double(iat)),
            "exp": .number(Double(iat + lifetime)), "jti": .string(UUID().uuidString), "repository": "acme/app", "repository_id": 42,
            "ref": "refs/heads/main", "run_id": "9001", "workflow": "release",
        ]
        for (k, v) in extra { claims[k] = v }
        for k in drop { claims[k] = nil }
        return sign(claims, kid: kid, alg: alg, key: key)
    }

    /// Serves the JWKS at `/jwks` on a real port while `body` runs.
    func serve(_ body: @escaping @Sendable (_ jwksUrl: String) async throws -> Void) async throws {
        let router = Router()
        router.get("/jwks") { _, _ -> Response in
            self.fetches.withLock { $0 += 1 }
            if self.down.withLock({ $0 }) { return Response(status: .serviceUnavailable) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: self.jwks)))
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/jwks")
        }
    }
}

/// A realm whose `ci-pusher` client is proven by CI JWTs from the `github` provider.
struct FederatedRealm {
    let r: RegistryRealm
    let issuer: CIIssuer
    let clientUUID: String
    var api: APIHarness { r.api }

    static func make(_ api: APIHarness, issuer: CIIssuer, jwksUrl: String, claims: String = #"{"repository_id":"42","ref":"refs/heads/*"}"#) async throws -> FederatedRealm {
        let r = try await RegistryRealm.make(api)
        let created = try await api.call(.post, "/admin/realms/acme/identity-provider/instances", token: r.admin, json: [
            "alias": "github", "providerId": "oidc", "enabled": true,
            "config": ["issuer": .string(CIIssuer.issuer), "jwksUrl": .string(jwksUrl), "useJwksUrl": "true", "supportsClientAssertions": "true",
                       "clientId": "keyport", "clientSecret": "upstream-secret", "tokenUrl": "https://upstream.example.test/token"],
        ])
        try #require(created.status == .created, "\(created.text)")
        let client = try await api.createClient("acme", [
            "clientId": "ci-pusher", "publicClient": false, "serviceAccountsEnabled": true, "clientAuthenticatorType": "federated-jwt",
            "attributes": ["jwt.credential.issuer": "github", "jwt.credential.sub": "repo:acme/app:ref:refs/heads/main",
                           "keyport.jwt.credential.claims": .string(claims)],
        ], token: r.admin)
        let account = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(client)/service-account-user", token: r.admin)["id"]?.stringValue)
        try await r.role("pusher", grants: ["repository:acme/*:pull,push"])
        let pusher = try await api.role("acme", "pusher", client: r.clientId, token: r.admin)
        _ = try await api.call(.post, "/admin/realms/acme/users/\(account)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [pusher])
        return FederatedRealm(r: r, issuer: issuer, clientUUID: client)
    }

    func exchange(_ assertion: String, clientId: String? = nil, extra: [(String, String)] = []) async throws -> APIResponse {
        var form = [("grant_type", "client_credentials"), ("client_assertion_type", FederatedJWTVerifier.assertionType), ("client_assertion", assertion)]
        if let clientId { form.append(("client_id", clientId)) }
        return try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: form + extra)
    }

    func token(_ jwt: String, scopes: [String] = ["repository:acme/app:pull,push"], offline: Bool = false) async throws -> APIResponse {
        let query = scopes.map { "&scope=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }.joined() + (offline ? "&offline_token=true" : "")
        return try await api.call(.get, "/realms/acme/protocol/docker-v2/auth?service=registry.acme.io\(query)",
                                  headers: [.authorization: "Basic " + Data("ci-pusher:\(jwt)".utf8).base64EncodedString()])
    }
}

@Suite("Federated client authentication: CI jobs' JWTs instead of stored secrets")
struct FederatedClientTests {
    /// Keycloak's `federated-jwt` at the token endpoint: found by issuer and subject, every rule
    /// of Keycloak's validator in its words, each `jti` once.
    @Test func aCIJobsJWTAuthenticatesItsClientAtTheTokenEndpointOnce() async throws {
        let ci = CIIssuer()
        try await ci.serve { jwksUrl in
            try await APIHarness.run { api in
                let f = try await FederatedRealm.make(api, issuer: ci, jwksUrl: jwksUrl)
                let now = api.clock.now
                let jwt = ci.token(now: now)
                let ok = try await f.exchange(jwt)
                #expect(ok.status == .ok, "\(ok.text)")
                let access = try #require(ok["access_token"]?.stringValue)
                let claims = try #require(decodeClaims(access))
                #expect(claims["azp"]?.stringValue == "ci-pusher" && claims["preferred_username"]?.stringValue == "service-account-ci-pusher")
                #expect(ok["refresh_token"] == nil)
                let logins = try await api.call(.get, "/admin/realms/acme/events?type=CLIENT_LOGIN", token: f.r.admin).items
                #expect(logins.first?["details"]?["federated_subject"]?.stringValue == "repo:acme/app:ref:refs/heads/main")
                #expect(logins.first?["details"]?["client_auth_method"]?.stringValue == "federated-jwt")
                #expect(logins.first?["details"]?["federated_claim.workflow"]?.stringValue == "release")
                #expect(logins.first?["details"]?["scope"] != nil)
                // The same assertion again: Keycloak's single use.
                #expect(try await f.exchange(jwt)["error_description"]?.stringValue == "Token reuse detected")
                // Named by client_id (Keyport) or by sub (Keycloak): the same client.
                #expect(try await f.exchange(ci.token(now: now), clientId: "ci-pusher").status == .ok)

                func refused(_ assertion: String, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                    let answer = try await f.exchange(assertion)
                    #expect(answer.status == .unauthorized && answer["error"]?.stringValue == "invalid_client", sourceLocation: sourceLocation)
                    #expect(answer["error_description"]?.stringValue == words, "\(answer.text)", sourceLocation: sourceLocation)
                }
                try await refused(ci.token(now: now, aud: "http://keyport.test/realms/other"), "Invalid token audience")
                try await refused(ci.token(now: now, aud: ["http://keyport.test/realms/acme", "x"]), "Multiple audiences not allowed")
                try await refused(ci.token(now: now, lifetime: 300, age: 301), "Token is not active")
                try await refused(ci.token(now: now, lifetime: 3600, age: 400), "Token was issued too far in the past to be used now")
                try await refused(ci.token(now: now, age: -120, drop: ["nbf"]), "Token was issued in the future")
                try await refused(ci.token(now: now, drop: ["jti"]), "Token jti claim is required")
                try await refused(ci.token(now: now, drop: ["exp"]), "Token exp claim is required")
                try await refused(ci.token(now: now, extra: ["repository_id": 43]), "Token claim 'repository_id' does not meet the client's conditions")
                try await refused(ci.token(now: now, extra: ["ref": "refs/pull/7/merge"]), "Token claim 'ref' does not meet the client's conditions")
                try await refused(ci.token(now: now, key: try _RSA.Signing.PrivateKey(keySize: .bits2048)), "Invalid token signature")
                try await refused(ci.token(now: now, alg: "HS256"), "Invalid signature algorithm")
                try await refused(ci.token(now: now, alg: "none"), "Invalid signature algorithm")
                try await refused(ci.token(now: now, kid: "made-up"), "No key of the identity provider matches the token's kid")
                // Keys named in the token itself (jwk, jku, x5u) are never used: only the provider's.
                let attacker = try _RSA.Signing.PrivateKey(keySize: .bits2048)
                let primitives = try attacker.publicKey.getKeyPrimitives()
                var forged: [String: JSONValue] = ["iss": .string(CIIssuer.issuer), "aud": "http://keyport.test/realms/acme",
                                                   "sub": "repo:acme/app:ref:refs/heads/main", "iat": .number(Double(now.secondsSince1970)),
                                                   "exp": .number(Double(now.secondsSince1970 + 60)), "jti": "forged", "repository_id": 42,
                                                   "ref": "refs/heads/main"]
                let embedded: JSONValue = ["kty": "RSA", "kid": "rsa-1", "n": .string(Base64URL.encode(primitives.modulus)),
                                           "e": .string(Base64URL.encode(primitives.publicExponent))]
                for header in [["jwk": embedded], ["jku": "http://127.0.0.1:9/evil.json"], ["x5u": "http://127.0.0.1:9/evil.pem"]] as [[String: JSONValue]] {
                    forged["jti"] = .string(UUID().uuidString)
                    try await refused(ci.sign(forged, key: attacker, header: header), "Invalid token signature")
                }
                // Another subject (a fork, another branch) finds no client.                // Another subject (a fork, another branch) finds no client.
                #expect(try await f.exchange(ci.token(now: now, sub: "repo:acme/app:ref:refs/heads/evil")).status == .unauthorized)
                // Spent here, it is no password at the registry door either.
                let spent = ci.token(now: now)
                #expect(try await f.exchange(spent).status == .ok)
                let replayed = try await f.token(spent)
                #expect(replayed.status == .unauthorized && replayed.text.contains("single-use client assertion"), "\(replayed.text)")
                // Before the signature is checked, nothing of the configuration is said.
                let otherIssuer = ci.sign(["iss": "https://elsewhere.example", "sub": "repo:acme/app:ref:refs/heads/main", "aud": "http://keyport.test/realms/acme",
                                           "exp": .number(Double(now.secondsSince1970 + 60)), "jti": "x"])
                #expect(try await f.exchange(otherIssuer, clientId: "ci-pusher")["error_description"]?.stringValue == "Invalid client credentials")
                // A provider mints nothing in another realm: the audience names the realm.
                let master = try await api.token()
                _ = try await api.createRealm("other", token: master, extra: ["dockerV2Enabled": true])
                _ = try await api.call(.post, "/admin/realms/other/identity-provider/instances", token: master, json: [
                    "alias": "github", "providerId": "oidc", "config": ["issuer": .string(CIIssuer.issuer), "jwksUrl": .string(jwksUrl),
                                                                       "supportsClientAssertions": "true"]])
                _ = try await api.createClient("other", ["clientId": "ci-pusher", "publicClient": false, "serviceAccountsEnabled": true,
                                                         "clientAuthenticatorType": "federated-jwt",
                                                         "attributes": ["jwt.credential.issuer": "github", "jwt.credential.sub": "repo:acme/app:ref:refs/heads/main"]],
                                               token: master)
                let elsewhere = try await api.call(.post, "/realms/other/protocol/openid-connect/token", form: [
                    ("grant_type", "client_credentials"), ("client_assertion_type", FederatedJWTVerifier.assertionType), ("client_assertion", ci.token(now: now))])
                #expect(elsewhere.status == .unauthorized && elsewhere["error_description"]?.stringValue == "Invalid token audience", "\(elsewhere.text)")
                // The client's secret never works for it, and its representation says what it is.
                let rep = try await api.call(.get, "/admin/realms/acme/clients/\(f.clientUUID)", token: f.r.admin)
                #expect(rep["clientAuthenticatorType"]?.stringValue == "federated-jwt" && rep["attributes"]?["client.authenticator.type"] == nil)
                let secret = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(f.clientUUID)/client-secret", token: f.r.admin)["value"]?.stringValue)
                let bySecret = try await api.call(.post, "/realms/acme/protocol/openid-connect/token", form: [
                    ("grant_type", "client_credentials"), ("client_id", "ci-pusher"), ("client_secret", secret)])
                #expect(bySecret.status == .unauthorized)
                #expect(try await f.r.token("ci-pusher", secret).status == .unauthorized)
                // The provider switched off, or no longer vouching for clients: refused.
                _ = try await api.call(.put, "/admin/realms/acme/identity-provider/instances/github", token: f.r.admin, json: ["enabled": false])
                #expect(try await f.exchange(ci.token(now: now)).status == .unauthorized)
            }
        }
    }

    /// Beyond Keycloak, the registry door: `docker login -u ci-pusher -p $JWT`, the same JWT for
    /// each of a push's token requests until it expires, never an identity token, never a lockout;
    /// the issuer's keys fetched once and again only for an unknown kid, at most every 30 s.
    @Test func dockerLogsInWithTheCIJobsJWTAsThePassword() async throws {
        let ci = CIIssuer()
        try await ci.serve { jwksUrl in
            try await APIHarness.run { api in
                let f = try await FederatedRealm.make(api, issuer: ci, jwksUrl: jwksUrl)
                let jwt = ci.token(now: api.clock.now, lifetime: 3600)
                for _ in 0..<3 {
                    let ok = try await f.token(jwt)
                    #expect(ok.status == .ok, "\(ok.text)")
                    #expect(try f.r.access(ok) == [["repository", "acme/app", "pull", "push"]])
                }
                #expect(ci.fetches.withLock { $0 } == 1)
                // docker login asks for an identity token: none for a JWT (docker keeps the JWT).
                #expect(try await f.token(jwt, offline: true)["refresh_token"] == nil)
                // Accepted until its exp (not Keycloak's 300 s of the token endpoint), then refused.
                api.clock.advance(seconds: 3000)
                #expect(try await f.token(jwt).status == .ok)
                api.clock.advance(seconds: 601)
                let expired = try await f.token(jwt)
                #expect(expired.status == .unauthorized)
                #expect(expired.text.contains("Token is not active"))
                // A token that lives more than a day is not a CI job's.
                #expect(try await f.token(ci.token(now: api.clock.now, lifetime: 90_000)).status == .unauthorized)
                // Without iat (or nbf) its whole life cannot be told: refused at this door.
                #expect(try await f.token(ci.token(now: api.clock.now, drop: ["iat", "nbf"])).status == .unauthorized)
                // A password is not a JWT: said so.
                let password = try await f.token("hunter2")
                #expect(password.status == .unauthorized && password.text.contains("signs in with a JWT"))

                // The issuer rotates: an unknown kid fetches again, at most once per 30 s.
                let before = ci.fetches.withLock { $0 }
                ci.served.withLock { $0 = ["rsa-1", "ec-2"] }
                api.clock.advance(seconds: 31)
                #expect(try await f.token(ci.token(now: api.clock.now, kid: "ec-2", alg: "ES256")).status == .ok)
                #expect(ci.fetches.withLock { $0 } == before + 1)
                for _ in 0..<5 { #expect(try await f.token(ci.token(now: api.clock.now, kid: "junk")).status == .unauthorized) }
                #expect(ci.fetches.withLock { $0 } == before + 1, "junk kids do not make Keyport hammer the issuer")
                api.clock.advance(seconds: 31)
                _ = try await f.token(ci.token(now: api.clock.now, kid: "junk"))
                #expect(ci.fetches.withLock { $0 } == before + 2)

                // Junk never locks the client out.
                _ = try await api.call(.put, "/admin/realms/acme", token: try await api.token(), json: ["bruteForceProtected": true, "failureFactor": 2,
                                                                                            "quickLoginCheckMilliSeconds": 0])
                for _ in 0..<4 { _ = try await f.token(ci.token(now: api.clock.now, extra: ["repository_id": 7])) }
                #expect(try await f.token(ci.token(now: api.clock.now)).status == .ok)

                // The event names the issuer, the subject and the run.
                let admin = try await api.token()  // the clock moved past the first one's lifespan
                let events = try await api.call(.get, "/admin/realms/acme/events?type=LOGIN&client=registry.acme.io", token: admin).items
                let login = try #require(events.first { $0["details"]?["credential_type"]?.stringValue == "federated-jwt" })
                #expect(login["details"]?["federated_issuer"]?.stringValue == CIIssuer.issuer)
                #expect(login["details"]?["federated_subject"]?.stringValue == "repo:acme/app:ref:refs/heads/main")
                #expect(login["details"]?["federated_claim.run_id"]?.stringValue == "9001")
                #expect(login["details"]?["federated_claim.repository_id"]?.stringValue == "42")

                // The service account disabled: refused.
                _ = try await api.call(.put, "/admin/realms/acme/clients/\(f.clientUUID)", token: admin, json: ["enabled": false])
                #expect(try await f.token(ci.token(now: api.clock.now)).status == .unauthorized)
            }
        }
    }

    /// An issuer that cannot be reached is a 503 for its clients, never a 401 that CI would read
    /// as a wrong configuration; the keys it served before keep working while it is down — for an
    /// hour at most, so a key it rotated out is not trusted for as long as it stays unreachable.
    @Test func anUnreachableIssuerIsTemporarilyUnavailable() async throws {
        try await APIHarness.run { api in
            let ci = CIIssuer()
            let f = try await FederatedRealm.make(api, issuer: ci, jwksUrl: "http://127.0.0.1:9/jwks")
            let answer = try await f.token(ci.token(now: api.clock.now))
            #expect(answer.status == .serviceUnavailable, "\(answer.text)")
            let oauth = try await f.exchange(ci.token(now: api.clock.now))
            #expect(oauth.status == .serviceUnavailable && oauth["error"]?.stringValue == "temporarily_unavailable")
        }
        let ci = CIIssuer()
        try await ci.serve { jwksUrl in
            try await APIHarness.run { api in
                let f = try await FederatedRealm.make(api, issuer: ci, jwksUrl: jwksUrl)
                #expect(try await f.token(ci.token(now: api.clock.now)).status == .ok)
                ci.down.withLock { $0 = true }
                api.clock.advance(seconds: 601)
                #expect(try await f.token(ci.token(now: api.clock.now)).status == .ok, "the kept key, while the issuer is down")
                api.clock.advance(seconds: 31)
                #expect(try await f.token(ci.token(now: api.clock.now, kid: "rsa-2")).status == .serviceUnavailable, "a new kid cannot be looked up")
                api.clock.advance(seconds: 3000)
                #expect(try await f.token(ci.token(now: api.clock.now)).status == .serviceUnavailable, "kept keys expire after an hour")
                ci.down.withLock { $0 = false }
                api.clock.advance(seconds: 31)
                #expect(try await f.token(ci.token(now: api.clock.now)).status == .ok)
            }
        }
    }

    /// A realm file's client of an authenticator Keyport lacks imports, authenticates with its
    /// secret, and exports as it came.
    @Test func aClientOfAnotherAuthenticatorTypeImportsAndExportsAsItCame() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let made = try await api.call(.post, "/admin/realms", token: admin, json: [
                "realm": "jwtapp", "enabled": true,
                "clients": [["clientId": "signed", "publicClient": false, "secret": "s3cret", "serviceAccountsEnabled": true,
                             "clientAuthenticatorType": "client-jwt"]]])
            #expect(made.status == .created, "\(made.text)")
            let id = try await api.clientUUID("jwtapp", "signed", token: admin)
            let rep = try await api.call(.get, "/admin/realms/jwtapp/clients/\(id)", token: admin)
            #expect(rep["clientAuthenticatorType"]?.stringValue == "client-secret" && rep["attributes"]?["keycloak.client.authenticator.type"] == nil)
            let export = try await api.call(.post, "/admin/realms/jwtapp/partial-export?exportClients=true", token: admin)
            let exported = export.json?["clients"]?.array.first { $0["clientId"]?.stringValue == "signed" }
            #expect(exported?["clientAuthenticatorType"]?.stringValue == "client-jwt")
            // Through the admin API, an authenticator Keyport lacks is refused.
            #expect(try await api.call(.put, "/admin/realms/jwtapp/clients/\(id)", token: admin, json: ["clientAuthenticatorType": "client-x509"]).status == .badRequest)
        }
    }

    /// Keycloak's identity-provider admin API, and what Keyport adds: the secret never answered
    /// nor sent somewhere new, trust changes only by whom may set clients' credentials, providers
    /// in realm exports and imports.
    @Test func identityProvidersAreManagedAsKeycloakDoesWithTheirSecretKept() async throws {
        let ci = CIIssuer()
        try await ci.serve { jwksUrl in
            try await APIHarness.run { api in
                let f = try await FederatedRealm.make(api, issuer: ci, jwksUrl: jwksUrl)
                let admin = f.r.admin
                let path = "/admin/realms/acme/identity-provider/instances"
                let github = try await api.call(.get, "\(path)/github", token: admin)
                #expect(github["config"]?["clientSecret"]?.stringValue == "**********" && github["providerId"]?.stringValue == "oidc")
                #expect(try await api.call(.get, path, token: admin).values("alias") == ["github"])
                #expect(try await api.call(.get, "/admin/realms/acme/identity-provider/providers/oidc", token: admin)["id"]?.stringValue == "oidc")

                // The masked secret sent back keeps it; with the token URL moved, it must be entered again.
                var rep = try #require(github.json)
                rep["displayName"] = "GitHub Actions"
                #expect(try await api.call(.put, "\(path)/github", token: admin, json: rep).status == .noContent)
                rep["config"]?["tokenUrl"] = "https://attacker.example.test/token"
                let moved = try await api.call(.put, "\(path)/github", token: admin, json: rep)
                #expect(moved.status == .badRequest && moved.text.contains("Enter the client secret again"))
                // Exported with its secret (a backup), imported back.
                let export = try await api.call(.post, "/admin/realms/acme/partial-export?exportClients=true", token: admin)
                #expect(export.text.contains("\"alias\":\"github\"") || export.text.contains("\"alias\" : \"github\""))
                #expect(!export.text.contains("upstream-secret"))

                // Refusals: an unknown type, a duplicate alias, keys over plain http elsewhere.
                #expect(try await api.call(.post, path, token: admin, json: ["alias": "saml", "providerId": "saml"]).status == .badRequest)
                #expect(try await api.call(.post, path, token: admin, json: ["alias": "github", "providerId": "oidc"]).status == .conflict)
                let plain = try await api.call(.post, path, token: admin, json: [
                    "alias": "gl", "providerId": "oidc", "config": ["issuer": "https://gitlab.example.test", "jwksUrl": "http://gitlab.example.test/jwks",
                                                                    "supportsClientAssertions": "true"]])
                #expect(plain.status == .badRequest && plain.text.contains("https"))
                #expect(try await api.call(.post, path, token: admin, json: ["alias": "a/b", "providerId": "oidc"]).status == .badRequest)

                // manage-identity-providers alone may add a provider, not one that vouches for clients.
                let management = try await api.clientUUID("acme", "realm-management", token: admin)
                let holder = try await api.createUser("acme", "idp-admin", password: "pw", token: admin)
                let role = try await api.role("acme", "manage-identity-providers", client: management, token: admin)
                _ = try await api.call(.post, "/admin/realms/acme/users/\(holder)/role-mappings/clients/\(management)", token: admin, json: [role])
                let limited = try await api.token(realm: "acme", username: "idp-admin", password: "pw")
                #expect(try await api.call(.post, path, token: limited, json: ["alias": "google", "providerId": "oidc"]).status == .created)
                let vouching = try await api.call(.post, path, token: limited, json: [
                    "alias": "mine", "providerId": "oidc", "config": ["issuer": "https://mine.example.test", "jwksUrl": "https://mine.example.test/jwks",
                                                                      "supportsClientAssertions": "true"]])
                #expect(vouching.status == .forbidden)
                let swap = try await api.call(.put, "\(path)/github", token: limited, json: ["config": [
                    "issuer": .string(CIIssuer.issuer), "jwksUrl": "https://mine.example.test/jwks", "supportsClientAssertions": "true"]])
                #expect(swap.status == .forbidden, "\(swap.text)")
                #expect(try await api.call(.put, "\(path)/github", token: limited, json: ["displayName": "CI"]).status == .noContent)
                // Read by view-realm too; never by a user without a role.
                #expect(try await api.call(.get, path, token: try await api.token(realm: "acme", username: "idp-admin", password: "pw")).status == .ok)
                #expect(try await api.call(.delete, "\(path)/google", token: limited).status == .noContent)
                #expect(try await api.call(.get, "\(path)/google", token: admin).status == .notFound)

                // A client of another authenticator type is refused; federated-jwt needs its attributes.
                #expect(try await api.call(.post, "/admin/realms/acme/clients", token: admin, json: [
                    "clientId": "jwt", "publicClient": false, "clientAuthenticatorType": "client-jwt"]).status == .badRequest)
                #expect(try await api.call(.post, "/admin/realms/acme/clients", token: admin, json: [
                    "clientId": "fed", "publicClient": false, "clientAuthenticatorType": "federated-jwt"]).status == .badRequest)
                #expect(try await api.call(.put, "/admin/realms/acme/clients/\(f.clientUUID)", token: admin, json: [
                    "attributes": ["jwt.credential.issuer": "github", "jwt.credential.sub": "x", "keyport.jwt.credential.claims": "[1]"]]).status == .badRequest)

                // A partial import writes providers too (manage-identity-providers; vouching ones need
                // manage-clients as well); a type Keyport does not implement is skipped and said.
                let partial: JSONValue = ["ifResourceExists": "SKIP", "identityProviders": [
                    ["alias": "gitlab", "providerId": "oidc", "config": ["issuer": "https://gitlab.example.test",
                                                                        "jwksUrl": "https://gitlab.example.test/oauth/discovery/keys", "supportsClientAssertions": "true"]],
                    ["alias": "google", "providerId": "google", "config": ["clientId": "x"]],
                    ["alias": "github", "providerId": "oidc", "config": ["issuer": "https://evil.example.test"]]]]
                #expect(try await api.call(.post, "/admin/realms/acme/partialImport", token: limited, json: partial).status == .forbidden)
                let answer = try await api.call(.post, "/admin/realms/acme/partialImport", token: admin, json: partial)
                #expect(answer.status == .ok, "\(answer.text)")
                #expect(answer["added"]?.int == 1 && answer["skipped"]?.int == 1, "\(answer.text)")
                #expect(try await api.call(.get, "\(path)/gitlab", token: admin)["config"]?["issuer"]?.stringValue == "https://gitlab.example.test")
                #expect(try await api.call(.get, "\(path)/github", token: admin)["config"]?["issuer"]?.stringValue == CIIssuer.issuer, "skipped, not overwritten")
                #expect(try await api.call(.get, "\(path)/google", token: admin).status == .notFound)
                #expect(try await api.call(.delete, "\(path)/gitlab", token: admin).status == .noContent)

                // A realm file carries providers both ways.
                let full = try await api.call(.get, "/admin/realms/acme/identity-provider/instances/github", token: admin)
                #expect(full.status == .ok)
                let imported = try await api.call(.post, "/admin/realms", token: try await api.token(), json: [
                    "realm": "copy", "enabled": true,
                    "identityProviders": [["alias": "gitlab", "providerId": "oidc", "config": ["issuer": "https://gitlab.example.test",
                                                                                               "jwksUrl": "https://gitlab.example.test/oauth/discovery/keys",
                                                                                               "supportsClientAssertions": "true", "clientSecret": "s3"]]],
                ])
                #expect(imported.status == .created, "\(imported.text)")
                let copied = try await api.call(.get, "/admin/realms/copy/identity-provider/instances/gitlab", token: try await api.token())
                #expect(copied["config"]?["issuer"]?.stringValue == "https://gitlab.example.test" && copied["config"]?["clientSecret"]?.stringValue == "**********")
            }
        }
    }

    /// The claim conditions' patterns: `*` for any run, `\*` for a star, no blow-up on long input.
    @Test func claimConditionsMatchGlobsInLinearTime() throws {
        let conditions = try ClaimConditions(attribute: #"{"ref":["refs/heads/main","refs/tags/v*"],"kubernetes.io/namespace":"ci","n":42,"lit":"a\\*b"}"#)
        func claims(_ ref: String, ns: String = "ci", n: JSONValue = 42, lit: String = "a*b") -> [String: JSONValue] {
            ["ref": .string(ref), "kubernetes.io": ["namespace": .string(ns)], "n": n, "lit": .string(lit)]
        }
        #expect(conditions.unmet(in: claims("refs/heads/main")) == nil)
        #expect(conditions.unmet(in: claims("refs/tags/v1.2.3")) == nil)
        #expect(conditions.unmet(in: claims("refs/heads/mainline")) == "ref")
        #expect(conditions.unmet(in: claims("refs/heads/main", ns: "prod")) == "kubernetes.io/namespace")
        #expect(conditions.unmet(in: claims("refs/heads/main", n: "42")) == nil)
        #expect(conditions.unmet(in: claims("refs/heads/main", lit: "axb")) == "lit")
        #expect(conditions.unmet(in: ["ref": "refs/heads/main"]) != nil)
        #expect(!ClaimConditions.matches(String(repeating: "a", count: 4096), pattern: String(repeating: "*a", count: 200) + "b"))
        // Byte for byte: a decomposed é is another branch name than a precomposed one.
        #expect(!ClaimConditions.matches("refs/heads/cafe\u{301}", pattern: "refs/heads/caf\u{e9}"))
        #expect(ClaimConditions.matches("refs/heads/caf\u{e9}-1", pattern: "refs/heads/caf\u{e9}-*"))
        #expect(!FederatedJWTVerifier.same("cafe\u{301}", "caf\u{e9}") && FederatedJWTVerifier.same("caf\u{e9}", "caf\u{e9}"))
        #expect(throws: ClaimConditions.Invalid.self) { try ClaimConditions(attribute: #"{"ref":{"x":1}}"#) }
        #expect(throws: ClaimConditions.Invalid.self) { try ClaimConditions(attribute: #"{"":"x"}"#) }
    }
}
