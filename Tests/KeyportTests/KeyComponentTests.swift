import Foundation
import HTTPTypes
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportTokens
@testable import KeyportAdminAPI
import Synchronization
import Testing

/// Keycloak's key providers (`/admin/realms/{realm}/components`): a key added passive, made
/// active, the old one passive then disabled — the rotation sequence — and every refusal.
@Suite("Key providers (components)")
struct KeyComponentTests {
    static let provider = "org.keycloak.keys.KeyProvider"

    func kid(ofTokenIn response: APIResponse) throws -> String {
        let token = try #require(response["token"]?.stringValue)
        let header = try JSONDecoder().decode(JWS.Header.self, from: Base64URL.decode(String(token.split(separator: ".")[0]))!)
        return try #require(header.kid)
    }

    /// `POST keys/rotation`: the same three steps taken by the server, one per request, what
    /// kpadm and the admin console use; each answer says what was done and what comes next.
    @Test func theRotationEndpointTakesOneSafeStepPerRequest() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            let path = "/admin/realms/acme/keys/rotation"
            let oldKid = try kid(ofTokenIn: try await r.token("alice", scopes: ["repository:team-a/app:pull"]))
            func status(of id: String) async throws -> String? {
                try await api.call(.get, "/admin/realms/acme/keys", token: r.admin).items(at: "keys").first { $0["kid"]?.stringValue == id }?["status"]?.stringValue
            }
            // Retiring before anything was added: nothing to do.
            #expect(try await api.call(.post, path, token: r.admin, json: ["algorithm": "RS256", "retire": true])["step"]?.stringValue == "nothing")

            let added = try await api.call(.post, path, token: r.admin, json: ["algorithm": "RS256"])
            #expect(added.status == .ok && added["step"]?.stringValue == "added", "\(added.text)")
            let newId = try #require(added["keys"]?.arrayValue?.first?.stringValue)
            #expect(try await status(of: newId) == "PASSIVE")
            #expect(try kid(ofTokenIn: try await r.token("alice", scopes: ["repository:team-a/app:pull"])) == oldKid, "a passive key signs nothing")
            // Retiring now would leave the added key waiting: refused.
            #expect(try await api.call(.post, path, token: r.admin, json: ["algorithm": "RS256", "retire": true]).status == .conflict)

            let activated = try await api.call(.post, path, token: r.admin, json: ["algorithm": "RS256"])
            #expect(activated["step"]?.stringValue == "activated" && activated["keys"]?.arrayValue?.first?.stringValue == newId)
            #expect(try kid(ofTokenIn: try await r.token("alice", scopes: ["repository:team-a/app:pull"])) != oldKid)

            let retired = try await api.call(.post, path, token: r.admin, json: ["algorithm": "RS256", "retire": true])
            #expect(retired["step"]?.stringValue == "retired" && retired["next"]?.stringValue?.contains("restart the registry") == true)
            #expect(try await status(of: newId) == "ACTIVE")
            let statuses = try await api.call(.get, "/admin/realms/acme/keys", token: r.admin).items(at: "keys")
                .filter { $0["algorithm"]?.stringValue == "RS256" }.compactMap { $0["status"]?.stringValue }.sorted()
            #expect(statuses == ["ACTIVE", "DISABLED"])

