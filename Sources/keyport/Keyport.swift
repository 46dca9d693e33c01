import ArgumentParser
import Foundation
import KeyportModel
import KeyportProvisioning
import KeyportStore
import KeyportPasswords
import KeyportAuth
import KeyportBuildInfo
import KeyportRealmExchange
import KeyportPostgres
import KeyportServer
import KeyportSQLite
import Logging
import Metrics
import NIOCore
import Prometheus

@main
struct Keyport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyport",
        abstract: "Keyport: a small Keycloak-compatible identity server and Docker registry token realm.",
        discussion: "Every option can also be given as KEYPORT_<OPTION> in the environment (for example KEYPORT_HTTP_PORT=9090); a flag wins over the environment.",
        version: "keyport \(KeyportBuildInfo.description)",
        subcommands: [StartDev.self, Start.self, Migrate.self, Export.self, Import.self, BootstrapAdmin.self, Health.self]
    )

    /// ArgumentParser's own entry, after the secrets among the arguments are blanked in the
    /// process's memory (what `ps` and /proc/PID/cmdline show); the parser reads the copy Swift
    /// made at start.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        ProcessArguments.hideSecretValues(of: ["--db-password"])
        do {
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// The process's own argument strings (argv), as the kernel shows them to other users.
enum ProcessArguments {
    /// Overwrites with `*` the value of each of `options` (`--opt value` and `--opt=value`), as
    /// mysqld does with its password: `ps` then shows `--db-password ********`. The operator's
    /// better choice stays the environment (KEYPORT_DB_PASSWORD), never shown.
    static func hideSecretValues(of options: Set<String>) {
        let argc = Int(CommandLine.argc)
        let argv = CommandLine.unsafeArgv
        func blank(_ pointer: UnsafeMutablePointer<CChar>, from offset: Int) {
            var i = offset
            while pointer[i] != 0 {
                pointer[i] = CChar(UInt8(ascii: "*"))
                i += 1
            }
        }
        var i = 1
        while i < argc {
            guard let pointer = argv[i] else { i += 1; continue }
            let argument = String(cString: pointer)
            if options.contains(argument), i + 1 < argc, let value = argv[i + 1] {
                blank(value, from: 0)
                i += 2
                continue
            }
            if let equals = argument.firstIndex(of: "="), options.contains(String(argument[..<equals])) {
                blank(pointer, from: argument.utf8.distance(from: argument.startIndex, to: equals) + 1)
            }
            i += 1
        }
    }
}

/// The options every server command shares, each also read from `KEYPORT_<NAME>`.
struct ServerOptions: ParsableArguments {
    @Option(name: .customLong("http-host"), help: "Address to listen on (KEYPORT_HTTP_HOST). Default: 127.0.0.1")
    var httpHost: String?

    @Option(name: .customLong("http-port"), help: "Port to listen on (KEYPORT_HTTP_PORT). Default: 8080")
    var httpPort: Int?

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("hostname"), help: "Public base URL, e.g. https://auth.example.com (KEYPORT_HOSTNAME). start-dev default: http://localhost:<port>")
    var hostname: String?

    @Option(name: .customLong("http-relative-path"), help: "Serve every route under this path, e.g. /auth as Keycloak before 17 did (KEYPORT_HTTP_RELATIVE_PATH). Default: /")
    var httpRelativePath: String?

    @Option(name: .customLong("https-certificate-file"), help: "PEM certificate chain to serve HTTPS with (KEYPORT_HTTPS_CERTIFICATE_FILE)")
    var httpsCertificateFile: String?

    @Option(name: .customLong("https-certificate-key-file"), help: "PEM private key of that certificate (KEYPORT_HTTPS_CERTIFICATE_KEY_FILE)")
    var httpsCertificateKeyFile: String?

    @Option(name: .customLong("https-protocols"), help: "TLS versions to offer, comma-separated: TLSv1.3, TLSv1.2 (KEYPORT_HTTPS_PROTOCOLS). Default: TLSv1.3,TLSv1.2")
    var httpsProtocols: String?

    @Option(name: .customLong("https-cipher-suites"), help: "TLS 1.2 cipher suites to offer, by IANA name, comma-separated; forward-secret AEAD suites only (KEYPORT_HTTPS_CIPHER_SUITES). Default: all six ECDHE AES-GCM and ChaCha20-Poly1305 suites")
    var httpsCipherSuites: String?

    @Option(name: .customLong("proxy-headers"), help: "Trust a reverse proxy's headers: none or xforwarded (KEYPORT_PROXY_HEADERS). Default: none")
    var proxyHeaders: String?

    @Option(name: .customLong("proxy-trusted-addresses"), help: "Addresses or CIDR ranges of the proxies whose X-Forwarded-For is believed, comma-separated (KEYPORT_PROXY_TRUSTED_ADDRESSES). Default: loopback, private and link-local ranges")
    var proxyTrustedAddresses: String?

    @Option(name: .customLong("http-enabled"), help: "true: serve plain HTTP even where keyport start would refuse it (an https hostname, a host other than loopback), as Keycloak's http-enabled (KEYPORT_HTTP_ENABLED). Default: false")
    var httpEnabled: String?

    @Option(name: .customLong("http-access-log"), help: "true or false: one log line per request (KEYPORT_HTTP_ACCESS_LOG). Default: true for start-dev, false for start, as Keycloak's http-access-log-enabled; server errors are always logged")
    var httpAccessLog: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (KEYPORT_LOG_LEVEL). Default: info")
    var logLevel: String?

    @Option(name: .customLong("docker-certs-dir"), help: "Keep each docker-v2 realm's certificate bundle ({realm}.pem) and JWKS ({realm}.jwks.json) here, for a registry to read (KEYPORT_DOCKER_CERTS_DIR)")
    var dockerCertsDir: String?

    @Option(name: .customLong("password-hashing-max-memory"), help: "Ceiling on Argon2 memory (KiB) any realm policy or stored hash may use (KEYPORT_PASSWORD_HASHING_MAX_MEMORY). Default: 32768")
    var passwordHashingMaxMemory: Int?

    @Option(name: .customLong("password-hashing-max-iterations"), help: "Ceiling on Argon2 iterations (KEYPORT_PASSWORD_HASHING_MAX_ITERATIONS). Default: 16")
    var passwordHashingMaxIterations: Int?

    @Option(name: .customLong("http-header-timeout"), help: "Seconds a client may take to send a request's headers (KEYPORT_HTTP_HEADER_TIMEOUT). Default: 10")
    var httpHeaderTimeout: Int?

    @Option(name: .customLong("http-body-timeout"), help: "Seconds a client may take to send a request's body (KEYPORT_HTTP_BODY_TIMEOUT). Default: 30")
    var httpBodyTimeout: Int?

    @Option(name: .customLong("http-idle-timeout"), help: "Seconds an idle keep-alive connection stays open (KEYPORT_HTTP_IDLE_TIMEOUT). Default: 60")
    var httpIdleTimeout: Int?

    @Option(name: .customLong("http-max-connections"), help: "Open connections at most; past it the oldest connection still sending headers is closed (KEYPORT_HTTP_MAX_CONNECTIONS). Default: the file limit less 128")
    var httpMaxConnections: Int?

    @Option(name: .customLong("docker-events-retention"), help: "Seconds docker-v2 events are kept in realms that set no eventsExpiration (KEYPORT_DOCKER_EVENTS_RETENTION). Default: 604800 (7 days)")
    var dockerEventsRetention: Int?

    @Option(name: .customLong("events-max-per-realm"), help: "Events one realm keeps at most; the oldest go first (KEYPORT_EVENTS_MAX_PER_REALM). Default: 200000")
    var eventsMaxPerRealm: Int?

    @Option(name: .customLong("credential-cache-seconds"), help: "Seconds a right password is remembered, as a keyed digest, so repeated token requests skip Argon2; 0 turns it off (KEYPORT_CREDENTIAL_CACHE_SECONDS). Default: 120, capped by the realm's access-token lifespan")
    var credentialCacheSeconds: Int?

    @Flag(name: .customLong("import-realm"), help: "At start, import every *.json realm export in the import folder beside the database (./data/import), skipping realms that exist")
    var importRealm = false

    func configuration(mode: KeyportConfiguration.Mode, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KeyportConfiguration {
        func value(_ flag: String?, _ name: String) -> String? {
            if let flag { return flag }
            if let env = environment["KEYPORT_\(name)"], !env.isEmpty { return env }
            return nil
        }
        var port = 8080
        if let text = value(httpPort.map(String.init), "HTTP_PORT") {
            guard let parsed = Int(text) else { throw ConfigurationError("--http-port must be a number, not '\(text)'") }
            port = parsed
        }
        let proxyText = value(proxyHeaders, "PROXY_HEADERS") ?? "none"
        guard let proxy = KeyportConfiguration.ProxyHeaders(rawValue: proxyText) else {
            throw ConfigurationError("--proxy-headers must be none or xforwarded, not '\(proxyText)'")
        }
        let accessLogText = (value(httpAccessLog, "HTTP_ACCESS_LOG") ?? (mode == .development ? "true" : "false")).lowercased()
        guard accessLogText == "true" || accessLogText == "false" else {
            throw ConfigurationError("--http-access-log must be true or false, not '\(accessLogText)'")
        }
        let level = value(logLevel, "LOG_LEVEL") ?? "info"
        guard Logger.Level(rawValue: level) != nil else {
            throw ConfigurationError("--log-level must be one of trace, debug, info, notice, warning, error, critical, not '\(level)'")
        }
        let hostnameValue = value(hostname, "HOSTNAME").map(KeyportConfiguration.normalizeHostname)
        if mode == .production && hostnameValue == nil {
            throw ConfigurationError("keyport start needs --hostname (or KEYPORT_HOSTNAME): the public URL that tokens' issuers are built from; use start-dev for a laptop")
        }
        func number(_ flag: Int?, _ name: String, _ option: String) throws -> Int? {
            guard let text = value(flag.map(String.init), name) else { return nil }
            guard let n = Int(text) else { throw ConfigurationError("\(option) must be a number, not '\(text)'") }
            return n
        }
        var configuration = KeyportConfiguration(
            mode: mode,
            httpHost: value(httpHost, "HTTP_HOST") ?? "127.0.0.1",
            httpPort: port,
            databasePath: database.path(environment),
            hostname: hostnameValue,
            httpsCertificateFile: value(httpsCertificateFile, "HTTPS_CERTIFICATE_FILE"),
            httpsCertificateKeyFile: value(httpsCertificateKeyFile, "HTTPS_CERTIFICATE_KEY_FILE"),
            proxyHeaders: proxy,
            bootstrapAdminUsername: environment["KEYPORT_BOOTSTRAP_ADMIN_USERNAME"].flatMap { $0.isEmpty ? nil : $0 },
            bootstrapAdminPassword: environment["KEYPORT_BOOTSTRAP_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 },
            logLevel: level, importRealms: importRealm || parseBoolean(environment["KEYPORT_IMPORT_REALM"]) == true,
            dockerCertsDirectory: value(dockerCertsDir, "DOCKER_CERTS_DIR"))
        if let text = value(httpsProtocols, "HTTPS_PROTOCOLS") { configuration.httpsProtocols = try HTTPSProtocol.parse(text) }
        if let text = value(httpsCipherSuites, "HTTPS_CIPHER_SUITES") { configuration.httpsCipherSuites = try HTTPSCipherSuite.parse(text) }
        if let text = value(proxyTrustedAddresses, "PROXY_TRUSTED_ADDRESSES") { configuration.trustedProxies = try TrustedProxies(parsing: text) }
        if let text = value(httpEnabled, "HTTP_ENABLED") {
            guard let enabled = parseBoolean(text) else { throw ConfigurationError("--http-enabled must be true or false, not '\(text)'") }
            configuration.httpEnabled = enabled
        }
        configuration.store = try database.location(environment)
        if let v = try number(passwordHashingMaxMemory, "PASSWORD_HASHING_MAX_MEMORY", "--password-hashing-max-memory") {
            configuration.passwordCostCeiling.memoryKiB = v
        }
        if let v = try number(passwordHashingMaxIterations, "PASSWORD_HASHING_MAX_ITERATIONS", "--password-hashing-max-iterations") {
            configuration.passwordCostCeiling.iterations = v
        }
        // Checked as whole seconds here; `validate` checks the range.
        func seconds(_ n: Int?) -> Duration? { n.map { .seconds(min(max($0, -1), 1_000_000)) } }
        if let v = seconds(try number(httpHeaderTimeout, "HTTP_HEADER_TIMEOUT", "--http-header-timeout")) { configuration.httpHeaderTimeout = v }
        if let v = seconds(try number(httpBodyTimeout, "HTTP_BODY_TIMEOUT", "--http-body-timeout")) { configuration.httpBodyTimeout = v }
        if let v = seconds(try number(httpIdleTimeout, "HTTP_IDLE_TIMEOUT", "--http-idle-timeout")) { configuration.httpIdleTimeout = v }
        configuration.httpMaxConnections = try number(httpMaxConnections, "HTTP_MAX_CONNECTIONS", "--http-max-connections")
        if let v = try number(dockerEventsRetention, "DOCKER_EVENTS_RETENTION", "--docker-events-retention") { configuration.dockerEventsRetention = v }
        if let v = try number(eventsMaxPerRealm, "EVENTS_MAX_PER_REALM", "--events-max-per-realm") { configuration.eventsMaxPerRealm = v }
        configuration.httpAccessLog = accessLogText == "true"
        if let path = value(httpRelativePath, "HTTP_RELATIVE_PATH") {
            // `/` and `/auth/` mean the root and /auth.
            var normalized = path
            while normalized.hasSuffix("/") { normalized.removeLast() }
            configuration.httpRelativePath = normalized
        }
        if let v = try number(credentialCacheSeconds, "CREDENTIAL_CACHE_SECONDS", "--credential-cache-seconds") { configuration.credentialCacheSeconds = v }
        return configuration
    }
}

struct StartDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start-dev",
        abstract: "Start in development mode: HTTP on 127.0.0.1:8080, data in ./data, a generated admin password on the first start.",
        discussion: """
            Example:
              keyport start-dev --http-port 8080
              KEYPORT_BOOTSTRAP_ADMIN_PASSWORD=secret keyport start-dev
            """)

    @OptionGroup var options: ServerOptions

    func run() async throws {
        try await Runner.serve(options: options, mode: .development)
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start in production mode: needs --hostname, and HTTPS certificates or a TLS proxy (--proxy-headers xforwarded).",
        discussion: """
            Example:
              KEYPORT_BOOTSTRAP_ADMIN_PASSWORD=… keyport start \\
                --hostname https://auth.example.com --http-host 0.0.0.0 --http-port 8443 \\
                --https-certificate-file cert.pem --https-certificate-key-file key.pem
            """)

    @OptionGroup var options: ServerOptions

    func run() async throws {
        try await Runner.serve(options: options, mode: .production)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending database migrations and exit (the server also does this at start).",
        discussion: "Examples:\n  keyport migrate --db-path ./data/keyport.db\n  keyport migrate --db postgres --db-url postgresql://db:5432/keyport \\\n      --db-username keyport")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        do {
            let location = try database.location()
            let result = try await location.migrate(now: { TimeAndRandomness.live.now().millisecondsSince1970 })
            for migration in result.applied { print("applied \(String(format: "%04d", migration.version)) \(migration.name)") }
            print("\(location.description): schema at migration \(result.latest) (\(result.applied.count) applied now)")
        } catch {
            Runner.fail("\(error)")
        }
    }
}

