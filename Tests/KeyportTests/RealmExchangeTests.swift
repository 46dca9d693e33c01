import Foundation
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportRealmExchange
import KeyportSQLite
import KeyportServer
import Testing

@Suite("Realm import and export (Keycloak's format)")
struct RealmExchangeTests {
    /// A realm with a bit of everything, made through the admin API.
    static func populate(_ api: APIHarness) async throws {
        let admin = try await api.token()
        try await api.createRealm("acme", token: admin, extra: ["dockerV2Enabled": true, "accessTokenLifespan": 600, "attributes": ["k": "v"]])
        let registry = try await api.createClient("acme", ["clientId": "registry.acme.io", "protocol": "docker-v2"], token: admin)
        _ = try await api.createClient("acme", ["clientId": "ci-bot", "serviceAccountsEnabled": true, "redirectUris": ["https://x/*"]], token: admin)
        _ = try await api.call(.post, "/admin/realms/acme/clients/\(registry)/roles", token: admin,
                               json: ["name": "team-a-push", "attributes": ["docker.grant": ["repository:team-a/*:pull,push"]]])
        _ = try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "developer", "description": "devs"])
        let push = try await api.role("acme", "team-a-push", client: registry, token: admin)
        _ = try await api.call(.post, "/admin/realms/acme/roles/developer/composites", token: admin, json: [push])
        let eng = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "eng", "attributes": ["floor": ["3"]]]).createdID)
        let backend = try #require(try await api.call(.post, "/admin/realms/acme/groups/\(eng)/children", token: admin, json: ["name": "backend"]).createdID)
        _ = try await api.call(.post, "/admin/realms/acme/groups/\(eng)/role-mappings/realm", token: admin, json: [try await api.role("acme", "developer", token: admin)])
        let alice = try await api.createUser("acme", "alice", password: "Alice-pw-1", token: admin,
                                             extra: ["email": "alice@acme.io", "firstName": "Alice", "attributes": ["team": ["a"]], "groups": ["/eng/backend"]])
        _ = try await api.call(.post, "/admin/realms/acme/users/\(alice)/role-mappings/clients/\(registry)", token: admin, json: [push])
        _ = try await api.createUser("acme", "bob", token: admin, extra: ["requiredActions": ["UPDATE_PASSWORD"]])
        _ = backend
    }

    @Test func exportImportExportGivesTheSameDocument() async throws {
        try await APIHarness.run { api in
            try await Self.populate(api)
            let first = try await RealmExporter(store: api.server.services.store).exportData(realmNamed: "acme")

            let store = try SQLiteStore.open(path: temporaryDirectory().appendingPathComponent("empty.db").path, now: { 0 })
            let importer = KeyportServer.realmImporter(store: store, provisioner: RealmProvisioner(environment: testEnvironment()))
            let prepared = try await importer.prepare(first)
            let (seed, skipped) = (prepared.seed, prepared.skipped)
            #expect(skipped.isEmpty)
            #expect(try await importer.write(seed, override: false) == .imported(realm: "acme", users: 3, clients: 8, roles: seed.roles.count, groups: 2))
            let second = try await RealmExporter(store: store).exportData(realmNamed: "acme")
            #expect(String(decoding: second, as: UTF8.self) == String(decoding: first, as: UTF8.self))

            let text = String(decoding: first, as: UTF8.self)
            #expect(text.contains(#""algorithm\":\"argon2\""#))
            #expect(text.contains(#""serviceAccountClientId" : "ci-bot""#))
            // Importing again leaves the realm alone unless told to replace it.
            #expect(try await importer.write(seed, override: false) == .skippedExisting(realm: "acme"))
            #expect(try await importer.write(seed, override: true) == .imported(realm: "acme", users: 3, clients: 8, roles: seed.roles.count, groups: 2))
        }
    }

    @Test func importedUsersKeepTheirPasswordsAndTheirAccess() async throws {
        try await APIHarness.run { api in
            try await Self.populate(api)
            let exported = try await RealmExporter(store: api.server.services.store).exportData(realmNamed: "acme")
            let admin = try await api.token()
            _ = try await api.call(.delete, "/admin/realms/acme", token: admin)
            let importer = KeyportServer.realmImporter(store: api.server.services.store, provisioner: api.server.services.provisioner)
            _ = try await importer.write(try await importer.prepare(exported).seed, override: false)
            let response = try await api.call(.get, "/realms/acme/protocol/docker-v2/auth?service=registry.acme.io&scope=repository%3Ateam-a%2Fapp%3Apull%2Cpush",
                                              headers: [.authorization: "Basic " + Data("alice:Alice-pw-1".utf8).base64EncodedString()])
            #expect(response.status == .ok)
            let token = try #require(response["token"]?.stringValue)
            let claims = try #require(decodeClaims(token))
            #expect(claims["access"]?.array.first?["actions"]?.strings == ["pull", "push"])
        }
    }

    /// A Keycloak-made file: each of Keycloak's four hash algorithms, an allow-all docker client,
    /// and fields Keyport does not model.
    static func keycloakFile() -> Data {
        let users = KeycloakHashTests.exported.enumerated().map { index, entry in
            """
            {"username":"user\(index)","enabled":true,"totp":false,"credentials":[{"type":"password","createdDate":1700000000000,
             "secretData":\(String(reflecting: entry.secretData)),"credentialData":\(String(reflecting: entry.credentialData))}],
             "clientRoles":{"registry.kc":["pushers"]}}
            """
        }.joined(separator: ",")
        return Data("""
        {"realm":"kc","enabled":true,"dockerV2Enabled":true,"smtpServer":{},"otpPolicyType":"totp",
         "roles":{"realm":[],"client":{"registry.kc":[{"name":"pushers","attributes":{"docker.grant":["repository:kc/*:pull,push"]}}]}},
         "clients":[{"clientId":"registry.kc","protocol":"docker-v2","fullScopeAllowed":true},
                    {"clientId":"open.kc","protocol":"docker-v2","protocolMappers":[{"name":"allow all","protocol":"docker-v2","protocolMapper":"docker-v2-allow-all-mapper","config":{}}]}],
         "users":[\(users)]}
        """.utf8)
    }

    @Test func aKeycloakFileImportsWithWarningsAndEveryHashLogsIn() async throws {
        try await APIHarness.run { api in
            let importer = KeyportServer.realmImporter(store: api.server.services.store, provisioner: api.server.services.provisioner)
            let prepared = try await importer.prepare(Self.keycloakFile())
            let (seed, skipped) = (prepared.seed, prepared.skipped)
            // fullScopeAllowed is modeled now; otpPolicyType is kept as given (a Keycloak setting Keyport does not use).
            #expect(skipped == ["smtpServer", "users[].totp"])
            #expect(seed.realm.keycloakSettings["otpPolicyType"] == "\"totp\"")
            _ = try await importer.write(seed, override: false)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "kc"))
            #expect(try await store.client(clientId: "open.kc", realmId: realm.id)?.attributes["docker.authorization"] == "allow-all")
            #expect(try await store.client(clientId: "admin-cli", realmId: realm.id) != nil)
            for index in KeycloakHashTests.exported.indices {
                let basic = "Basic " + Data("user\(index):Secret-pw-1".utf8).base64EncodedString()
                let response = try await api.call(.get, "/realms/kc/protocol/docker-v2/auth?service=registry.kc&scope=repository%3Akc%2Fapp%3Apush",
                                                  headers: [.authorization: basic])
                #expect(response.status == .ok, "\(KeycloakHashTests.exported[index].algorithm)")
                let user = try #require(try await store.user(username: "user\(index)", realmId: realm.id))
                #expect(try await store.credentials(userId: user.id).first?.secret.revealed.hasPrefix("$argon2id$v=19$m=7168,t=5,p=1$") == true)
            }
        }
    }

    /// A realm file written for Keycloak by another project (the shape projects publish: roles
    /// and groups named with spaces, users relying on Keycloak's built-in `account` roles, a
    /// service account, an authorization-services client, a registry client with Keycloak's
    /// allow-all mapper) imports, and its users and service account log in.
    @Test func aRealmFileWrittenForKeycloakImportsAndItsUsersLogIn() async throws {
        try await APIHarness.run { api in
            let importer = KeyportServer.realmImporter(store: api.server.services.store, provisioner: api.server.services.provisioner)
            let file = try Data(contentsOf: Paths.vectors.appendingPathComponent("keycloak-partial-realm.json"))
            let prepared = try await importer.prepare(file)
            // Authorization settings are kept (and exported), not skipped; sslRequired is a kept setting.
            #expect(!prepared.skipped.contains("clients[].authorizationSettings") && !prepared.skipped.contains("sslRequired"))
            #expect(prepared.seed.realm.keycloakContent["authorizationSettings"] != nil)
            #expect(prepared.seed.realm.keycloakSettings["sslRequired"] != nil)
            #expect(prepared.notices.contains { $0.contains("docker-v2 turned on") })
            #expect(prepared.notices.contains { $0.contains("docker-v2-allow-all-mapper becomes docker.authorization=allow-all") })
            _ = try await importer.write(prepared.seed, override: false)
            let admin = try await api.token()

            // A user with a Keycloak PBKDF2 hash logs in; its account roles resolved.
            let login = try await api.login(realm: "kafka-authz", username: "alice", password: "Secret-pw-1")
            #expect(login.status == .ok)
            let accessToken = try #require(login["access_token"]?.stringValue)
            let claims = try #require(decodeClaims(accessToken))
            #expect(Set(claims["resource_access"]?["account"]?["roles"]?.array.compactMap(\.stringValue) ?? []) == ["view-profile", "manage-account", "manage-account-links"])
            #expect(claims["realm_access"]?["roles"]?.array.contains("Dev Team A") == true)
            // The service account gets client_credentials tokens with the file's secret.
            let robot = try await api.call(.post, "/realms/kafka-authz/protocol/openid-connect/token", form: [
                ("grant_type", "client_credentials"), ("client_id", "kafka-producer-client"), ("client_secret", "kafka-producer-client-secret")])
            #expect(robot.status == .ok, "\(robot.text)")
            // Roles and groups named with spaces, by name and by path.
            #expect(try await api.call(.get, "/admin/realms/kafka-authz/roles/Dev%20Team%20A", token: admin)["name"]?.stringValue == "Dev Team A")
            let onCall = try await api.call(.get, "/admin/realms/kafka-authz/group-by-path/Kafka%20Admins/On%20Call", token: admin)
            #expect(onCall["path"]?.stringValue == "/Kafka Admins/On Call")
            // The registry realm works as it did under Keycloak: docker-v2 on, allow-all honoured.
            let realm = try #require(try await api.server.services.store.realm(named: "kafka-authz"))
            #expect(realm.dockerV2Enabled)
            let push = try await api.call(.get, "/realms/kafka-authz/protocol/docker-v2/auth?service=registry.example.com&scope=repository%3Aany%2Fthing%3Apush",
                                          headers: [.authorization: "Basic " + Data("alice:Secret-pw-1".utf8).base64EncodedString()])
            #expect(push.status == .ok)
            let registryToken = try #require(push["token"]?.stringValue)
            #expect(decodeClaims(registryToken)?["access"]?.array.first?["actions"] == ["push"])
        }
    }

    /// A default `kc.sh export --realm registry --users realm_file` of a registry realm (Keycloak's
    /// built-in clients, roles and flows as it writes them; a docker-v2 client with the allow-all
    /// mapper; users with Keycloak hashes): it imports, its users log in, and pushes work as before.
    @Test func aDefaultKeycloakExportOfARegistryRealmImportsAndPushesAsBefore() async throws {
        try await APIHarness.run { api in
            let importer = KeyportServer.realmImporter(store: api.server.services.store, provisioner: api.server.services.provisioner)
            let file = try Data(contentsOf: Paths.vectors.appendingPathComponent("keycloak-registry-realm-export.json"))
            let prepared = try await importer.prepare(file)
            // Flows and components are kept (and exported), not skipped; client scopes are modeled.
            #expect(prepared.skipped.isEmpty || !prepared.skipped.contains("authenticationFlows"))
            #expect(prepared.seed.realm.keycloakContent["authenticationFlows"] != nil && prepared.seed.realm.keycloakContent["components"] != nil)
            // The file's client scopes come with it (this file keeps only `profile`); Keycloak's
            // built-ins it names as defaults but does not define are Keycloak's, said; others
            // (SAML's role_list) are skipped, said.
            #expect(Set(prepared.seed.clientScopes.scopes.map(\.name)).isSuperset(of: ["profile", "email", "roles", "web-origins", "acr", "basic"]))
            #expect(prepared.notices.contains { $0.contains("Keycloak's built-in roles added") })
            #expect(prepared.notices.contains { $0.contains("client scope role_list does not exist in the file") })
            #expect(prepared.notices.contains { $0.contains("docker-v2 turned on") })
            #expect(try await importer.write(prepared.seed, override: false) == .imported(realm: "registry", users: 2, clients: 7, roles: 31, groups: 0))
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "registry"))
            #expect(realm.dockerV2Enabled)
            for user in ["ci", "dev"] {
                let basic = "Basic " + Data("\(user):Secret-pw-1".utf8).base64EncodedString()
                let push = try await api.call(.get, "/realms/registry/protocol/docker-v2/auth?service=registry.example.com&scope=repository%3Aapps%2Fweb%3Apull%2Cpush",
                                              headers: [.authorization: basic])
                #expect(push.status == .ok, "\(user): \(push.text)")
                let token = try #require(push["token"]?.stringValue)
                #expect(decodeClaims(token)?["access"]?.array.first?["actions"]?.strings == ["pull", "push"])
            }
            // Keycloak's own realm-management roles came from the file, and they administer.
            let admin = try await api.token()
            let management = try await api.clientUUID("registry", "realm-management", token: admin)
            let composite = try await api.call(.get, "/admin/realms/registry/clients/\(management)/roles/realm-admin/composites", token: admin)
            #expect(Set(composite.values("name")).isSuperset(of: ["manage-users", "view-users", "manage-clients", "manage-realm"]))
            let ci = try #require(try await store.user(username: "ci", realmId: realm.id))
            _ = try await api.call(.post, "/admin/realms/registry/users/\(ci.id)/role-mappings/clients/\(management)", token: admin,
                                   json: [try await api.role("registry", "realm-admin", client: management, token: admin)])
            let ciToken = try await api.token(realm: "registry", username: "ci", password: "Secret-pw-1")
            #expect(try await api.call(.get, "/admin/realms/registry/users", token: ciToken).status == .ok)
        }
    }

    /// Passwords in clear (`credentials[].value`), as hand-written realm files and setup scripts
    /// carry them: checked against the file's policy, hashed with Argon2id, bounded per file.
    @Test func plainTextPasswordsInARealmFileAreHashedAndBounded() async throws {
        try await APIHarness.run { api in
            let store = api.server.services.store
            let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
            let importer = KeyportServer.realmImporter(store: store, provisioner: api.server.services.provisioner, hasher: hasher)
            let file = #"""
            {"realm":"plain","passwordPolicy":"length(8) and hashAlgorithm(pbkdf2-sha256) and hashIterations(27500) and forceExpiredPasswordChange(365)",
             "users":[{"username":"ann","enabled":true,"credentials":[{"type":"password","value":"Ann-pw-12"}]},
                      {"username":"ben","enabled":true,"credentials":[{"type":"password","value":"Ben-pw-12","temporary":true}]}]}
            """#
            let prepared = try await importer.prepare(Data(file.utf8))
            // Keycloak's PBKDF2 and expiry rules are dropped, and said; length(8) stays.
            #expect(prepared.seed.realm.passwordPolicy == "length(8)")
            #expect(prepared.notices.contains { $0.contains("hashAlgorithm(pbkdf2-sha256), hashIterations(27500), forceExpiredPasswordChange(365)") })
            _ = try await importer.write(prepared.seed, override: false)
            let realm = try #require(try await store.realm(named: "plain"))
            let ann = try #require(try await store.user(username: "ann", realmId: realm.id))
            let stored = try await store.credentials(userId: ann.id).first?.secret.revealed ?? ""
            #expect(stored.hasPrefix("$argon2id$") && !stored.contains("Ann-pw-12"))
            #expect(try await api.login(realm: "plain", username: "ann", password: "Ann-pw-12").status == .ok)
            // A temporary password: the user must change it before any token.
            let ben = try await api.login(realm: "plain", username: "ben", password: "Ben-pw-12")
            #expect(ben.status == .badRequest && ben.text.contains("Account is not fully set up"), "\(ben.text)")

            // The policy holds for them, and a file may carry only so many.
            let short = #"{"realm":"p2","passwordPolicy":"length(12)","users":[{"username":"a","credentials":[{"value":"Short-1"}]}]}"#
            await #expect(throws: RealmImporter.Failure.self) { _ = try await importer.prepare(Data(short.utf8)) }
            let bounded = importer.limitingPlainPasswords(to: 1)
            let two = #"{"realm":"p3","users":[{"username":"a","credentials":[{"value":"A-pw-1234"}]},{"username":"b","credentials":[{"value":"B-pw-1234"}]}]}"#
            do {
                _ = try await bounded.prepare(Data(two.utf8))
                Issue.record("two plain-text passwords passed a bound of one")
            } catch let failure as RealmImporter.Failure {
                #expect(failure.description.contains("more than 1 passwords are in plain text"))
            }
            // Without a hasher (nothing to hash with), plain text is refused, not stored.
            let unhashed = KeyportServer.realmImporter(store: store, provisioner: api.server.services.provisioner)
            await #expect(throws: RealmImporter.Failure.self) { _ = try await unhashed.prepare(Data(two.utf8)) }
            try await hasher.shutdown()
        }
    }

    /// `POST /admin/realms` with a full representation (python-keycloak's create_realm(payload)):
    /// the same importer, in one transaction, with the same refusals.
    @Test func aFullRealmRepresentationIsCreatedByPostAsKeycloakDoes() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let file = try String(contentsOf: Paths.vectors.appendingPathComponent("keycloak-partial-realm.json"), encoding: .utf8)
            let created = try await api.call(.post, "/admin/realms", token: admin, raw: file)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.location]?.hasSuffix("/admin/realms/kafka-authz") == true)
            #expect(try await api.login(realm: "kafka-authz", username: "alice", password: "Secret-pw-1").status == .ok)
            #expect(try await api.call(.get, "/admin/realms/kafka-authz/groups", token: admin).values("name").contains("Kafka Admins"))
            let again = try await api.call(.post, "/admin/realms", token: admin, raw: file)
            #expect(again.status == .conflict)
            // A broken reference refuses the whole body: no realm half made.
            let broken = #"{"realm":"half","users":[{"username":"a","realmRoles":["ghost"]}],"clients":[{"clientId":"c"}]}"#
            let refused = try await api.call(.post, "/admin/realms", token: admin, raw: broken)
            #expect(refused.status == .badRequest && refused.text.contains("ghost"))
            #expect(try await api.call(.get, "/admin/realms/half", token: admin).status == .notFound)
            // A realm-management role of another realm may not create realms, with or without contents.
            let acmeAdmin = try await api.createUser("kafka-authz", "ops", password: "pw", token: admin)
            let management = try await api.clientUUID("kafka-authz", "realm-management", token: admin)
            let realmAdmin = try await api.role("kafka-authz", "realm-admin", client: management, token: admin)
            _ = try await api.call(.post, "/admin/realms/kafka-authz/users/\(acmeAdmin)/role-mappings/clients/\(management)", token: admin, json: [realmAdmin])
            let opsToken = try await api.token(realm: "kafka-authz", username: "ops", password: "pw")
            let other = #"{"realm":"mine","users":[{"username":"me","clientRoles":{"realm-management":["realm-admin"]}}]}"#
            #expect(try await api.call(.post, "/admin/realms", token: opsToken, raw: other).status == .forbidden)
        }
    }

    @Test(arguments: [
        (#"{"enabled":true}"#, "the realm name is missing"),
        (#"{"realm":"x","users":[{"username":"a","groups":["/nope"]}]}"#, "user a is in group /nope, which does not exist"),
        (#"{"realm":"x","users":[{"username":"a","realmRoles":["ghost"]}]}"#, "user a refers to realm role ghost, which does not exist"),
        (#"{"realm":"x","roles":{"client":{"c":[{"name":"r"}]}}}"#, "roles of client c, which the file does not define"),
        (#"{"realm":"x","clients":[{"clientId":"c"}],"roles":{"client":{"c":[{"name":"r","attributes":{"docker.grant":["bad"]}}]}}}"#, "role r: Invalid docker.grant 'bad'"),
        (#"{"realm":"x","users":[{"username":"a","credentials":[{"type":"password","secretData":"{\"value\":\"aGFzaA==\"}","credentialData":"{\"algorithm\":\"md5\"}"}]}]}"#, "the password of user a cannot be used"),
        ("[1,2]", "the file is not a Keycloak realm export"),
    ])
    func aBadFileFailsBeforeAnythingIsWritten(_ file: String, _ message: String) async throws {
        let store = try SQLiteStore.open(path: temporaryDirectory().appendingPathComponent("k.db").path, now: { 0 })
        let importer = KeyportServer.realmImporter(store: store, provisioner: RealmProvisioner(environment: testEnvironment()))
        do {
            _ = try await importer.prepare(Data(file.utf8))
            Issue.record("accepted \(file)")
        } catch let error as RealmImporter.Failure {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
        #expect(try await store.realms().isEmpty)
    }
}

@Suite("Both doors refuse alike")
struct ImportRefusesWhatTheAPIRefusesTests {
    /// Each bad object: how the admin API is asked to create it, and the realm file that holds it.
    static let cases: [(name: String, path: String, body: JSONValue, file: JSONValue)] = [
        ("username with /", "/admin/realms/acme/users", ["username": "a/b"],
         ["realm": "imported", "users": [["username": "a/b"]]]),
        ("role name with a control character", "/admin/realms/acme/roles", ["name": "a\u{1}b"],
         ["realm": "imported", "roles": ["realm": [["name": "a\u{1}b"]]]]),
        ("docker-v2 client signing with HS256", "/admin/realms/acme/clients",
         ["clientId": "reg", "protocol": "docker-v2", "attributes": ["docker.signature.algorithm": "HS256"]],
         ["realm": "imported", "clients": [["clientId": "reg", "protocol": "docker-v2", "attributes": ["docker.signature.algorithm": "HS256"]]]]),
        ("an invalid docker.grant", "/admin/realms/acme/roles", ["name": "r", "attributes": ["docker.grant": ["repository:x:fly"]]],
         ["realm": "imported", "roles": ["realm": [["name": "r", "attributes": ["docker.grant": ["repository:x:fly"]]]]]]),
        ("an attribute value over the size limit", "/admin/realms/acme/users",
         ["username": "u", "attributes": ["k": [.string(String(repeating: "v", count: 3000))]]],
         ["realm": "imported", "users": [["username": "u", "attributes": ["k": [.string(String(repeating: "v", count: 3000))]]]]]),
    ]

    @Test func importRefusesExactlyWhatTheAdminAPIRefusesWithTheSameWords() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let importer = KeyportServer.realmImporter(store: api.server.services.store, provisioner: api.server.services.provisioner)
            for c in Self.cases {
                let refused = try await api.call(.post, c.path, token: admin, json: c.body)
                #expect(refused.status == .badRequest, "\(c.name): \(refused.status)")
                let message = try #require(refused["errorMessage"]?.stringValue, "\(c.name): \(refused.text)")
                do {
                    _ = try await importer.prepare(try JSONEncoder().encode(c.file))
                    Issue.record("\(c.name): the import accepted it")
                } catch let failure as RealmImporter.Failure {
                    #expect(failure.description.contains(message), "\(c.name): API says '\(message)', import says '\(failure.description)'")
                }
            }
            #expect(try await api.server.services.store.realm(named: "imported") == nil)
        }
    }
}

@Suite("A mixed realm moves over whole")
struct MixedRealmFileTests {
    /// A realm Keycloak accepts: a SAML client with roles users hold, a client with authorization
    /// services (whose `uma_protection` role Keycloak makes and the file's users are given),
    /// flows and an identity provider. It imports; what Keyport does not run is kept, said and
    /// exported again; what it runs works.
    @Test func whatKeyportDoesNotRunIsKeptSaidAndExportedAgain() async throws {
        let file = #"""
        {"realm":"mixed","enabled":true,
         "clients":[
           {"clientId":"saml-app","protocol":"saml","attributes":{"saml.signature.algorithm":"RSA_SHA256"}},
           {"clientId":"resource-server","publicClient":false,"secret":"rs-secret","serviceAccountsEnabled":true,
            "authorizationServicesEnabled":true,"authorizationSettings":{"policyEnforcementMode":"ENFORCING","resources":[{"name":"Default Resource"}]}}],
         "roles":{"realm":[{"name":"staff","composites":{"client":{"saml-app":["saml-user"]}}}],
                  "client":{"saml-app":[{"name":"saml-user"}]}},
         "users":[{"username":"alice","enabled":true,
                   "realmRoles":["staff"],"clientRoles":{"saml-app":["saml-user"],"resource-server":["uma_protection"]}}],
         "authenticationFlows":[{"alias":"custom browser","providerId":"basic-flow","topLevel":true,"builtIn":false,"authenticationExecutions":[]}],
         "identityProviders":[{"alias":"github","providerId":"github","enabled":true,"config":{"clientId":"gh","clientSecret":"**********"}},
                              {"alias":"corp","providerId":"oidc","enabled":true,"config":{"issuer":"https://sso.corp.example","clientId":"k"}}],
         "identityProviderMappers":[{"name":"gh-name","identityProviderAlias":"github","identityProviderMapper":"github-user-attribute-mapper","config":{"jsonField":"login"}},
                                    {"name":"template","identityProviderAlias":"corp","identityProviderMapper":"oidc-username-idp-mapper","config":{"template":"${CLAIM.email}"}},
                                    {"name":"staff","identityProviderAlias":"corp","identityProviderMapper":"oidc-hardcoded-role-idp-mapper","config":{"role":"staff"}}],
         "browserFlow":"custom browser"}
        """#
        try await APIHarness.run { api in
            let importer = KeyportServer.realmImporter(store: api.server.services.store, provisioner: api.server.services.provisioner)
            let prepared = try await importer.prepare(Data(file.utf8))
            for said in ["client saml-app (saml): kept and exported", "client resource-server: authorization services settings kept",
                         "user alice: its roles of client saml-app are dropped", "role staff: its composites of client saml-app are dropped",
                         "authenticationFlows: kept and exported", "identity provider github (github): kept and exported"] {
                #expect(prepared.notices.contains { $0.contains(said) }, "\(said): \(prepared.notices)")
            }
            #expect(prepared.skipped.isEmpty, "\(prepared.skipped)")
            _ = try await importer.write(prepared.seed, override: false)

            // What Keyport runs works: alice logs in and holds the uma_protection role Keycloak would have made.
            let admin = try await api.token()
            let alice = try #require(try await api.call(.get, "/admin/realms/mixed/users?username=alice&exact=true", token: admin).items.first?["id"]?.stringValue)
            let rs = try await api.clientUUID("mixed", "resource-server", token: admin)
            #expect(try await api.call(.get, "/admin/realms/mixed/users/\(alice)/role-mappings/clients/\(rs)", token: admin).values("name") == ["uma_protection"])
            #expect(try await api.call(.get, "/admin/realms/mixed/clients?clientId=saml-app", token: admin).items.isEmpty)
            #expect(try await api.call(.get, "/admin/realms/mixed", token: admin)["browserFlow"]?.stringValue == "custom browser")
            #expect(try await api.call(.get, "/admin/realms/mixed", token: admin)["identityProviders"] == nil)

            // And an export gives back what was kept, where the file had it.
            let exported = try JSONDecoder().decode(JSONValue.self, from: try await RealmExporter(store: api.server.services.store).exportData(realmNamed: "mixed"))
            let clients = exported["clients"]?.array ?? []
            #expect(clients.first { $0["clientId"]?.stringValue == "saml-app" }?["attributes"]?["saml.signature.algorithm"]?.stringValue == "RSA_SHA256")
            let server = clients.first { $0["clientId"]?.stringValue == "resource-server" }
            #expect(server?["authorizationServicesEnabled"]?.bool == true)
            #expect(server?["authorizationSettings"]?["policyEnforcementMode"]?.stringValue == "ENFORCING")
            #expect(exported["roles"]?["client"]?["saml-app"]?.array.first?["name"]?.stringValue == "saml-user")
            #expect(exported["authenticationFlows"]?.array.first?["alias"]?.stringValue == "custom browser")
            #expect(Set((exported["identityProviders"]?.array ?? []).compactMap { $0["alias"]?.stringValue }) == ["github", "corp"])
            // Mappers: the one Keyport runs is a mapper of corp; the others come back as they were.
            let mappers = exported["identityProviderMappers"]?.array ?? []
            #expect(Set(mappers.compactMap { $0["name"]?.stringValue }) == ["gh-name", "template", "staff"])
            #expect(mappers.first { $0["name"]?.stringValue == "template" }?["config"]?["template"]?.stringValue == "${CLAIM.email}")
            #expect(try await api.call(.get, "/admin/realms/mixed/identity-provider/instances/corp/mappers", token: admin).values("name") == ["staff"])
        }
    }
}
