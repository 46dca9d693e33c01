import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import KeyportAuth
import KeyportEvents
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore
import Synchronization

/// The registry's side of the audit trail: distribution's notification envelopes
/// (`notifications.endpoints`), at `POST /realms/{realm}/protocol/docker-v2/notifications?service=…`.
///
/// A registry client holds one notification secret (its hash in `docker.notifications.secret`);
/// the registry sends it as `Authorization: Bearer …` (or `Keyport-Notification-Secret: …`).
/// Whoever holds it can report anything, so what is stored is marked as the registry's word.
/// The secret is checked before the body is read; a body is at most 1 MiB and 1,000 events; each
/// client may report `ratePerSecond` events a second on average (bursts of `burst`), beyond which
/// the answer is 429 and distribution retries later. Events of other actions are ignored.
public struct RegistryNotifications: Sendable {
    public static let path: RouterPath = "/realms/{realm}/protocol/docker-v2/notifications"
    public static let maxEventsPerEnvelope = 1_000
    /// Questions to the store one envelope's credential inference may ask.
    static let maxLookupsPerEnvelope = 100
    public static let ratePerSecond = 500
    public static let burst = 20_000
    /// Header a registry can send the secret in, instead of `Authorization`.
    public static let secretHeader = "Keyport-Notification-Secret"

    let store: any IdentityStore
    let configuration: RealmConfigurationCache
    let events: EventRecorder
    let environment: TimeAndRandomness
    let budget = EventBudget()

    public init(store: any IdentityStore, configuration: RealmConfigurationCache, events: EventRecorder, environment: TimeAndRandomness) {
        self.store = store
        self.configuration = configuration
        self.events = events
        self.environment = environment
    }

    public func addRoutes(to router: Router<KeyportRequestContext>) {
        router.post(Self.path) { request, context in try await receive(request, context) }
    }

    // MARK: The secret

