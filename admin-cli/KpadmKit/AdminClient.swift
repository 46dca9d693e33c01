import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KeyportJSON

/// Talks to Keyport's admin REST API, as kcadm talks to Keycloak's: it logs in through the
/// token endpoint, refreshes the access token when it is about to expire, and turns every
/// refusal into the server's own message.
public final class AdminClient: @unchecked Sendable {
    public private(set) var session: Session
    let sessionPath: String?
    let now: () -> Double

    public init(session: Session, sessionPath: String?, now: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        self.session = session
        self.sessionPath = sessionPath
        self.now = now
    }

    public struct Credentials: Sendable {
        public var username: String?
        public var password: String?
        public var clientId: String
        public var secret: String?

        public init(username: String?, password: String?, clientId: String, secret: String?) {
            self.username = username
            self.password = password
            self.clientId = clientId
            self.secret = secret
        }
    }

    /// Logs in: the password grant for a user, client_credentials for a service account.
    public static func login(server: String, realm: String, credentials: Credentials, now: Double = Date().timeIntervalSince1970) async throws(KpadmError) -> Session {
        let base = normalize(server)
        var form = [("client_id", credentials.clientId)]
        if let username = credentials.username {
            form += [("grant_type", "password"), ("username", username), ("password", credentials.password ?? "")]
        } else {
            form += [("grant_type", "client_credentials")]
        }
        if let secret = credentials.secret { form.append(("client_secret", secret)) }
        let response: JSONValue
        do {
            response = try await post(form: form, to: "\(base)/realms/\(escape(realm))/protocol/openid-connect/token")
        } catch .refused(status: 404, let message) {
            throw notFoundAtLogin(server: base, realm: realm, message: message)
        }
        return try session(from: response, server: base, realm: realm, clientId: credentials.clientId, username: credentials.username, now: now)
    }

    /// Logs in through a browser (OAuth 2.0 Device Authorization Grant): the server gives a code,
    /// `tell` shows where to confirm it, and the token endpoint is polled at the server's pace
    /// until the person approves, denies, or the code expires. No password passes through here.
    public static func deviceLogin(server: String, realm: String, clientId: String, now: @escaping () -> Double = { Date().timeIntervalSince1970 },
                                   wait: (Double) async -> Void = { seconds in try? await Task.sleep(for: .seconds(seconds)) },
                                   tell: (String) -> Void) async throws(KpadmError) -> Session {
        let base = normalize(server)
        let endpoint = "\(base)/realms/\(escape(realm))/protocol/openid-connect"
        let started: JSONValue
        do {
            started = try await post(form: [("client_id", clientId), ("scope", "openid")], to: "\(endpoint)/auth/device")
        } catch .refused(status: 404, let message) {
            throw notFoundAtLogin(server: base, realm: realm, message: message)
        } catch .refused(_, let message) where message.contains("Device Authorization Grant") {
            throw .failure("client \(clientId) of realm \(realm) does not allow device sign-in: set its attribute oauth2.device.authorization.grant.enabled to true, or use --user")
        }
        guard let deviceCode = started["device_code"]?.stringValue, let userCode = started["user_code"]?.stringValue,
              let uri = started["verification_uri_complete"]?.stringValue ?? started["verification_uri"]?.stringValue
        else { throw .failure("the server answered without a device code") }
        func number(_ key: String) -> Double? { started[key].flatMap { if case .number(let n) = $0 { n } else { nil } } }
        var interval = max(1, number("interval") ?? 5)
        let deadline = now() + min(number("expires_in") ?? 600, 3600)
        tell("To sign in, open \(uri) in a browser and check that it shows the code \(userCode).")
        while now() < deadline {
            await wait(interval)
            let reply: JSONValue
            do {
                reply = try await post(form: [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("client_id", clientId),
                                              ("device_code", deviceCode)], to: "\(endpoint)/token")
            } catch .refused(_, let message) {
                switch message {
                case "The authorization request is still pending": continue
                case "Slow down": interval += 5; continue
                case "The end user denied the authorization request": throw .failure("the sign-in was denied in the browser")
                case "Device code is expired": throw .failure("the code expired before it was confirmed; run the command again")
                default: throw .failure(message)
                }
            }
            let username = reply["access_token"]?.stringValue.flatMap(tokenUsername)
            return try session(from: reply, server: base, realm: realm, clientId: clientId, username: username, now: now())
        }
        throw .failure("the code expired before it was confirmed; run the command again")
    }