/// Keycloak's database options: `--db sqlite|postgres` and the rest, each also `KEYPORT_DB_…`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: "sqlite or postgres (KEYPORT_DB). Default: sqlite")
    var db: String?

    @Option(name: .customLong("db-path"), help: "SQLite database file (KEYPORT_DB_PATH). Default: ./data/keyport.db")
    var dbPath: String?

    @Option(name: .customLong("db-url"), help: "PostgreSQL: postgresql://host:5432/database[?sslmode=require] (KEYPORT_DB_URL)")
    var dbURL: String?

    @Option(name: .customLong("db-username"), help: "PostgreSQL user (KEYPORT_DB_USERNAME)")
    var dbUsername: String?

    @Option(name: .customLong("db-password"), help: "PostgreSQL password; prefer KEYPORT_DB_PASSWORD, which ps does not show")
    var dbPassword: String?

    @Option(name: .customLong("db-schema"), help: "PostgreSQL schema for Keyport's tables (KEYPORT_DB_SCHEMA). Default: the user's")
    var dbSchema: String?

    @Option(name: .customLong("db-pool-max-size"), help: "PostgreSQL connections per node at most (KEYPORT_DB_POOL_MAX_SIZE). Default: 20")
    var dbPoolMaxSize: Int?

    private func value(_ flag: String?, _ name: String, _ environment: [String: String]) -> String? {
        if let flag { return flag }
        if let env = environment["KEYPORT_\(name)"], !env.isEmpty { return env }
        return nil
    }

    /// The SQLite file: `--db-path`, `KEYPORT_DB_PATH` or the default.
    func path(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        value(dbPath, "DB_PATH", environment) ?? "./data/keyport.db"
    }

    func location(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocation {
        let kind = value(db, "DB", environment) ?? "sqlite"
        switch kind {
        case "sqlite":
            return .sqlite(path: path(environment))
        case "postgres", "postgresql":
            guard let url = value(dbURL, "DB_URL", environment) else {
                throw ConfigurationError("--db postgres needs --db-url (or KEYPORT_DB_URL), e.g. postgresql://db.example.com:5432/keyport")
            }
            var poolSize = 20
            if let text = value(dbPoolMaxSize.map(String.init), "DB_POOL_MAX_SIZE", environment) {
                guard let n = Int(text), (2...1000).contains(n) else { throw ConfigurationError("--db-pool-max-size must be a number from 2 to 1000, not '\(text)'") }
                poolSize = n
            }
            do {
                var configuration = try PostgresStore.Configuration(url: url, username: value(dbUsername, "DB_USERNAME", environment),
                                                                    password: value(dbPassword, "DB_PASSWORD", environment), maximumConnections: poolSize)
                if let schema = value(dbSchema, "DB_SCHEMA", environment) {
                    guard !schema.isEmpty, schema.count <= 63, schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                        throw ConfigurationError("--db-schema may hold letters, digits and '_' only (63 at most), not '\(schema)'")
                    }
                    configuration.schema = schema
                }
                return .postgres(configuration)
            } catch let error as StoreError {
                throw ConfigurationError("--db-url: \(error.description)")
            }
        default:
            throw ConfigurationError("--db must be sqlite or postgres, not '\(kind)'")
        }
    }
}

