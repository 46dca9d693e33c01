import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportProvisioning
import KeyportRealmExchange
import KeyportServer
import KeyportSQLite
import Synchronization
import Testing

/// Another OpenID provider, on a real port: its authorization step is the test (which decides
/// who signed in), its token endpoint checks the code, the redirect URI, the PKCE verifier and
/// the client's secret as a real provider does, and answers an ID token signed by its key.
final class UpstreamProvider: Sendable {
    static let issuer = CIIssuer.issuer
    let keys = CIIssuer()
    struct Grant { var claims: [String: JSONValue]; var challenge: String; var redirect: String }
    let grants = Mutex<[String: Grant]>([:])
    let tokenRequests = Mutex<[[String: String]]>([])
    /// Changes every ID token as it is made (a forgery under test).
    let tamper = Mutex<(@Sendable (inout [String: JSONValue]) -> Void)?>(nil)

    /// Serves `/jwks`, `/token` and `/userinfo` while `body` runs; `base` is `http://127.0.0.1:port`.
    func serve(_ body: @escaping @Sendable (_ base: String) async throws -> Void) async throws {
        let router = Router()
        router.get("/jwks") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: self.keys.jwks)))
        }
        router.get("/.well-known/openid-configuration") { request, _ -> Response in
            let base = "http://\(request.head.authority ?? "")"
            let text = #"{"issuer":"\#(Self.issuer)","authorization_endpoint":"\#(base)/authorize","token_endpoint":"\#(base)/token","jwks_uri":"\#(base)/jwks","response_types_supported":["code"]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.post("/token") { request, context -> Response in
            let text = String(buffer: try await request.body.collect(upTo: 65_536))
            let form = FormParametersForTest(text).fields
            self.tokenRequests.withLock { $0.append(form) }
            func refuse(_ error: String) -> Response {
                Response(status: .badRequest, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"error":"\#(error)"}"#)))
            }
            guard form["client_id"] == "keyport", form["client_secret"] == "upstream-secret" else { return refuse("invalid_client") }
            guard let code = form["code"], let grant = self.grants.withLock({ $0.removeValue(forKey: code) }) else { return refuse("invalid_grant") }
            guard form["redirect_uri"] == grant.redirect, let verifier = form["code_verifier"],
                  Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8)))) == grant.challenge
            else { return refuse("invalid_grant") }
            var claims = grant.claims
            self.tamper.withLock { $0 }?(&claims)
            let token = self.keys.sign(claims)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"id_token":"\#(token)","access_token":"at","token_type":"Bearer"}"#)))
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    /// The provider's side of a sign-in Keyport sent the browser to (`location`): `who` signed in.
    /// Returns the path of Keyport's callback with the code and the state.
    func authorize(_ location: String?, who claims: [String: JSONValue], now: Timestamp, iss: String? = UpstreamProvider.issuer) throws -> String {
        let q = query(location)
        #expect(q["client_id"] == "keyport" && q["response_type"] == "code" && q["code_challenge_method"] == "S256")
        #expect(q["scope"]?.split(separator: " ").contains("openid") == true)
        let redirect = try #require(q["redirect_uri"]), state = try #require(q["state"]), nonce = try #require(q["nonce"])
        var all: [String: JSONValue] = ["iss": .string(Self.issuer), "aud": "keyport", "iat": .number(Double(now.secondsSince1970)),
                                        "exp": .number(Double(now.secondsSince1970 + 300)), "nonce": .string(nonce)]
        all.merge(claims) { $1 }
        let code = UUID().uuidString
        grants.withLock { $0[code] = Grant(claims: all, challenge: q["code_challenge"] ?? "", redirect: redirect) }
        let path = try #require(URLComponents(string: redirect)?.path)
        return path + "?" + urlEncoded([("state", state), ("session_state", "x"), ("code", code)] + (iss.map { [("iss", $0)] } ?? []))
    }
}

