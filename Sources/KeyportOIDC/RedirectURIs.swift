import Foundation
import KeyportModel
import KeyportHTTP

/// Whether a redirect URI a request names is one its client registered — the one rule behind
/// the authorization endpoint's `redirect_uri` and logout's `post_logout_redirect_uri`, so that
/// neither can send a browser (and a code) anywhere else.
///
/// As Keycloak: a registered value matches exactly, or, ending in `*`, as a prefix. Stricter
/// than Keycloak where a lax rule is an open redirect: a bare `*` (or a relative `/*`) matches
/// nothing (other relative values are paths on this server for the built-in console clients,
/// `registered(of:base:)`, and match nothing for any other client); a wildcard inside the host (`https://app.example.com*`) cannot stretch the host
/// (`https://app.example.com.evil.test`); and a URI with a fragment, user info, a backslash,
/// control characters or `.`/`..` path segments is never accepted. A loopback redirect
/// (`http://127.0.0.1`, `http://[::1]`) may use any port (RFC 8252 §7.3).
public enum RedirectURIs {
    public static let maxLength = 2048

    /// Whether `candidate` is a redirect URI Keyport will ever send a browser to.
    public static func isWellFormed(_ candidate: String) -> Bool {
        guard candidate.utf8.count <= maxLength, !candidate.isEmpty,
              !candidate.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "#") }),
              let components = URLComponents(string: candidate), let scheme = components.scheme?.lowercased(),
              components.user == nil, components.password == nil
        else { return false }
        // Schemes that run code or carry data in the browser are never a place to send a code.
        guard !["javascript", "data", "vbscript", "file", "blob"].contains(scheme) else { return false }
        if scheme == "http" || scheme == "https" { guard let host = components.host, !host.isEmpty else { return false } }
        let segments = components.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false)
        return !segments.contains { segment in
            let decoded = segment.removingPercentEncoding ?? String(segment)
            return decoded == "." || decoded == ".."
        }
    }

    /// `registered` with the values relative to this server made absolute against its public
    /// `base` URL, as Keycloak resolves a client's relative redirect URIs (its built-in consoles
    /// register `/admin/{realm}/console/*`). A bare `/` or `/*`, and `//host` (another server),
    /// stay as they are and match nothing.
    public static func resolved(_ registered: [String], base: String) -> [String] {
        registered.map { raw in
            let value = raw.trimmingCharacters(in: .whitespaces)
            guard value.hasPrefix("/"), !value.hasPrefix("//"), value != "/", value != "/*" else { return raw }
            return base + value
        }
    }

    /// The redirect URIs `client` registered, as matched: relative values are paths on this
    /// server for the built-in console clients only (Keycloak resolves them against a client's
    /// `rootUrl`, which Keyport does not keep, so for any other client they match nothing).
    public static func registered(of client: Client, base: String) -> [String] {
        consoleClients.contains(client.clientId) ? resolved(client.redirectUris, base: base) : client.redirectUris
    }

    /// `post.logout.redirect.uris`, under the same rule.
    public static func registeredPostLogout(of client: Client, base: String) -> [String] {
        consoleClients.contains(client.clientId) ? resolved(postLogout(of: client), base: base) : postLogout(of: client)
    }

    static let consoleClients: Set<String> = ["security-admin-console", "account-console"]

    /// Whether `candidate` matches one of `registered`.
    public static func matches(_ candidate: String, registered: [String]) -> Bool {
        guard isWellFormed(candidate) else { return false }
        return registered.contains { matches(candidate, registeredValue: $0) }
    }

    static func matches(_ candidate: String, registeredValue raw: String) -> Bool {
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty, value != "*", value != "/*", !value.hasPrefix("/") else { return false }
        if value.hasSuffix("*") {
            let prefix = String(value.dropLast())
            guard candidate.hasPrefix(prefix) else { return loopbackMatch(candidate, value) }
            // The wildcard may not stretch a host or port: once the prefix ends inside the
            // authority, what follows must start the path, the query or the port.
            if !authorityComplete(in: prefix) {
                let rest = candidate.dropFirst(prefix.count)
                guard rest.isEmpty || rest.hasPrefix("/") || rest.hasPrefix("?") || rest.hasPrefix(":") else { return false }
                if rest.hasPrefix(":") {
                    // A port, then nothing or a path/query: never `:x@evil` (user info is refused already).
                    let port = rest.dropFirst().prefix { $0.isNumber }
                    let after = rest.dropFirst(1 + port.count)
                    guard !port.isEmpty, after.isEmpty || after.hasPrefix("/") || after.hasPrefix("?") else { return false }
                }
            }
            return true
        }
        return candidate == value || loopbackMatch(candidate, value)
    }

    /// Whether `prefix` (a registered value without its `*`) already holds its whole authority.
    static func authorityComplete(in prefix: String) -> Bool {
        guard let range = prefix.range(of: "://") else { return true }
        return prefix[range.upperBound...].contains { $0 == "/" || $0 == "?" }
    }

    /// RFC 8252 §7.3: a native app's loopback redirect may take any port.
    static func loopbackMatch(_ candidate: String, _ value: String) -> Bool {
        guard var c = URLComponents(string: candidate), var r = URLComponents(string: value.hasSuffix("*") ? String(value.dropLast()) : value),
              c.scheme == "http", r.scheme == "http", let host = c.host, host == r.host, host == "127.0.0.1" || host == "::1" || host == "[::1]"
        else { return false }
        c.port = nil
        r.port = nil
        guard let candidateWithoutPort = c.string, let valueWithoutPort = r.string else { return false }
        return value.hasSuffix("*") ? candidateWithoutPort.hasPrefix(valueWithoutPort) : candidateWithoutPort == valueWithoutPort
    }

    /// Keycloak's `post.logout.redirect.uris` attribute: values separated by `##`; `+` stands for
    /// the client's redirect URIs.
    public static func postLogout(of client: Client) -> [String] {
        guard let attribute = client.attributes["post.logout.redirect.uris"] else { return [] }
        return attribute.components(separatedBy: "##").flatMap { $0 == "+" ? client.redirectUris : [$0] }
    }

    /// `uri` with `parameters` added to its query (or its fragment, for `response_mode=fragment`).
    public static func adding(_ parameters: [(String, String)], to uri: String, inFragment: Bool = false) -> String {
        guard !parameters.isEmpty else { return uri }
        let encoded = parameters.map { "\($0.0)=\(PercentEncoding.unreserved($0.1))" }.joined(separator: "&")
        if inFragment { return uri + "#" + encoded }
        return uri + (uri.contains("?") ? "&" : "?") + encoded
    }
}