func parseBoolean(_ text: String?) -> Bool? {
    switch text?.lowercased() {
    case "true", "1", "yes": true
    case "false", "0", "no": false
    default: nil
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a realm in Keycloak's export format (offline, on the database).",
        discussion: "Example:\n  keyport export --realm acme --file acme-realm.json")

    @Option(name: .customLong("realm"), help: "The realm to export, by name") var realm: String
    @Option(name: .customLong("file"), help: "Where to write; - for standard output") var file: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        do {
            let store = try await database.location().open(now: { TimeAndRandomness.live.now().millisecondsSince1970 })
            let data = try await RealmExporter(store: store).exportData(realmNamed: realm)
            if file == "-" {
                FileHandle.standardOutput.write(data)
            } else {
                // An export holds password hashes and client secrets: readable by its owner only
                // from the first byte (created 0600 beside the target, then renamed over it).
                try writePrivately(data, to: file)
                FileHandle.standardError.write(Data("exported realm \(realm) to \(file)\n".utf8))
            }
        } catch {
            Runner.fail("\(error)")
        }
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a realm from Keycloak's export format (offline, on the database).",
        discussion: """
            Users keep their Keycloak password hashes (argon2, pbkdf2-sha256, pbkdf2-sha512, pbkdf2) and are
            rehashed to Argon2id at their first login. Fields Keyport does not model are listed and skipped.
            Example:
              keyport import --file acme-realm.json
              keyport import --file acme-realm.json --override
            """)

    @Option(name: .customLong("file"), help: "A realm file in Keycloak's export format (partial exports too)") var file: String
    @Flag(name: .customLong("override"), help: "Replace a realm of the same name (default: leave it and say so)") var override = false
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        do {
            guard let data = FileManager.default.contents(atPath: file) else { Runner.fail("cannot read \(file)") }
            let store = try await database.location().open(now: { TimeAndRandomness.live.now().millisecondsSince1970 })
            // Plain-text passwords in the file (Keycloak's `value`) are hashed here, on every core.
            let hasher = PasswordHasher(randomBytes: TimeAndRandomness.live.randomBytes)
            let importer = KeyportServer.realmImporter(store: store, provisioner: RealmProvisioner(environment: .live), hasher: hasher)
            let prepared = try await importer.prepare(data)
            try? await hasher.shutdown()
            if !prepared.skipped.isEmpty {
                FileHandle.standardError.write(Data("keyport import: skipping fields Keyport does not model: \(prepared.skipped.joined(separator: ", "))\n".utf8))
            }
            switch try await importer.write(prepared.seed, override: override) {
            case .imported(let realm, let users, let clients, let roles, let groups):
                print("imported realm \(realm): \(users) users, \(clients) clients, \(roles) roles, \(groups) groups")
                for notice in prepared.notices { FileHandle.standardError.write(Data("keyport import: \(notice)\n".utf8)) }
            case .skippedExisting(let realm):
                Runner.fail("realm \(realm) already exists: nothing imported (use --override to replace it)")
            }
        } catch {
            Runner.fail("\(error)")
        }
    }
}

