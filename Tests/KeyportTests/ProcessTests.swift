import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import KeyportModel
import KeyportSQLite
import KeyportStore
import Testing

/// The real `keyport` binary, as an operator runs it.
@Suite("keyport process", .serialized)
struct ProcessTests {
    func keyport() throws -> URL {
        try #require(Paths.builtProduct("keyport"), "build the keyport product first (swift build)")
    }

    /// Starts `keyport start-dev` on a free port in `dir`; returns it once ready.
    func startDev(in dir: URL, environment: [String: String] = [:], extra: [String] = []) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(try keyport(), ["start-dev", "--http-port", "0", "--db-path", dir.appendingPathComponent("data/keyport.db").path] + extra,
                                     environment: environment, directory: dir)
        let ready = child.waitUntil { $0.stderrLines.contains { $0.contains("msg=\"Keyport is ready\"") } }
        try #require(ready, "keyport did not become ready: \(child.stderrLines.joined(separator: "\n"))")
        let line = try #require(child.stderrLines.first { $0.contains("msg=\"Keyport is ready\"") })
        let port = try #require(line.split(separator: " ").first { $0.hasPrefix("listening=") }.flatMap { Int($0.split(separator: ":").last ?? "") })
        return (child, port)
    }

    func get(_ port: Int, _ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func startDevIsReadyKeepsDataAcrossRestartsAndBootstrapsOnce() async throws {
        let dir = temporaryDirectory()
        let started = Date()
        let (first, port) = try startDev(in: dir)
        let (status, body) = try await get(port, "/health/ready")
        print("start-dev on an empty data folder: ready in \(Int(Date().timeIntervalSince(started) * 1000)) ms")
        #expect(status == 200)
        #expect(body.contains(#""status":"UP""#))
        // The generated password is shown once, on stdout, and never in a log line.
        let banner = try #require(first.stdoutLines.first { $0.hasPrefix("Generated password (shown only now): ") })
        let password = String(banner.dropFirst("Generated password (shown only now): ".count))
        #expect(password.count >= 20)
        #expect(!first.stderrLines.joined().contains(password))

        first.signal(SIGTERM)
        #expect(first.waitForExit() == 0)

        let (second, port2) = try startDev(in: dir)
        #expect(try await get(port2, "/health/ready").0 == 200)
        #expect(!second.stdoutLines.contains { $0.contains("Generated password") })
        second.signal(SIGINT)
        #expect(second.waitForExit() == 0)

        let store = try SQLiteStore.open(path: dir.appendingPathComponent("data/keyport.db").path, now: { 0 })
        let master = try #require(try await store.realm(named: "master"))
        #expect(try await store.countUsers(realmId: master.id, matching: UserQuery()) == 1)
    }

    /// Issue 24, item 14: a password given as a flag does not stay visible to `ps`.
    @Test func aPasswordFlagIsBlankedInTheProcessArguments() async throws {
        let dir = temporaryDirectory()
        let (child, _) = try startDev(in: dir, extra: ["--db-password", "hunter2-secret", "--db-username=keyport", "--db-password=other-secret"])
        defer { child.signal(SIGKILL) }
        let cmdline = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(child.pid)/cmdline")), as: UTF8.self)
        #expect(!cmdline.contains("hunter2") && !cmdline.contains("other-secret"), "\(cmdline)")
        #expect(cmdline.contains("--db-password\u{0}**************") && cmdline.contains("--db-username=keyport"))
    }

    @Test func theAccessLogIsALinePerRequestOnlyWhenAskedFor() async throws {
        for (flag, expected) in [([String](), true), (["--http-access-log", "false"], false)] {
            let dir = temporaryDirectory()
            let (child, port) = try startDev(in: dir, extra: flag)
            _ = try await get(port, "/health/live")
            _ = try await get(port, "/realms/nowhere")
            child.signal(SIGTERM)
            #expect(child.waitForExit() == 0)
            let lines = child.stderrLines.filter { $0.contains("msg=request") }
            #expect(lines.contains { $0.contains("route=/health/live") } == expected, "\(flag): \(lines)")
        }
    }

    @Test func environmentVariablesConfigureTheServer() async throws {
        let dir = temporaryDirectory()
        let child = try ChildProcess(try keyport(), ["start-dev"], environment: [
            "KEYPORT_HTTP_PORT": "0", "KEYPORT_DB_PATH": dir.appendingPathComponent("env.db").path,
            "KEYPORT_HOSTNAME": "https://auth.example.com/", "KEYPORT_BOOTSTRAP_ADMIN_USERNAME": "root",
            "KEYPORT_BOOTSTRAP_ADMIN_PASSWORD": "from-env",
        ], directory: dir)
        #expect(child.waitUntil { $0.stderrLines.contains { $0.contains("Keyport is ready") } })
        let ready = child.stderrLines.first { $0.contains("Keyport is ready") } ?? ""
        #expect(ready.contains("hostname=https://auth.example.com "))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("env.db").path))
        #expect(!child.stdoutLines.contains { $0.contains("Generated password") })
        child.signal(SIGTERM)
        #expect(child.waitForExit() == 0)
        let store = try SQLiteStore.open(path: dir.appendingPathComponent("env.db").path, now: { 0 })
        let master = try #require(try await store.realm(named: "master"))
        #expect(try await store.user(username: "root", realmId: master.id) != nil)
    }

    /// Each bad configuration ends with one line on stderr and a non-zero exit, not a stack trace.
    @Test func badConfigurationEndsWithOneClearLine() async throws {
        let dir = temporaryDirectory()
        let (running, port) = try startDev(in: dir)
        defer { running.signal(SIGKILL) }
        let cases: [([String], String)] = [
            (["start-dev", "--http-port", "\(port)", "--db-path", dir.appendingPathComponent("other.db").path], "keyport: cannot listen on 127.0.0.1:\(port): the address is already in use"),
            (["start-dev", "--http-port", "0", "--db-path", "/proc/nope/keyport.db"], "keyport: cannot create the database folder /proc/nope"),
            (["start", "--http-port", "0"], "keyport: keyport start needs --hostname"),
            // An https hostname served as plain HTTP, even on loopback: only when asked for.
            (["start", "--hostname", "https://auth.example.com", "--http-port", "0", "--db-path", dir.appendingPathComponent("h.db").path],
             "keyport: keyport start serves passwords and tokens"),
            (["start-dev", "--proxy-trusted-addresses", "10.0.0.0/99"], "keyport: --proxy-trusted-addresses"),
            (["start-dev", "--http-enabled", "maybe"], "keyport: --http-enabled must be true or false"),
            (["start-dev", "--http-port", "eighty"], "Error: The value 'eighty' is invalid for '--http-port"),
            (["start-dev", "--proxy-headers", "forwarded"], "keyport: --proxy-headers must be none or xforwarded"),
            (["start-dev", "--http-access-log", "sometimes"], "keyport: --http-access-log must be true or false"),
            (["start-dev", "--credential-cache-seconds", "99999"], "keyport: --credential-cache-seconds must be between 0 (off) and 3600"),
        ]
        for (arguments, expected) in cases {
            let child = try ChildProcess(try keyport(), arguments, environment: ["KEYPORT_BOOTSTRAP_ADMIN_PASSWORD": "x"], directory: dir)
            let status = child.waitForExit()
            #expect(status != nil && status != 0, "\(arguments)")
            let errors = child.stderrLines.filter { !$0.isEmpty && !$0.hasPrefix("Usage:") && !$0.hasPrefix("Help:") && !$0.hasPrefix("  See") && !$0.contains("level=") }
            #expect(errors.count == 1, "\(arguments): \(child.stderrLines)")
            #expect(errors.first?.hasPrefix(expected) == true, "\(arguments): \(child.stderrLines)")
        }
    }

    @Test func migrateAppliesTheSchemaOnce() throws {
        let dir = temporaryDirectory()
        let db = dir.appendingPathComponent("m.db").path
        let first = try ChildProcess(try keyport(), ["migrate", "--db-path", db])
        #expect(first.waitForExit() == 0)
        #expect(first.stdoutLines.contains("applied 0001 0001_create_realms"))
        let second = try ChildProcess(try keyport(), ["migrate", "--db-path", db])
        #expect(second.waitForExit() == 0)
        #expect(second.stdoutLines.last?.hasSuffix("(0 applied now)") == true)
    }

    /// A `kill -9` during a stream of writes loses no committed write and leaves a sound file.
    @Test func aCrashLosesNoCommittedWrite() async throws {
        let bench = try #require(Paths.builtProduct("keyport-bench"), "build the keyport-bench product first (swift build)")
        let dir = temporaryDirectory()
        let db = dir.appendingPathComponent("crash.db").path
        for round in 0..<3 {
            let writer = try ChildProcess(bench, ["store-writes", "--db", db, "--count", "100000"])
            let target = 150 + round * 100
            #expect(writer.waitUntil(seconds: 60) { $0.stdoutLines.count >= target })
            writer.signal(SIGKILL)
            _ = writer.waitForExit()
            let committed = writer.stdoutLines.filter { $0.hasPrefix("committed ") }
            #expect(committed.count >= target)

            let queue = try DatabaseQueue(path: db)
            let integrity = try await queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            #expect(integrity == ["ok"])
            let dangling = try queue.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
            #expect(dangling.isEmpty)
            let stored = try await queue.read { db in
                Set(try Row.fetchAll(db, sql: "SELECT r.name, u.username FROM users u JOIN realms r ON r.id = u.realm_id").map { "committed \($0[0] as String) \($0[1] as String)" })
            }
            let lost = committed.filter { !stored.contains($0) }
            #expect(lost.isEmpty, "lost \(lost.count) committed writes, e.g. \(lost.prefix(3))")
            // Every user that made it has its credential: no half-written user.
            let orphans = try await queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id)") }
            #expect(orphans == 0)
            try queue.close()
        }
    }
}

