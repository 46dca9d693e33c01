import ArgumentParser
import KeyportJSON
@testable import KpadmKit
import Testing

@Suite("kpadm parsing")
struct KpadmParsingTests {
    static let setCases: [(String, [String], JSONValue)] = [
        ("username=alice", ["username"], "alice"),
        ("enabled=true", ["enabled"], true),
        ("accessTokenLifespan=120", ["accessTokenLifespan"], 120),
        ("name=123abc", ["name"], "123abc"),
        ("attributes.team=a", ["attributes", "team"], "a"),
        (#"attributes."docker.grant"=["repository:team-a/*:pull,push"]"#, ["attributes", "docker.grant"], ["repository:team-a/*:pull,push"]),
        (#"redirectUris=["https://x/*"]"#, ["redirectUris"], ["https://x/*"]),
        ("description=a=b", ["description"], "a=b"),
        ("empty=", ["empty"], ""),
        (#"obj={"a":1}"#, ["obj"], ["a": 1]),
    ]

    @Test(arguments: setCases)
    func setExpressions(_ text: String, _ path: [String], _ value: JSONValue) throws {
        let expression = try SetExpression(parsing: text)
        #expect(expression.path == path)
        #expect(expression.value == value)
    }

    /// A value that starts like JSON and is not valid JSON is a typo, not a string to store.
    @Test(arguments: ["noequals", "=value", "a..b=1", #""unbalanced=1"#, ".a=1", #"redirectUris=["https://x/*""#,
                      #"attributes={"a":1"#, #"name="unterminated"#, "roles=[a,b]"])
    func badSetExpressionsAreUsageErrors(_ text: String) {
        #expect(throws: KpadmError.self) { try SetExpression(parsing: text) }
    }

    @Test func setsBuildNestedObjectsAndMergeDeeply() throws {
        var body: JSONValue = ["username": "alice", "attributes": ["team": ["a"]]]
        try SetExpression(parsing: "attributes.floor=3").apply(to: &body)
        try SetExpression(parsing: "enabled=false").apply(to: &body)
        #expect(body == ["username": "alice", "enabled": false, "attributes": ["team": ["a"], "floor": 3]])
        let current: JSONValue = ["a": 1, "nested": ["x": 1, "y": 2], "list": [1, 2]]
        #expect(current.merging(["nested": ["y": 3], "list": [9]]) == ["a": 1, "nested": ["x": 1, "y": 3], "list": [9]])
    }

    @Test func fieldsProjectObjectsAndLists() {
        let user: JSONValue = ["id": "1", "username": "alice", "attributes": ["team": ["a"], "x": ["y"]]]
        #expect(user.projected(["id", "attributes.team"]) == ["id": "1", "attributes": ["team": ["a"]]])
        #expect(JSONValue.array([user, user]).projected(["username"]) == [["username": "alice"], ["username": "alice"]])
        #expect(user.projected(["missing"]) == .object([:]))
    }

    static let paths: [(String, String?, String)] = [
        ("users", "acme", "/admin/realms/acme/users"),
        ("/clients/abc/roles/", "acme", "/admin/realms/acme/clients/abc/roles"),
        ("realms", nil, "/admin/realms"),
        ("realms/acme", "other", "/admin/realms/acme"),
        ("serverinfo", nil, "/admin/serverinfo"),
    ]

    @Test(arguments: paths)
    func pathsResolveLikeKcadm(_ path: String, _ realm: String?, _ expected: String) throws {
        #expect(try AdminPath.resolve(path, realm: realm) == expected)
    }

    @Test func pathErrorsAreUsageErrors() {
        #expect(throws: KpadmError.usage("which realm? give -r REALM")) { try AdminPath.resolve("users", realm: nil) }
        #expect(throws: KpadmError.self) { try AdminPath.resolve("users/../../x", realm: "acme") }
        #expect(throws: KpadmError.self) { try AdminPath.resolve("", realm: "acme") }
    }

    @Test(arguments: [("users", "user"), ("clients", "client"), ("clients/x/roles", "role"), ("groups/x/children", "group"), ("realms", "realm")])
    func createNamesWhatItMade(_ path: String, _ thing: String) {
        #expect(AdminPath.thing(path) == thing)
    }

    /// Every command parses its documented form.
    static let commandLines: [[String]] = [
        ["config", "credentials", "--server", "http://localhost:8080", "--realm", "master", "--user", "admin"],
        ["config", "credentials", "--server", "http://localhost:8080", "--realm", "acme", "--client", "bot", "--secret", "s"],
        ["create", "realms", "-s", "realm=acme", "-s", "enabled=true"],
        ["create", "users", "-r", "acme", "-s", "username=alice", "-i"],
        ["create", "clients/abc/roles", "-r", "acme", "-f", "-", "-o"],
        ["get", "users", "-r", "acme", "-q", "username=alice", "--fields", "id,username"],
        ["update", "realms/acme", "-s", "enabled=false"],
        ["delete", "users/abc", "-r", "acme"],
        ["set-password", "-r", "acme", "--username", "alice", "--new-password", "x", "--temporary"],
        ["add-roles", "-r", "acme", "--uusername", "alice", "--cclientid", "registry", "--rolename", "a", "--rolename", "b"],
        ["add-roles", "-r", "acme", "--gpath", "/eng/backend", "--rolename", "developer"],
        ["add-roles", "-r", "acme", "--rname", "developer", "--cclientid", "registry", "--rolename", "push"],
        ["remove-roles", "-r", "acme", "--gname", "readers", "--roleid", "abc"],
        ["get-roles", "-r", "acme", "--uid", "abc", "--effective"],
        ["docker", "enable", "-r", "acme"],
        ["docker", "disable", "-r", "acme"],
        ["docker", "client", "create", "-r", "acme", "--service", "registry.acme.io", "--authorization", "allow-all"],
        ["docker", "grant", "-r", "acme", "--service", "registry.acme.io", "--role", "team-a", "repository:team-a/*:pull,push"],
        ["docker", "revoke", "-r", "acme", "--service", "registry.acme.io", "--role", "team-a", "--all"],
        ["docker", "access", "-r", "acme", "--service", "registry.acme.io", "--user", "alice", "repository:x:pull"],
        ["docker", "config", "-r", "acme", "--service", "registry.acme.io", "--format", "cert-bundle", "-o", "/tmp/x.pem"],
        ["get", "users", "--server", "http://localhost:8080", "--user", "admin", "-r", "acme"],
    ]

    @Test(arguments: commandLines)
    func commandsParse(_ arguments: [String]) throws {
        _ = try Kpadm.parseAsRoot(arguments)
    }

    @Test func theParsedOptionsAreTheGivenOnes() throws {
        let create = try #require(try Kpadm.parseAsRoot(["create", "users", "-r", "acme", "-s", "username=alice", "-s", "enabled=true", "-i"]) as? Create)
        #expect(create.path == "users")
        #expect(create.target.r == "acme")
        #expect(try create.body.body() == ["username": "alice", "enabled": true])
        #expect(create.i)
        let grant = try #require(try Kpadm.parseAsRoot(["docker", "grant", "-r", "acme", "--service", "s", "--role", "r", "repository:a:pull", "registry:catalog:*"]) as? Docker.Grant)
        #expect(grant.grants == ["repository:a:pull", "registry:catalog:*"])
        let roles = try #require(try Kpadm.parseAsRoot(["add-roles", "--uusername", "alice", "--rolename", "a", "--rolename", "b"]) as? AddRoles)
        #expect(roles.rolename == ["a", "b"])
    }

    /// Usage errors exit 2 without touching the network; help exits 0.
    static let usageErrors: [[String]] = [
        ["frob"], ["create"], ["get", "users", "-q", "novalue"], ["create", "users", "-r", "acme", "-s", "novalue"],
        ["docker", "grant", "-r", "acme", "--service", "s", "--role", "r", "repository:x:fly"],
        ["docker", "grant", "-r", "acme", "--service", "s", "--role", "r"],
        ["docker", "client", "create", "--service", "s", "--authorization", "everyone"],
        ["docker", "config", "--service", "s", "--format", "zip"],
        ["docker", "access", "--service", "s", "--user", "u", "repository:BAD:pull"],
        ["add-roles", "-r", "acme", "--rolename", "x"],
        ["config", "credentials", "--realm", "master"],
    ]

    @Test(arguments: usageErrors)
    func usageErrorsExitTwo(_ arguments: [String]) async {
        #expect(await Kpadm.run(arguments + ["--config", "/nonexistent/kpadm.json"]) == 2)
    }

    @Test func aMistypedCommandIsNamedWithTheClosestOne() {
        let root = Kpadm.unknownCommand(in: ["creat", "users", "-r", "acme"])
        #expect(root?.contains("'creat' is not a command of kpadm") == true)
        #expect(root?.contains("Did you mean 'create'?") == true)
        let nested = Kpadm.unknownCommand(in: ["docker", "clent", "create", "-r", "acme"])
        #expect(nested?.contains("'clent' is not a command of kpadm docker. Did you mean 'client'?") == true)
        #expect(Kpadm.unknownCommand(in: ["frobnicate"])?.contains("Did you mean") == false)
        // Known commands, help and options pass through to the parser.
        for fine in [["create", "users", "-r", "acme"], ["docker", "client", "create"], ["help", "docker", "grant"], ["--version"], []] {
            #expect(Kpadm.unknownCommand(in: fine) == nil)
        }
    }

    @Test func mistypedCommandsAreUsageErrors() async {
        #expect(await Kpadm.run(["creat", "users", "-r", "acme"]) == 2)
        #expect(await Kpadm.run(["docker", "grnat", "-r", "acme"]) == 2)
    }

    @Test func versionExitsZero() async {
        #expect(await Kpadm.run(["--version"]) == 0)
    }

    /// Keycloak before 17 served under /auth; a 404 there says which URL to use instead.
    @Test func aLoginUnderAuthSaysKeyportServesAtTheRoot() {
        #expect(AdminClient.notFoundAtLogin(server: "http://host:8080/auth", realm: "master", message: "no details")
                == .failure("http://host:8080/auth is Keycloak's old /auth path; Keyport serves at the root (unless started with --http-relative-path /auth): use --server http://host:8080"))
        #expect(AdminClient.notFoundAtLogin(server: "http://host:8080/idp", realm: "master", message: "no details").description
                .contains("--server is the server's base URL"))
        #expect(AdminClient.notFoundAtLogin(server: "http://host:8080", realm: "nope", message: "Realm does not exist")
                == .refused(status: 404, message: "Realm does not exist"))
    }

    /// Help is printed at 80 columns: an example longer than that would wrap in the middle of a
    /// command and could not be copied. Long examples continue with a backslash instead.
    @Test func everyHelpTextFitsEightyColumns() {
        func visit(_ command: ParsableCommand.Type, _ path: String) -> [String] {
            let long = command.configuration.discussion.split(separator: "\n").filter { $0.count > 80 }.map { "\(path): \($0)" }
            return long + command.configuration.subcommands.flatMap { visit($0, "\(path) \($0._commandName)") }
        }
        #expect(visit(Kpadm.self, "kpadm") == [])
    }

    @Test func helpExitsZero() async {
        #expect(await Kpadm.run(["--help"]) == 0)
        #expect(await Kpadm.run(["docker", "grant", "--help"]) == 0)
    }

    @Test func withoutASessionItSaysHowToLogIn() async {
        #expect(await Kpadm.run(["get", "realms", "--config", "/nonexistent/kpadm.json"]) == 1)
    }
}
