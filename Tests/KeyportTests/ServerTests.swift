import Foundation
import NIOCore
import NIOFoundationCompat
import Hummingbird
import HummingbirdTesting
import KeyportHTTP
import KeyportModel
@testable import KeyportServer
import KeyportStore
import Logging
import Testing

@Suite("Server in-process")
struct ServerTests {
    func configuration(_ dir: URL = temporaryDirectory(), password: String? = "admin-pw") -> KeyportConfiguration {
        KeyportConfiguration(mode: .development, httpPort: 0, databasePath: dir.appendingPathComponent("keyport.db").path,
                             bootstrapAdminUsername: "Admin", bootstrapAdminPassword: password)
    }

    @Test func healthAndMetricsAnswer() async throws {
        let server = try await KeyportServer.make(configuration: configuration(), environment: testEnvironment())
        try await server.application.test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body == ["status": "UP", "checks": [Any]()] as NSDictionary)
            }
            try await client.execute(uri: "/health/ready", method: .get, headers: [.init("X-Request-Id")!: "trace-42"]) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body == ["status": "UP", "checks": [["name": "database", "status": "UP"]]] as NSDictionary)
                #expect(response.headers[.init("X-Request-Id")!] == "trace-42")
            }
            try await client.execute(uri: "/no/such/route", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.init("X-Request-Id")!]?.count == 24)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"keyport_http_requests_total{route="/health/ready",method="GET",status="200"} 1"#))
                #expect(text.contains(#"keyport_http_requests_total{route="NotFound",method="GET",status="404"} 1"#))
                #expect(text.contains("keyport_http_request_duration_seconds_bucket"))
                // The bootstrap admin's password was hashed once at start.
                #expect(text.contains("keyport_password_hash_duration_seconds_count 1"))
                #expect(text.contains(#"keyport_tokens_issued_total{protocol="docker-v2"} 0"#))
            }
        }
    }

    @Test func theFirstStartProvisionsTheMasterRealmOnce() async throws {
        let dir = temporaryDirectory()
        let first = try await KeyportServer.make(configuration: configuration(dir), environment: testEnvironment())
        #expect(first.bootstrap == .created(username: "admin", generatedPassword: nil))
        let store = first.services.store
        let master = try #require(try await store.realm(named: "master"))
        #expect(master.enabled)
        let admin = try #require(try await store.user(username: "admin", realmId: master.id))
        let roles = Set(try await store.effectiveRoles(userId: admin.id, realmId: master.id).map(\.name))
        #expect(roles.isSuperset(of: ["admin", "create-realm", "default-roles-master", "offline_access", "uma_authorization"]))
        let adminCLI = try #require(try await store.client(clientId: "admin-cli", realmId: master.id))
        #expect(adminCLI.publicClient && adminCLI.directAccessGrantsEnabled)
        let management = try #require(try await store.client(clientId: "realm-management", realmId: master.id))
        let managementRoles = Set(try await store.roles(realmId: master.id, clientId: management.id, search: nil, page: .all).map(\.name))
        #expect(managementRoles.isSuperset(of: ["realm-admin", "manage-users", "view-users", "manage-clients", "view-clients", "manage-realm", "view-realm", "view-events"]))
        let realmAdmin = try #require(try await store.role(named: "realm-admin", realmId: master.id, clientId: management.id))
        #expect(Set(try await store.composites(of: realmAdmin.id, realmId: master.id).map(\.name)).isSuperset(of: ["manage-users", "view-events"]))
        let keys = try await store.realmKeys(realmId: master.id)
        #expect(Set(keys.map(\.algorithm)) == [.rs256, .es256])
        #expect(keys.allSatisfy { $0.status == .active })
        // The configured password works through the one authenticator.
        #expect(try await first.services.authenticator.authenticate(realm: master, username: "admin", password: Sensitive("admin-pw")) == .authenticated(admin))

        // A second start, even with other bootstrap settings, creates nothing.
        var other = configuration(dir)
        other.bootstrapAdminUsername = "someone-else"
        other.bootstrapAdminPassword = "other"
        let second = try await KeyportServer.make(configuration: other, environment: testEnvironment())
        #expect(second.bootstrap == .alreadyProvisioned)
        #expect(try await second.services.store.countUsers(realmId: master.id, matching: UserQuery()) == 1)
        #expect(try await second.services.store.realms().map(\.name) == ["master"])
    }

    @Test func startDevWithoutAPasswordGeneratesOneThatWorks() async throws {
        let server = try await KeyportServer.make(configuration: configuration(password: nil), environment: testEnvironment())
        guard case .created(_, let generated?) = server.bootstrap else {
            Issue.record("start-dev without a configured password must generate one")
            return
        }
        #expect(generated.revealed.count >= 20)
        let master = try #require(try await server.services.store.realm(named: "master"))
        guard case .authenticated = try await server.services.authenticator.authenticate(realm: master, username: "admin", password: generated) else {
            Issue.record("the generated password must log in")
            return
        }
    }

    @Test func productionRefusesToInventAnAdministrator() async throws {
        var config = configuration(password: nil)
        config.mode = .production
        config.hostname = "https://auth.example.com"
        config.bootstrapAdminUsername = nil
        await #expect(throws: ConfigurationError.self) { _ = try await KeyportServer.make(configuration: config, environment: testEnvironment()) }
    }

    @Test(arguments: [
        ("not a url", "--hostname must be a base URL"),
        ("ftp://x", "--hostname must be a base URL"),
        ("https://auth.example.com?x=1", "--hostname must be a base URL"),
    ])
    func badHostnamesAreRefusedWithOneClearLine(hostname: String, message: String) async throws {
        var config = configuration()
        config.hostname = hostname
        do {
            _ = try await KeyportServer.make(configuration: config, environment: testEnvironment())
            Issue.record("accepted \(hostname)")
        } catch let error as ConfigurationError {
            #expect(error.message.hasPrefix(message))
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func aBadCertificateIsRefusedBeforeAnythingStarts() async throws {
        let dir = temporaryDirectory()
        let cert = dir.appendingPathComponent("cert.pem"), key = dir.appendingPathComponent("key.pem")
        try "not a certificate".write(to: cert, atomically: true, encoding: .utf8)
        try "not a key".write(to: key, atomically: true, encoding: .utf8)
        var config = configuration(dir)
        config.httpsCertificateFile = cert.path
        config.httpsCertificateKeyFile = key.path
        await #expect(throws: ConfigurationError("cannot read a PEM certificate from --https-certificate-file \(cert.path)")) {
            _ = try await KeyportServer.make(configuration: config, environment: testEnvironment())
        }
        config.httpsCertificateKeyFile = nil
        await #expect(throws: ConfigurationError.self) { _ = try await KeyportServer.make(configuration: config, environment: testEnvironment()) }
    }

    @Test func anUnwritableDatabasePathIsAClearError() async throws {
        var config = configuration()
        config.databasePath = "/proc/keyport/keyport.db"
        await #expect(throws: StoreError.self) { _ = try await KeyportServer.make(configuration: config, environment: testEnvironment()) }
    }

    @Test func logLinesCarryTheRequestAndNoQueryString() async throws {
        let lines = LogCapture()
        var logger = Logger(label: "test") { label in LogfmtLogHandler(label: label, level: .info, output: { lines.append($0) }) }
        logger.logLevel = .info
        let server = try await KeyportServer.make(configuration: configuration(), environment: testEnvironment(), logger: logger)
        try await server.application.test(.router) { client in
            try await client.execute(uri: "/realms/acme/protocol/docker-v2/auth?password=hunter2", method: .get, headers: [.init("X-Request-Id")!: "req-1"]) { _ in }
        }
        let line = try #require(lines.all.first { $0.contains("request_id=req-1") })
        #expect(line.contains("realm=acme"))
        #expect(line.contains("status=404"))
        #expect(line.contains("latency_ms="))
        #expect(line.contains("route=/realms/{realm}/protocol/docker-v2/auth"))
        #expect(!lines.all.joined().contains("hunter2"))
        #expect(!lines.all.joined().contains("admin-pw"))
    }
}