@Suite("keyport start over HTTPS")
struct HTTPSProcessTests {
    @Test func startServesHTTPSWithTheGivenCertificate() throws {
        let keyport = try #require(Paths.builtProduct("keyport"))
        let dir = temporaryDirectory()
        // A throwaway self-signed server certificate, made with Keyport's own key factory.
        let key = try RealmKeyFactory(environment: testEnvironment()).makeKey(algorithm: .es256, realmId: "tls", realmName: "localhost")
        let signing = try SigningKey(key)
        try signing.certificatePEM.write(to: dir.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try key.privateKeyPEM.revealed.write(to: dir.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        let child = try ChildProcess(keyport, [
            "start", "--hostname", "https://auth.example.com", "--http-port", "0", "--db-path", dir.appendingPathComponent("k.db").path,
            "--https-certificate-file", dir.appendingPathComponent("cert.pem").path,
            "--https-certificate-key-file", dir.appendingPathComponent("key.pem").path,
        ], environment: ["KEYPORT_BOOTSTRAP_ADMIN_USERNAME": "admin", "KEYPORT_BOOTSTRAP_ADMIN_PASSWORD": "pw"])
        defer { child.signal(SIGKILL) }
        #expect(child.waitUntil { $0.stderrLines.contains { $0.contains("Keyport is ready") } })
        let ready = try #require(child.stderrLines.first { $0.contains("Keyport is ready") })
        #expect(ready.contains("listening=https://"))
        let port = try #require(ready.split(separator: " ").first { $0.hasPrefix("listening=") }.flatMap { Int($0.split(separator: ":").last ?? "") })
        let curl = try ChildProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-sk", "https://127.0.0.1:\(port)/health/ready"])
        #expect(curl.waitForExit() == 0)
        #expect(curl.stdoutLines.joined().contains(#""status":"UP""#))
        let plain = try ChildProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "http://127.0.0.1:\(port)/health/ready"])
        #expect(plain.waitForExit() != 0)

        // Issue 24, item 12: TLS 1.2 at least, and with 1.2 only forward-secret AEAD suites; HSTS.
        func handshake(_ options: [String]) throws -> Bool {
            let (status, output) = try Spawn.output("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost"] + options)
            return status == 0 && output.contains("Cipher is") && !output.contains("Cipher is (NONE)")
        }
        #expect(try handshake(["-tls1_3"]))
        #expect(try handshake(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]))
        // The client's own floor lowered, so that a refusal is the server's.
        #expect(try !handshake(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]), "TLS 1.1 refused")
        #expect(try !handshake(["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]), "TLS 1.0 refused")
        #expect(try !handshake(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:AES128-SHA:AES256-SHA@SECLEVEL=0"]), "CBC and static-RSA suites refused")
        let (status, headers) = try Spawn.output("/usr/bin/curl", ["-sk", "-D", "-", "-o", "/dev/null", "https://127.0.0.1:\(port)/health/ready"])
        #expect(status == 0)
        #expect(headers.lowercased().contains("strict-transport-security: max-age=31536000"), "\(headers)")
    }

    @Test func httpsProtocolsAndSuitesAreChosenByOption() throws {
        let keyport = try #require(Paths.builtProduct("keyport"))
        let dir = temporaryDirectory()
        let key = try RealmKeyFactory(environment: testEnvironment()).makeKey(algorithm: .es256, realmId: "tls", realmName: "localhost")
        try SigningKey(key).certificatePEM.write(to: dir.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try key.privateKeyPEM.revealed.write(to: dir.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        let child = try ChildProcess(keyport, [
            "start", "--hostname", "https://auth.example.com", "--http-port", "0", "--db-path", dir.appendingPathComponent("k.db").path,
            "--https-certificate-file", dir.appendingPathComponent("cert.pem").path,
            "--https-certificate-key-file", dir.appendingPathComponent("key.pem").path, "--https-protocols", "TLSv1.3",
        ], environment: ["KEYPORT_BOOTSTRAP_ADMIN_USERNAME": "admin", "KEYPORT_BOOTSTRAP_ADMIN_PASSWORD": "pw"])
        defer { child.signal(SIGKILL) }
        #expect(child.waitUntil { $0.stderrLines.contains { $0.contains("Keyport is ready") } })
        let ready = try #require(child.stderrLines.first { $0.contains("Keyport is ready") })
        let port = try #require(ready.split(separator: " ").first { $0.hasPrefix("listening=") }.flatMap { Int($0.split(separator: ":").last ?? "") })
        func handshake(_ options: [String]) throws -> Bool {
            let (status, output) = try Spawn.output("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)"] + options)
            return status == 0 && output.contains("Cipher is") && !output.contains("Cipher is (NONE)")
        }
        #expect(try handshake(["-tls1_3"]))
        #expect(try !handshake(["-tls1_2"]), "only TLS 1.3 asked for")
        for bad in [["--https-protocols", "TLSv1.1"], ["--https-cipher-suites", "TLS_RSA_WITH_AES_128_CBC_SHA"]] {
            let refused = try ChildProcess(keyport, ["start-dev", "--http-port", "0", "--db-path", dir.appendingPathComponent("x.db").path] + bad,
                                           environment: ["KEYPORT_BOOTSTRAP_ADMIN_PASSWORD": "pw"])
            #expect(refused.waitForExit() != 0)
            #expect(refused.stderrLines.contains { $0.contains("is not offered") }, "\(bad): \(refused.stderrLines)")
        }
    }
}
import KeyportKeys