@Suite("Sign in through another identity provider: brokering, first sign-in, links and mappers")
struct BrokeringTests {
    /// Realm `acme` with client `web`, a registry client, the `corp` provider (the upstream at
    /// `base`) and its mappers: everyone joins `/staff`; `groups` holding `admins` gives `ops`.
    func setUp(_ api: APIHarness, base: String, mappers: Bool = true) async throws -> RegistryRealm {
        let r = try await RegistryRealm.make(api)
        _ = try await api.createClient("acme", ["clientId": "web", "publicClient": false, "secret": "web-secret",
                                                "redirectUris": ["https://web.acme.test/cb"]], token: r.admin)
        let created = try await api.call(.post, "/admin/realms/acme/identity-provider/instances", token: r.admin, json: [
            "alias": "corp", "providerId": "oidc", "displayName": "Corp SSO", "enabled": true, "trustEmail": true,
            "config": ["issuer": .string(UpstreamProvider.issuer), "authorizationUrl": .string("\(base)/authorize"), "tokenUrl": .string("\(base)/token"),
                       "jwksUrl": .string("\(base)/jwks"), "useJwksUrl": "true", "clientId": "keyport", "clientSecret": "upstream-secret",
                       "syncMode": "FORCE"],
        ])
        try #require(created.status == .created, "\(created.text)")
        guard mappers else { return r }
        let staff = try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "staff"])
        try #require(staff.status == .created)
        for (name, type, config) in [
            ("staff", "oidc-hardcoded-group-idp-mapper", ["group": "/staff"]),
            ("ops", "oidc-role-idp-mapper", ["claim": "groups", "claim.value": "admins", "role": "registry.acme.io.team-a-dev"]),
            ("team", "oidc-user-attribute-idp-mapper", ["claim": "team", "user.attribute": "team"]),
        ] as [(String, String, [String: String])] {
            let made = try await api.call(.post, "/admin/realms/acme/identity-provider/instances/corp/mappers", token: r.admin, json: [
                "name": .string(name), "identityProviderAlias": "corp", "identityProviderMapper": .string(type),
                "config": .object(config.mapValues { .string($0) }),
            ])
            try #require(made.status == .created, "\(name): \(made.text)")
        }
        return r
    }

    let authorize = "/realms/acme/protocol/openid-connect/auth?" + urlEncoded([
        ("client_id", "web"), ("redirect_uri", "https://web.acme.test/cb"), ("response_type", "code"), ("scope", "openid"), ("state", "st-1"),
    ])

    /// From the login page's "Corp SSO" link to the provider; returns where the browser is sent.
    func startAtProvider(_ browser: TestBrowser) async throws -> String? {
        let page = try await browser.send(.get, authorize)
        let html = page.text
        let link = try #require(html.range(of: #"id="social-corp" href=""#).map { html[$0.upperBound...].prefix { $0 != "\"" } })
        #expect(html.contains("Corp SSO"))
        let path = try #require(URLComponents(string: String(link).replacingOccurrences(of: "&amp;", with: "&")))
        let started = try await browser.send(.get, path.percentEncodedPath + "?" + (path.percentEncodedQuery ?? ""))
        #expect(started.status == .found)
        return started.location
    }

    @Test func aPersonSignsInThroughTheProviderAndIsCreatedWithMappedGroupsAndRoles() async throws {
        let up = UpstreamProvider()
        try await up.serve { base in
            try await APIHarness.run { api in
                let r = try await setUp(api, base: base)
                let browser = TestBrowser(api)
                let location = try await startAtProvider(browser)
                #expect(location?.hasPrefix("\(base)/authorize?") == true)
                let person: [String: JSONValue] = ["sub": "u-1001", "preferred_username": "Carol", "email": "carol@corp.test",
                                                   "given_name": "Carol", "groups": ["dev", "admins"], "team": "blue"]
                let back = try await browser.send(.get, try up.authorize(location, who: person, now: api.clock.now))
                #expect(back.status == .found, "\(back.text)")
                let answer = query(back.location)
                #expect(back.location?.hasPrefix("https://web.acme.test/cb") == true && answer["state"] == "st-1" && answer["code"] != nil)
                // The upstream was asked with PKCE, the secret, and Keyport's own callback.
                let asked = try #require(up.tokenRequests.withLock { $0.last })
                #expect(asked["redirect_uri"] == "http://keyport.test/realms/acme/broker/corp/endpoint" && asked["code_verifier"] != nil)

                let users = try await api.call(.get, "/admin/realms/acme/users?username=carol&exact=true", token: r.admin).items
                let carol = try #require(users.first)
                let id = try #require(carol["id"]?.stringValue)
                #expect(carol["email"]?.stringValue == "carol@corp.test" && carol["emailVerified"]?.boolValue == true)
                #expect(carol["attributes"]?["team"]?.array.first?.stringValue == "blue")
                let groups = try await api.call(.get, "/admin/realms/acme/users/\(id)/groups", token: r.admin).values("path")
                #expect(groups == ["/staff"])
                let roles = try await api.call(.get, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(r.clientId)", token: r.admin).values("name")
                #expect(roles == ["team-a-dev"])
                let links = try await api.call(.get, "/admin/realms/acme/users/\(id)/federated-identity", token: r.admin).items
                #expect(links.count == 1 && links.first?["identityProvider"]?.stringValue == "corp" && links.first?["userId"]?.stringValue == "u-1001")
                let events = try await api.call(.get, "/admin/realms/acme/events?type=REGISTER", token: r.admin).items
                #expect(events.first?["details"]?["identity_provider"]?.stringValue == "corp")

                // The next sign-in (FORCE): no longer in `admins`, the role it gave is taken back.
                let again = TestBrowser(api)
                let second = try await again.send(.get, try up.authorize(try await startAtProvider(again),
                                                                          who: ["sub": "u-1001", "preferred_username": "carol", "groups": ["dev"]],
                                                                          now: api.clock.now))
                #expect(second.status == .found && query(second.location)["code"] != nil)
                #expect(try await api.call(.get, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(r.clientId)", token: r.admin).items.isEmpty)
                #expect(try await api.call(.get, "/admin/realms/acme/users?username=carol", token: r.admin).items.count == 1)
                // kc_idp_hint goes straight to the provider.
                let hinted = try await TestBrowser(api).send(.get, authorize + "&kc_idp_hint=corp")
                #expect(hinted.status == .found && hinted.location?.hasPrefix("\(base)/authorize?") == true)
            }
        }
    }

    @Test func aCallbackIsAcceptedOnlyInTheBrowserThatStartedItWithItsStateIssuerNonceAndKey() async throws {
        let up = UpstreamProvider()
        try await up.serve { base in
            try await APIHarness.run { api in
                let r = try await setUp(api, base: base)
                let person: [String: JSONValue] = ["sub": "u-1", "preferred_username": "mallory"]
                func noUser() async throws -> Bool {
                    try await api.call(.get, "/admin/realms/acme/users?username=mallory", token: r.admin).items.isEmpty
                }
                // Another browser (a link sent to a victim): no cookie, refused.
                let attacker = TestBrowser(api)
                let callback = try up.authorize(try await startAtProvider(attacker), who: person, now: api.clock.now)
                let victim = TestBrowser(api)
                let forced = try await victim.send(.get, callback)
                #expect(forced.status == .badRequest && forced.text.contains("timed out") && forced.location == nil)
                #expect(try await noUser())
                // The right browser with another state.
                let tampered = callback.replacingOccurrences(of: "state=", with: "state=x")
                #expect(try await attacker.send(.get, tampered).status == .badRequest)
                // An answer naming another issuer (RFC 9207 mix-up).
                let b1 = TestBrowser(api)
                let mixed = try await b1.send(.get, try up.authorize(try await startAtProvider(b1), who: person, now: api.clock.now, iss: "https://evil.test"))
                #expect(mixed.status == .ok && mixed.text.contains("Sign in with Corp SSO failed"))
                // An ID token with another nonce, another audience, or signed by another key.
                for change in [
                    { (c: inout [String: JSONValue]) in c["nonce"] = "replayed" },
                    { (c: inout [String: JSONValue]) in c["aud"] = "someone-else" },
                    { (c: inout [String: JSONValue]) in c["exp"] = .number(1) },
                ] as [@Sendable (inout [String: JSONValue]) -> Void] {
                    up.tamper.withLock { $0 = change }
                    let b = TestBrowser(api)
                    let page = try await b.send(.get, try up.authorize(try await startAtProvider(b), who: person, now: api.clock.now))
                    #expect(page.status == .ok && page.text.contains("Unexpected error when authenticating with identity provider"), "\(page.text)")
                }
                up.tamper.withLock { $0 = nil }
                #expect(try await noUser())
                let errors = try await api.call(.get, "/admin/realms/acme/events?type=IDENTITY_PROVIDER_LOGIN_ERROR", token: r.admin).items
                #expect(errors.count == 4)
                #expect(errors.contains { $0["details"]?["reason"]?.stringValue?.contains("nonce") == true })
                #expect(errors.contains { $0["details"]?["reason"]?.stringValue?.contains("mix-up") == true })
                // A code spent once is not spent twice (the provider refuses; nobody is created).
                let b2 = TestBrowser(api)
                let once = try up.authorize(try await startAtProvider(b2), who: person, now: api.clock.now)
                let kept = b2.cookies
                #expect(try await b2.send(.get, once).status == .found)
                #expect(try await b2.send(.get, once).status == .badRequest)
                // Even with the pending sign-in's cookie kept, its answer is taken once: no second call upstream.
                let calls = up.tokenRequests.withLock { $0.count }
                b2.cookies = kept
                let again = try await b2.send(.get, once)
                #expect(again.status == .ok && again.text.contains("timed out"))
                #expect(up.tokenRequests.withLock { $0.count } == calls)
            }
        }
    }

    @Test func anExistingAccountIsLinkedOnlyWithItsPasswordAndReservedNamesAreRefused() async throws {
        let up = UpstreamProvider()
        try await up.serve { base in
            try await APIHarness.run { api in
                let r = try await setUp(api, base: base)
                let dave = try await r.user("dave", password: "dave-pw-1")
                // The provider says "dave" (or dave's email): never merged by name.
                let browser = TestBrowser(api)
                let page = try await browser.send(.get, try up.authorize(try await startAtProvider(browser),
                                                                         who: ["sub": "u-77", "preferred_username": "dave", "groups": ["admins"]],
                                                                         now: api.clock.now))
                #expect(page.status == .ok && page.text.contains("Account already exists"))
                #expect(try await api.call(.get, "/admin/realms/acme/users/\(dave)/federated-identity", token: r.admin).items.isEmpty)
                let wrong = try await browser.submit(page, [("username", "dave"), ("password", "guess")])
                #expect(wrong.status == .ok && wrong.text.contains("Invalid username or password."))
                // Another account's password does not link dave's.
                _ = try await r.user("erin", password: "erin-pw-1")
                let other = try await browser.submit(wrong, [("username", "erin"), ("password", "erin-pw-1")])
                #expect(other.status == .ok && other.text.contains("Invalid username or password."))
                let linked = try await browser.submit(other, [("username", "dave"), ("password", "dave-pw-1")])
                #expect(linked.status == .found && query(linked.location)["code"] != nil, "\(linked.text)")
                #expect(try await api.call(.get, "/admin/realms/acme/users/\(dave)/federated-identity", token: r.admin).values("userId") == ["u-77"])
                // The link, not the name, finds dave next time, whatever the provider calls him.
                let next = TestBrowser(api)
                let again = try await next.send(.get, try up.authorize(try await startAtProvider(next),
                                                                        who: ["sub": "u-77", "preferred_username": "renamed"], now: api.clock.now))
                #expect(again.status == .found)
                #expect(try await api.call(.get, "/admin/realms/acme/users?username=renamed", token: r.admin).items.isEmpty)

                // A service account's name is not a person's.
                let b = TestBrowser(api)
                let reserved = try await b.send(.get, try up.authorize(try await startAtProvider(b),
                                                                        who: ["sub": "u-9", "preferred_username": "service-account-registry"], now: api.clock.now))
                #expect(reserved.status == .ok && reserved.text.contains("cannot be used here"))
                // What the provider says is checked as the admin API checks it: a bad email is left out.
                let b4 = TestBrowser(api)
                let henry = try await b4.send(.get, try up.authorize(try await startAtProvider(b4),
                                                                      who: ["sub": "u-5", "preferred_username": "henry", "email": "<b>not an email",
                                                                            "team": .string(String(repeating: "x", count: 5_000))], now: api.clock.now))
                #expect(henry.status == .found)
                let made = try #require(try await api.call(.get, "/admin/realms/acme/users?username=henry&exact=true", token: r.admin).items.first)
                #expect(made["email"] == nil && made["attributes"]?["team"] == nil)
                // A subject longer than Keycloak's column is refused, not cut (two would collide).
                let b5 = TestBrowser(api)
                let long = try await b5.send(.get, try up.authorize(try await startAtProvider(b5),
                                                                     who: ["sub": .string(String(repeating: "s", count: 300)), "preferred_username": "ivan"], now: api.clock.now))
                #expect(long.status == .ok && long.text.contains("Unexpected error"))
                // A disabled linked user is not signed in.
                _ = try await api.call(.put, "/admin/realms/acme/users/\(dave)", token: r.admin, json: ["enabled": false])
                let b3 = TestBrowser(api)
                let disabled = try await b3.send(.get, try up.authorize(try await startAtProvider(b3), who: ["sub": "u-77"], now: api.clock.now))
                #expect(disabled.status == .ok && disabled.text.contains("Account is disabled"))
            }
        }
    }

    @Test func mappersAndLinksFollowTheGrantRule() async throws {
        let up = UpstreamProvider()
        try await up.serve { base in
            try await APIHarness.run { api in
                let r = try await setUp(api, base: base, mappers: false)
                // An admin with manage-identity-providers and manage-users only.
                let helper = try await api.createUser("acme", "idp-admin", password: "idp-pw-1", token: r.admin, extra: ["enabled": true])
                let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
                var reps: [JSONValue] = []
                for name in ["manage-identity-providers", "view-identity-providers", "manage-users", "view-users"] {
                    reps.append(try await api.role("acme", name, client: management, token: r.admin))
                }
                _ = try await api.call(.post, "/admin/realms/acme/users/\(helper)/role-mappings/clients/\(management)", token: r.admin, json: .array(reps))
                let token = try #require(try await api.login(realm: "acme", username: "idp-admin", password: "idp-pw-1")["access_token"]?.stringValue)
                func mapper(_ config: [String: JSONValue], type: String = "oidc-hardcoded-role-idp-mapper") async throws -> APIResponse {
                    try await api.call(.post, "/admin/realms/acme/identity-provider/instances/corp/mappers", token: token, json: [
                        "name": .string(UUID().uuidString), "identityProviderMapper": .string(type), "config": .object(config),
                    ])
                }
                // realm-admin through a mapper: refused; an ordinary role: made.
                #expect(try await mapper(["role": "realm-management.realm-admin"]).status == .forbidden)
                #expect(try await mapper(["role": "registry.acme.io.reader"]).status == .created)
                #expect(try await mapper(["role": "no-such-role"]).status == .badRequest)
                #expect(try await mapper(["role": "x"], type: "oidc-script-mapper").status == .badRequest)
                #expect(try await mapper(["group": "/staff", "claims": "not json"], type: "oidc-advanced-group-idp-mapper").status == .badRequest)
                // Keycloak's import-config reads the provider's discovery document for the administrator.
                let imported = try await api.call(.post, "/admin/realms/acme/identity-provider/import-config", token: token,
                                                  json: ["providerId": "oidc", "fromUrl": .string("\(base)/.well-known/openid-configuration")])
                #expect(imported["tokenUrl"]?.stringValue == "\(base)/token" && imported["issuer"]?.stringValue == UpstreamProvider.issuer)
                #expect(imported["jwksUrl"]?.stringValue == "\(base)/jwks" && imported["useJwksUrl"]?.stringValue == "true")
                #expect(try await api.call(.post, "/admin/realms/acme/identity-provider/import-config", token: token,
                                           json: ["fromUrl": .string("\(base)/jwks")]).status == .badRequest)
                #expect(try await api.call(.post, "/admin/realms/acme/identity-provider/import-config", token: token,
                                           json: ["fromUrl": "file:///etc/passwd"]).status == .badRequest)
                let types = try await api.call(.get, "/admin/realms/acme/identity-provider/instances/corp/mapper-types", token: token)
                #expect(types["oidc-role-idp-mapper"]?["name"]?.stringValue == "Claim to Role")

                // Linking an upstream account to the realm's admin would be signing in as them.
                let boss = try await api.createUser("acme", "boss", password: "boss-pw-1", token: r.admin, extra: ["enabled": true])
                let realmAdmin = try await api.role("acme", "realm-admin", client: management, token: r.admin)
                _ = try await api.call(.post, "/admin/realms/acme/users/\(boss)/role-mappings/clients/\(management)", token: r.admin, json: [realmAdmin])
                let link = try await api.call(.post, "/admin/realms/acme/users/\(boss)/federated-identity/corp", token: token,
                                              json: ["identityProvider": "corp", "userId": "attacker-sub", "userName": "attacker"])
                #expect(link.status == .forbidden)
                // By the realm's admin: linked; the same upstream account twice: 409.
                #expect(try await api.call(.post, "/admin/realms/acme/users/\(boss)/federated-identity/corp", token: r.admin,
                                           json: ["userId": "boss-sub", "userName": "boss"]).status == .noContent)
                let frank = try await r.user("frank")
                #expect(try await api.call(.post, "/admin/realms/acme/users/\(frank)/federated-identity/corp", token: r.admin,
                                           json: ["userId": "boss-sub"]).status == .conflict)
                // Keycloak's user creation with its links; an upstream account taken: nothing written.
                let gina = try await api.call(.post, "/admin/realms/acme/users", token: r.admin, json: [
                    "username": "gina", "enabled": true, "federatedIdentities": [["identityProvider": "corp", "userId": "gina-sub", "userName": "gina"]],
                ])
                #expect(gina.status == .created, "\(gina.text)")
                #expect(try await api.call(.get, "/admin/realms/acme/users/\(gina.createdID ?? "")/federated-identity", token: r.admin).values("userId") == ["gina-sub"])
                let twice = try await api.call(.post, "/admin/realms/acme/users", token: r.admin, json: [
                    "username": "gina2", "enabled": true, "federatedIdentities": [["identityProvider": "corp", "userId": "gina-sub"]],
                ])
                #expect(twice.status == .conflict)
                #expect(try await api.call(.get, "/admin/realms/acme/users?username=gina2", token: r.admin).items.isEmpty)
                // Moving the provider's trust would sign anyone in as boss: not for idp-admin.
                let moved = try await api.call(.put, "/admin/realms/acme/identity-provider/instances/corp", token: token, json: [
                    "alias": "corp", "providerId": "oidc",
                    "config": ["issuer": "https://evil.test", "authorizationUrl": .string("\(base)/authorize"), "tokenUrl": .string("\(base)/token"),
                               "jwksUrl": "https://evil.test/jwks", "clientId": "keyport", "clientSecret": "new-secret"],
                ])
                #expect(moved.status == .forbidden, "\(moved.text)")
                // Once a mapper gives realm-admin, a link decides who gets it: idp-admin (manage-users)
                // may not link even its own account, nor create a linked user.
                let admins = try await api.call(.post, "/admin/realms/acme/identity-provider/instances/corp/mappers", token: r.admin, json: [
                    "name": "admins", "identityProviderMapper": "oidc-role-idp-mapper",
                    "config": ["claim": "groups", "claim.value": "keyport-admins", "role": "realm-management.realm-admin"],
                ])
                #expect(admins.status == .created, "\(admins.text)")
                #expect(try await api.call(.post, "/admin/realms/acme/users/\(helper)/federated-identity/corp", token: token,
                                           json: ["userId": "colleague-sub"]).status == .forbidden)
                #expect(try await api.call(.post, "/admin/realms/acme/users", token: token, json: [
                    "username": "sleeper", "enabled": true, "federatedIdentities": [["identityProvider": "corp", "userId": "colleague-sub"]],
                ]).status == .forbidden)
                #expect(try await api.call(.get, "/admin/realms/acme/users?username=sleeper", token: r.admin).items.isEmpty)
                // Unlinked by the realm's admin: boss signs in through corp no more.
                #expect(try await api.call(.delete, "/admin/realms/acme/users/\(boss)/federated-identity/corp", token: r.admin).status == .noContent)
                #expect(try await api.call(.delete, "/admin/realms/acme/users/\(boss)/federated-identity/corp", token: r.admin).status == .notFound)
            }
        }
    }

    @Test func aMapperGivesWhatItWasSavedWithNotWhateverTakesItsNameLater() async throws {
        let up = UpstreamProvider()
        try await up.serve { base in
            try await APIHarness.run { api in
                let r = try await setUp(api, base: base)
                let staff = try #require(try await api.call(.get, "/admin/realms/acme/group-by-path/staff", token: r.admin)["id"]?.stringValue)
                // /staff renamed; a new group takes its old name (holding the registry role).
                #expect(try await api.call(.put, "/admin/realms/acme/groups/\(staff)", token: r.admin, json: ["name": "former-staff"]).status == .noContent)
                let lookalike = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "staff"]).createdID)
                // The mapper is shown with the current name of what it gives…
                let shown = try await api.call(.get, "/admin/realms/acme/identity-provider/instances/corp/mappers", token: r.admin).items
                #expect(shown.first { $0["name"]?.stringValue == "staff" }?["config"]?["group"]?.stringValue == "/former-staff")
                // …and a sign-in joins that group, not the look-alike.
                let b = TestBrowser(api)
                #expect(try await b.send(.get, try up.authorize(try await startAtProvider(b), who: ["sub": "u-8", "preferred_username": "lena"], now: api.clock.now)).status == .found)
                let lena = try #require(try await api.call(.get, "/admin/realms/acme/users?username=lena&exact=true", token: r.admin).items.first?["id"]?.stringValue)
                let groups = try await api.call(.get, "/admin/realms/acme/users/\(lena)/groups", token: r.admin).values("id")
                #expect(groups == [staff] && !groups.contains(lookalike))
                // A group deleted: the mapper gives nothing (the sign-in goes on).
                #expect(try await api.call(.delete, "/admin/realms/acme/groups/\(staff)", token: r.admin).status == .noContent)
                let b2 = TestBrowser(api)
                #expect(try await b2.send(.get, try up.authorize(try await startAtProvider(b2), who: ["sub": "u-9", "preferred_username": "mia"], now: api.clock.now)).status == .found)
                let mia = try #require(try await api.call(.get, "/admin/realms/acme/users?username=mia&exact=true", token: r.admin).items.first?["id"]?.stringValue)
                #expect(try await api.call(.get, "/admin/realms/acme/users/\(mia)/groups", token: r.admin).items.isEmpty)
            }
        }
    }

    @Test func aRealmFileCarriesTheMappersAndTheLinksAndImportsThemBack() async throws {
        try await APIHarness.run { api in
            let r = try await setUp(api, base: "https://corp.example.test")
            let dave = try await r.user("dave")
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(dave)/federated-identity/corp", token: r.admin,
                                       json: ["userId": "u-77", "userName": "dave.d"]).status == .noContent)
            // A partial import brings users with their links (to a provider the realm has).
            let partial = try await api.call(.post, "/admin/realms/acme/partialImport", token: r.admin, json: [
                "ifResourceExists": "FAIL",
                "users": [["username": "kim", "enabled": true, "federatedIdentities": [["identityProvider": "corp", "userId": "kim-sub", "userName": "kim"],
                                                                                        ["identityProvider": "nowhere", "userId": "x"]]]],
            ])
            #expect(partial.status == .ok, "\(partial.text)")
            let kim = try #require(try await api.call(.get, "/admin/realms/acme/users?username=kim&exact=true", token: r.admin).items.first?["id"]?.stringValue)
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(kim)/federated-identity", token: r.admin).values("userId") == ["kim-sub"])
            let first = try await RealmExporter(store: api.server.services.store).exportData(realmNamed: "acme")
            let text = String(decoding: first, as: UTF8.self)
            #expect(text.contains(#""identityProviderMappers""#) && text.contains(#""oidc-role-idp-mapper""#) && text.contains(#""userName" : "dave.d""#))
            let store = try SQLiteStore.open(path: temporaryDirectory().appendingPathComponent("copy.db").path, now: { 0 })
            let importer = KeyportServer.realmImporter(store: store, provisioner: RealmProvisioner(environment: testEnvironment()))
            let prepared = try await importer.prepare(first)
            _ = try await importer.write(prepared.seed, override: false)
            let realm = try #require(try await store.realm(named: "acme"))
            let corp = try #require(try await store.identityProvider(alias: "corp", realmId: realm.id))
            #expect(try await store.linkedUser(providerId: corp.id, upstreamUserId: "u-77", realmId: realm.id)?.username == "dave")
            #expect(try await store.identityProviderMappers(providerId: corp.id, realmId: realm.id).map(\.name) == ["ops", "staff", "team"])
            let second = try await RealmExporter(store: store).exportData(realmNamed: "acme")
            #expect(String(decoding: second, as: UTF8.self) == text)
        }
    }
}