import Synchronization
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

func json(_ buffer: ByteBuffer) throws -> NSDictionary {
    try #require(try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? NSDictionary)
}

@Suite("Server behind a proxy")
struct ProxyHeaderTests {
    func logLine(proxy: KeyportConfiguration.ProxyHeaders, forwardedFor: String, trusted: TrustedProxies = .privateNetworks) async throws -> String {
        let lines = LogCapture()
        let logger = Logger(label: "test") { label in LogfmtLogHandler(label: label, level: .info, output: { lines.append($0) }) }
        var config = KeyportConfiguration(httpPort: 0, databasePath: temporaryDirectory().appendingPathComponent("k.db").path,
                                          proxyHeaders: proxy, bootstrapAdminPassword: "pw")
        config.trustedProxies = trusted
        let server = try await KeyportServer.make(configuration: config, environment: testEnvironment(), logger: logger)
        try await server.application.test(.live) { client in
            try await client.execute(uri: "/health/live", method: .get, headers: [.init("X-Forwarded-For")!: forwardedFor, .init("X-Request-Id")!: "p1"]) { _ in }
        }
        return try #require(lines.all.first { $0.contains("request_id=p1") })
    }

    @Test func forwardedForIsTrustedOnlyWhenConfigured() async throws {
        // The proxy appends the address it saw; what came before is the caller's own claim.
        let forged = try await logLine(proxy: .xforwarded, forwardedFor: "203.0.113.7, 198.51.100.4")
        #expect(forged.contains("client_ip=198.51.100.4") && !forged.contains("203.0.113.7"))
        #expect(try await logLine(proxy: .xforwarded, forwardedFor: "198.51.100.4").contains("client_ip=198.51.100.4"))
        let direct = try await logLine(proxy: .none, forwardedFor: "203.0.113.7")
        #expect(!direct.contains("203.0.113.7"))
        #expect(direct.contains("client_ip=127.0.0.1"))
        // A forged value that is not an address is ignored.
        #expect(!(try await logLine(proxy: .xforwarded, forwardedFor: "evil\" level=error").contains("evil")))
        #expect(try await logLine(proxy: .xforwarded, forwardedFor: "unknown").contains("client_ip=127.0.0.1"))
        // Issue 24, item 14: a peer that is not a trusted proxy is the client, whatever it claims.
        let untrusted = try await logLine(proxy: .xforwarded, forwardedFor: "198.51.100.4", trusted: try TrustedProxies(parsing: "10.0.0.0/8"))
        #expect(untrusted.contains("client_ip=127.0.0.1") && !untrusted.contains("198.51.100.4"))
        #expect(try await logLine(proxy: .xforwarded, forwardedFor: "198.51.100.4", trusted: try TrustedProxies(parsing: "127.0.0.1, 10.0.0.0/8"))
            .contains("client_ip=198.51.100.4"))
    }

    @Test func trustedProxyRangesParseAndMatch() throws {
        let trusted = try TrustedProxies(parsing: "10.0.0.0/8, 192.0.2.7, 2001:db8::/32")
        #expect(trusted.trusts("10.200.3.4") && !trusted.trusts("11.0.0.1"))
        #expect(trusted.trusts("192.0.2.7") && !trusted.trusts("192.0.2.8"))
        #expect(trusted.trusts("2001:db8:1::5") && !trusted.trusts("2001:db9::1"))
        #expect(!trusted.trusts("unknown") && !trusted.trusts(""))
        #expect(TrustedProxies.privateNetworks.trusts("127.0.0.1") && TrustedProxies.privateNetworks.trusts("::1"))
        #expect(!TrustedProxies.privateNetworks.trusts("203.0.113.9"))
        for bad in ["10.0.0.0/33", "nonsense", "1.2.3.4/x", "::1/129"] {
            #expect(throws: ConfigurationError.self) { try TrustedProxies(parsing: bad) }
        }
    }
}

