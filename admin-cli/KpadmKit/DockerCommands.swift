import ArgumentParser
import DockerV2Grammar
import Foundation
import KeyportJSON

struct Docker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a realm the token realm of a Docker/OCI registry.",
        discussion: """
            A one-minute registry realm:
              kpadm docker enable -r acme
              kpadm docker client create -r acme --service registry.acme.test
              kpadm docker grant -r acme --service registry.acme.test --role team-a-push \\
                  'repository:team-a/*:pull,push'
              kpadm add-roles -r acme --uusername alice --cclientid registry.acme.test \\
                  --rolename team-a-push
              kpadm docker config -r acme --service registry.acme.test \\
                  --format registry-config
            """,
        subcommands: [Enable.self, Disable.self, ClientCommand.self, Grant.self, Revoke.self, Access.self, Token.self, Sessions.self, Inventory.self, Matrix.self, Config.self, Doctor.self, Notifications.self, Events.self])

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn the docker-v2 protocol on for a realm.", discussion: "Example:\n  kpadm docker enable -r acme")
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            try await setFlag(true, realm: r, connection: connection)
            Output.message("docker-v2 is on for realm \(r ?? "(session realm)")")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn the docker-v2 protocol off for a realm.", discussion: "Example:\n  kpadm docker disable -r acme")
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            try await setFlag(false, realm: r, connection: connection)
            Output.message("docker-v2 is off for realm \(r ?? "(session realm)")")
        }
    }

    /// Says so when the realm's docker-v2 is off: what was just done takes effect only once it is
    /// on. Quiet when the caller may not read the realm (its setting is then not its business).
    static func warnIfOff(_ client: AdminClient, realm: String) async {
        guard let settings = try? await client.call("GET", "/admin/realms/\(AdminClient.escape(realm))").json,
              settings["dockerV2Enabled"]?.boolValue == false else { return }
        Output.message("warning: docker-v2 is off for realm \(realm): registries get no token from it until `kpadm docker enable -r \(realm)`")
    }

    static func setFlag(_ on: Bool, realm: String?, connection: ConnectionOptions) async throws {
        let client = try await connection.client()
        let name = realm ?? client.session.realm
        try await client.call("PUT", "/admin/realms/\(AdminClient.escape(name))", body: ["dockerV2Enabled": .bool(on)])
    }

    struct ClientCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "client", abstract: "Registry clients.", subcommands: [Create.self, Anonymous.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create the docker-v2 client a registry names as its service.",
                discussion: "Examples:\n  kpadm docker client create -r acme --service registry.acme.test\n  kpadm docker client create -r acme --service open.acme.io \\\n      --authorization allow-all")
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
            @Option(help: "roles (grants on client roles decide) or allow-all (every user gets what it asks for)") var authorization = "roles"
            @Option(help: "RS256 or ES256 (default: the realm's key algorithm, RS256)") var algorithm: String?
            @Flag(name: .short, help: "Print only the new id (as create -i)") var i = false
            @OptionGroup var connection: ConnectionOptions

            mutating func run() async throws {
                guard ["roles", "allow-all"].contains(authorization) else { throw KpadmError.usage("--authorization is roles or allow-all") }
                if let algorithm, !["RS256", "ES256"].contains(algorithm) { throw KpadmError.usage("--algorithm is RS256 or ES256") }
                let client = try await connection.client()
                let realm = r ?? client.session.realm
                var attributes: [String: JSONValue] = ["docker.authorization": .string(authorization)]
                if let algorithm { attributes["docker.signature.algorithm"] = .string(algorithm) }
                let reply = try await client.call("POST", "/admin/realms/\(AdminClient.escape(realm))/clients",
                                                  body: ["clientId": .string(service), "protocol": "docker-v2", "enabled": true, "attributes": .object(attributes)])
                let id = reply.location?.split(separator: "/").last.map(String.init) ?? ""
                if i {
                    Output.line(id)
                } else {
                    Output.message("Created docker-v2 client \(service) with id '\(id)'")
                    await Docker.warnIfOff(client, realm: realm)
                }
            }
        }
        struct Anonymous: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set what anyone may do without logging in (the client's docker.anonymous.grant); --none removes it.",
                discussion: """
                    Anonymous grants also add to every logged-in user's. ${username} has no
                    meaning here.
                    Examples:
                      kpadm docker client anonymous -r acme --service registry.acme.test --grant \\
                          'repository:public/**:pull'
                      kpadm docker client anonymous -r acme --service registry.acme.test --none
                    """)
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
            @Option(name: .customLong("grant"), help: "A grant anyone gets (repeatable), e.g. 'repository:public/**:pull'") var grants: [String] = []
            @Flag(help: "No anonymous access: requests without credentials get 401") var none = false
            @OptionGroup var connection: ConnectionOptions

            mutating func run() async throws {
                guard none != !grants.isEmpty else { throw KpadmError.usage("give --grant (repeatable) or --none") }
                for grant in grants {
                    guard !grant.contains("${username}") else { throw KpadmError.usage("anonymous grants cannot use ${username}") }
                    guard !grant.contains(" ") else { throw KpadmError.usage("one grant per --grant: '\(grant)' holds a space") }
                    do { _ = try RegistryGrant(parsing: grant) } catch { throw KpadmError.usage(error.description) }
                }
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let uuid = try await lookup.clientUUID(clientId: service)
                let path = "\(lookup.base)/clients/\(uuid)"
                var representation = try await client.call("GET", path).json ?? .object([:])
                var attributes = representation["attributes"]?.objectValue ?? [:]
                attributes["docker.anonymous.grant"] = none ? nil : .string(grants.joined(separator: " "))
                representation["attributes"] = .object(attributes)
                try await client.call("PUT", path, body: representation)
                Output.message(none ? "Anonymous access to \(service) is off" : "Anyone may now: \(grants.joined(separator: " ")) on \(service)")
            }
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add grants to a client role of a registry client (creating the role if needed).",
            discussion: """
                A grant is <type>:<name-pattern>:<actions>: * matches within one path
                segment, ** across segments, ${username} is the requesting user; actions
                pull, push, delete or *.
                Examples:
                  kpadm docker grant -r acme --service registry.acme.test --role team-a-push \\
                      'repository:team-a/*:pull,push'
                  kpadm docker grant -r acme --service registry.acme.test --role personal \\
                      'repository:${username}/**:*'
                """)
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
        @Option(help: "The client role to add the grants to (created if missing); assign it to users or groups with add-roles") var role: String
        @Argument(help: "Grants, e.g. 'repository:team-a/*:pull,push'") var grants: [String] = []
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            guard !grants.isEmpty else { throw KpadmError.usage("give at least one grant, e.g. 'repository:team-a/*:pull,push'") }
            // Refused here, before the server is asked.
            for grant in grants {
                do { _ = try RegistryGrant(parsing: grant) } catch { throw KpadmError.usage(error.description) }
            }
            try await changeGrants(realm: r, service: service, role: role, connection: connection, create: true) { existing in
                existing + grants.filter { !existing.contains($0) }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove grants from a registry client role (--all removes every grant).",
            discussion: "Example:\n  kpadm docker revoke -r acme --service registry.acme.test --role team-a-push \\\n      'repository:team-a/*:pull,push'")
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
        @Option(help: "The client role to remove grants from") var role: String
        @Flag(help: "Remove every grant of the role") var all = false
        @Argument(help: "Grants to remove, exactly as listed on the role") var grants: [String] = []
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            guard all || !grants.isEmpty else { throw KpadmError.usage("give the grants to remove, or --all") }
            let remove = Set(grants)
            let removeAll = all
            try await changeGrants(realm: r, service: service, role: role, connection: connection, create: false) { existing in
                removeAll ? [] : existing.filter { !remove.contains($0) }
            }
        }
    }

    /// Reads a client role's `docker.grant` list, changes it, writes the role back.
    static func changeGrants(realm: String?, service: String, role: String, connection: ConnectionOptions, create: Bool,
                             change: ([String]) -> [String]) async throws {
        let client = try await connection.client()
        let lookup = Lookup(client: client, realm: realm ?? client.session.realm)
        let clientUUID = try await lookup.clientUUID(clientId: service)
        await warnIfOff(client, realm: lookup.realm)
        let rolePath = "\(lookup.base)/clients/\(clientUUID)/roles/\(AdminClient.escape(role))"
        let existingRoles = try await client.call("GET", "\(lookup.base)/clients/\(clientUUID)/roles", query: [("max", "-1")]).json?.arrayValue ?? []
        guard existingRoles.contains(where: { $0["name"]?.stringValue == role }) else {
            guard create else { throw KpadmError.failure("no role '\(role)' on client \(service)") }
            let updated = change([])
            try await client.call("POST", "\(lookup.base)/clients/\(clientUUID)/roles",
                                  body: ["name": .string(role), "attributes": ["docker.grant": .array(updated.map { .string($0) })]])
            Output.message("Created role \(role) of \(service) with \(updated.count) grant(s)")
            return
        }
        var representation = try await client.call("GET", rolePath).json ?? .object([:])
        let existing = representation["attributes"]?["docker.grant"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let updated = change(existing)
        var attributes = representation["attributes"]?.objectValue ?? [:]
        attributes["docker.grant"] = .array(updated.map { .string($0) })
        representation["attributes"] = .object(attributes)
        try await client.call("PUT", rolePath, body: representation)
        Output.message("Role \(role) of \(service) now has \(updated.count) grant(s)")
    }

    struct Access: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a user would be granted (roles, grants that matched, access) without issuing a token.",
            discussion: "Example:\n  kpadm docker access -r acme --service registry.acme.test --user alice \\\n      repository:team-a/app:pull,push")
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
        @Option(name: .customLong("user"), help: "The user to ask about") var username: String
        @Argument(help: "Scopes as a registry asks for them, e.g. repository:team-a/app:pull,push") var scopes: [String] = []
        // --user names the user asked about here, so one-shot login uses --login-user.
        @OptionGroup var connection: AboutUserConnection

        mutating func run() async throws {
            do { _ = try ScopeParser.parse(scopes) } catch { throw KpadmError.usage(error.description) }
            let client = try await connection.client()
            let lookup = Lookup(client: client, realm: r ?? client.session.realm)
            let clientUUID = try await lookup.clientUUID(clientId: service)
            let reply = try await client.call("GET", "\(lookup.base)/clients/\(clientUUID)/docker-v2-access",
                                              query: [("username", username)] + scopes.map { ("scope", $0) })
            Output.json(reply.json ?? .null)
            // Why a login would be refused, in words, beside the JSON.
            for refusal in reply.json?["refusals"]?.arrayValue ?? [] {
                if let text = refusal.stringValue ?? refusal["message"]?.stringValue ?? refusal["reason"]?.stringValue {
                    Output.message("\(username) cannot log in: \(text)")
                }
            }
        }
    }

    struct Inventory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every user's credentials for a registry: personal access tokens or identity tokens, with owner, expiry and last use.",
            discussion: """
                Examples:
                  kpadm docker inventory -r acme --service registry.acme.test
                  kpadm docker inventory -r acme --service registry.acme.test \\
                      --kind identity-token --user alice --first 0 --max 50
                Revoke one with 'kpadm docker token revoke' or 'kpadm docker sessions revoke'.
                """)
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
        @Option(help: "personal-access-token (default) or identity-token") var kind = "personal-access-token"
        @Option(name: .customLong("user"), help: "Only this user's") var username: String?
        @Option(help: "Skip this many (oldest first)") var first: Int?
        @Option(help: "At most this many (default 100)") var max: Int?
        @OptionGroup var connection: AboutUserConnection

        mutating func run() async throws {
            guard ["personal-access-token", "identity-token"].contains(kind) else {
                throw KpadmError.usage("--kind is personal-access-token or identity-token")
            }
            let client = try await connection.client()
            let lookup = Lookup(client: client, realm: r ?? client.session.realm)
            let clientUUID = try await lookup.clientUUID(clientId: service)
            var query: [(String, String)] = [("kind", kind)]
            if let username { query.append(("username", username)) }
            if let first { query.append(("first", String(first))) }
            if let max { query.append(("max", String(max))) }
            let reply = try await client.call("GET", "\(lookup.base)/clients/\(clientUUID)/docker-v2-tokens", query: query)
            Output.json(reply.json ?? .array([]))
        }
    }

    struct Matrix: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Who may do what where: each role of the registry client with grants, its patterns and actions, and who holds it.",
            discussion: """
                Example:
                  kpadm docker matrix -r acme --service registry.acme.test
                Holders are direct (users, groups, composite roles; the first 20 of each);
                'kpadm docker access' answers for one user with every path.
                """)
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
        @Option(help: "Skip this many roles (by name)") var first: Int?
        @Option(help: "At most this many roles (default 50)") var max: Int?
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            let client = try await connection.client()
            let lookup = Lookup(client: client, realm: r ?? client.session.realm)
            let clientUUID = try await lookup.clientUUID(clientId: service)
            var query: [(String, String)] = []
            if let first { query.append(("first", String(first))) }
            if let max { query.append(("max", String(max))) }
            let reply = try await client.call("GET", "\(lookup.base)/clients/\(clientUUID)/docker-v2-matrix", query: query)
            Output.json(reply.json ?? .null)
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Personal access tokens: a password for CI and robots that works only on one registry, limited and revocable.",
            discussion: """
                Examples:
                  kpadm docker token create -r acme --service registry.acme.test --user alice \\
                      --name laptop --expires 90d
                  kpadm docker token create -r acme --service registry.acme.test \\
                      --user ci-robot --name deploy \\
                      --grant 'repository:team-a/*:pull' -q | docker login registry.acme.test \\
                          -u ci-robot --password-stdin
                  kpadm docker token list -r acme --user alice
                  kpadm docker token revoke -r acme --user alice --name laptop
                --user is a username, or the clientId of a client with a service account.
                """,
            subcommands: [Create.self, List.self, RevokeToken.self])

        /// A user by username, or a client's service account by the client's clientId (or its
        /// `service-account-…` username, which user listings leave out).
        static func ownerId(_ name: String, lookup: Lookup) async throws -> String {
            if let id = try? await lookup.userId(username: name) { return id }
            guard let id = try? await lookup.serviceAccountUserId(clientId: name) else {
                throw KpadmError.failure("no user or service account '\(name)' in realm \(lookup.realm)")
            }
            return id
        }

        /// `90d`, `12h`, `30m`, `3600s`, `2w`, `1y` → seconds.
        static func seconds(_ text: String) throws -> Int {
            let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_536_000]
            guard let unit = text.last, let factor = units[unit], let n = Int(text.dropLast()), n > 0,
                  n <= 10 * 31_536_000 / factor else {
                throw KpadmError.usage("--expires is a positive duration of at most 10 years with a unit: 3600s, 30m, 12h, 90d, 2w, 1y")
            }
            return n * factor
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make a token; its secret is printed once (-q: the secret alone, for docker login --password-stdin).",
                discussion: """
                    Examples:
                      kpadm docker token create -r acme --service registry.acme.test --user alice \\
                          --name laptop --expires 90d
                      kpadm docker token create -r acme --service registry.acme.test \\
                          --user ci-robot --name deploy --grant 'repository:team-a/*:pull' -q
                    """)
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(help: "The registry client (its clientId) the token works for") var service: String
            @Option(name: .customLong("user"), help: "The owner: a username, or a service-account client's clientId") var username: String
            @Option(help: "A name for the token, unique among the owner's") var name: String
            @Option(help: "Lifetime: 3600s, 30m, 12h, 90d, 2w, 1y (default: the realm's maximum, else none)") var expires: String?
            @Option(name: .customLong("grant"), help: "Limit the token to these grants (repeatable); it never exceeds its owner") var grants: [String] = []
            @Flag(name: .short, help: "Print the secret alone") var q = false
            @OptionGroup var connection: AboutUserConnection

            mutating func run() async throws {
                for grant in grants {
                    do { _ = try RegistryGrant(parsing: grant) } catch { throw KpadmError.usage(error.description) }
                }
                let lifetime = try expires.map(Token.seconds)
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let owner = try await Token.ownerId(username, lookup: lookup)
                var body: [String: JSONValue] = ["name": .string(name), "client": .string(service)]
                if let lifetime {
                    body["expiresAt"] = .number((Date().timeIntervalSince1970 * 1000).rounded() + Double(lifetime) * 1000)
                }
                if !grants.isEmpty { body["grants"] = .array(grants.map { .string($0) }) }
                let reply = try await client.call("POST", "\(lookup.base)/users/\(owner)/personal-access-tokens", body: .object(body))
                let made = reply.json ?? .null
                if q {
                    Output.line(made["token"]?.stringValue ?? "")
                } else {
                    Output.json(made)
                }
                Output.message("Created personal access token '\(name)' for \(username) on \(service); the secret is shown only now")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List a user's tokens: name, registry, expiry, grants, last use (never the secret).",
                discussion: "Example:\n  kpadm docker token list -r acme --user alice")
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(name: .customLong("user"), help: "A username, or a service-account client's clientId") var username: String
            @Option(help: "Only the tokens for this registry client") var service: String?
            @OptionGroup var connection: AboutUserConnection

            mutating func run() async throws {
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let owner = try await Token.ownerId(username, lookup: lookup)
                let tokens = try await client.call("GET", "\(lookup.base)/users/\(owner)/personal-access-tokens").json?.arrayValue ?? []
                Output.json(.array(tokens.filter { service == nil || $0["client"]?.stringValue == service }))
            }
        }

        struct RevokeToken: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "revoke",
                abstract: "Revoke a user's token by name or id: the next request with it is refused.",
                discussion: "Examples:\n  kpadm docker token revoke -r acme --user alice --name laptop\n  kpadm docker token revoke -r acme --user alice --id 3f0c…")
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(name: .customLong("user"), help: "A username, or a service-account client's clientId") var username: String
            @Option(help: "The token's name") var name: String?
            @Option(help: "The token's id (from 'kpadm docker token list')") var id: String?
            @OptionGroup var connection: AboutUserConnection

            mutating func run() async throws {
                guard (name == nil) != (id == nil) else { throw KpadmError.usage("give --name or --id") }
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let owner = try await Token.ownerId(username, lookup: lookup)
                var tokenId = id ?? ""
                if let name {
                    let tokens = try await client.call("GET", "\(lookup.base)/users/\(owner)/personal-access-tokens").json?.arrayValue ?? []
                    guard let found = tokens.first(where: { $0["name"]?.stringValue == name })?["id"]?.stringValue else {
                        throw KpadmError.failure("\(username) has no personal access token named '\(name)'")
                    }
                    tokenId = found
                }
                try await client.call("DELETE", "\(lookup.base)/users/\(owner)/personal-access-tokens/\(AdminClient.escape(tokenId))")
                Output.message("Revoked personal access token \(name ?? tokenId) of \(username)")
            }
        }
    }

    /// The options of a command whose `--user` names the user it is about: one-shot login then
    /// takes `--login-user`.
    struct AboutUserConnection: ParsableArguments {
        @Option(name: .customLong("config"), help: ArgumentHelp(OptionHelp.config)) var config: String?
        @Option(name: .customLong("server"), help: ArgumentHelp(OptionHelp.server)) var server: String?
        @Option(name: .customLong("realm"), help: ArgumentHelp(OptionHelp.authRealm)) var authRealm: String?
        @Option(name: .customLong("login-user"), help: "Username for one-shot login (password from --password, KPADM_PASSWORD or the terminal)") var loginUser: String?
        @Option(name: .customLong("password"), help: ArgumentHelp(OptionHelp.password)) var password: String?
        @Option(name: .customLong("client"), help: ArgumentHelp(OptionHelp.client)) var clientId: String?
        @Option(name: .customLong("secret"), help: ArgumentHelp(OptionHelp.secret)) var secret: String?

        func client() async throws -> AdminClient {
            try await Connection(config: config, server: server, authRealm: authRealm, user: loginUser, password: password,
                                 client: clientId, secret: secret).client()
        }
    }

    struct Sessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A user's identity tokens for a registry (what docker login keeps instead of the password).",
            discussion: """
                Examples:
                  kpadm docker sessions list -r acme --service registry.acme.test --user alice
                  kpadm docker sessions revoke -r acme --service registry.acme.test --user alice
                  kpadm docker sessions revoke -r acme --service registry.acme.test \\
                      --user alice --session ID
                """,
            subcommands: [List.self, RevokeSessions.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List a user's identity tokens for a registry: id, address, start and last use (never the token).",
                discussion: "Example:\n  kpadm docker sessions list -r acme --service registry.acme.test --user alice")
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(help: "The registry client (its clientId)") var service: String
            @Option(name: .customLong("user"), help: "The user whose tokens to list") var username: String
            @OptionGroup var connection: AboutUserConnection

            mutating func run() async throws {
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let userId = try await lookup.userId(username: username)
                let clientUUID = try await lookup.clientUUID(clientId: service)
                let reply = try await client.call("GET", "\(lookup.base)/users/\(userId)/offline-sessions/\(clientUUID)")
                Output.json(reply.json ?? .array([]))
            }
        }

        struct RevokeSessions: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "revoke",
                abstract: "Revoke a user's identity tokens for a registry (all of them, or one with --session).",
                discussion: """
                    The next push or pull from a machine holding a revoked token fails with
                    "log in again".
                    Examples:
                      kpadm docker sessions revoke -r acme --service registry.acme.test --user alice
                      kpadm docker sessions revoke -r acme --service registry.acme.test \\
                          --user alice --session ID
                    """)
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(help: "The registry client (its clientId)") var service: String
            @Option(name: .customLong("user"), help: "The user whose tokens to revoke") var username: String
            @Option(help: "Only this one (an id from 'kpadm docker sessions list')") var session: String?
            @OptionGroup var connection: AboutUserConnection

            mutating func run() async throws {
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let userId = try await lookup.userId(username: username)
                let clientUUID = try await lookup.clientUUID(clientId: service)
                if let session {
                    // Only one of this user's tokens for this registry: an id from elsewhere is refused here.
                    let listed = try await client.call("GET", "\(lookup.base)/users/\(userId)/offline-sessions/\(clientUUID)").json?.arrayValue ?? []
                    guard listed.contains(where: { $0["id"]?.stringValue == session }) else {
                        throw KpadmError.failure("\(username) has no identity token '\(session)' for \(service)")
                    }
                    try await client.call("DELETE", "\(lookup.base)/sessions/\(AdminClient.escape(session))", query: [("isOffline", "true")])
                    Output.message("Revoked identity token \(session) of \(username) for \(service)")
                } else {
                    try await client.call("DELETE", "\(lookup.base)/users/\(userId)/consents/\(AdminClient.escape(service))")
                    Output.message("Revoked every identity token of \(username) for \(service)")
                }
            }
        }
    }

    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write what the registry needs: its auth config, env overrides, certificate bundle or JWKS.",
            discussion: """
                Examples:
                  kpadm docker config -r acme --service registry.acme.test \\
                      --format registry-config
                  kpadm docker config -r acme --service registry.acme.test \\
                      --format cert-bundle -o /etc/docker/registry/keyport-acme.pem
                  kpadm docker config -r acme --service registry.acme.test \\
                      --format registry-config --notifications -o registry-auth.yml
                """)
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
        @Option(help: "registry-config, env, cert-bundle or jwks") var format: String
        @Option(name: .short, help: "Write to this file instead of standard output") var o: String?
        @Flag(help: "With registry-config: add the notifications section (a new notification secret; the old one stops working)") var notifications = false
        @OptionGroup var connection: ConnectionOptions

        static let providers = ["registry-config": "docker-v2-registry-config-file", "env": "docker-v2-variable-override",
                                "cert-bundle": "docker-v2-cert-bundle", "jwks": "docker-v2-jwks"]

        mutating func run() async throws {
            guard let provider = Self.providers[format] else { throw KpadmError.usage("--format is one of registry-config, env, cert-bundle, jwks") }
            let client = try await connection.client()
            let lookup = Lookup(client: client, realm: r ?? client.session.realm)
            let clientUUID = try await lookup.clientUUID(clientId: service)
            guard !notifications || format == "registry-config" else { throw KpadmError.usage("--notifications goes with --format registry-config") }
            let reply = try await client.call("GET", "\(lookup.base)/clients/\(clientUUID)/installation/providers/\(provider)")
            var body = reply.body
            // Opened before the secret is made: a path that cannot be written never costs the old one.
            let privateFile = notifications ? try o.map(PrivateFile.open) : nil
            if notifications {
                // The section carries a secret shown once: made now, and the file kept private.
                let made = try await client.call("POST", "\(lookup.base)/clients/\(clientUUID)/docker-v2-notifications")
                guard let section = made.json?["registryConfig"]?.stringValue else { throw KpadmError.failure("the server answered without a notifications section") }
                body += Data(("\n" + section).utf8)
                Output.message("Made a new notification secret for \(service) (the old one, if any, stops working)")
            }
            if let o, let privateFile {
                try PrivateFile.write(body, to: privateFile, path: o)
                Output.message("Wrote \(format) to \(o) (readable by you alone: it holds the notification secret)")
            } else if let o {
                guard FileManager.default.createFile(atPath: o, contents: body) else { throw KpadmError.failure("cannot write \(o)") }
                Output.message("Wrote \(format) to \(o)")
            } else {
                FileHandle.standardOutput.write(body)
            }
        }
    }
}
