import ArgumentParser
import Foundation
import KeyportJSON

/// A realm's signing keys, and the rotation that does not lock a registry out. A registry reads
/// its certificate bundle only at start, so a new key must be in the bundle (passive) before it
/// signs, and an old one must keep verifying (passive) until the tokens it signed have expired.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A realm's signing keys: list them, rotate them without locking a registry out.",
        discussion: """
            Examples:
              kpadm keys list -r acme
              kpadm keys rotate -r acme             # 1: adds a passive key
              kpadm keys rotate -r acme             # 2: it signs, the old one verifies
              kpadm keys rotate -r acme --retire    # 3: after the longest token life
            """,
        subcommands: [List.self, Rotate.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the realm's keys: id, name, algorithm, status, priority, libtrust id (never a private key).",
            discussion: "Example:\n  kpadm keys list -r acme")
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            let client = try await connection.client()
            let lookup = Lookup(client: client, realm: r ?? client.session.realm)
            let keys = try await client.call("GET", "\(lookup.base)/keys").json ?? .null
            let signing = Set(keys["active"]?.objectValue?.values.compactMap(\.stringValue) ?? [])
            let names = Dictionary((try await client.call("GET", "\(lookup.base)/components").json?.arrayValue ?? [])
                .compactMap { c in c["id"]?.stringValue.map { ($0, c["name"]?.stringValue ?? "") } }, uniquingKeysWith: { a, _ in a })
            let rows: [JSONValue] = (keys["keys"]?.arrayValue ?? []).map { key in
                let id = key["kid"]?.stringValue ?? ""
                return ["id": .string(id), "name": .string(names[id] ?? ""), "algorithm": key["algorithm"] ?? .null,
                        "status": key["status"] ?? .null, "priority": key["providerPriority"] ?? .null,
                        "signs": .bool(signing.contains(id)), "libtrustKeyId": key["libtrustKeyId"] ?? .null]
            }
            Output.json(.array(rows))
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take the next step of a key rotation (add passive, then activate), or --retire the old key.",
            discussion: """
                Each run does one step and says what to do next:
                  1. no new key yet: add one, passive (in registry bundles, signing nothing);
                     then refresh the registry's bundle and restart the registry;
                  2. a passive key newer than the signing one: make it sign, the old one
                     passive (it still verifies the tokens it signed);
                  3. --retire, after the longest token lifetime: disable the old keys.
                A compromised key needs the opposite: docs/operations.md, "Rotating keys".
                Examples:
                  kpadm keys rotate -r acme
                  kpadm keys rotate -r acme --algorithm ES256 --retire
                """)
        @Option(name: [.short, .customLong("target-realm")], help: ArgumentHelp(OptionHelp.realm, valueName: "realm")) var r: String?
        @Option(help: "RS256 (docker-v2's default) or ES256") var algorithm = "RS256"
        @Flag(help: "Disable the passive keys the signing key replaced (step 3)") var retire = false
        @OptionGroup var connection: ConnectionOptions

        mutating func run() async throws {
            guard ["RS256", "ES256"].contains(algorithm) else { throw KpadmError.usage("--algorithm is RS256 or ES256") }
            let client = try await connection.client()
            let realm = r ?? client.session.realm
            let lookup = Lookup(client: client, realm: realm)
            // The server takes the step (POST keys/rotation): the rule has one home, shared with the admin console.
            let reply = try await client.call("POST", "\(lookup.base)/keys/rotation", body: ["algorithm": .string(algorithm), "retire": .bool(retire)]).json ?? .null
            let step = reply["step"]?.stringValue ?? ""
            if step == "added", let id = reply["keys"]?.arrayValue?.first?.stringValue { Output.line(id) }
            Output.message(reply["message"]?.stringValue ?? step)
            switch step {
            case "added":
                Output.message("""
                    Next: refresh the registry's bundle (kpadm docker config -r \(realm) --service <registry> --format cert-bundle,
                    or --docker-certs-dir rewrites it within 15 s), restart the registry, then: kpadm keys rotate -r \(realm) --algorithm \(algorithm)
                    """)
            case "activated":
                Output.message("Next, after the realm's longest token lifetime: kpadm keys rotate -r \(realm) --algorithm \(algorithm) --retire")
            default:
                if let next = reply["next"]?.stringValue { Output.message("Next: \(next)") }
            }
        }
    }
}
