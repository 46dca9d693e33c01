import Foundation
import Hummingbird
import HummingbirdTesting
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportServer
import NIOCore
import NIOFoundationCompat
import Testing

/// One answer from the in-process server, with its body parsed when it is JSON.
struct APIResponse {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String
    var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
    var location: String? { headers[.location] }
    /// The last path segment of `Location`: the new id (a role's name for roles).
    var createdID: String? { location?.split(separator: "/").last.map { String($0).removingPercentEncoding ?? String($0) } }
    subscript(key: String) -> JSONValue? { json?[key] }
    /// The items of a JSON array answer.
    var items: [JSONValue] { json?.array ?? [] }
    /// The items of the JSON array under `key` of an object answer.
    func items(at key: String) -> [JSONValue] { json?[key]?.array ?? [] }
    /// `key` of each item of a JSON array answer.
    func values(_ key: String) -> [String] { items.compactMap { $0[key]?.stringValue } }
}

/// Drives a real Keyport application in-process: HTTP requests through the full router and
/// middleware, a real SQLite file, a clock the test moves.
struct APIHarness {
    let client: any TestClientProtocol
    let server: KeyportServer
    let clock: TestClock

    static let adminPassword = "admin-pw"

    /// Runs `body` against a freshly provisioned server whose master admin is `admin` / `admin-pw`.
    static func run(hostname: String = "http://keyport.test", _ body: @escaping @Sendable (APIHarness) async throws -> Void) async throws {
        let clock = TestClock()
        var config = KeyportConfiguration(mode: .development, httpPort: 0,
                                          databasePath: temporaryDirectory().appendingPathComponent("keyport.db").path,
                                          hostname: hostname, bootstrapAdminUsername: "admin", bootstrapAdminPassword: adminPassword)
        // Tests run the periodic syncs themselves, on the test clock.
        config.periodicDirectorySync = false
        let server = try await KeyportServer.make(configuration: config, environment: testEnvironment(clock: clock))
        try await server.application.test(.router) { client in
            try await body(APIHarness(client: client, server: server, clock: clock))
        }
    }

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: JSONValue? = nil, raw: String? = nil,
              form: [(String, String)]? = nil, headers extra: HTTPFields = [:], body text: String? = nil) async throws -> APIResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer? = text.map { ByteBuffer(string: $0) }
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(data: try JSONEncoder().encode(json))
        } else if let raw {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: raw)
        } else if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            body = ByteBuffer(string: form.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
        }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
        return APIResponse(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }

    /// Password grant through `admin-cli`; returns the whole token response.
    func login(realm: String = "master", username: String = "admin", password: String = adminPassword, clientId: String = "admin-cli") async throws -> APIResponse {
        try await call(.post, "/realms/\(realm)/protocol/openid-connect/token",
                       form: [("grant_type", "password"), ("client_id", clientId), ("username", username), ("password", password)])
    }

    func token(realm: String = "master", username: String = "admin", password: String = adminPassword) async throws -> String {
        let response = try await login(realm: realm, username: username, password: password)
        return try #require(response["access_token"]?.stringValue, "login of \(username) failed: \(response.status) \(response.text)")
    }

    // MARK: Shortcuts for setting up a realm through the API itself

    @discardableResult
    func createRealm(_ name: String, token: String, extra: [String: JSONValue] = [:]) async throws -> APIResponse {
        var body: [String: JSONValue] = ["realm": .string(name), "enabled": true]
        body.merge(extra) { $1 }
        let response = try await call(.post, "/admin/realms", token: token, json: .object(body))
        try #require(response.status == .created, "create realm \(name): \(response.status) \(response.text)")
        return response
    }

    func createUser(_ realm: String, _ username: String, password: String? = nil, token: String, extra: [String: JSONValue] = [:]) async throws -> String {
        var body: [String: JSONValue] = ["username": .string(username), "enabled": true]
        if let password { body["credentials"] = [["type": "password", "value": .string(password), "temporary": false]] }
        body.merge(extra) { $1 }
        let response = try await call(.post, "/admin/realms/\(realm)/users", token: token, json: .object(body))
        try #require(response.status == .created, "create user \(username): \(response.status) \(response.text)")
        return try #require(response.createdID)
    }

    func createClient(_ realm: String, _ body: JSONValue, token: String) async throws -> String {
        let response = try await call(.post, "/admin/realms/\(realm)/clients", token: token, json: body)
        try #require(response.status == .created, "create client: \(response.status) \(response.text)")
        return try #require(response.createdID)
    }

    func clientUUID(_ realm: String, _ clientId: String, token: String) async throws -> String {
        let list = try await call(.get, "/admin/realms/\(realm)/clients?clientId=\(clientId)", token: token)
        guard case .array(let items)? = list.json, let id = items.first?["id"]?.stringValue else {
            Issue.record("client \(clientId) not found: \(list.text)")
            return ""
        }
        return id
    }

    func role(_ realm: String, _ name: String, client: String? = nil, token: String) async throws -> JSONValue {
        let path = client.map { "/admin/realms/\(realm)/clients/\($0)/roles/\(name)" } ?? "/admin/realms/\(realm)/roles/\(name)"
        let response = try await call(.get, path, token: token)
        try #require(response.status == .ok, "role \(name): \(response.text)")
        return try #require(response.json)
    }
}

extension JSONValue {
    var array: [JSONValue] { if case .array(let a) = self { a } else { [] } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    var int: Int? { if case .number(let n) = self { Int(n) } else { nil } }
    var strings: [String] { array.compactMap(\.stringValue) }
}
