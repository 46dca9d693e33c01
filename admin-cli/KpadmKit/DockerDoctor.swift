import Crypto
import Foundation
import KeyportJSON

/// `kpadm docker doctor`'s judgement: everything that can be wrong between a realm and a registry,
/// each finding naming the side to fix. `diagnose` is a pure function of what was gathered
/// (DoctorProbe does the asking), so each failure mode is a test with its exact message.
public enum DockerDoctor {
    public struct Finding: Equatable, Sendable, CustomStringConvertible {
        public enum Verdict: String, Sendable { case ok, warning, problem }
        /// Which side to fix: Keyport's realm, the registry's configuration, the network between, or clocks.
        public enum Side: String, Sendable { case keyport, registry, network, clock }
        public let verdict: Verdict
        public let side: Side
        public let message: String

        public var description: String {
            verdict.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + "[\(side.rawValue)] " + message
        }
    }

    /// One certificate of a bundle: from Keyport's own bundle also its algorithm, status and libtrust kid.
    public struct BundleKey: Equatable, Sendable {
        public var algorithm: String?
        public var status: String?
        public var kid: String?
        public var der: Data

        public var fingerprint: String { DockerDoctor.fingerprint(der) }
    }

    /// What a GET answered, or why it could not.
    public enum Probe: Equatable, Sendable {
        case answered(status: Int, headers: [String: String], body: String)
        case unreachable(String)
        case tls(String)
    }

    /// A file the registry reads, as this machine can read it.
    public enum RegistryFile: Equatable, Sendable {
        case read(path: String, text: String)
        case unreadable(path: String, reason: String)
    }

    public enum RealmState: Equatable, Sendable {
        case missing
        case found(enabled: Bool, dockerV2: Bool)
    }

    public enum ClientState: Equatable, Sendable {
        case missing
        case found(protocolName: String, enabled: Bool, x5c: Bool, algorithm: String)
    }

    public struct Facts: Sendable {
        public var server: String
        public var realm: String
        public var service: String
        public var realmState: RealmState
        /// The realm's `iss` as Keyport publishes it (its discovery document).
        public var issuer: String?
        public var client: ClientState
        /// Keyport's docker-v2-cert-bundle and docker-v2-jwks for the client.
        public var keyportBundle: [BundleKey] = []
        public var keyportJWKS: [JSONValue] = []
        /// The registry's config.yml: its path and its values flattened (`auth.token.service`).
        public var configPath: String?
        public var config: [String: String]?
        public var registryBundle: RegistryFile?
        public var registryJWKS: RegistryFile?
        public var registryURL: String?
        /// GET {registry}/v2/ without credentials.
        public var challenge: Probe?
        /// GET {token realm}?service=… without credentials.
        public var tokenRealmURL: String?
        public var tokenRealm: Probe?
        /// Each clock minus this machine's, in seconds (from the HTTP `Date` header).
        public var keyportClockOffset: Double?
        public var registryClockOffset: Double?

        public init(server: String, realm: String, service: String, realmState: RealmState, issuer: String?, client: ClientState) {
            self.server = server
            self.realm = realm
            self.service = service
            self.realmState = realmState
            self.issuer = issuer
            self.client = client
        }
    }

    /// Registries accept tokens within a minute of their `nbf` and `exp`; Keyport's tokens live minutes.
    static let tolerableSkew = 60.0

