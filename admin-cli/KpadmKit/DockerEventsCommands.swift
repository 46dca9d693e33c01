import ArgumentParser
import Foundation
import KeyportJSON

extension Docker {
    struct Notifications: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a registry report its pushes, pulls, deletes and mounts (the audit trail kpadm docker events shows).",
            discussion: """
                enable makes a new notification secret (the old one stops working) and prints
                the registry's notifications section with it; the secret is shown only then.
                Examples:
                  kpadm docker notifications enable -r acme --service registry.acme.test \\
                      -o notifications.yml
                  cat notifications.yml >> /etc/docker/registry/config.yml
                  kpadm docker notifications disable -r acme --service registry.acme.test
                """,
            subcommands: [Enable.self, Disable.self])

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make the registry client's notification secret and print the registry's notifications section.")
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
            @Option(name: .short, help: "Write the section to this file (mode 0600) instead of standard output") var o: String?
            @OptionGroup var connection: ConnectionOptions

            mutating func run() async throws {
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let uuid = try await lookup.clientUUID(clientId: service)
                let file = try o.map(PrivateFile.open)
                let reply = try await client.call("POST", "\(lookup.base)/clients/\(uuid)/docker-v2-notifications")
                guard let section = reply.json?["registryConfig"]?.stringValue else { throw KpadmError.failure("the server answered without a configuration") }
                if let o, let file {
                    try PrivateFile.write(Data(section.utf8), to: file, path: o)
                    Output.message("Wrote the notifications section for \(service) to \(o): add it to the registry's config.yml and restart the registry")
                } else {
                    Output.line(section)
                    Output.message("The secret above is shown only now: add the section to the registry's config.yml and restart the registry")
                }
                await Docker.warnIfOff(client, realm: lookup.realm)
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Forget the registry client's notification secret: its registry's reports are refused.")
            @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
            @Option(help: ArgumentHelp(OptionHelp.service, valueName: "clientId")) var service: String
            @OptionGroup var connection: ConnectionOptions

            mutating func run() async throws {
                let client = try await connection.client()
                let lookup = Lookup(client: client, realm: r ?? client.session.realm)
                let uuid = try await lookup.clientUUID(clientId: service)
                try await client.call("DELETE", "\(lookup.base)/clients/\(uuid)/docker-v2-notifications")
                Output.message("Notifications from \(service)'s registry are now refused")
            }
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What registries reported: who pushed, pulled, deleted or mounted what, from where, with which credential.",
            discussion: """
                One line per event, newest first: time, action, actor, repository:tag,
                digest, address, and the credential Keyport issued the token for. The
                credential is inferred (same user and address, a token shortly before) and
                marked so; the rest is the registry's word.
                Examples:
                  kpadm docker events -r acme --repository 'team-a/*' --action push
                  kpadm docker events -r acme --actor ci-robot --since 2026-12-01
                  kpadm docker events -r acme --credential personal-access-token \\
                      --format csv > pushes.csv
                """)
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: "Only this registry client's (its clientId)") var service: String?
        @Option(help: "Only this repository; a trailing * is a prefix, e.g. 'team-a/*'") var repository: String?
        @Option(help: "Only this user (the token's subject)") var actor: String?
        @Option(help: "push, pull, delete or mount (repeatable)") var action: [String] = []
        @Option(help: "Only this inferred credential kind: password, personal-access-token, identity-token, client-secret, anonymous") var credential: String?
        @Option(name: .customLong("credential-id"), help: "Only this personal access token's or identity token's id") var credentialId: String?
        @Option(name: .customLong("ip-address"), help: "Only from this host (an address without the port), as the registry saw it") var ipAddress: String?
        @Option(help: "From this day (yyyy-MM-dd) or epoch milliseconds") var since: String?
        @Option(help: "Until this day (yyyy-MM-dd, inclusive) or epoch milliseconds") var until: String?
        @Option(help: "Skip this many (newest first)") var first: Int?
        @Option(help: "At most this many (default 100, at most 10000)") var max: Int?
        @Option(help: "lines (default), json or csv") var format = "lines"
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            guard ["lines", "json", "csv"].contains(format) else { throw KpadmError.usage("--format is lines, json or csv") }
            for a in action where !["push", "pull", "delete", "mount"].contains(a) { throw KpadmError.usage("--action is push, pull, delete or mount, not '\(a)'") }
            let client = try await connection.client()
            let lookup = Lookup(client: client, realm: r ?? client.session.realm)
            var query: [(String, String)] = []
            let filters: [(String, String?)] = [("client", service), ("repository", repository), ("actor", actor), ("credential", credential),
                                                ("credentialId", credentialId), ("ipAddress", ipAddress), ("dateFrom", since), ("dateTo", until),
                                                ("first", first.map(String.init)), ("max", max.map(String.init))]
            for (name, value) in filters { if let value { query.append((name, value)) } }
            query += action.map { ("action", $0) }
            if format == "csv" { query.append(("format", "csv")) }
            let reply = try await client.call("GET", "\(lookup.base)/docker-v2-events", query: query)
            switch format {
            case "csv": FileHandle.standardOutput.write(reply.body)
            case "json": Output.json(reply.json ?? .array([]))
            default:
                let events = reply.json?.arrayValue ?? []
                for event in events { Output.line(Self.line(event)) }
                if events.isEmpty { Output.message("No registry event matches (a registry reports only once its notifications are on: kpadm docker notifications enable)") }
            }
        }

        /// `2026-12-03T21:40:00.123Z  push    alice  team-a/app:v1  sha256:0123456789ab  10.0.0.5:51234  personal-access-token 7f3a… (inferred)`
        static func line(_ event: JSONValue) -> String {
            let time: String = {
                guard case .number(let ms)? = event["time"] else { return "?" }
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return formatter.string(from: Date(timeIntervalSince1970: ms / 1000))
            }()
            let action = (event["action"]?.stringValue ?? "?").padding(toLength: 6, withPad: " ", startingAt: 0)
            let actor = event["actor"]?.stringValue ?? "(anonymous)"
            let repository = (event["repository"]?.stringValue ?? "?") + (event["tag"]?.stringValue.map { ":" + $0 } ?? "")
            let digest = event["digest"]?.stringValue.map { String($0.prefix(19)) } ?? "-"
            let address = event["sourceAddress"]?.stringValue ?? event["ipAddress"]?.stringValue ?? "-"
            let credential: String = {
                guard let kind = event["credential"]?["kind"]?.stringValue else { return "credential unknown" }
                return [kind, event["credential"]?["id"]?.stringValue].compactMap { $0 }.joined(separator: " ") + " (inferred)"
            }()
            return [time, action, actor, repository, digest, address, credential].joined(separator: "  ")
        }
    }
}

/// A file that will hold a secret: opened (created or emptied) readable by its owner alone,
/// before the secret is made, so a path that cannot be written never costs the old secret.
enum PrivateFile {
    static func open(_ path: String) throws(KpadmError) -> FileHandle {
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .failure("cannot write \(path): \(String(cString: strerror(errno)))") }
        _ = fchmod(fd, 0o600)  // a file that was there keeps its mode otherwise
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    static func write(_ data: Data, to handle: FileHandle, path: String) throws(KpadmError) {
        do {
            try handle.write(contentsOf: data)
            try handle.close()
        } catch {
            throw .failure("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
