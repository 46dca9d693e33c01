import Foundation
import KeyportModel

/// Everything the server process is started with. Built by the `keyport` command from its
/// flags and `KEYPORT_*` variables, or directly by tests.
public struct KeyportConfiguration: Sendable, Equatable {
    public enum Mode: String, Sendable {
        /// `start-dev`: HTTP on loopback, a hostname derived from the port, a generated admin password.
        case development
        /// `start`: an explicit hostname, TLS or a trusted proxy, an explicit bootstrap admin.
        case production
    }

    public enum ProxyHeaders: String, Sendable, CaseIterable {
        case none
        /// Trust the client address a reverse proxy in front appends to `X-Forwarded-For` (the
        /// public URL comes from `--hostname`, never from a header).
        case xforwarded
    }

    public var mode: Mode
    public var httpHost: String
    public var httpPort: Int
    /// The SQLite file (`--db-path`); with `--db postgres`, where the import folder is found beside.
    public var databasePath: String {
        didSet { if case .sqlite = store { store = .sqlite(path: databasePath) } }
    }
    /// Where the data lives (`--db`): this SQLite file unless a PostgreSQL database is given.
    public var store: StoreLocation
    /// Public base URL, without a trailing slash: issuers and realm URLs derive from it.
    public var hostname: String
    /// True when no hostname was given and it follows the listening port.
    public var hostnameIsDerived: Bool
    /// Keycloak's `--http-relative-path`: every route under this prefix (`/auth`), or "" for
    /// the root. A leading slash, no trailing one.
    public var httpRelativePath = ""
    /// The public base URL tokens and documents name: `--hostname`, followed by the relative path
    /// unless the hostname names a path of its own (as Keycloak's hostname does).
    public var publicBaseURL: String {
        let hasPath = URL(string: hostname).map { !$0.path.isEmpty && $0.path != "/" } ?? false
        return hasPath ? hostname : hostname + httpRelativePath
    }
    public var httpsCertificateFile: String?
    public var httpsCertificateKeyFile: String?
    public var proxyHeaders: ProxyHeaders
    /// `--https-protocols` (Keycloak's option): TLSv1.3 and TLSv1.2 by default, never older.
    public var httpsProtocols: [HTTPSProtocol] = [.tlsv13, .tlsv12]
    /// `--https-cipher-suites` for TLS 1.2 (TLS 1.3's are fixed and all forward-secret AEAD).
    public var httpsCipherSuites: [HTTPSCipherSuite] = HTTPSCipherSuite.allCases
    /// Whose forwarded headers are believed (`--proxy-trusted-addresses`).
    public var trustedProxies: TrustedProxies = .privateNetworks
    /// `--http-enabled true`: plain HTTP asked for explicitly (Keycloak's option); `keyport start`
    /// refuses plain HTTP without it whenever the hostname is https or the host is not loopback.
    public var httpEnabled: Bool = false
    public var bootstrapAdminUsername: String?
    public var bootstrapAdminPassword: String?
    public var logLevel: String
    /// Import every `*.json` realm export in `<database folder>/import` at start (Keycloak's `--import-realm`).
    public var importRealms: Bool
    /// Where to keep each docker-v2 realm's certificate bundle and JWKS for a registry to read.
    public var dockerCertsDirectory: String?
    /// The most one password check may cost, whatever a realm or a stored hash asks for.
    public var passwordCostCeiling: PasswordCostCeiling = .default
    /// Connection hygiene (see `ConnectionGuard`): how long a client may take to send a request's
    /// head, then its body, how long a keep-alive connection may idle, and how many may be open.
    public var httpHeaderTimeout: Duration = .seconds(10)
    public var httpBodyTimeout: Duration = .seconds(30)
    public var httpIdleTimeout: Duration = .seconds(60)
    /// `nil`: derived from the process's file limit (it leaves room for the database and logs).
    public var httpMaxConnections: Int? = nil
    /// How long docker-v2 events are kept when the realm sets no `eventsExpiration` (seconds).
    public var dockerEventsRetention: Int = 7 * 24 * 3600
    /// Events one realm keeps at most (the oldest go first): a realm's events have a ceiling
    /// whatever its users do.
    public var eventsMaxPerRealm: Int = 200_000
    /// Seconds a right password is remembered (as a keyed digest) so repeated token requests
    /// skip Argon2; 0 turns it off. The realm's access-token lifespan caps it.
    public var credentialCacheSeconds: Int = 120
    /// Whether this server runs the realms' periodic directory syncs (`fullSyncPeriod`,
    /// `changedSyncPeriod`); tests drive `DirectoryUsers.runDueSyncs` themselves.
    public var periodicDirectorySync = true
    /// One log line per request (`--http-access-log`); server errors are logged either way.
    public var httpAccessLog: Bool = true