/// Keycloak's `--http-relative-path`: old scripts and registries call Keyport under `/auth`.
@Suite("Server under a relative path")
struct RelativePathTests {
    @Test func everyRouteAndEveryURLKeyportWritesCarryThePath() async throws {
        var config = KeyportConfiguration(mode: .development, httpPort: 0, databasePath: temporaryDirectory().appendingPathComponent("k.db").path,
                                          hostname: "http://keyport.test", bootstrapAdminPassword: "admin-pw")
        config.httpRelativePath = "/auth"
        let server = try await KeyportServer.make(configuration: config, environment: testEnvironment())
        try await server.application.test(.router) { client in
            let discovery = try await client.execute(uri: "/auth/realms/master/.well-known/openid-configuration", method: .get)
            #expect(discovery.status == .ok)
            let body = try json(discovery.body)
            #expect(body["issuer"] as? String == "http://keyport.test/auth/realms/master")
            #expect((body["token_endpoint"] as? String)?.hasPrefix("http://keyport.test/auth/realms/master/") == true)
            // Not at the root any more; /authx is not /auth.
            #expect(try await client.execute(uri: "/realms/master", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/authx/realms/master", method: .get).status == .notFound)
            // Probes find health at the root and under the path.
            #expect(try await client.execute(uri: "/health/ready", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/auth/health/ready", method: .get).status == .ok)

            let form = "grant_type=password&client_id=admin-cli&username=admin&password=admin-pw"
            let login = try await client.execute(uri: "/auth/realms/master/protocol/openid-connect/token", method: .post,
                                                 headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: form))
            #expect(login.status == .ok)
            let token = try #require(try json(login.body)["access_token"] as? String)
            #expect(decodeClaims(token)?["iss"]?.stringValue == "http://keyport.test/auth/realms/master")
            let created = try await client.execute(uri: "/auth/admin/realms", method: .post,
                                                   headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                                   body: ByteBuffer(string: #"{"realm":"acme","dockerV2Enabled":true}"#))
            #expect(created.status == .created)
            #expect(created.headers[.location] == "http://keyport.test/auth/admin/realms/acme")
            let client1 = try await client.execute(uri: "/auth/admin/realms/acme/clients", method: .post,
                                                   headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                                   body: ByteBuffer(string: #"{"clientId":"registry.test","protocol":"docker-v2"}"#))
            let id = try #require(client1.headers[.location]?.split(separator: "/").last.map(String.init))
            let config = try await client.execute(uri: "/auth/admin/realms/acme/clients/\(id)/installation/providers/docker-v2-registry-config-file",
                                                  method: .get, headers: [.authorization: "Bearer \(token)"])
            let text = String(buffer: config.body)
            #expect(text.contains("realm: http://keyport.test/auth/realms/acme/protocol/docker-v2/auth"))
            #expect(text.contains("issuer: http://keyport.test/auth/realms/acme\n"))
        }
    }

    @Test(arguments: ["auth", "/a b", "/../x", "/auth//x", "/" + String(repeating: "a", count: 101), "/a?b"])
    func aPathThatIsNotOneIsRefused(_ path: String) {
        var config = KeyportConfiguration(httpPort: 0, databasePath: "/tmp/x.db")
        config.httpRelativePath = path
        #expect(throws: ConfigurationError.self) { try config.validate() }
    }

    @Test func aHostnameWithItsOwnPathKeepsIt() {
        var config = KeyportConfiguration(httpPort: 0, databasePath: "/tmp/x.db", hostname: "https://sso.example.com/keycloak")
        config.httpRelativePath = "/auth"
        #expect(config.publicBaseURL == "https://sso.example.com/keycloak")
        config.hostname = "https://sso.example.com"
        #expect(config.publicBaseURL == "https://sso.example.com/auth")
        #expect(RelativePathResponder<RouterResponder<KeyportRequestContext>>.strip("/auth", from: "/auth?x=1") == "/?x=1")
        #expect(RelativePathResponder<RouterResponder<KeyportRequestContext>>.strip("/auth", from: "/auth/realms/a") == "/realms/a")
        #expect(RelativePathResponder<RouterResponder<KeyportRequestContext>>.strip("/auth", from: "/authentic") == nil)
    }
}

import NIOSSL
import KeyportKeys

/// Issue 24, item 12, on the configuration itself (the handshakes are in ProcessTests): what
/// Keyport offers over HTTPS by default and when asked.
@Suite("HTTPS settings")
struct HTTPSSettingsTests {
    func configuration(_ change: (inout KeyportConfiguration) -> Void = { _ in }) throws -> TLSConfiguration {
        let dir = temporaryDirectory()
        let key = try RealmKeyFactory(environment: testEnvironment()).makeKey(algorithm: .es256, realmId: "tls", realmName: "localhost")
        try SigningKey(key).certificatePEM.write(to: dir.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try key.privateKeyPEM.revealed.write(to: dir.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        var config = KeyportConfiguration(httpPort: 0, databasePath: dir.appendingPathComponent("k.db").path,
                                          httpsCertificateFile: dir.appendingPathComponent("cert.pem").path,
                                          httpsCertificateKeyFile: dir.appendingPathComponent("key.pem").path)
        change(&config)
        return try KeyportServer.makeTLSConfiguration(config)
    }

    @Test func tls12AtLeastWithForwardSecretAEADSuitesOnly() throws {
        let tls = try configuration()
        #expect(tls.minimumTLSVersion == .tlsv12)
        #expect(tls.maximumTLSVersion == .tlsv13)
        #expect(!tls.cipherSuiteValues.isEmpty)
        #expect(tls.cipherSuiteValues.allSatisfy { HTTPSCipherSuite.allCases.map(\.cipher).contains($0) })
        #expect(!tls.cipherSuiteValues.contains(.TLS_RSA_WITH_AES_128_CBC_SHA) && !tls.cipherSuiteValues.contains(.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA))
        let only13 = try configuration { $0.httpsProtocols = [.tlsv13] }
        #expect(only13.minimumTLSVersion == .tlsv13)
        let one = try configuration { $0.httpsCipherSuites = [.ecdheECDSAAES256GCM] }
        #expect(one.cipherSuiteValues == [.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384])
    }
}