/// `keyport bootstrap-admin user`: Keycloak's command (and option names) for getting back in
/// when no administrator can log in — offline, against the database.
struct BootstrapAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap-admin",
        abstract: "Recover access: add a temporary administrator to the master realm (offline, on the database).",
        subcommands: [User.self])

    struct User: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a temporary administrator (the master realm's admin role) with a new password.",
            discussion: """
                The password comes from standard input (--password-stdin), from an environment
                variable (--password:env NAME), or is generated and printed once. The user is
                marked is_temporary_admin: log in with it, make a permanent administrator, then
                delete it. Works whether or not the server is running on the same database; on
                an empty database it creates the master realm, as the first start would.
                Examples:
                  keyport bootstrap-admin user --username temp-admin
                  printf '%s' "$NEW_PASSWORD" | keyport bootstrap-admin user \\
                      --username temp-admin --password-stdin
                  keyport bootstrap-admin user --username temp-admin --password:env NEW_PASSWORD
                """)

        @Option(name: .customLong("username"), help: "Username of the temporary administrator. Default: temp-admin")
        var username: String?
        @Option(name: .customLong("username:env"), help: "Read the username from this environment variable")
        var usernameEnvironment: String?
        @Option(name: .customLong("password:env"), help: "Read the password from this environment variable")
        var passwordEnvironment: String?
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input")
        var passwordStdin = false
        @Flag(name: .customLong("no-prompt"), help: "Accepted for kc.sh compatibility: Keyport never prompts (no password given: one is generated)")
        var noPrompt = false
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            var name = username ?? "temp-admin"
            if let variable = usernameEnvironment {
                guard let value = environment[variable], !value.isEmpty else { Runner.fail("--username:env: \(variable) is not set") }
                name = value
            }
            guard !(passwordStdin && passwordEnvironment != nil) else { Runner.fail("give --password-stdin or --password:env, not both") }
            var password: Sensitive? = nil
            if let variable = passwordEnvironment {
                guard let value = environment[variable], !value.isEmpty else { Runner.fail("--password:env: \(variable) is not set") }
                password = Sensitive(value)
            } else if passwordStdin {
                // Typed at a terminal, it would be echoed: the option is for a pipe.
                guard isatty(STDIN_FILENO) == 0 else {
                    Runner.fail("--password-stdin reads a pipe (printf '%s' \"$PASSWORD\" | keyport bootstrap-admin user --password-stdin); leave it out to have a password generated")
                }
                guard let line = readLine(strippingNewline: true), !line.isEmpty else { Runner.fail("--password-stdin: standard input held no password") }
                password = Sensitive(line)
            }
            let outcome: BootstrapOutcome
            do {
                outcome = try await KeyportServer.addTemporaryAdministrator(store: try database.location(), username: name, password: password)
            } catch {
                Runner.fail("\(error)")
            }
            guard case .created(let created, let generated) = outcome else { Runner.fail("nothing was created") }
            var text = "Created temporary administrator '\(created)' in the master realm of \((try? database.location().description) ?? database.path()).\n"
            if let generated { text += "Generated password (shown only now): \(generated.revealed)\n" }
            text += "Log in with it, create a permanent administrator, then delete '\(created)'.\n"
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