    /// A new secret: shown once; its hash is what the client keeps.
    public static func newSecret(randomBytes: [UInt8]) -> (secret: String, attribute: String) {
        let secret = "kpn_" + Data(randomBytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (secret, hash(secret))
    }

    static func hash(_ secret: String) -> String {
        "sha256:" + SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares every byte: how long it takes says nothing of how much matched.
    static func matches(_ secret: String, stored: String) -> Bool {
        let a = Array(hash(secret).utf8), b = Array(stored.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The section a registry's `config.yml` needs to report to this client.
    public static func registryConfigSection(url: String, secret: String) -> String {
        """
        # Keyport's audit trail of pushes, pulls, deletes and mounts. The secret is shown once: keep
        # this file readable by the registry alone. `ignore: actions: [pull]` would leave pulls out.
        notifications:
          endpoints:
            - name: keyport
              url: \(url)
              headers:
                Authorization: [Bearer \(secret)]
              timeout: 5s
              threshold: 5
              backoff: 10s
              ignoredmediatypes:
                - application/octet-stream

        """
    }

    // MARK: Receiving

    func receive(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let realmName = context.pathParameter("realm") ?? ""
        guard realmName.utf8.count <= 255, let current = try await configuration.realm(named: realmName), current.realm.enabled else {
            throw DockerV2Error.notFound("realm_not_found", "Realm '\(String(realmName.prefix(80)))' does not exist")
        }
        let realm = current.realm
        guard realm.dockerV2Enabled else {
            throw DockerV2Error.notFound("docker_v2_disabled", "The docker-v2 protocol is not enabled for realm '\(realm.name)'")
        }
        let query = FormParameters.query(of: request)
        guard let service = query["service"], !service.isEmpty else { throw DockerV2Error.serviceMissing }
        guard service.utf8.count <= 255, let client = try await configuration.client(clientId: service, in: current),
              client.protocolName == .dockerV2, client.enabled else {
            throw DockerV2Error.unknownClient
        }
        guard let stored = client.attributes[DockerClientSettings.notificationSecretAttribute] else {
            throw DockerV2Error.notFound("notifications_disabled", "Registry client '\(client.clientId)' takes no notifications: make its secret with kpadm docker notifications enable")
        }
        let presented: String? = {
            if let bearer = request.headers[.authorization], bearer.lowercased().hasPrefix("bearer ") { return String(bearer.dropFirst(7)) }
            return HTTPField.Name(Self.secretHeader).flatMap { request.headers[$0] }
        }()
        guard let presented, presented.utf8.count <= 512, Self.matches(presented, stored: stored) else {
            throw DockerV2Error(status: .unauthorized, body: ["error": "invalid_token", "error_description": "Invalid notification secret"])
        }
        let body = try await BodyReader.read(request, context: context)
        let envelope: JSONValue
        do {
            envelope = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))
        } catch {
            throw DockerV2Error.badRequest("invalid_request", "The body is not a notification envelope (JSON with an events list)", code: "UNSUPPORTED")
        }
        guard let list = envelope["events"]?.arrayValue else {
            throw DockerV2Error.badRequest("invalid_request", "The body is not a notification envelope (JSON with an events list)", code: "UNSUPPORTED")
        }
        guard list.count <= Self.maxEventsPerEnvelope else {
            throw DockerV2Error.badRequest("invalid_request", "An envelope holds at most \(Self.maxEventsPerEnvelope) events", code: "UNSUPPORTED")
        }
        let now = environment.now()
        guard budget.take(list.count, key: "\(realm.id)/\(client.id)", now: now, perSecond: Self.ratePerSecond, burst: Self.burst) else {
            throw DockerV2Error(status: .tooManyRequests, body: ["error": "too_many_requests", "error_description": "Too many notifications: try again later"],
                                headers: [.retryAfter: "10"])
        }
        var reported = list.compactMap { Self.event($0, realm: realm, client: client, received: now, newID: environment.newID) }
        if !reported.isEmpty {
            // The token events of the requests this envelope reports may still be queued: they
            // get two seconds to be written, never longer (a busy database delays inference only).
            await events.waitUntilWritten(timeout: .seconds(2))
            try await inferCredentials(&reported, realm: realm, client: client)
        }
        let kept = try await store.recordRegistryEvents(reported)
        let answer: JSONValue = ["received": .number(Double(list.count)), "stored": .number(Double(kept))]
        return try JSONBody.response(answer)
    }

    /// One event of an envelope, bounded; nil for an action that is not audited or no id.
    static func event(_ json: JSONValue, realm: Realm, client: Client, received: Timestamp, newID: () -> String) -> RegistryEvent? {
        func text(_ value: JSONValue?, _ limit: Int) -> String? {
            guard let string = value?.stringValue, !string.isEmpty else { return nil }
            return String(String.UnicodeScalarView(string.unicodeScalars.filter(printable).prefix(limit)))
        }
        guard let id = text(json["id"], 128), let action = text(json["action"], 16), RegistryEvent.actions.contains(action) else { return nil }
        let target = json["target"], request = json["request"]
        // A registry's clock may be off, and a sender may lie: kept within a week before receipt and a minute after.
        var time = text(json["timestamp"], 64).flatMap(parseRFC3339) ?? received
        if time < received.adding(seconds: -7 * 86_400) || received.adding(seconds: 60) < time { time = received }
        let size: Int64? = {
            guard case .number(let n)? = target?["size"] ?? target?["length"], n.isFinite, n >= 0, n < 1e18 else { return nil }
            return Int64(n)
        }()
        let address = text(request?["addr"], 64)
        return RegistryEvent(id: newID(), realmId: realm.id, clientId: client.clientId, registryEventId: id, time: time, received: received,
                             action: action, actor: text(json["actor"]?["name"], 255), repository: text(target?["repository"], 255),
                             tag: text(target?["tag"], 128), digest: text(target?["digest"], 100), mediaType: text(target?["mediaType"], 255),
                             size: size, fromRepository: text(target?["fromRepository"], 255), sourceAddress: address,
                             sourceHost: host(of: address), requestId: text(request?["id"], 64), userAgent: text(request?["useragent"], 255))
    }

    /// What may be shown as text on a terminal or a page: no C0 or C1 control characters (escape
    /// sequences), no bidirectional overrides or isolates (text that reads otherwise than it is).
    static func printable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7f...0x9f, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069: false
        default: true
        }
    }

