import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KeyportJSON

extension Docker {
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check everything between a realm and a registry, and say which side to fix.",
            discussion: """
                Reads the realm and its docker-v2 client from Keyport, the registry's
                config.yml and the bundle or JWKS it names, and the registry's own challenge
                at /v2/; asks the token realm as clients do; compares the clocks. Each line
                is ok, warning or problem, with the side to fix in brackets. Exit 1 when a
                problem was found.
                Examples:
                  kpadm docker doctor -r acme --service registry.acme.test \\
                      --registry-config /etc/docker/registry/config.yml \\
                      --registry-url https://registry.acme.test
                  kpadm docker doctor -r acme --service registry.acme.test \\
                      --registry-url http://127.0.0.1:5000 \\
                      --cert-bundle ./bundle-copied-from-the-registry.pem
                A registry started with REGISTRY_AUTH_TOKEN_* variables is not described by
                its file: give --registry-url, whose challenge shows what it runs with.
                """)
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
        @Option(name: .customLong("registry-config"), help: "The registry's config.yml") var registryConfig: String?
        @Option(name: .customLong("registry-url"), help: "The registry's URL, e.g. https://registry.acme.test") var registryURL: String?
        @Option(name: .customLong("cert-bundle"), help: "A copy of the registry's rootcertbundle (default: the path its config names)") var certBundle: String?
        @Option(name: .customLong("jwks"), help: "A copy of the registry's jwks file (default: the path its config names)") var jwks: String?
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            guard registryConfig != nil || registryURL != nil || certBundle != nil || jwks != nil else {
                throw KpadmError.usage("give the registry: --registry-config FILE and/or --registry-url URL")
            }
            if let registryURL {
                guard let url = URLComponents(string: registryURL), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                    throw KpadmError.usage("--registry-url is the registry's http(s) URL, e.g. https://registry.acme.test")
                }
            }
            var config: [String: String]?
            if let registryConfig {
                guard let data = FileManager.default.contents(atPath: registryConfig) else { throw KpadmError.usage("cannot read \(registryConfig)") }
                config = RegistryConfigFile.parse(String(decoding: data, as: UTF8.self))
            }
            let client = try await connection.client()
            let facts = try await DoctorProbe(client: client, realm: r ?? client.session.realm, service: service)
                .gather(configPath: registryConfig, config: config, registryURL: registryURL.map(AdminClient.normalize),
                        certBundle: certBundle, jwks: jwks)
            let findings = DockerDoctor.diagnose(facts)
            for finding in findings { Output.line(finding.description) }
            let problems = findings.filter { $0.verdict == .problem }.count, warnings = findings.filter { $0.verdict == .warning }.count
            if problems > 0 {
                Output.message("\(problems) problem(s), \(warnings) warning(s): fix the side named in brackets (docs/troubleshooting.md)")
                throw ExitCode(1)
            }
            Output.message("No problem found between realm \(facts.realm) and the registry" + (warnings > 0 ? " (\(warnings) warning(s))" : ""))
        }
    }
}

/// Gathers what `kpadm docker doctor` judges: the admin API for the realm and client, plain
/// unauthenticated GETs (as docker sends them) for the registry and the token realm.
struct DoctorProbe {
    let client: AdminClient
    let realm: String
    let service: String