/// `keyport health`: exit 0 when the local server answers /health/ready with 200 — the
/// container's HEALTHCHECK, with no curl in the image.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the local server is ready (exit 0) or not (exit 1).",
        discussion: "Example:\n  keyport health --http-port 8080")

    @Option(name: .customLong("http-port"), help: "Port of the local server (KEYPORT_HTTP_PORT). Default: 8080") var httpPort: Int?

    func run() throws {
        let port = httpPort ?? ProcessInfo.processInfo.environment["KEYPORT_HTTP_PORT"].flatMap(Int.init) ?? 8080
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ExitCode.failure }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { print("not ready: nothing listens on port \(port)"); throw ExitCode.failure }
        let request = "GET /health/ready HTTP/1.0\r\nHost: localhost\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &buffer, buffer.count, 0)
        let status = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? "" : ""
        guard status.hasPrefix("HTTP/1.") && status.contains(" 200") else { print("not ready: \(status)"); throw ExitCode.failure }
        print("ready")
    }
}

enum Runner {
    static func serve(options: ServerOptions, mode: KeyportConfiguration.Mode) async throws {
        let configuration: KeyportConfiguration
        do {
            configuration = try options.configuration(mode: mode)
        } catch {
            fail("\(error)")
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
        let logger = Logger(label: "keyport")

        let server: KeyportServer
        do {
            server = try await KeyportServer.make(configuration: configuration, logger: logger, onServerRunning: { port in
                let scheme = configuration.tlsEnabled ? "https" : "http"
                logger.notice("Keyport is ready", metadata: [
                    "listening": "\(scheme)://\(configuration.httpHost):\(port)",
                    "hostname": "\(configuration.hostnameIsDerived ? "\(scheme)://localhost:\(port)\(configuration.httpRelativePath)" : configuration.publicBaseURL)",
                    "mode": "\(configuration.mode.rawValue)", "db": "\(configuration.store.description)",
                ])
            })
        } catch {
            fail("\(error)")
        }
        // Metrics that libraries report through swift-metrics land in the same /metrics registry.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: server.services.metrics.registry))
        if case .created(let username, let generated) = server.bootstrap {
            if let generated {
                // Shown once, on the terminal, never through the logger.
                let banner = """
                    Created the master realm and its administrator '\(username)'.
                    Generated password (shown only now): \(generated.revealed)
                    Set KEYPORT_BOOTSTRAP_ADMIN_USERNAME / KEYPORT_BOOTSTRAP_ADMIN_PASSWORD before the first start to choose them.

                    """
                FileHandle.standardOutput.write(Data(banner.utf8))
            } else {
                logger.notice("created the master realm and its administrator", metadata: ["username": "\(username)"])
            }
        } else if configuration.bootstrapAdminUsername != nil || configuration.bootstrapAdminPassword != nil {
            // Said out loud: otherwise the password just set is refused and nothing says why.
            logger.notice("KEYPORT_BOOTSTRAP_ADMIN_USERNAME/PASSWORD ignored: the master realm already exists in this database; they apply only to the first start. To get back in: keyport bootstrap-admin user",
                          metadata: ["db": "\(configuration.store.description)"])
        }
        do {
            try await server.application.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            fail("cannot listen on \(configuration.httpHost):\(configuration.httpPort): the address is already in use")
        } catch let error as IOError where error.errnoCode == EACCES {
            fail("cannot listen on \(configuration.httpHost):\(configuration.httpPort): permission denied")
        } catch {
            fail("the server stopped: \(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("keyport: \(message)\n".utf8))
        exit(1)
    }
}

/// Writes `data` to `path` through a new file made with `O_CREAT | O_EXCL` and mode 0600 in the
/// same directory, synced and renamed over `path`: no moment where another user could open it,
/// and no half-written file at `path`.
func writePrivately(_ data: Data, to path: String) throws {
    struct WriteFailure: Error, CustomStringConvertible { let description: String }
    let directory = (path as NSString).deletingLastPathComponent
    let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(UInt64.random(in: 0...UInt64.max)).tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw WriteFailure(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
    var ok = false
    defer {
        close(fd)
        if !ok { unlink(temporary) }
    }
    try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw WriteFailure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
            offset += n
        }
    }
    guard fsync(fd) == 0, rename(temporary, path) == 0 else {
        throw WriteFailure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
    }
    ok = true
}