    public init(mode: Mode = .development, httpHost: String = "127.0.0.1", httpPort: Int = 8080,
                databasePath: String = "./data/keyport.db", hostname: String? = nil,
                httpsCertificateFile: String? = nil, httpsCertificateKeyFile: String? = nil,
                proxyHeaders: ProxyHeaders = .none, bootstrapAdminUsername: String? = nil,
                bootstrapAdminPassword: String? = nil, logLevel: String = "info", importRealms: Bool = false,
                dockerCertsDirectory: String? = nil) {
        self.mode = mode
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.databasePath = databasePath
        self.store = .sqlite(path: databasePath)
        self.hostname = hostname ?? "http://localhost:\(httpPort)"
        self.hostnameIsDerived = hostname == nil
        self.httpsCertificateFile = httpsCertificateFile
        self.httpsCertificateKeyFile = httpsCertificateKeyFile
        self.proxyHeaders = proxyHeaders
        self.bootstrapAdminUsername = bootstrapAdminUsername
        self.bootstrapAdminPassword = bootstrapAdminPassword
        self.logLevel = logLevel
        self.importRealms = importRealms
        self.dockerCertsDirectory = dockerCertsDirectory
    }

    /// Where `--import-realm` looks: `import` beside the database file (`./data/import` by default).
    public var importDirectory: String {
        URL(fileURLWithPath: databasePath).deletingLastPathComponent().appendingPathComponent("import").path
    }

    public var tlsEnabled: Bool { httpsCertificateFile != nil || httpsCertificateKeyFile != nil }

