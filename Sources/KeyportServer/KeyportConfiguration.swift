import Foundation

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
        /// Trust `X-Forwarded-For` / `-Proto` / `-Host` from a reverse proxy in front.
        case xforwarded
    }

    public var mode: Mode
    public var httpHost: String
    public var httpPort: Int
    public var databasePath: String
    /// Public base URL, without a trailing slash: issuers and realm URLs derive from it.
    public var hostname: String
    /// True when no hostname was given and it follows the listening port.
    public var hostnameIsDerived: Bool
    public var httpsCertificateFile: String?
    public var httpsCertificateKeyFile: String?
    public var proxyHeaders: ProxyHeaders
    public var bootstrapAdminUsername: String?
    public var bootstrapAdminPassword: String?
    public var logLevel: String
    /// Import every `*.json` realm export in `<database folder>/import` at start (Keycloak's `--import-realm`).
    public var importRealms: Bool
    /// Where to keep each docker-v2 realm's certificate bundle and JWKS for a registry to read.
    public var dockerCertsDirectory: String?

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
        try Self.validateHostname(hostname)
        if (httpsCertificateFile == nil) != (httpsCertificateKeyFile == nil) {
            throw ConfigurationError("--https-certificate-file and --https-certificate-key-file go together: give both or neither")
        }
        if mode == .production && !tlsEnabled && proxyHeaders == .none && !Self.isLoopback(httpHost) {
            throw ConfigurationError("keyport start serves passwords and tokens: give --https-certificate-file and --https-certificate-key-file, or run behind a TLS proxy with --proxy-headers xforwarded")
        }
        if let username = bootstrapAdminUsername, username.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ConfigurationError("KEYPORT_BOOTSTRAP_ADMIN_USERNAME must not be empty")
        }
        if let password = bootstrapAdminPassword, password.isEmpty {
            throw ConfigurationError("KEYPORT_BOOTSTRAP_ADMIN_PASSWORD must not be empty")
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