@Suite("keyport import and export", .serialized)
struct ImportExportProcessTests {
    @Test func exportImportAndImportAtStartWorkOffline() async throws {
        let keyport = try #require(Paths.builtProduct("keyport"))
        let dir = temporaryDirectory()
        let source = dir.appendingPathComponent("source/keyport.db").path
        // A file made by Keycloak, imported offline.
        let kcFile = dir.appendingPathComponent("kc-realm.json")
        try RealmExchangeTests.keycloakFile().write(to: kcFile)
        let imported = try ChildProcess(keyport, ["import", "--file", kcFile.path, "--db-path", source])
        #expect(imported.waitForExit() == 0)
        #expect(imported.stdoutLines.contains { $0.hasPrefix("imported realm kc: 5 users") })
        #expect(imported.stderrLines.contains { $0.contains("skipping fields Keyport does not model: smtpServer, users[].totp") })
        let again = try ChildProcess(keyport, ["import", "--file", kcFile.path, "--db-path", source])
        #expect(again.waitForExit() == 1)
        #expect(again.stderrLines.contains { $0.contains("realm kc already exists") })
        #expect(try ChildProcess(keyport, ["import", "--file", kcFile.path, "--db-path", source, "--override"]).waitForExit() == 0)

        // Exported, then imported at the start of another server (Keycloak's --import-realm).
        let exportFile = dir.appendingPathComponent("target/import/kc.json")
        try FileManager.default.createDirectory(at: exportFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        let exported = try ChildProcess(keyport, ["export", "--realm", "kc", "--file", exportFile.path, "--db-path", source])
        #expect(exported.waitForExit() == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: exportFile.path)[.posixPermissions] as? Int) == 0o600)
        // Written through a private temporary file renamed over the target: nothing left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: exportFile.deletingLastPathComponent().path) == ["kc.json"])
        let certs = dir.appendingPathComponent("certs").path
        let server = try ChildProcess(keyport, ["start-dev", "--http-port", "0", "--import-realm", "--db-path", dir.appendingPathComponent("target/keyport.db").path],
                                      environment: ["KEYPORT_BOOTSTRAP_ADMIN_PASSWORD": "pw", "KEYPORT_DOCKER_CERTS_DIR": certs])
        defer { server.signal(SIGKILL) }
        #expect(server.waitUntil { $0.stderrLines.contains { $0.contains("Keyport is ready") } })
        #expect(server.stderrLines.contains { $0.contains("msg=\"imported realm\"") && $0.contains("realm=kc") })
        // The imported docker-v2 realm's files are there once the server is ready.
        #expect(try String(contentsOfFile: certs + "/kc.pem", encoding: .utf8).contains("BEGIN CERTIFICATE"))
        #expect(FileManager.default.fileExists(atPath: certs + "/kc.jwks.json"))
        let store = try SQLiteStore.open(path: dir.appendingPathComponent("target/keyport.db").path, now: { 0 })
        let realm = try #require(try await store.realm(named: "kc"))
        #expect(try await store.countUsers(realmId: realm.id, matching: UserQuery()) == 5)

        let bad = try ChildProcess(keyport, ["export", "--realm", "nope", "--file", "-", "--db-path", source])
        #expect(bad.waitForExit() == 1)
    }
}