    func gather(configPath: String?, config: [String: String]?, registryURL: String?, certBundle: String?, jwks: String?) async throws -> DockerDoctor.Facts {
        let lookup = Lookup(client: client, realm: realm)
        let server = client.session.server
        let realmState = try await realmState(lookup)
        var issuer: String?
        let (discovery, keyportOffset) = await Self.get("\(server)/realms/\(AdminClient.escape(realm))/.well-known/openid-configuration")
        if case .answered(200, _, let body) = discovery {
            issuer = (try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)))?["issuer"]?.stringValue
        }
        var clientState = DockerDoctor.ClientState.missing
        var clientUUID: String?
        if realmState != .missing {
            let clients = try await client.call("GET", "\(lookup.base)/clients", query: [("clientId", service)]).json?.arrayValue ?? []
            if let found = clients.first(where: { $0["clientId"]?.stringValue == service }) {
                clientUUID = found["id"]?.stringValue
                let attributes = found["attributes"]
                clientState = .found(protocolName: found["protocol"]?.stringValue ?? "openid-connect", enabled: found["enabled"]?.boolValue ?? true,
                                     x5c: attributes?["docker.token.x5c"]?.stringValue != "false",
                                     algorithm: attributes?["docker.signature.algorithm"]?.stringValue ?? "RS256")
            }
        }
        var facts = DockerDoctor.Facts(server: server, realm: realm, service: service, realmState: realmState, issuer: issuer, client: clientState)
        facts.keyportClockOffset = keyportOffset
        if case .found(let protocolName, _, _, _) = clientState, protocolName == "docker-v2", let clientUUID {
            let installation = "\(lookup.base)/clients/\(clientUUID)/installation/providers"
            facts.keyportBundle = DockerDoctor.parseBundle(try await client.call("GET", "\(installation)/docker-v2-cert-bundle").text)
            facts.keyportJWKS = try await client.call("GET", "\(installation)/docker-v2-jwks").json?["keys"]?.arrayValue ?? []
        }
        facts.configPath = configPath
        facts.config = config
        if let path = certBundle ?? config?["auth.token.rootcertbundle"] { facts.registryBundle = Self.read(path) }
        if let path = jwks ?? config?["auth.token.jwks"] { facts.registryJWKS = Self.read(path) }
        var challengeRealm: String?
        if let registryURL {
            let (challenge, offset) = await Self.get("\(registryURL)/v2/")
            facts.registryURL = registryURL
            facts.challenge = challenge
            facts.registryClockOffset = offset
            if case .answered(_, let headers, _) = challenge,
               let header = headers.first(where: { $0.key.lowercased() == "www-authenticate" })?.value {
                challengeRealm = DockerDoctor.parseBearerChallenge(header)?["realm"]
            }
        }
        // Asked where clients are sent: the running registry's word first, then its file's.
        if let tokenRealm = challengeRealm ?? config?["auth.token.realm"], var components = URLComponents(string: tokenRealm) {
            components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "service", value: service)]
            facts.tokenRealmURL = tokenRealm
            facts.tokenRealm = await Self.get(components.url?.absoluteString ?? "").probe
        }
        return facts
    }

    func realmState(_ lookup: Lookup) async throws(KpadmError) -> DockerDoctor.RealmState {
        do {
            let json = try await client.call("GET", lookup.base).json
            return .found(enabled: json?["enabled"]?.boolValue ?? true, dockerV2: json?["dockerV2Enabled"]?.boolValue ?? false)
        } catch .refused(status: 404, _) {
            return .missing
        }
    }

    static func read(_ path: String) -> DockerDoctor.RegistryFile {
        guard FileManager.default.fileExists(atPath: path) else { return .unreadable(path: path, reason: "no such file here; the path may be inside the registry's container") }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 4 << 20 else {
            return .unreadable(path: path, reason: "not readable, or larger than 4 MiB")
        }
        return .read(path: path, text: String(decoding: data, as: UTF8.self))
    }

    /// A GET without credentials; with the answering clock minus this one's, from its `Date`.
    static func get(_ url: String) async -> (probe: DockerDoctor.Probe, clockOffset: Double?) {
        guard let target = URL(string: url), target.scheme != nil else { return (.unreachable("not a URL"), nil) }
        var request = URLRequest(url: target)
        request.timeoutInterval = 10
        let catcher = ChallengeCatcher()
        let session = URLSession(configuration: .ephemeral, delegate: catcher, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let sent = Date()
        func answered(_ http: HTTPURLResponse?, _ data: Data) -> (DockerDoctor.Probe, Double?) {
            let received = Date()
            var headers: [String: String] = [:]
            for (key, value) in http?.allHeaderFields ?? [:] { headers["\(key)"] = "\(value)" }
            // The header has whole seconds: its clock read somewhere in the second after `when`.
            let offset = headers.first(where: { $0.key.lowercased() == "date" }).flatMap { httpDate($0.value) }
                .map { $0.timeIntervalSince1970 + 0.5 - (sent.timeIntervalSince1970 + received.timeIntervalSince1970) / 2 }
            return (.answered(status: http?.statusCode ?? 0, headers: headers, body: String(decoding: data.prefix(64 << 10), as: UTF8.self)), offset)
        }
        do {
            let (data, response) = try await session.data(for: request)
            return answered(response as? HTTPURLResponse, data)
        } catch let error as URLError where error.code == .cancelled {
            // A 401 asking for Basic credentials: answered, seen by the catcher, not followed.
            guard let challenged = catcher.response else { return (.unreachable(error.localizedDescription), nil) }
            return answered(challenged, Data())
        } catch let error as URLError where [.serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateHasUnknownRoot,
                                             .serverCertificateNotYetValid, .secureConnectionFailed, .clientCertificateRequired].contains(error.code) {
            return (.tls(error.localizedDescription), nil)
        } catch {
            return (.unreachable(error.localizedDescription), nil)
        }
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}

/// Keeps the answer that asked for credentials and declines to give any. Left to itself,
/// FoundationNetworking waits forever on a `401` with a `Basic` challenge (Keyport's token
/// endpoint answers so without credentials).
final class ChallengeCatcher: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var caught: HTTPURLResponse?

    var response: HTTPURLResponse? { lock.withLock { caught } }

    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        // A server-trust challenge (TLS, on Darwin) is the system's to decide.
        guard [NSURLAuthenticationMethodHTTPBasic, NSURLAuthenticationMethodHTTPDigest, NSURLAuthenticationMethodDefault]
            .contains(challenge.protectionSpace.authenticationMethod) else { return completionHandler(.performDefaultHandling, nil) }
        lock.withLock { caught = challenge.failureResponse as? HTTPURLResponse }
        completionHandler(.cancelAuthenticationChallenge, nil)
    }
}