    /// Which credential each event's token most likely came from: this client's token event
    /// (`LOGIN`, or `REFRESH_TOKEN` for an identity token) for the same username from the same
    /// address — the newest issued before the registry acted, within the token's life; failing
    /// that, the first issued within a minute after (the two clocks may differ). The registry's
    /// events carry the actor and address, never the token, so this is an inference (and said to
    /// be one wherever it is shown).
    func inferCredentials(_ reported: inout [RegistryEvent], realm: Realm, client: Client) async throws {
        let window = min(max(realm.accessTokenLifespan, 60), 3600) + 60
        var candidates: [String: [Event]] = [:]
        var userIds: [String: String?] = [:]
        // Bounded: an envelope of 1,000 events from 1,000 users asks at most this many questions.
        var lookups = 0
        for index in reported.indices {
            let event = reported[index]
            guard let actor = event.actor, !actor.isEmpty else {
                reported[index].credentialKind = "anonymous"
                continue
            }
            let host = event.sourceHost
            // Minute buckets: one look-up serves an envelope's events of one pull or push.
            let minute = event.time.millisecondsSince1970 / 60_000
            let key = "\(actor)\u{0}\(host ?? "")\u{0}\(minute)"
            if userIds[actor] == nil {
                guard lookups < Self.maxLookupsPerEnvelope else { continue }
                lookups += 1
                userIds[actor] = try await store.user(username: actor, realmId: realm.id)?.id
            }
            guard let userId = userIds[actor] ?? nil else { continue }
            if candidates[key] == nil {
                guard lookups < Self.maxLookupsPerEnvelope else { continue }
                lookups += 1
                let start = Timestamp(millisecondsSince1970: minute * 60_000).adding(seconds: -window)
                let query = EventQuery(types: ["LOGIN", "REFRESH_TOKEN"], userId: userId, clientId: client.clientId, from: start,
                                       to: Timestamp(millisecondsSince1970: (minute + 2) * 60_000), ipAddress: host)
                candidates[key] = try await store.events(realmId: realm.id, matching: query, page: Page(first: 0, max: 500))
            }
            let mine = candidates[key] ?? []  // newest first
            let before = mine.first { $0.time <= event.time && event.time.adding(seconds: -window) <= $0.time }
            let after = mine.last { event.time < $0.time && $0.time <= event.time.adding(seconds: 60) }
            if let found = (before ?? after).map(Self.credential) {
                reported[index].credentialKind = found.kind
                reported[index].credentialId = found.id
            }
        }
    }

    /// The credential a token event names.
    static func credential(_ event: Event) -> (kind: String, id: String?) {
        if event.type == "REFRESH_TOKEN", let id = event.details["identity_token_id"] { return ("identity-token", id) }
        let kind = event.details["credential_type"] ?? "password"
        return (kind, kind == "personal-access-token" ? event.details["token_id"] : nil)
    }

    /// `10.0.0.5:51234` → `10.0.0.5`; `[::1]:5000` → `::1`.
    public static func host(of address: String?) -> String? {
        guard var address, !address.isEmpty else { return nil }
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<close])
        }
        if address.filter({ $0 == ":" }).count == 1, let colon = address.lastIndex(of: ":") { address = String(address[..<colon]) }
        return address
    }

    /// RFC 3339 (`2026-12-03T21:20:00.123456789Z`, `…+01:00`) → milliseconds; nil if it is not one.
    static func parseRFC3339(_ text: String) -> Timestamp? {
        let chars = Array(text.utf8)
        guard chars.count >= 20, chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-"), chars[10] == UInt8(ascii: "T") || chars[10] == UInt8(ascii: "t"),
              chars[13] == UInt8(ascii: ":"), chars[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var n: Int64 = 0
            for i in range { guard chars[i] >= 48, chars[i] <= 57 else { return nil }; n = n * 10 + Int64(chars[i] - 48) }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19, milliseconds: Int64 = 0
        if i < chars.count, chars[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                if digits < 3 { milliseconds = milliseconds * 10 + Int64(chars[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { milliseconds *= 10 } }
        }
        guard i < chars.count else { return nil }
        var offset: Int64 = 0
        if chars[i] == UInt8(ascii: "Z") || chars[i] == UInt8(ascii: "z") {
            guard i + 1 == chars.count else { return nil }
        } else {
            guard i + 6 == chars.count, chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-"), chars[i + 3] == UInt8(ascii: ":"),
                  let h = number(i + 1..<i + 3), let m = number(i + 4..<i + 6), h < 24, m < 60 else { return nil }
            offset = (h * 60 + m) * 60 * (chars[i] == UInt8(ascii: "+") ? 1 : -1)
        }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Timestamp(millisecondsSince1970: seconds * 1000 + milliseconds)
    }
}

/// Events a registry client may still report: a token bucket per client, `burst` deep,
/// refilled at `perSecond`. Bounded: beyond 10,000 clients the oldest-filled buckets are forgotten.
final class EventBudget: Sendable {
    private struct Bucket { var tokens: Double; var at: Int64 }
    private let buckets = Mutex<[String: Bucket]>([:])

    func take(_ count: Int, key: String, now: Timestamp, perSecond: Int, burst: Int) -> Bool {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: Double(burst), at: now.millisecondsSince1970)
            let elapsed = max(0, (Double(now.millisecondsSince1970) - Double(bucket.at)) / 1000)
            bucket.tokens = min(Double(burst), bucket.tokens + elapsed * Double(perSecond))
            bucket.at = now.millisecondsSince1970
            let allowed = bucket.tokens >= Double(count)
            if allowed { bucket.tokens -= Double(count) }
            if buckets[key] == nil, buckets.count >= 10_000 { buckets.removeAll() }
            buckets[key] = bucket
            return allowed
        }
    }
}
