import ArgumentParser
import Foundation
import KeyportBuildInfo
import KeyportJSON

public struct Kpadm: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kpadm",
        abstract: "Keyport's admin CLI: kcadm.sh's grammar, plus helpers for the registry token realm.",
        discussion: """
            Log in once, then work on any realm:
              kpadm config credentials --server http://localhost:8080 --realm master \\
                  --user admin
              kpadm create realms -s realm=acme -s enabled=true
              kpadm get users -r acme -q username=alice
            Exit status: 0 done, 1 the server refused (its message is shown), 2 usage error.
            """,
        version: "kpadm \(KeyportBuildInfo.description)",
        subcommands: [ConfigCommand.self, Create.self, Get.self, Update.self, Delete.self, SetPassword.self,
                      AddRoles.self, RemoveRoles.self, GetRoles.self, Docker.self, Keys.self])

    public init() {}

    /// Runs kpadm on `arguments` and returns the exit status (0, 1 or 2).
    public static func run(_ arguments: [String]) async -> Int32 {
        if let problem = unknownCommand(in: arguments) {
            Output.message("kpadm: \(problem)")
            return 2
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let error as KpadmError {
            Output.message("kpadm: \(error.description)")
            return error.exitCode
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Output.line(fullMessage(for: error))
                return 0
            }
            Output.message(fullMessage(for: error))
            // Parse and validation errors are usage errors (2); anything else is a failure (1).
            return code == .validationFailure ? 2 : 1
        }
    }
}

extension Kpadm {
    /// Names a mistyped command before the parser does: without this, `kpadm creat users -r acme`
    /// would complain about `-r`, the first thing the root command does not know.
    static func unknownCommand(in arguments: [String]) -> String? {
        var command: ParsableCommand.Type = Kpadm.self
        var said = ["kpadm"]
        for argument in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !argument.hasPrefix("-"), argument != "help" else { return nil }
            guard let next = subcommands.first(where: { $0._commandName == argument }) else {
                let names = subcommands.map { $0._commandName }
                let closest = names.map { ($0, editDistance($0, argument)) }.min { $0.1 < $1.1 }
                let hint = closest.flatMap { $0.1 <= max(2, $0.0.count / 3) ? " Did you mean '\($0.0)'?" : nil } ?? ""
                return "'\(argument)' is not a command of \(said.joined(separator: " ")).\(hint) "
                    + "Commands: \(names.joined(separator: ", ")). See '\(said.joined(separator: " ")) --help'."
            }
            command = next
            said.append(argument)
        }
        return nil
    }

    /// Levenshtein distance, for "did you mean"; both strings are command names (short).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.prefix(64)), b = Array(b.prefix(64))
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

// MARK: - config credentials

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Manage the stored session.",
                                                    subcommands: [Credentials.self])

    struct Credentials: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log in and keep the session (tokens only, never the password) in ~/.keyport/kpadm.json, mode 0600.",
            discussion: """
                Examples:
                  kpadm config credentials --server http://localhost:8080 --realm master \\
                      --user admin
                  KPADM_PASSWORD=… kpadm config credentials --server http://localhost:8080 \\
                      --realm master --user admin
                  kpadm config credentials --server http://localhost:8080 --realm acme \\
                      --client ci-bot --secret …
                  kpadm config credentials --server https://keyport.example.com \\
                      --realm master --device
                      (sign in with a browser: kpadm shows where, never sees a password)
                """)

        @OptionGroup var connection: ConnectionOptions

        @Flag(name: .customLong("device"), help: "Sign in through a browser (OAuth 2.0 device authorization grant) instead of a password")
        var device = false

        mutating func run() async throws {
            guard let server = connection.server else { throw KpadmError.usage("config credentials needs --server URL") }
            let realm = connection.authRealm ?? "master"
            let session: Session
            if device {
                guard connection.user == nil, connection.password == nil, connection.secret == nil else {
                    throw KpadmError.usage("--device signs in through a browser: leave out --user, --password and --secret")
                }
                session = try await AdminClient.deviceLogin(server: server, realm: realm, clientId: connection.client ?? "admin-cli",
                                                            tell: { Output.message($0) })
            } else {
                session = try await AdminClient.login(server: server, realm: realm, credentials: try connection.credentials())
            }
            try session.save(to: connection.sessionPath)
            Output.message("Logged in to \(session.server) realm \(session.realm) as \(session.username ?? session.clientId); session saved in \(connection.sessionPath)")
        }
    }
}

// MARK: - create / get / update / delete

struct BodyOptions: ParsableArguments {
    @Option(name: .short, help: ArgumentHelp("Set a field: key=value (value parsed as JSON if it is JSON); nested: attributes.k=v, attributes.\"docker.grant\"=[…]", valueName: "key=value"))
    var s: [String] = []

    @Option(name: .short, help: ArgumentHelp("Read the body from a JSON file, or - for standard input", valueName: "file"))
    var f: String?

    func validate() throws {
        for expression in s {
            do { _ = try SetExpression(parsing: expression) } catch { throw ValidationError(error.description) }
        }
    }

