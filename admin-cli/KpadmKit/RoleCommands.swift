import ArgumentParser
import Foundation
import KeyportJSON

struct SetPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-password",
        abstract: "Set a user's password (hashed by the server with the realm's Argon2id policy).",
        discussion: """
            The new password comes from --new-password, KPADM_NEW_PASSWORD, or the
            terminal (without echo).
            Examples:
              kpadm set-password -r acme --username alice
              KPADM_NEW_PASSWORD=… kpadm set-password -r acme --username alice --temporary
            """)

    @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
    @Option(help: "The user, by username") var username: String?
    @Option(help: "The user, by id") var userid: String?
    @Option(name: .customLong("new-password"), help: "The new password; prefer KPADM_NEW_PASSWORD or the terminal (a flag shows in the process list)") var newPassword: String?
    @Flag(help: "The user must change it at the next login") var temporary = false
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        let client = try await connection.client()
        let lookup = Lookup(client: client, realm: r ?? client.session.realm)
        let id: String
        if let userid { id = userid } else if let username { id = try await lookup.userId(username: username) } else {
            throw KpadmError.usage("give --username NAME or --userid ID")
        }
        var password = newPassword ?? ProcessInfo.processInfo.environment["KPADM_NEW_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        if password == nil { password = try Terminal.readSecret(prompt: "New password: ") }
        try await client.call("PUT", "\(lookup.base)/users/\(id)/reset-password",
                              body: ["type": "password", "value": .string(password ?? ""), "temporary": .bool(temporary)])
    }
}

/// Whose roles: a user, a group, or a composite role; which roles: realm roles or a client's.
struct RoleTargetOptions: ParsableArguments {
    @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
    @Option(help: "User by username") var uusername: String?
    @Option(help: "User by id") var uid: String?
    @Option(help: "Group by name") var gname: String?
    @Option(help: "Group by path, e.g. /eng/backend") var gpath: String?
    @Option(help: "Group by id") var gid: String?
    @Option(help: "Composite realm role (by name) to add roles into") var rname: String?
    @Option(help: "Composite role (by id) to add roles into") var rid: String?
    @Option(help: "Client whose roles these are, by clientId") var cclientid: String?
    @Option(help: "Client whose roles these are, by id") var cid: String?

    func validate() throws {
        let targets = [uusername != nil || uid != nil, gname != nil || gpath != nil || gid != nil, rname != nil || rid != nil].filter { $0 }.count
        guard targets == 1 else { throw ValidationError("name exactly one of: --uusername/--uid, --gname/--gpath/--gid, --rname/--rid") }
    }

    /// The admin path of the mappings (or composites) these options name.
    func mappingPath(_ lookup: Lookup) async throws(KpadmError) -> (path: String, clientUUID: String?) {
        var clientUUID = cid
        if clientUUID == nil, let cclientid { clientUUID = try await lookup.clientUUID(clientId: cclientid) }
        let suffix = clientUUID.map { "clients/\($0)" } ?? "realm"
        let targets = [uusername != nil || uid != nil, gname != nil || gpath != nil || gid != nil, rname != nil || rid != nil].filter { $0 }.count
        guard targets == 1 else { throw .usage("name exactly one of: --uusername/--uid, --gname/--gpath/--gid, --rname/--rid") }
        if uusername != nil || uid != nil {
            var id = uid ?? ""
            if uid == nil { id = try await lookup.userId(username: uusername!) }
            return ("\(lookup.base)/users/\(id)/role-mappings/\(suffix)", clientUUID)
        }
        if let group = try await lookup.groupId(name: gname, path: gpath, id: gid) {
            return ("\(lookup.base)/groups/\(group)/role-mappings/\(suffix)", clientUUID)
        }
        if let rid { return ("\(lookup.base)/roles-by-id/\(rid)/composites", clientUUID) }
        return ("\(lookup.base)/roles/\(AdminClient.escape(rname!))/composites", clientUUID)
    }
}

struct AddRoles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-roles",
        abstract: "Grant roles to a user or group, or add them into a composite role.",
        discussion: """
            Examples:
              kpadm add-roles -r acme --uusername alice --rolename developer
              kpadm add-roles -r acme --uusername alice --cclientid registry.acme.test \\
                  --rolename team-a-push
              kpadm add-roles -r acme --gname readers --cclientid registry.acme.test \\
                  --rolename team-a-pull
              kpadm add-roles -r acme --rname developer --cclientid registry.acme.test \\
                  --rolename team-a-push
            """)

    @OptionGroup var target: RoleTargetOptions
    @Option(help: "Role name (repeatable)") var rolename: [String] = []
    @Option(help: "Role id (repeatable)") var roleid: [String] = []
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        try await changeRoles("POST", target: target, names: rolename, ids: roleid, connection: connection)
    }
}

struct RemoveRoles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-roles",
        abstract: "Take roles away from a user or group, or out of a composite role.",
        discussion: "Example:\n  kpadm remove-roles -r acme --uusername alice --cclientid registry.acme.test \\\n      --rolename team-a-push")

    @OptionGroup var target: RoleTargetOptions
    @Option(help: "Role name (repeatable)") var rolename: [String] = []
    @Option(help: "Role id (repeatable)") var roleid: [String] = []
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        try await changeRoles("DELETE", target: target, names: rolename, ids: roleid, connection: connection)
    }
}

struct GetRoles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-roles",
        abstract: "List the roles of a user or group (or a composite role's), realm roles or one client's.",
        discussion: """
            Examples:
              kpadm get-roles -r acme --uusername alice
              kpadm get-roles -r acme --uusername alice --cclientid registry.acme.test \\
                  --effective
            """)

    @OptionGroup var target: RoleTargetOptions
    @Flag(help: "Include roles from groups and composites") var effective = false
    @Option(help: "Only these fields, comma-separated") var fields: String?
    @OptionGroup var connection: ConnectionOptions

    mutating func run() async throws {
        let client = try await connection.client()
        let lookup = Lookup(client: client, realm: target.r ?? client.session.realm)
        let (path, _) = try await target.mappingPath(lookup)
        let full = effective && path.contains("/role-mappings/") ? path + "/composite" : path
        let roles = try await client.call("GET", full).json ?? .array([])
        Output.json(fields.map { roles.projected($0.split(separator: ",").map(String.init)) } ?? roles)
    }
}

/// add-roles (POST) and remove-roles (DELETE): the same lookups, the opposite verb.
func changeRoles(_ method: String, target: RoleTargetOptions, names: [String], ids: [String], connection: ConnectionOptions) async throws {
    guard !names.isEmpty || !ids.isEmpty else { throw KpadmError.usage("give --rolename NAME (or --roleid ID)") }
    let client = try await connection.client()
    let lookup = Lookup(client: client, realm: target.r ?? client.session.realm)
    let (path, clientUUID) = try await target.mappingPath(lookup)
    let roles = try await lookup.roles(names: names, ids: ids, clientUUID: clientUUID)
    try await client.call(method, path, body: .array(roles))
}
