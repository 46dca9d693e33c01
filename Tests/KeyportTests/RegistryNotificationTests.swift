import Foundation
import HTTPTypes
import Hummingbird
@testable import KeyportDockerV2
import KeyportJSON
import KeyportModel
@testable import KeyportServer
import KeyportStore
import Testing

/// The registry's audit trail: notification envelopes in, one secret per registry client, bounded,
/// each event stored once, the credential inferred from Keyport's own token events.
@Suite("Registry notifications")
struct RegistryNotificationTests {
    static let path = "/realms/acme/protocol/docker-v2/notifications?service=registry.acme.io"

    static func envelope(_ events: [JSONValue]) -> String { JSONValue.object(["events": .array(events)]).encoded() }

    /// An event as distribution sends it.
    static func event(_ id: String, action: String = "push", actor: String? = "alice", repository: String = "team-a/app", tag: String? = "v1",
                      addr: String? = nil, timestamp: String = "2026-12-03T10:00:00.123456789Z") -> JSONValue {
        var target: [String: JSONValue] = ["mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1234, "length": 1234,
                                           "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                           "repository": .string(repository), "url": "http://127.0.0.1:5000/v2/x"]
        if let tag { target["tag"] = .string(tag) }
        var request: [String: JSONValue] = ["id": "req-1", "host": "127.0.0.1:5000", "method": "PUT", "useragent": "skopeo/1.9"]
        if let addr { request["addr"] = .string(addr) }
        var event: [String: JSONValue] = ["id": .string(id), "timestamp": .string(timestamp), "action": .string(action), "target": .object(target),
                                          "request": .object(request), "source": ["addr": "registry:5000", "instanceID": "i-1"]]
        if let actor { event["actor"] = ["name": .string(actor)] }
        return .object(event)
    }

    static func enable(_ r: RegistryRealm) async throws -> (secret: String, answer: APIResponse) {
        let answer = try await r.api.call(.post, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-notifications", token: r.admin)
        try #require(answer.status == .ok, "\(answer.text)")
        return (try #require(answer["secret"]?.stringValue), answer)
    }

    static func send(_ api: APIHarness, _ body: String, secret: String?, header: String = "Authorization") async throws -> APIResponse {
        var headers: HTTPFields = [.contentType: "application/vnd.docker.distribution.events.v1+json"]
        if let secret { headers[HTTPField.Name(header)!] = header == "Authorization" ? "Bearer \(secret)" : secret }
        return try await api.call(.post, path, headers: headers, body: body)
    }

    static func events(_ r: RegistryRealm, _ query: String = "") async throws -> [JSONValue] {
        // A fresh token: the tests move the clock past an admin token's life.
        let answer = try await r.api.call(.get, "/admin/realms/acme/docker-v2-events\(query.isEmpty ? "" : "?" + query)", token: try await r.api.token())
        try #require(answer.status == .ok, "\(answer.text)")
        return answer.items
    }

    @Test func aSecretIsMadeOnceAndOnlyItsHashIsKept() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let refused = try await Self.send(api, Self.envelope([Self.event("e1")]), secret: "anything")
            #expect(refused.status == .notFound && refused.text.contains("takes no notifications"), "\(refused.text)")

            let (secret, answer) = try await Self.enable(r)
            #expect(secret.hasPrefix("kpn_") && secret.count >= 40)
            #expect(answer["url"]?.stringValue == "http://keyport.test/realms/acme/protocol/docker-v2/notifications?service=registry.acme.io")
            let config = try #require(answer["registryConfig"]?.stringValue)
            #expect(config.contains("Authorization: [Bearer \(secret)]") && config.contains("url: http://keyport.test/realms/acme/protocol/docker-v2/notifications?service=registry.acme.io"))
            #expect(answer.headers[.cacheControl] == "no-store")
            let client = try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin)
            let stored = try #require(client["attributes"]?["docker.notifications.secret"]?.stringValue)
            #expect(stored.hasPrefix("sha256:") && !client.text.contains(secret))

            // A new secret replaces the old one.
            let (second, _) = try await Self.enable(r)
            #expect(try await Self.send(api, Self.envelope([Self.event("e1")]), secret: secret).status == .unauthorized)
            #expect(try await Self.send(api, Self.envelope([Self.event("e1")]), secret: second).status == .ok)
            // Turned off: refused again.
            #expect(try await api.call(.delete, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-notifications", token: r.admin).status == .noContent)
            #expect(try await Self.send(api, Self.envelope([Self.event("e2")]), secret: second).status == .notFound)
            // A hash that is not one is refused where attributes are written.
            var rep = try #require(try await api.call(.get, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin).json)
            rep["attributes"] = ["docker.notifications.secret": "plain-text"]
            let bad = try await api.call(.put, "/admin/realms/acme/clients/\(r.clientId)", token: r.admin, json: rep)
            #expect(bad.status == .badRequest && bad.text.contains("sha256:"), "\(bad.text)")
        }
    }