    /// The body: the file (if any) with every -s applied on top.
    func body() throws(KpadmError) -> JSONValue? {
        var body: JSONValue? = nil
        if let f {
            let data: Data?
            if f == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else { data = FileManager.default.contents(atPath: f) }
            guard let data else { throw .usage("cannot read \(f)") }
            guard let parsed = try? JSONDecoder().decode(JSONValue.self, from: data) else { throw .usage("\(f) is not valid JSON") }
            body = parsed
        }
        for expression in s {
            var object = body ?? .object([:])
            try SetExpression(parsing: expression).apply(to: &object)
            body = object
        }
        return body
    }
}

struct TargetOptions: ParsableArguments {
    @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm"))
    var r: String?

    @Option(name: .short, help: ArgumentHelp("Query parameter key=value (repeatable)", valueName: "key=value"))
    var q: [String] = []

    func realm(_ client: AdminClient) -> String { r ?? client.session.realm }

    func validate() throws {
        do { _ = try query() } catch { throw ValidationError(error.description) }
    }

    func query() throws(KpadmError) -> [(String, String)] {
        var result: [(String, String)] = []
        for text in q {
            let parameter = try QueryParameter(parsing: text)
            result.append((parameter.name, parameter.value))
        }
        return result
    }
}

struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a resource: POST to PATH.",
        discussion: """
            Examples:
              kpadm create realms -s realm=acme -s enabled=true
              kpadm create users -r acme -s username=alice -s enabled=true
              kpadm create clients -r acme -s clientId=registry.acme.io \\
                  -s protocol=docker-v2 -i
              kpadm create clients/<id>/roles -r acme -s name=team-a-push -s \\
                  'attributes."docker.grant"=["repository:team-a/*:pull,push"]'
              kpadm create partialImport -r acme -s ifResourceExists=SKIP -o \\
                  -f realm-export.json
            """)

    @Argument(help: "e.g. users, clients, roles, groups, clients/<id>/roles, groups/<id>/children, realms") var path: String
    @OptionGroup var target: TargetOptions
    @OptionGroup var body: BodyOptions
    @Flag(name: .short, help: "Print only the new id") var i = false
    @Flag(name: .short, help: "Print the created object") var o = false
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        let client = try await connection.client()
        let resolved = try AdminPath.resolve(path, realm: target.realm(client))
        let reply = try await client.call("POST", resolved, query: try target.query(), body: try body.body() ?? .object([:]))
        // A POST that makes nothing addressable answers with a body instead of a Location
        // (`partialImport` answers with what it added, skipped and overwrote): show that.
        guard let location = reply.location else {
            if let json = reply.json, o || !i { Output.json(json) }
            return
        }
        let id = location.split(separator: "/").last.map { String($0).removingPercentEncoding ?? String($0) }
        if i, let id { Output.line(id) }
        if o, let location = reply.location, let url = URLComponents(string: location) {
            let created = try await client.call("GET", url.path)
            if let json = created.json { Output.json(json) }
        }
        if !i { Output.message("Created new \(AdminPath.thing(path)) with id '\(id ?? "")'") }
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a resource or a list: GET PATH.",
        discussion: """
            Examples:
              kpadm get realms
              kpadm get users -r acme -q username=alice -q exact=true --fields id,username
              kpadm get clients -r acme -q clientId=registry.acme.io --fields id
            """)

    @Argument(help: "e.g. users, users/<id>, clients, roles, groups, realms, realms/<name>, serverinfo") var path: String
    @OptionGroup var target: TargetOptions
    @Option(help: "Only these fields, comma-separated (dotted for nested ones)") var fields: String?
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        let client = try await connection.client()
        let reply = try await client.call("GET", try AdminPath.resolve(path, realm: target.realm(client)), query: try target.query())
        guard let json = reply.json else { Output.line(reply.text); return }
        Output.json(fields.map { json.projected($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) } ?? json)
    }
}

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a resource: GET it, merge the changes, PUT the whole object back.",
        discussion: """
            Examples:
              kpadm update realms/acme -s enabled=false
              kpadm update users/<id> -r acme -s firstName=Alice -s attributes.team=a
              kpadm update users/<id>/groups/<group-id> -r acme -n      (join a group)
            """)

    @Argument(help: "The resource, e.g. users/<id>, clients/<id>, realms/<name>") var path: String
    @OptionGroup var target: TargetOptions
    @OptionGroup var body: BodyOptions
    @Flag(name: [.short, .customLong("no-merge")], help: "PUT only what is given, without reading the current object first") var n = false
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        let client = try await connection.client()
        let resolved = try AdminPath.resolve(path, realm: target.realm(client))
        if n {
            try await client.call("PUT", resolved, query: try target.query(), body: try body.body())
            return
        }
        guard let changes = try body.body() else { throw KpadmError.usage("nothing to update: give -s key=value or -f file") }
        let current = try await client.call("GET", resolved).json ?? .object([:])
        try await client.call("PUT", resolved, query: try target.query(), body: current.merging(changes))
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a resource: DELETE PATH.",
        discussion: "Example:\n  kpadm delete users/<id> -r acme")

    @Argument(help: "The resource, e.g. users/<id>, groups/<id>, clients/<id>/roles/<name>") var path: String
    @OptionGroup var target: TargetOptions
    @OptionGroup var body: BodyOptions
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        let client = try await connection.client()
        try await client.call("DELETE", try AdminPath.resolve(path, realm: target.realm(client)), query: try target.query(), body: try body.body())
    }
}