            // The ES256 keys were never touched; bad input and less power are refused.
            #expect(try await api.call(.post, path, token: r.admin, json: ["algorithm": "HS256"]).status == .badRequest)
            let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
            let viewer = try await r.user("viewer", password: "viewer-pw")
            let viewRealm = try await api.role("acme", "view-realm", client: management, token: r.admin)
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(viewer)/role-mappings/clients/\(management)", token: r.admin, json: [viewRealm]).status == .noContent)
            let viewerToken = try await api.token(realm: "acme", username: "viewer", password: "viewer-pw")
            #expect(try await api.call(.post, path, token: viewerToken, json: ["algorithm": "RS256"]).status == .forbidden)
        }
    }

    @Test func aRotationAddsThenActivatesThenRetires() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await r.user("alice", roles: ["team-a-dev"])
            let components = try await api.call(.get, "/admin/realms/acme/components?type=\(Self.provider)", token: r.admin)
            #expect(Set(components.values("providerId")) == ["rsa-generated", "ecdsa-generated"])
            let old = try #require(components.items.first { $0["providerId"]?.stringValue == "rsa-generated" })
            let oldId = try #require(old["id"]?.stringValue)
            #expect(old["config"]?["keySize"] == ["2048"] && old["config"]?["active"] == ["true"] && old["config"]?["enabled"] == ["true"])
            #expect(old["parentId"]?.stringValue != nil && !components.text.contains("PRIVATE"))
            #expect(try await api.call(.get, "/admin/realms/acme/components?type=org.keycloak.storage.UserStorageProvider", token: r.admin).items.isEmpty)
            let before = try await r.token("alice", scopes: ["repository:team-a/app:pull"])
            let oldKid = try kid(ofTokenIn: before)

            // 1. Added passive: in the bundle (and the keys list), not signing.
            let added = try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: [
                "name": "rsa-next", "providerId": "rsa-generated", "providerType": .string(Self.provider),
                "config": ["priority": ["200"], "active": ["false"]]])
            #expect(added.status == .created)
            let newId = try #require(added.headers[.location]?.split(separator: "/").last.map(String.init))
            let bundle = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)/installation/providers/docker-v2-cert-bundle", token: r.admin)
            #expect(bundle.text.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 3)
            api.clock.advance(seconds: 11)  // past the token reuse window
            #expect(try kid(ofTokenIn: try await r.token("alice", scopes: ["repository:team-a/app:pull"])) == oldKid)
            let keys = try await api.call(.get, "/admin/realms/acme/keys", token: r.admin)
            #expect(keys["keys"]?.array.contains { $0["providerId"]?.stringValue == newId && $0["status"]?.stringValue == "PASSIVE" } == true)

            // 2. Activated (higher priority signs at once), the old one passive: both verify.
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(newId)", token: r.admin, json: ["config": ["active": ["true"]]]).status == .noContent)
            let after = try await r.token("alice", scopes: ["repository:team-a/app:pull"])
            let newKid = try kid(ofTokenIn: after)
            #expect(newKid != oldKid)
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(oldId)", token: r.admin, json: ["config": ["active": ["false"]]]).status == .noContent)
            let acme = try #require(try await api.server.services.store.realm(named: "acme"))
            var ring = try await api.server.services.tokens.keyRing.keys(realmId: acme.id)
            #expect(ring.verifier(kid: oldKid) != nil && ring.verifier(kid: newKid) != nil)

            // 3. Retired: the old key disabled, gone from the bundle, verifies nothing.
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(oldId)", token: r.admin, json: ["config": ["enabled": ["false"]]]).status == .noContent)
            ring = try await api.server.services.tokens.keyRing.keys(realmId: acme.id)
            #expect(ring.verifier(kid: oldKid) == nil && ring.verifier(kid: newKid) != nil)
            let retired = try #require(try await api.call(.get, "/admin/realms/acme/components/\(oldId)", token: r.admin).json)
            #expect(retired["config"]?["enabled"] == ["false"] && retired["name"]?.stringValue == "rsa-generated")
            // The new key is now the only active RS256 key: it can be neither demoted nor deleted.
            let last = try await api.call(.put, "/admin/realms/acme/components/\(newId)", token: r.admin, json: ["config": ["active": ["false"]]])
            #expect(last.status == .conflict && last.text.contains("without an active key"))
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(newId)", token: r.admin).status == .conflict)
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(oldId)", token: r.admin).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/components/\(oldId)", token: r.admin).status == .notFound)
        }
    }

    static let refusals: [(String, JSONValue)] = [
        ("not a key provider", ["providerId": "ldap", "providerType": "org.keycloak.storage.UserStorageProvider"]),
        ("no providerType", ["providerId": "rsa-generated"]),
        ("a provider Keyport does not run", ["providerId": "hmac-generated", "providerType": .string(provider)]),
        ("a priority that is not a number", ["providerId": "rsa-generated", "providerType": .string(provider), "config": ["priority": ["high"]]]),
        ("a priority out of bounds", ["providerId": "rsa-generated", "providerType": .string(provider), "config": ["priority": ["9223372036854775807"]]]),
        ("a flag that is not one", ["providerId": "rsa-generated", "providerType": .string(provider), "config": ["active": ["maybe"]]]),
        ("a weak RSA key", ["providerId": "rsa-generated", "providerType": .string(provider), "config": ["keySize": ["1024"]]]),
        ("another RSA algorithm", ["providerId": "rsa-generated", "providerType": .string(provider), "config": ["algorithm": ["RS512"]]]),
        ("another curve", ["providerId": "ecdsa-generated", "providerType": .string(provider), "config": ["ecdsaEllipticCurveKey": ["P-384"]]]),
        ("another realm as parent", ["providerId": "rsa-generated", "providerType": .string(provider), "parentId": "someone-else"]),
        ("config that is not strings", ["providerId": "rsa-generated", "providerType": .string(provider), "config": ["priority": [["nested": 1]]]]),
        ("an empty name", ["name": "", "providerId": "rsa-generated", "providerType": .string(provider)]),
    ]

    @Test func badRepresentationsAreRefusedWithAReasonAndChangeNothing() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            for (what, body) in Self.refusals {
                let response = try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: body)
                #expect(response.status == .badRequest, "\(what): \(response.status) \(response.text)")
                #expect(response["errorMessage"]?.stringValue?.isEmpty == false, "\(what)")
            }
            let components = try await api.call(.get, "/admin/realms/acme/components", token: r.admin)
            #expect(components.items.count == 2)
            // What a generated key cannot change.
            let rsa = try #require(components.items.first { $0["providerId"]?.stringValue == "rsa-generated" }?["id"]?.stringValue)
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(rsa)", token: r.admin, json: ["config": ["keySize": ["4096"]]]).status == .badRequest)
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(rsa)", token: r.admin, json: ["providerId": "ecdsa-generated"]).status == .badRequest)
            // kcadm's single values are lists of one.
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(rsa)", token: r.admin, json: ["config": ["priority": 150]]).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/components/\(rsa)", token: r.admin)["config"]?["priority"] == ["150"])
            // A bounded number of keys per realm.
            var made = 2
            while made < RealmKey.limitPerRealm {
                let response = try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: [
                    "providerId": "ecdsa-generated", "providerType": .string(Self.provider), "config": ["active": ["false"]]])
                #expect(response.status == .created)
                made += 1
            }
            let over = try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: [
                "providerId": "ecdsa-generated", "providerType": .string(Self.provider)])
            #expect(over.status == .conflict)
        }
    }

    /// Key generation runs off the threads that answer requests, one at a time: the next waits
    /// its turn, and past the bound a request is told to come back instead of queueing.
    @Test func oneKeyIsGeneratedAtATimeOffTheRequestThreads() async throws {
        final class Probe: Sendable {
            let running = Mutex(0), most = Mutex(0), started = Mutex(false)
            let release = DispatchSemaphore(value: 0)
            func work(_ n: Int, hold: Bool) -> @Sendable () -> Int {
                { [self] in
                    let now = running.withLock { $0 += 1; return $0 }
                    most.withLock { $0 = max($0, now) }
                    started.withLock { $0 = true }
                    if hold { release.wait() }
                    running.withLock { $0 -= 1 }
                    return n
                }
            }
        }
        let gate = KeyGenerationGate(maxWaiting: 1)
        let probe = Probe()
        let first = Task { try await gate.run(probe.work(1, hold: true)) }
        while !probe.started.withLock({ $0 }) { await Task.yield() }
        let second = Task { try await gate.run(probe.work(2, hold: false)) }
        // The second waits its turn (bound 1); one more is refused at once.
        while await gate.queued < 1 { await Task.yield() }
        await #expect(throws: AdminError(.serviceUnavailable, "Too many signing keys are being generated; try again in a moment")) {
            try await gate.run(probe.work(3, hold: false))
        }
        probe.release.signal()
        #expect(try await first.value == 1)
        #expect(try await second.value == 2)
        #expect(probe.most.withLock { $0 } == 1)
    }

    @Test func viewRealmReadsKeysManageRealmChangesThemAndNoRealmReachesAnother() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            try await api.createRealm("other", token: r.admin)
            let otherKey = try #require(try await api.call(.get, "/admin/realms/other/components", token: r.admin).items.first?["id"]?.stringValue)
            // The other realm's key is not this realm's component.
            #expect(try await api.call(.get, "/admin/realms/acme/components/\(otherKey)", token: r.admin).status == .notFound)
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(otherKey)", token: r.admin).status == .notFound)

            let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
            let viewer = try await api.createUser("acme", "viewer", password: "pw", token: r.admin)
            let viewRealm = try await api.role("acme", "view-realm", client: management, token: r.admin)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(viewer)/role-mappings/clients/\(management)", token: r.admin, json: [viewRealm])
            let token = try await api.token(realm: "acme", username: "viewer", password: "pw")
            let listed = try await api.call(.get, "/admin/realms/acme/components", token: token)
            #expect(listed.status == .ok && listed.items.count == 2)
            let id = try #require(listed.items.first?["id"]?.stringValue)
            #expect(try await api.call(.post, "/admin/realms/acme/components", token: token, json: [
                "providerId": "rsa-generated", "providerType": .string(Self.provider)]).status == .forbidden)
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(id)", token: token, json: ["config": ["enabled": ["false"]]]).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(id)", token: token).status == .forbidden)
            #expect(try await api.call(.get, "/admin/realms/other/components", token: token).status == .forbidden)
        }
    }
}