    public static func diagnose(_ facts: Facts) -> [Finding] {
        var findings: [Finding] = []
        func ok(_ side: Finding.Side, _ message: String) { findings.append(Finding(verdict: .ok, side: side, message: message)) }
        func warn(_ side: Finding.Side, _ message: String) { findings.append(Finding(verdict: .warning, side: side, message: message)) }
        func problem(_ side: Finding.Side, _ message: String) { findings.append(Finding(verdict: .problem, side: side, message: message)) }
        let realm = facts.realm, service = facts.service
        let config = "kpadm docker config -r \(realm) --service \(service)"

        switch facts.realmState {
        case .missing:
            problem(.keyport, "realm \(realm) does not exist on \(facts.server)")
            return findings
        case .found(let enabled, let dockerV2):
            if !enabled { problem(.keyport, "realm \(realm) is disabled: its token endpoint answers 404 (kpadm update realms/\(realm) -s enabled=true)") }
            if dockerV2 {
                ok(.keyport, "docker-v2 is on for realm \(realm)")
            } else {
                problem(.keyport, "docker-v2 is off for realm \(realm): every token request gets 404 — turn it on: kpadm docker enable -r \(realm)")
            }
        }

        var x5c = true, algorithm = "RS256"
        switch facts.client {
        case .missing:
            problem(.keyport, "realm \(realm) has no client '\(service)': create it with kpadm docker client create -r \(realm) --service \(service)")
        case .found(let protocolName, let enabled, let carriesX5c, let alg):
            x5c = carriesX5c
            algorithm = alg
            if protocolName != "docker-v2" {
                problem(.keyport, "client '\(service)' of realm \(realm) is an \(protocolName) client, not docker-v2: registries get no token for it")
            } else if !enabled {
                problem(.keyport, "client '\(service)' of realm \(realm) is disabled: every token request for it is refused")
            } else {
                ok(.keyport, "client '\(service)' is realm \(realm)'s docker-v2 client (its \(alg) tokens carry \(x5c ? "x5c" : "kid and no x5c"))")
            }
        }

        let issuer = facts.issuer ?? "\(facts.server)/realms/\(realm)"
        let tokenEndpoint = "\(issuer)/protocol/docker-v2/auth"
        let active = facts.keyportBundle.first { $0.status == "active" && $0.algorithm == algorithm }
        let passive = facts.keyportBundle.filter { $0.status == "passive" && $0.algorithm == algorithm }
        if case .found(let protocolName, _, _, _) = facts.client, protocolName == "docker-v2", active == nil {
            problem(.keyport, "realm \(realm) has no active \(algorithm) key, so \(service)'s tokens cannot be signed: kpadm keys rotate -r \(realm)")
        }

        // The registry's configuration file.
        var configRealm: String?
        if let path = facts.configPath, let values = facts.config {
            let token = values.filter { $0.key.hasPrefix("auth.token.") }
            if token.isEmpty, let flow = values["auth"] ?? values["auth.token"], flow.hasPrefix("{") {
                warn(.registry, "\(path) writes auth in flow style ({…}), which the doctor does not read: write it as block YAML (\(config) --format registry-config) to have it checked")
            } else if token.isEmpty {
                problem(.registry, "\(path) has no auth.token section: the registry does not ask Keyport for tokens — write it with \(config) --format registry-config")
            } else {
                switch values["auth.token.service"] {
                case nil: problem(.registry, "\(path) has no auth.token.service: set service: \(service)")
                case service?: ok(.registry, "\(path): service is \(service)")
                case let other?:
                    problem(.registry, "\(path): service is '\(other)', but the docker-v2 client is '\(service)': tokens name \(service) as their audience and the registry refuses them (its log: token intended for another audience) — set service: \(service)")
                }
                configRealm = values["auth.token.realm"]
                switch configRealm {
                case nil: problem(.registry, "\(path) has no auth.token.realm: set realm: \(tokenEndpoint)")
                case let url?:
                    if url == tokenEndpoint {
                        ok(.registry, "\(path): realm is \(url)")
                    } else if URLComponents(string: url)?.path == URLComponents(string: tokenEndpoint)?.path {
                        warn(.registry, "\(path): realm is \(url), not the address Keyport publishes (\(tokenEndpoint)): fine only if every client reaches Keyport there")
                    } else {
                        problem(.registry, "\(path): realm is '\(url)', but realm \(realm)'s token endpoint is \(tokenEndpoint): clients are sent elsewhere for tokens — set realm: \(tokenEndpoint)")
                    }
                }
                switch values["auth.token.issuer"] {
                case nil: problem(.registry, "\(path) has no auth.token.issuer: set issuer: \(issuer)")
                case issuer?: ok(.registry, "\(path): issuer is \(issuer)")
                case let other?:
                    problem(.registry, "\(path): issuer is '\(other)', but Keyport signs realm \(realm)'s tokens with iss '\(issuer)': the registry refuses every token (its log: token from untrusted issuer) — set issuer: \(issuer)")
                }
                let hasBundle = values["auth.token.rootcertbundle"] != nil, hasJWKS = values["auth.token.jwks"] != nil
                if !hasBundle && !hasJWKS {
                    problem(.registry, "\(path) names neither rootcertbundle nor jwks: the registry cannot check any token — write them with \(config) --format registry-config")
                } else if x5c && !hasBundle {
                    problem(.registry, "\(path) has jwks but no rootcertbundle, and \(service)'s tokens carry x5c: registry 3 checks those against rootcertbundle only and refuses every token — add rootcertbundle (\(config) --format cert-bundle), or set the client's docker.token.x5c to false")
                } else if !x5c && !hasJWKS {
                    warn(.registry, "\(service)'s tokens carry no x5c: registry 2.x finds their key by kid in rootcertbundle, but registry 3 only in jwks, which \(path) does not name — for registry 3 add jwks (\(config) --format jwks)")
                }
            }
        }

        // The files the registry trusts.
        if let active, let bundle = facts.registryBundle {
            switch bundle {
            case .unreadable(let path, let reason):
                warn(.registry, "cannot read the registry's rootcertbundle \(path) (\(reason)): to check it, give a copy with --cert-bundle FILE")
            case .read(let path, let text):
                let held = parseBundle(text)
                if held.isEmpty {
                    problem(.registry, "rootcertbundle \(path) holds no certificate: the registry cannot check any token — write it with \(config) --format cert-bundle -o \(path), then restart the registry")
                } else if held.contains(where: { $0.der == active.der }) {
                    ok(.registry, "rootcertbundle \(path) holds realm \(realm)'s active \(algorithm) key (kid \(active.kid ?? "?"), SHA-256 \(active.fingerprint))")
                    for key in passive where !held.contains(where: { $0.der == key.der }) {
                        warn(.registry, "rootcertbundle \(path) lacks realm \(realm)'s passive \(algorithm) key (kid \(key.kid ?? "?")): once it signs (kpadm keys rotate), the registry refuses its tokens until the bundle is written again and the registry restarted")
                    }
                } else {
                    let holds = held.map { "SHA-256 \($0.fingerprint)" }.joined(separator: ", ")
                    problem(.registry, "rootcertbundle \(path) does not hold realm \(realm)'s active \(algorithm) key (kid \(active.kid ?? "?"), SHA-256 \(active.fingerprint)), which signs \(service)'s tokens: the registry refuses them (its log: untrusted key, or certificate signed by unknown authority) — write it again with \(config) --format cert-bundle -o \(path), then restart the registry (it reads the bundle only at start). It holds: \(holds)")
                }
            }
        }
        if let active, !x5c, let jwks = facts.registryJWKS {
            switch jwks {
            case .unreadable(let path, let reason):
                warn(.registry, "cannot read the registry's jwks \(path) (\(reason)): to check it, give a copy with --jwks FILE")
            case .read(let path, let text):
                let keys = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))?["keys"]?.arrayValue
                let expected = facts.keyportJWKS.first { $0["kid"]?.stringValue == active.kid }
                if keys == nil {
                    problem(.registry, "jwks \(path) is not a JSON Web Key Set (no \"keys\" list) — write it with \(config) --format jwks -o \(path)")
                } else if let held = keys?.first(where: { $0["kid"]?.stringValue == active.kid }) {
                    if let expected, !sameKey(held, expected) {
                        problem(.registry, "jwks \(path) has kid \(active.kid ?? "?") with another key than realm \(realm)'s: the registry refuses its tokens — write it again with \(config) --format jwks -o \(path), then restart the registry")
                    } else {
                        ok(.registry, "jwks \(path) holds realm \(realm)'s active \(algorithm) key (kid \(active.kid ?? "?"))")
                    }
                } else {
                    problem(.registry, "jwks \(path) does not hold realm \(realm)'s active \(algorithm) key (kid \(active.kid ?? "?")): registry 3 refuses \(service)'s tokens (its log: token signed by untrusted key) — write it again with \(config) --format jwks -o \(path), then restart the registry")
                }
            }
        }

        // The running registry's challenge.
        if let url = facts.registryURL, let challenge = facts.challenge {
            switch challenge {
            case .unreachable(let reason):
                problem(.network, "cannot reach the registry at \(url)/v2/: \(reason)")
            case .tls(let reason):
                problem(.network, "TLS with the registry at \(url) failed: \(reason) — clients need the CA that signed its certificate (docker: /etc/docker/certs.d/<host:port>/ca.crt)")
            case .answered(let status, let headers, _):
                let header = headers.first { $0.key.lowercased() == "www-authenticate" }?.value
                if status == 200 {
                    problem(.registry, "the registry at \(url) answers /v2/ without a token: it does not use token auth, so Keyport decides nothing there — give it the auth.token section (\(config) --format registry-config)")
                } else if status != 401 {
                    problem(.registry, "the registry at \(url) answered /v2/ with HTTP \(status), not 401 with a Bearer challenge: is it a registry?")
                } else if let header, let bearer = parseBearerChallenge(header) {
                    var fine = true
                    if bearer["service"] != service {
                        fine = false
                        problem(.registry, "the registry at \(url) names service '\(bearer["service"] ?? "")' in its challenge, but the docker-v2 client is '\(service)': clients ask Keyport for tokens of another service — set its service: \(service) and restart it")
                    }
                    if let asked = bearer["realm"], URLComponents(string: asked)?.path != URLComponents(string: tokenEndpoint)?.path {
                        fine = false
                        problem(.registry, "the registry at \(url) sends clients to \(asked) for tokens, not to realm \(realm)'s token endpoint \(tokenEndpoint): a right password then fails there with \"Invalid username or password\" (is an older registry on that port?) — set its realm: \(tokenEndpoint)")
                    } else if let asked = bearer["realm"], let configRealm, asked != configRealm {
                        fine = false
                        problem(.registry, "the registry at \(url) is not running \(facts.configPath ?? "that file"): its challenge says realm \(asked), the file says \(configRealm) — is another registry on that port, or was it not restarted since the file changed?")
                    }
                    if fine { ok(.registry, "the registry at \(url) asks for tokens of service \(service) from \(bearer["realm"] ?? "")") }
                } else {
                    problem(.registry, "the registry at \(url) asks for \(header.map { "'\($0.prefix(60))'" } ?? "no WWW-Authenticate"), not a Bearer token: its auth section is not token auth — give it the auth.token section (\(config) --format registry-config)")
                }
            }
        }

        // The token endpoint clients are sent to, asked as they ask it.
        if let url = facts.tokenRealmURL, let probe = facts.tokenRealm {
            switch probe {
            case .unreachable(let reason):
                problem(.network, "the token realm \(url) cannot be reached from here: \(reason) — docker, podman and skopeo must reach it")
            case .tls(let reason):
                problem(.network, "TLS with the token realm \(url) failed: \(reason) — clients must trust Keyport's certificate")
            case .answered(let status, _, let body):
                if status == 401 || status == 200 {
                    ok(.keyport, "the token realm \(url) answers for service \(service) (HTTP \(status): \(status == 401 ? "a login is asked for" : "anonymous access is granted"))")
                    if let components = URLComponents(string: url), components.scheme == "http", !isLoopback(components.host ?? "") {
                        warn(.network, "the token realm \(url) is plain http: passwords cross the network in clear text — serve Keyport behind TLS")
                    }
                } else {
                    let json = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
                    let said = json?["error_description"]?.stringValue ?? json?["errors"]?.arrayValue?.first?["message"]?.stringValue
                    problem(.keyport, "the token realm \(url) refuses service \(service) with HTTP \(status)" + (said.map { ": \($0)" } ?? " (not an answer of Keyport's docker-v2 endpoint)"))
                }
            }
        }

        // Clocks.
        if let keyport = facts.keyportClockOffset {
            if let registry = facts.registryClockOffset {
                let skew = registry - keyport
                let amount = Int(abs(skew).rounded())
                if abs(skew) > tolerableSkew {
                    problem(.clock, "the registry's clock is \(amount) s \(skew > 0 ? "ahead of" : "behind") Keyport's: it refuses tokens as not yet valid or expired (its log: token not to be used before / after) — synchronise both with NTP")
                } else {
                    ok(.clock, "the registry's and Keyport's clocks agree within \(max(amount, 1)) s")
                }
            } else if abs(keyport) > tolerableSkew {
                warn(.clock, "this machine's clock is \(Int(abs(keyport).rounded())) s \(keyport > 0 ? "behind" : "ahead of") Keyport's: if the registry runs here, it refuses tokens as not yet valid or expired — synchronise with NTP")
            }
        }
        return findings
    }

    // MARK: Reading what the registry has

    /// The certificates of a PEM bundle; Keyport's comment line before each (`# RS256 active kid …`)
    /// gives its algorithm, status and libtrust kid.
    public static func parseBundle(_ text: String) -> [BundleKey] {
        var keys: [BundleKey] = []
        var comment: [Substring] = []
        var body = "", inCertificate = false
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "-----BEGIN CERTIFICATE-----" {
                body = ""
                inCertificate = true
            } else if trimmed == "-----END CERTIFICATE-----" {
                if inCertificate, let der = Data(base64Encoded: body) {
                    let kid = comment.firstIndex(of: "kid").flatMap { $0 + 1 < comment.count ? String(comment[$0 + 1]) : nil }
                    keys.append(BundleKey(algorithm: comment.count > 1 ? String(comment[1]) : nil, status: comment.count > 2 ? String(comment[2]) : nil,
                                          kid: kid, der: der))
                }
                inCertificate = false
                comment = []
            } else if inCertificate {
                body += trimmed
            } else if trimmed.hasPrefix("#") {
                comment = trimmed.split(separator: " ")
            }
        }
        return keys
    }

    /// `Bearer realm="…",service="…",scope="…"` → its parameters; nil for another scheme.
    public static func parseBearerChallenge(_ header: String) -> [String: String]? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bearer ") else { return nil }
        var parameters: [String: String] = [:]
        var rest = Substring(trimmed.dropFirst("bearer ".count))
        while let equals = rest.firstIndex(of: "=") {
            let name = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: " ,")).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                guard let close = rest.firstIndex(of: "\"") else { return nil }
                value = String(rest[..<close])
                rest = rest[rest.index(after: close)...]
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            parameters[name] = value
        }
        return parameters
    }

    /// `AB:CD:…`, as `openssl x509 -noout -fingerprint -sha256` prints it.
    public static func fingerprint(_ der: Data) -> String {
        SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    static func sameKey(_ a: JSONValue, _ b: JSONValue) -> Bool {
        ["kty", "n", "e", "crv", "x", "y"].allSatisfy { a[$0]?.stringValue == b[$0]?.stringValue }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }
}