    @Test func onlyTheSecretsHolderReportsAndNothingIsStoredOtherwise() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let (secret, _) = try await Self.enable(r)
            let body = Self.envelope([Self.event("e1")])
            for wrong in [nil, "kpn_wrong", String(repeating: "x", count: 600), ""] {
                let answer = try await Self.send(api, body, secret: wrong)
                #expect(answer.status == .unauthorized, "\(answer.text)")
            }
            #expect(try await Self.events(r).isEmpty)
            // The header form works as the Bearer form does.
            let answer = try await Self.send(api, body, secret: secret, header: "Keyport-Notification-Secret")
            #expect(answer.status == .ok && answer["stored"] == .number(1), "\(answer.text)")
            // Another realm's path, or docker-v2 off, is no way in.
            _ = try await api.call(.put, "/admin/realms/acme", token: r.admin, json: ["dockerV2Enabled": false])
            #expect(try await Self.send(api, body, secret: secret).status == .notFound)
        }
    }

    @Test func eachEventIsKeptOnceAndBadEnvelopesAreRefusedWhole() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let (secret, _) = try await Self.enable(r)
            let body = Self.envelope([Self.event("e1"), Self.event("e2", action: "pull"), Self.event("e3", action: "replicate")])
            let first = try await Self.send(api, body, secret: secret)
            #expect(first["received"] == .number(3) && first["stored"] == .number(2), "\(first.text)")
            // distribution retries an envelope it thinks failed: nothing twice.
            #expect(try await Self.send(api, body, secret: secret)["stored"] == .number(0))
            #expect(try await Self.events(r).count == 2)

            for bad in ["not json", #"{"events": "no"}"#, #"[1,2]"#, Self.envelope(Array(repeating: Self.event("x"), count: 1001))] {
                let answer = try await Self.send(api, bad, secret: secret)
                #expect(answer.status == .badRequest, "\(answer.text.prefix(200))")
            }
            let huge = Self.envelope([Self.event("big", repository: String(repeating: "a", count: 2 << 20))])
            #expect(try await Self.send(api, huge, secret: secret).status == .badRequest)
            #expect(try await Self.events(r).count == 2)
        }
    }

    @Test func whatTheRegistrySaidIsKeptBounded() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let (secret, _) = try await Self.enable(r)
            let long = String(repeating: "r", count: 1000)
            _ = try await Self.send(api, Self.envelope([
                Self.event("future", repository: long, timestamp: "3000-01-01T00:00:00Z"),
                Self.event("bell\u{7}", actor: "=HYPERLINK(\"x\")", addr: "10.0.0.9:51234", timestamp: "not a time"),
            ]), secret: secret)
            let events = try await Self.events(r)
            let future = try #require(events.first { $0["registryEventId"]?.stringValue == "future" })
            // A time beyond a minute ahead is replaced by the time it arrived.
            #expect(future["time"] == future["receivedTime"])
            #expect(future["repository"]?.stringValue?.count == 255)
            #expect(future["reportedBy"]?.stringValue == "registry")
            let odd = try #require(events.first { $0["registryEventId"]?.stringValue == "bell" })
            #expect(odd["ipAddress"]?.stringValue == "10.0.0.9" && odd["sourceAddress"]?.stringValue == "10.0.0.9:51234")
            #expect(try await Self.events(r, "ipAddress=10.0.0.9").map { $0["registryEventId"] } == ["bell"])
            // Escape sequences and bidirectional overrides never reach a terminal or a page.
            _ = try await Self.send(api, Self.envelope([Self.event("esc", actor: "mallory\u{1b}[2J\u{9b}31m\u{202e}gnp.exe")]), secret: secret)
            let escaped = try #require(try await Self.events(r, "actor=mallory%5B2J31mgnp.exe").first)
            #expect(escaped["registryEventId"] == "esc")
            // A spreadsheet does not run what a registry (or whoever holds its secret) sent.
            let csv = try await api.call(.get, "/admin/realms/acme/docker-v2-events?format=csv", token: r.admin)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.text.hasPrefix("time,action,client,actor,repository,tag,digest,size,ip_address,source_address,request_id,credential_kind_inferred"))
            #expect(csv.text.contains(#""'=HYPERLINK(""x"")""#), "\(csv.text)")
        }
    }

    @Test func theCredentialIsInferredFromKeyportsOwnTokenEvents() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["team-a-dev"])
            try await r.user("bob", roles: ["team-a-dev"])
            let (secret, _) = try await Self.enable(r)
            let now = api.clock.now.rfc3339(milliseconds: true)
            // alice with her password; bob with a personal access token.
            #expect(try await r.token("alice", scopes: ["repository:team-a/app:push,pull"]).status == .ok)
            let made = try await api.call(.post, "/admin/realms/acme/users/\(try await api.createUser("acme", "carol", password: "pw", token: r.admin))/personal-access-tokens",
                                          token: r.admin, json: ["name": "ci", "client": "registry.acme.io"])
            let pat = try #require(made["token"]?.stringValue)
            let patId = try #require(made["id"]?.stringValue)
            #expect(try await r.token("carol", pat).status == .ok)
            _ = alice
            _ = try await Self.send(api, Self.envelope([
                Self.event("a", actor: "alice", timestamp: now), Self.event("c", actor: "carol", timestamp: now),
                Self.event("n", action: "pull", actor: nil, timestamp: now), Self.event("nobody", actor: "dave", timestamp: now),
            ]), secret: secret)
            let events = try await Self.events(r)
            func credential(_ id: String) -> JSONValue? { events.first { $0["registryEventId"]?.stringValue == id }?["credential"] }
            #expect(credential("a") == ["kind": "password", "inferred": true])
            #expect(credential("c") == ["kind": "personal-access-token", "id": .string(patId), "inferred": true])
            #expect(credential("n") == ["kind": "anonymous", "inferred": true])
            #expect(credential("nobody") == nil)
            // Long after alice's token could have lived, nothing is inferred.
            api.clock.advance(seconds: 7200)
            _ = try await Self.send(api, Self.envelope([Self.event("late", actor: "alice", timestamp: api.clock.now.rfc3339(milliseconds: true))]), secret: secret)
            #expect(try await Self.events(r, "actor=alice").first { $0["registryEventId"]?.stringValue == "late" }?["credential"] == nil)

            // The filters.
            #expect(try await Self.events(r, "credential=personal-access-token").map { $0["actor"] } == [.string("carol")])
            #expect(try await Self.events(r, "credentialId=\(patId)").count == 1)
            #expect(try await Self.events(r, "action=pull").map { $0["registryEventId"] } == ["n"])
            #expect(try await Self.events(r, "repository=team-a/*").count == 5)
            #expect(try await Self.events(r, "repository=team-b/*").isEmpty)
            #expect(try await Self.events(r, "client=registry.acme.io&max=2").count == 2)
            let bad = try await api.call(.get, "/admin/realms/acme/docker-v2-events?action=replicate", token: try await api.token())
            #expect(bad.status == .badRequest)
        }
    }

    /// One user, two credentials a second apart: each push is put down to the token issued just
    /// before it, never to one issued after.
    @Test func theTokenBeforeTheActionDecides() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let alice = try await r.user("alice", roles: ["team-a-dev"])
            let (secret, _) = try await Self.enable(r)
            let made = try await api.call(.post, "/admin/realms/acme/users/\(alice)/personal-access-tokens", token: r.admin,
                                          json: ["name": "ci", "client": "registry.acme.io"])
            let pat = try #require(made["token"]?.stringValue)
            #expect(try await r.token("alice").status == .ok)
            let passwordPush = api.clock.now.adding(milliseconds: 400).rfc3339(milliseconds: true)
            api.clock.advance(seconds: 1)
            #expect(try await r.token("alice", pat).status == .ok)
            let patPush = api.clock.now.adding(milliseconds: 400).rfc3339(milliseconds: true)
            _ = try await Self.send(api, Self.envelope([Self.event("first", timestamp: passwordPush), Self.event("second", timestamp: patPush)]),
                                    secret: secret)
            let events = try await Self.events(r)
            #expect(events.first { $0["registryEventId"]?.stringValue == "first" }?["credential"]?["kind"]?.stringValue == "password")
            #expect(events.first { $0["registryEventId"]?.stringValue == "second" }?["credential"]?["kind"]?.stringValue == "personal-access-token")
        }
    }

    @Test func readingTheTrailNeedsViewEventsAndChangingTheSecretManageClients() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let viewer = try await api.createUser("acme", "viewer", password: "pw", token: r.admin)
            let management = try await api.call(.get, "/admin/realms/acme/clients?clientId=realm-management", token: r.admin).items.first?["id"]?.stringValue ?? ""
            let role = try await api.role("acme", "view-events", client: management, token: r.admin)
            _ = try await api.call(.post, "/admin/realms/acme/users/\(viewer)/role-mappings/clients/\(management)", token: r.admin, json: [role])
            let token = try await api.token(realm: "acme", username: "viewer", password: "pw")
            #expect(try await api.call(.get, "/admin/realms/acme/docker-v2-events", token: token).status == .ok)
            #expect(try await api.call(.post, "/admin/realms/acme/clients/\(r.clientId)/docker-v2-notifications", token: token).status == .forbidden)
            let nobody = try await api.createUser("acme", "nobody", password: "pw", token: r.admin)
            _ = nobody
            let plain = try await api.token(realm: "acme", username: "nobody", password: "pw")
            #expect(try await api.call(.get, "/admin/realms/acme/docker-v2-events", token: plain).status == .forbidden)
        }
    }

    @Test func registryEventsGoWithTheRealmsDockerEvents() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let (secret, _) = try await Self.enable(r)
            _ = try await Self.send(api, Self.envelope([Self.event("old", timestamp: api.clock.now.rfc3339(milliseconds: true))]), secret: secret)
            let retention = EventRetentionService(store: api.server.services.store, environment: testEnvironment(clock: api.clock),
                                                  dockerEventsRetention: 3600, logger: .init(label: "test"))
            api.clock.advance(seconds: 3000)
            _ = try await retention.purgeOnce()
            #expect(try await Self.events(r).count == 1)
            api.clock.advance(seconds: 700)
            _ = try await retention.purgeOnce()
            #expect(try await Self.events(r).isEmpty)
        }
    }

    @Test func aClientReportsWithinItsBudget() {
        let budget = EventBudget()
        let t0 = Timestamp(millisecondsSince1970: 1_000_000)
        #expect(budget.take(100, key: "a", now: t0, perSecond: 10, burst: 100))
        #expect(!budget.take(1, key: "a", now: t0, perSecond: 10, burst: 100))
        #expect(budget.take(100, key: "b", now: t0, perSecond: 10, burst: 100), "another client has its own")
        #expect(budget.take(10, key: "a", now: t0.adding(seconds: 1), perSecond: 10, burst: 100))
        #expect(!budget.take(1, key: "a", now: t0.adding(seconds: 1), perSecond: 10, burst: 100))
        #expect(!budget.take(101, key: "c", now: t0, perSecond: 10, burst: 100), "never more than the burst at once")
    }

    @Test(arguments: [
        ("2026-12-03T10:00:00Z", Int64(1_796_292_000_000)), ("2026-12-03T10:00:00.5Z", 1_796_292_000_500),
        ("2026-12-03T10:00:00.123456789Z", 1_796_292_000_123), ("2026-12-03T11:00:00+01:00", 1_796_292_000_000),
        ("2026-12-03T09:30:00-00:30", 1_796_292_000_000), ("1970-01-01T00:00:00Z", 0),
    ])
    func timesReadAsRFC3339(text: String, milliseconds: Int64) {
        #expect(RegistryNotifications.parseRFC3339(text)?.millisecondsSince1970 == milliseconds)
    }

    @Test(arguments: ["", "2026-12-03", "2026-12-03T10:00:00", "2026-13-03T10:00:00Z", "2026-12-03T10:00:00.Z", "2026-12-03T10:00:00+1:00",
                      "2026-12-03T10:00:00Zjunk", "２０２６-12-03T10:00:00Z"])
    func nonTimesAreNotGuessed(text: String) {
        #expect(RegistryNotifications.parseRFC3339(text) == nil)
    }

    @Test func addressesLoseTheirPort() {
        #expect(RegistryNotifications.host(of: "10.0.0.5:51234") == "10.0.0.5")
        #expect(RegistryNotifications.host(of: "[::1]:5000") == "::1")
        #expect(RegistryNotifications.host(of: "::1") == "::1")
        #expect(RegistryNotifications.host(of: "") == nil)
    }
}