    /// `preferred_username` of an access token, read without checking it (the server just sent it).
    static func tokenUsername(_ token: String) -> String? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var text = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let claims = try? JSONDecoder().decode(JSONValue.self, from: data) else { return nil }
        return claims["preferred_username"]?.stringValue
    }

    /// A 404 at login is almost always a wrong `--server`: Keycloak before version 17 served under
    /// `/auth`, and scripts written for it still say so; Keyport serves at the root.
    static func notFoundAtLogin(server: String, realm: String, message: String) -> KpadmError {
        let path = URLComponents(string: server)?.path ?? ""
        if path.hasSuffix("/auth") {
            let root = String(server.dropLast("/auth".count))
            return .failure("\(server) is Keycloak's old /auth path; Keyport serves at the root (unless started with --http-relative-path /auth): use --server \(root)")
        }
        if !path.isEmpty {
            return .failure("nothing answers at \(server)/realms/\(realm)/…: --server is the server's base URL, e.g. http://localhost:8080 (HTTP 404: \(message))")
        }
        return .refused(status: 404, message: message)
    }

    static func session(from response: JSONValue, server: String, realm: String, clientId: String, username: String?, now: Double) throws(KpadmError) -> Session {
        guard let access = response["access_token"]?.stringValue else { throw .failure("the server answered without an access token") }
        let expiresIn = response["expires_in"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? 60
        let refreshIn = response["refresh_expires_in"].flatMap { if case .number(let n) = $0 { n } else { nil } }
        return Session(server: server, realm: realm, clientId: clientId, username: username, accessToken: access,
                       expiresAt: now + expiresIn, refreshToken: response["refresh_token"]?.stringValue,
                       refreshExpiresAt: refreshIn.map { now + $0 })
    }

    /// A fresh access token, refreshing (and saving) the session when it expires within 10 s.
    func accessToken() async throws(KpadmError) -> String {
        if session.expiresAt - now() > 10 { return session.accessToken }
        guard let refresh = session.refreshToken, (session.refreshExpiresAt ?? 0) > now() else {
            throw .failure("the session for \(session.server) has expired: log in again with kpadm config credentials --server \(session.server) --realm \(session.realm) --user <name>")
        }
        let url = "\(session.server)/realms/\(Self.escape(session.realm))/protocol/openid-connect/token"
        let response: JSONValue
        do {
            response = try await Self.post(form: [("grant_type", "refresh_token"), ("client_id", session.clientId), ("refresh_token", refresh)], to: url)
        } catch {
            throw .failure("the session for \(session.server) has expired: log in again with kpadm config credentials --server \(session.server) --realm \(session.realm) --user <name>")
        }
        session = try Self.session(from: response, server: session.server, realm: session.realm, clientId: session.clientId, username: session.username, now: now())
        if let sessionPath { try session.save(to: sessionPath) }
        return session.accessToken
    }

    public struct Reply: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
        public var json: JSONValue? { body.isEmpty ? nil : try? JSONDecoder().decode(JSONValue.self, from: body) }
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var location: String? { headers.first { $0.key.lowercased() == "location" }?.value }
    }

    /// An admin API call; `path` is absolute from the server root (`/admin/realms/acme/users`).
    @discardableResult
    public func call(_ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil) async throws(KpadmError) -> Reply {
        var components = URLComponents(string: session.server + path)
        if !query.isEmpty { components?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        guard let url = components?.url else { throw .usage("not a valid path: \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("Bearer \(try await accessToken())", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.encoded().utf8)
        }
        let reply = try await Self.send(request)
        guard (200..<300).contains(reply.status) else { throw Self.refusal(reply, url: url.absoluteString) }
        return reply
    }

    /// The server's reason; with none (a path the server does not serve), kcadm's words and the URL.
    static func refusal(_ reply: Reply, url: String? = nil) -> KpadmError {
        let json = reply.json
        let message = json?["errorMessage"]?.stringValue ?? json?["error_description"]?.stringValue ?? json?["error"]?.stringValue
            ?? (!reply.text.isEmpty ? String(reply.text.prefix(500))
                : reply.status == 404 && url != nil ? "Resource not found for url: \(url!)" : "no details")
        return .refused(status: reply.status, message: message)
    }

    static func post(form: [(String, String)], to url: String) async throws(KpadmError) -> JSONValue {
        guard let target = URL(string: url) else { throw .usage("not a valid server URL: \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        request.httpBody = Data(form.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&").utf8)
        let reply = try await send(request)
        guard (200..<300).contains(reply.status), let json = reply.json else { throw refusal(reply) }
        return json
    }

    static func send(_ request: URLRequest) async throws(KpadmError) -> Reply {
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as? HTTPURLResponse
            var headers: [String: String] = [:]
            for (key, value) in http?.allHeaderFields ?? [:] { headers["\(key)"] = "\(value)" }
            return Reply(status: http?.statusCode ?? 0, headers: headers, body: data)
        } catch {
            throw .failure("cannot reach \(request.url?.host ?? "the server"): \(error.localizedDescription)")
        }
    }

    public static func normalize(_ server: String) -> String {
        var s = server.trimmingCharacters(in: .whitespaces)
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }

    static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }
}