/// The registry's `config.yml`, enough of YAML to read it: block mappings and lists, scalars
/// plain or quoted, comments. Values come out flattened (`auth.token.service`,
/// `notifications.endpoints.0.url`); what it cannot read is skipped, never guessed.
public enum RegistryConfigFile {
    public static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        var open: [(indent: Int, path: String)] = []
        var listCount: [String: Int] = [:]
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = stripComment(String(raw))
            let content = line.trimmingCharacters(in: .whitespaces)
            guard !content.isEmpty, content != "---" else { continue }
            let indent = line.prefix { $0 == " " }.count
            while let last = open.last, last.indent >= indent { open.removeLast() }
            var parent = open.last?.path ?? ""
            var body = content
            var keyIndent = indent
            if body == "-" || body.hasPrefix("- ") {
                let index = listCount[parent, default: 0]
                listCount[parent] = index + 1
                parent = join(parent, String(index))
                open.append((indent, parent))
                body = String(body.dropFirst()).trimmingCharacters(in: .whitespaces)
                keyIndent = indent + 2
                if body.isEmpty { continue }
                guard keyValue(body) != nil else {
                    values[parent] = unquote(body)
                    continue
                }
            }
            guard let (key, value) = keyValue(body) else { continue }
            let path = join(parent, key)
            if value.isEmpty {
                open.append((keyIndent, path))
            } else {
                values[path] = unquote(value)
            }
        }
        return values
    }

    static func join(_ parent: String, _ key: String) -> String { parent.isEmpty ? key : "\(parent).\(key)" }

    /// `key: value` or `key:`; nil for a line that is not a mapping entry.
    static func keyValue(_ body: String) -> (String, String)? {
        if body.hasSuffix(":") { return (unquote(String(body.dropLast())), "") }
        guard let range = body.range(of: ": ") else { return nil }
        return (unquote(String(body[..<range.lowerBound])), String(body[range.upperBound...]).trimmingCharacters(in: .whitespaces))
    }

    static func unquote(_ text: String) -> String {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.count >= 2, (t.hasPrefix("\"") && t.hasSuffix("\"")) || (t.hasPrefix("'") && t.hasSuffix("'")) {
            return String(t.dropFirst().dropLast())
        }
        return t
    }

    /// A `#` that starts the line or follows a space, outside quotes, starts a comment.
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, c) in line.enumerated() {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'", previous == " " {
                quote = c
            } else if c == "#", previous == " " {
                return String(line.prefix(offset))
            }
            previous = c
        }
        return line
    }
}
