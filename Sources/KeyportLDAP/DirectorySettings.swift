/// How to reach one directory: Keycloak's `connectionUrl`, `startTls`, `connectionTimeout` and
/// `readTimeout`, and the CA bundle the operator gives Keyport (Keycloak uses its truststore).
public struct DirectorySettings: Sendable, Hashable {
    /// One or more `ldap://` or `ldaps://` URLs separated by spaces, tried in order (as Keycloak
    /// and libldap take them). Never a path, query or anything but a host and a port.
    public var url: String
    public var startTLS: Bool
    /// A PEM file of the CAs that sign the directory's certificate; nil: the system's store.
    public var caFile: String?
    public var connectTimeoutMilliseconds: Int
    public var readTimeoutMilliseconds: Int

    public static let maxURLs = 4
    public static let maxTimeoutMilliseconds = 60_000
    public static let defaultTimeoutMilliseconds = 5_000

    public init(url: String, startTLS: Bool = false, caFile: String? = nil,
                connectTimeoutMilliseconds: Int = defaultTimeoutMilliseconds,
                readTimeoutMilliseconds: Int = defaultTimeoutMilliseconds) {
        self.url = url
        self.startTLS = startTLS
        self.caFile = caFile
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.readTimeoutMilliseconds = readTimeoutMilliseconds
    }

    /// The URL's own reading, or why it is refused: `nil` when every URL is an `ldap://` or
    /// `ldaps://` host with an optional port and nothing else.
    public static func problem(url: String) -> String? {
        let urls = url.split(separator: " ", omittingEmptySubsequences: true)
        guard !urls.isEmpty else { return "The connection URL is empty" }
        guard urls.count <= maxURLs else { return "At most \(maxURLs) connection URLs" }
        for one in urls {
            let text = one.lowercased()
            let rest: Substring
            if text.hasPrefix("ldap://") { rest = text.dropFirst(7) } else if text.hasPrefix("ldaps://") { rest = text.dropFirst(8) } else {
                return "A connection URL starts with ldap:// or ldaps://"
            }
            let hostPort = rest.hasSuffix("/") ? rest.dropLast() : rest
            guard !hostPort.isEmpty, hostPort.utf8.count <= 261 else { return "A connection URL names a host" }
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-:[]_".utf8)
            guard hostPort.utf8.allSatisfy(allowed.contains) else {
                return "A connection URL is a host and a port, nothing else"
            }
            if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
                guard let port = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(port) else {
                    return "A connection URL's port is a number from 1 to 65535"
                }
            }
        }
        return nil
    }
}

/// Why a call to a directory did not give an answer. `unavailable` and `busy` are the
/// directory's or Keyport's state, not the person's: a sign-in meets them as a 503.
public enum DirectoryError: Error, Equatable, Sendable {
    /// The settings cannot be used (a URL that is not a directory's, a CA file that cannot be read).
    case badSettings(String)
    /// Down, unreachable, too slow, or a TLS handshake that failed (the reason says which).
    case unavailable(String)
    /// Every connection this directory, its realm or the server may hold is in use.
    case busy
    /// A bind with a name or password the directory refuses (LDAP result 49).
    case invalidCredentials
    /// The directory answered an error (its result code and text: never a credential).
    case refused(code: Int32, message: String)
    /// An answer beyond the bytes Keyport reads.
    case tooLarge
    /// More entries than the search may bring.
    case tooManyEntries
    /// A name that more than one entry answers to: never a guess which is meant.
    case ambiguous
}
