import Foundation
import Hummingbird
import KeyportHTTP
import KeycloakRepresentations
import Testing

@Suite("Bad input gets a clear answer, never a 500")
struct BadInputTests {
    @Test func malformedBodiesSayWhatIsWrong() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let cases: [(String, String, String)] = [
                ("/admin/realms/acme/users", "{not json", "The request body is not valid JSON"),
                ("/admin/realms/acme/users", #"{"username": 42}"#, "Field 'username' has the wrong type: expected a string"),
                ("/admin/realms/acme/users", #"{"username": "x", "enabled": "yes"}"#, "Field 'enabled' has the wrong type: expected a boolean"),
                ("/admin/realms/acme/users", #"{"enabled": true}"#, "User name is missing"),
                ("/admin/realms/acme/users", "", "The request body is empty; a JSON object was expected"),
                ("/admin/realms/acme/users", #"["a list"]"#, "The request body has the wrong type: expected an object"),
                ("/admin/realms/acme/users", #"{"username": "\#(String(repeating: "u", count: 300))"}"#, "Username is longer than 255 characters"),
                ("/admin/realms/acme/users", #"{"username": "a/b"}"#, "Username must not contain '/'"),
                ("/admin/realms/acme/users", #"{"username": "a\u0000b"}"#, "Username must not contain control characters or line separators"),
                ("/admin/realms/acme/users", #"{"username": "ok", "email": "not-an-email"}"#, "Invalid email address: not-an-email"),
                ("/admin/realms", #"{"realm": "../etc"}"#, "Realm name may contain only letters, digits, '-', '_' and '.'"),
                ("/admin/realms", #"{"realm": ".."}"#, "Realm name may contain only letters, digits, '-', '_' and '.'"),
                ("/admin/realms", #"{"enabled": true}"#, "Realm name cannot be empty"),
                ("/admin/realms", #"{"realm": "x", "accessTokenLifespan": -5}"#, "accessTokenLifespan must be between 1 and 315360000 seconds"),
                ("/admin/realms/acme/users", #"{"username": "a", "enabled": true, "username": "admin"}"#, "The request body has the key 'username' twice in one object"),
                ("/admin/realms/acme/users", #"{"username": "a", "attributes": {"k": ["1"], "\u006b": ["2"]}}"#, "The request body has the key 'k' twice in one object"),
                ("/admin/realms", #"{"realm": "x", "passwordPolicy": "length(8) and bogus(1)"}"#, "Invalid password policy: unknown rule 'bogus'"),
                ("/admin/realms", #"{"realm": "x", "passwordHashing": {"memory": 999999999}}"#, "passwordHashing is out of bounds"),
                ("/admin/realms/acme/clients", #"{"clientId": "x", "protocol": "saml"}"#, "Unsupported protocol 'saml': use openid-connect or docker-v2"),
                ("/admin/realms/acme/clients", #"{"clientId": ""}"#, "Client id is required"),
                ("/admin/realms/acme/roles", #"{"name": "a/b"}"#, "Role name must not contain '/'"),
                ("/admin/realms/acme/groups", #"{"name": "a/b"}"#, "Group name must not contain '/'"),
            ]
            for (path, body, message) in cases {
                let response = try await api.call(.post, path, token: admin, raw: body)
                #expect(response.status == .badRequest, "\(path) \(body.prefix(60)): \(response.status) \(response.text)")
                #expect(response["errorMessage"]?.stringValue?.hasPrefix(message) == true, "\(path) \(body.prefix(60)): \(response.text)")
            }
            // Fields Keycloak has and Keyport does not use are accepted; others are refused (UnknownFieldTests).
            let tolerant = try await api.call(.post, "/admin/realms/acme/users", token: admin, raw: #"{"username":"ok","federationLink":"x","totp":false,"origin":"y"}"#)
            #expect(tolerant.status == .created)
            // Nothing half-written by the failures above.
            #expect(try await api.call(.get, "/admin/realms/acme/users/count", token: admin).text == "1")
            #expect(try await api.call(.get, "/admin/realms", token: admin).values("realm").sorted() == ["acme", "master"])
        }
    }

    @Test func oversizedBodiesAreRefused() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            let huge = #"{"realm":"big","displayName":""# + String(repeating: "x", count: 2 << 20) + #""}"#
            let response = try await api.call(.post, "/admin/realms", token: admin, raw: huge)
            #expect(response.status == .contentTooLarge || response.status == .badRequest)
            #expect(try await api.call(.get, "/admin/realms/big", token: admin).status == .notFound)
        }
    }

    @Test func unknownIdsAre404WithKeycloaksWords() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.get, "/admin/realms/acme/users/nope", "User not found"),
                (.get, "/admin/realms/acme/clients/nope", "Could not find client"),
                (.get, "/admin/realms/acme/roles/nope", "Could not find role"),
                (.get, "/admin/realms/acme/roles-by-id/nope", "Could not find role with id"),
                (.get, "/admin/realms/acme/groups/nope", "Could not find group by id"),
                (.get, "/admin/realms/nope", "Realm not found."),
                (.delete, "/admin/realms/acme/users/..%2F..%2Fetc", "User not found"),
            ]
            for (method, path, message) in cases {
                let response = try await api.call(method, path, token: admin)
                #expect(response.status == .notFound, "\(path): \(response.status)")
                #expect(response["error"]?.stringValue == message, "\(path): \(response.text)")
            }
        }
    }

    /// Every route, with hostile path parameters, query strings and bodies: whatever the
    /// answer, it is not a server error.
    @Test func noRouteAnswers500ToGarbage() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let userId = try await api.createUser("acme", "target", password: "pw", token: admin)
            let groupId = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: admin, json: ["name": "g"]).createdID)
            let clientId = try await api.createClient("acme", ["clientId": "c"], token: admin)
            _ = try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "r"])

            let garbageValues = ["%00", "..%2F..", String(repeating: "z", count: 2000), "%F0%9F%92%A5", "'; DROP TABLE users; --"]
            let bodies: [String?] = [nil, "{", "[]", "null", #"{"name": {"x": 1}, "username": [], "realm": 7}"#, #"[{"id": 5, "name": null}]"#]
            var checked = 0
            for route in api.server.services.routes {
                for garbage in garbageValues {
                    for (useRealIds, body) in [(true, bodies[checked % bodies.count]), (false, bodies[(checked + 1) % bodies.count])] {
                        var path = route.path
                        let replacements = ["{realm}": "acme", "{id}": useRealIds ? userId : garbage, "{groupId}": useRealIds ? groupId : garbage,
                                            "{client}": useRealIds ? clientId : garbage, "{roleName}": useRealIds ? "r" : garbage,
                                            "{roleId}": garbage, "{credentialId}": garbage, "{providerId}": garbage]
                        for (k, v) in replacements { path = path.replacingOccurrences(of: k, with: v) }
                        path = path.replacingOccurrences(of: "**", with: garbage)
                        path += "?first=\(garbage)&max=-7&exact=maybe&search=\(garbage)&briefRepresentation=x"
                        let method = HTTPRequest.Method(route.method) ?? .get
                        let response = try await api.call(method, path, token: admin, raw: body)
                        #expect(response.status.code < 500, "\(route.method) \(path.prefix(120)) with \(body ?? "no body"): \(response.status) \(response.text.prefix(200))")
                        checked += 1
                    }
                }
            }
            #expect(checked > 300)
        }
    }
}

/// Issue 24, item 10: every number a realm representation carries has a bound, whether Keyport
/// keeps it or not. The fields come from the representation itself, so a new one is covered.
@Suite("Realm numbers are bounded")
struct RealmNumberBoundsTests {
    static var integerFields: [String] {
        Mirror(reflecting: RealmRepresentation()).children.compactMap { child in
            type(of: child.value) == Optional<Int>.self ? child.label : nil
        }
    }
    static var hashingFields: [String] {
        Mirror(reflecting: PasswordHashingRepresentation()).children.compactMap { child in
            type(of: child.value) == Optional<Int>.self ? child.label : nil
        }
    }

    @Test func everyIntegerFieldRefusesTheExtremes() async throws {
        #expect(Self.integerFields.count >= 14, "the representation's integer fields: \(Self.integerFields)")
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            for field in Self.integerFields {
                for value in ["9223372036854775807", "-1", "-9223372036854775808"] {
                    let response = try await api.call(.put, "/admin/realms/acme", token: admin, raw: #"{"\#(field)": \#(value)}"#)
                    #expect(response.status == .badRequest, "\(field) = \(value): \(response.status) \(response.text)")
                    #expect(response.text.contains(field), "the refusal names \(field): \(response.text)")
                }
            }
            for field in Self.hashingFields {
                let response = try await api.call(.put, "/admin/realms/acme", token: admin, raw: #"{"passwordHashing": {"\#(field)": 9223372036854775807}}"#)
                #expect(response.status == .badRequest, "passwordHashing.\(field): \(response.status) \(response.text)")
            }
            // Nothing was changed by the refusals.
            let realm = try await api.call(.get, "/admin/realms/acme", token: admin)
            #expect(realm["accessTokenLifespan"]?.int == 300)
        }
    }
}
