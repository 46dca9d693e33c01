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

    /// The realm's key providers of one algorithm, as the components API shows them.
    struct Provider {
        let id: String
        let name: String
        let priority: Int
        let active: Bool
        let enabled: Bool

        init?(_ json: JSONValue) {
            guard let id = json["id"]?.stringValue else { return nil }
            func first(_ key: String) -> String? { json["config"]?[key]?.arrayValue?.first?.stringValue }
            self.id = id
            name = json["name"]?.stringValue ?? ""
            priority = first("priority").flatMap { Int($0) } ?? 0
            enabled = first("enabled") != "false"
            active = enabled && first("active") != "false"
        }
    }

    static func providerId(_ algorithm: String) throws(KpadmError) -> String {
        switch algorithm {
        case "RS256": "rsa-generated"
        case "ES256": "ecdsa-generated"
        default: throw .usage("--algorithm is RS256 or ES256")
        }
    }

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
            let providerId = try Keys.providerId(algorithm)
            let client = try await connection.client()
            let realm = r ?? client.session.realm
            let lookup = Lookup(client: client, realm: realm)
            let all = try await client.call("GET", "\(lookup.base)/components", query: [("type", "org.keycloak.keys.KeyProvider")]).json?.arrayValue ?? []
            let providers = all.filter { $0["providerId"]?.stringValue == providerId }.compactMap(Provider.init)
            guard let signingId = try await client.call("GET", "\(lookup.base)/keys").json?["active"]?[algorithm]?.stringValue,
                  let signing = providers.first(where: { $0.id == signingId }) else {
                throw KpadmError.failure("realm \(realm) has no active \(algorithm) key")
            }
            let pending = providers.filter { $0.enabled && !$0.active && $0.priority > signing.priority }.max { $0.priority < $1.priority }
            let lifespan = try await client.call("GET", lookup.base).json?["accessTokenLifespan"].flatMap { if case .number(let n) = $0 { Int(n) } else { nil } } ?? 300
            if retire {
                guard pending == nil else {
                    throw KpadmError.failure("key \(pending!.id) is added but not signing yet: run kpadm keys rotate -r \(realm) first")
                }
                let old = providers.filter { $0.enabled && !$0.active && $0.priority < signing.priority }
                guard !old.isEmpty else { Output.message("Nothing to retire: no passive \(algorithm) key older than the signing one"); return }
                for key in old {
                    try await client.call("PUT", "\(lookup.base)/components/\(AdminClient.escape(key.id))", body: ["config": ["enabled": ["false"]]])
                    Output.message("Disabled \(algorithm) key \(key.id) (\(key.name)): it verifies nothing now")
                }
                Output.message("Next: refresh the registry's bundle and restart the registry, so it trusts only \(signing.id)")
                return
            }
            if let pending {
                // The new key signs first (higher priority), then the old stops signing: no moment without a signer.
                try await client.call("PUT", "\(lookup.base)/components/\(AdminClient.escape(pending.id))", body: ["config": ["active": ["true"]]])
                for key in providers where key.active && key.id != pending.id {
                    try await client.call("PUT", "\(lookup.base)/components/\(AdminClient.escape(key.id))", body: ["config": ["active": ["false"]]])
                }
                Output.message("""
                    \(algorithm) key \(pending.id) signs now; \(signing.id) is passive and still verifies the tokens it signed.
                    Next, after \(lifespan) s (the realm's longest token lifetime): kpadm keys rotate -r \(realm) --algorithm \(algorithm) --retire
                    """)
                return
            }
            guard signing.priority < 1_000_000_000 - 10 else { throw KpadmError.failure("the signing key's priority is at its maximum: lower it first") }
            let name = "\(providerId)-\(Self.stamp())"
            let reply = try await client.call("POST", "\(lookup.base)/components", body: [
                "name": .string(name), "providerId": .string(providerId), "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": .null, "config": ["priority": .array([.string(String(signing.priority + 10))]), "active": ["false"], "enabled": ["true"]],
            ])
            let id = reply.location?.split(separator: "/").last.map(String.init) ?? ""
            Output.line(id)
            Output.message("""
                Added \(algorithm) key \(id) (\(name)), passive: it is in the registry bundle and signs nothing yet.
                Next: refresh the registry's bundle (kpadm docker config -r \(realm) --service <registry> --format cert-bundle,
                or --docker-certs-dir rewrites it within 15 s), restart the registry, then: kpadm keys rotate -r \(realm) --algorithm \(algorithm)
                """)
        }

        static func stamp() -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            return formatter.string(from: Date())
        }
    }
}