    /// The checks a human needs to hear about before anything starts, each as one clear line.
    public func validate() throws {
        guard (0...65535).contains(httpPort) else { throw ConfigurationError("--http-port must be between 0 and 65535, not \(httpPort)") }
        guard !httpHost.isEmpty else { throw ConfigurationError("--http-host must not be empty") }
        guard !databasePath.isEmpty else { throw ConfigurationError("--db-path must not be empty") }
        if case .postgres(let db) = store {
            guard (2...1000).contains(db.maximumConnections) else { throw ConfigurationError("--db-pool-max-size must be between 2 and 1000, not \(db.maximumConnections)") }
        }
        try Self.validateHostname(hostname)
        if !httpRelativePath.isEmpty {
            let segments = httpRelativePath.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            guard httpRelativePath.hasPrefix("/"), httpRelativePath.count <= 100, !httpRelativePath.hasSuffix("/"),
                  segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.~".contains($0)) } })
            else {
                throw ConfigurationError("--http-relative-path must be a path such as /auth (letters, digits, '-', '_', '.', '~' between slashes), not '\(httpRelativePath)'")
            }
        }
        if (httpsCertificateFile == nil) != (httpsCertificateKeyFile == nil) {
            throw ConfigurationError("--https-certificate-file and --https-certificate-key-file go together: give both or neither")
        }
        // Tokens over plain HTTP only when nothing promises HTTPS and nobody else can connect, or
        // when asked for explicitly (an https hostname served as plain HTTP on loopback was a
        // tunnel for tokens in clear).
        let claimsHTTPS = hostname.lowercased().hasPrefix("https://")
        if mode == .production && !tlsEnabled && proxyHeaders == .none && !httpEnabled && (claimsHTTPS || !Self.isLoopback(httpHost)) {
            throw ConfigurationError("keyport start serves passwords and tokens: give --https-certificate-file and --https-certificate-key-file, run behind a TLS proxy with --proxy-headers xforwarded, or ask for plain HTTP with --http-enabled true")
        }
        if let username = bootstrapAdminUsername, username.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ConfigurationError("KEYPORT_BOOTSTRAP_ADMIN_USERNAME must not be empty")
        }
        if let password = bootstrapAdminPassword, password.isEmpty {
            throw ConfigurationError("KEYPORT_BOOTSTRAP_ADMIN_PASSWORD must not be empty")
        }
        let c = passwordCostCeiling
        guard Argon2Parameters.memoryRange.contains(c.memoryKiB) else {
            throw ConfigurationError("--password-hashing-max-memory must be between \(Argon2Parameters.memoryRange.lowerBound) and \(Argon2Parameters.memoryRange.upperBound) KiB")
        }
        guard Argon2Parameters.iterationsRange.contains(c.iterations) else {
            throw ConfigurationError("--password-hashing-max-iterations must be between 1 and \(Argon2Parameters.iterationsRange.upperBound)")
        }
        guard c.memoryKiB >= Argon2Parameters.keycloakDefault.memoryKiB, c.iterations >= Argon2Parameters.keycloakDefault.iterations else {
            throw ConfigurationError("the password-hashing ceiling must admit Keycloak's defaults (7168 KiB, 5 iterations)")
        }
        for (name, value) in [("--http-header-timeout", httpHeaderTimeout), ("--http-body-timeout", httpBodyTimeout), ("--http-idle-timeout", httpIdleTimeout)] {
            guard value >= .seconds(1), value <= .seconds(3600) else { throw ConfigurationError("\(name) must be between 1 and 3600 seconds") }
        }
        if let max = httpMaxConnections, !(16...1_000_000).contains(max) {
            throw ConfigurationError("--http-max-connections must be between 16 and 1000000")
        }
        guard (0...3600).contains(credentialCacheSeconds) else {
            throw ConfigurationError("--credential-cache-seconds must be between 0 (off) and 3600")
        }
        guard RealmBounds.eventsExpirationSeconds.contains(dockerEventsRetention) else {
            throw ConfigurationError("--docker-events-retention must be between 1 second and 10 years")
        }
        guard (1_000...100_000_000).contains(eventsMaxPerRealm) else {
            throw ConfigurationError("--events-max-per-realm must be between 1000 and 100000000")
        }
    }

    static func validateHostname(_ hostname: String) throws {
        guard let url = URL(string: hostname), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
        else {
            throw ConfigurationError("--hostname must be a base URL such as https://auth.example.com, not '\(hostname)'")
        }
    }

    /// `https://auth.example.com/` → `https://auth.example.com`.
    public static func normalizeHostname(_ hostname: String) -> String {
        var h = hostname.trimmingCharacters(in: .whitespaces)
        while h.hasSuffix("/") { h.removeLast() }
        return h
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// Bad configuration: the message is the one line the operator sees.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The TLS versions `--https-protocols` may name (Keycloak's spelling).
public enum HTTPSProtocol: String, Sendable, CaseIterable {
    case tlsv13 = "TLSv1.3", tlsv12 = "TLSv1.2"

    /// `TLSv1.3,TLSv1.2`: at least one; TLS 1.1 and older are refused (RFC 8996).
    public static func parse(_ text: String) throws(ConfigurationError) -> [HTTPSProtocol] {
        try parseOffered(text, option: "--https-protocols", hint: "use TLSv1.3 and/or TLSv1.2")
    }
}

/// The TLS 1.2 cipher suites `--https-cipher-suites` may name, by their IANA names as Keycloak
/// takes them: forward-secret AEAD suites only.
public enum HTTPSCipherSuite: String, Sendable, CaseIterable {
    case ecdheECDSAAES128GCM = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    case ecdheRSAAES128GCM = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    case ecdheECDSAAES256GCM = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    case ecdheRSAAES256GCM = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    case ecdheECDSAChaCha20 = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    case ecdheRSAChaCha20 = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"

    public static func parse(_ text: String) throws(ConfigurationError) -> [HTTPSCipherSuite] {
        try parseOffered(text, option: "--https-cipher-suites",
                         hint: "forward-secret AEAD suites only: \(allCases.map(\.rawValue).joined(separator: ", "))")
    }
}

/// A comma-separated list of names an option may hold, at least one, each one offered.
func parseOffered<T: RawRepresentable & CaseIterable>(_ text: String, option: String, hint: String) throws(ConfigurationError) -> [T]
    where T.RawValue == String {
    var result: [T] = []
    for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
        guard let value = T(rawValue: name) else { throw ConfigurationError("\(option): '\(name)' is not offered (\(hint))") }
        result.append(value)
    }
    guard !result.isEmpty else { throw ConfigurationError("\(option): name at least one (\(hint))") }
    return result
}
