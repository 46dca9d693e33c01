import Foundation
import Hummingbird
import KeyportAdminAPI
import KeyportDockerV2
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore
import KeyportTokens

/// The admin side of the registry's audit trail: a registry client's notification secret, and
/// the events registries reported.
enum RegistryEventsAdmin {
    static let secretAction = "docker-v2-notifications"
    static let eventsQuery = "docker-v2-events"

    /// `POST clients/{id}/docker-v2-notifications`: a new secret (the old one stops working), shown
    /// once with the URL and the registry's `notifications` section; `DELETE`: none, and the
    /// registry's reports are refused.
    static func secret(request: Request, realm: Realm, client: Client, store: any IdentityStore, environment: TimeAndRandomness,
                       realmIssuer: RealmIssuer) async throws -> Response {
        guard client.protocolName == .dockerV2 else { throw AdminError.badRequest("\(client.clientId) is not a docker-v2 client") }
        let attribute = DockerClientSettings.notificationSecretAttribute
        if request.method == .delete {
            try await store.apply([.updateClient(id: client.id, realmId: realm.id) { $0.attributes[attribute] = nil }])
            return Response(status: .noContent)
        }
        let made = RegistryNotifications.newSecret(randomBytes: environment.randomBytes(32))
        try await store.apply([.updateClient(id: client.id, realmId: realm.id) { $0.attributes[attribute] = made.attribute }])
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let url = "\(realmIssuer.url(for: realm))/protocol/docker-v2/notifications?service=\(client.clientId.addingPercentEncoding(withAllowedCharacters: allowed) ?? client.clientId)"
        let body: JSONValue = ["url": .string(url), "secret": .string(made.secret),
                               "registryConfig": .string(RegistryNotifications.registryConfigSection(url: url, secret: made.secret))]
        return try JSONBody.response(body, headers: [.cacheControl: "no-store"])
    }

    /// `GET realms/{realm}/docker-v2-events`: what registries reported, newest first. Filters
    /// (each exact): `client` (the registry's clientId), `repository` (a trailing `*` is a
    /// prefix), `actor`, `action` (repeatable or comma-separated), `credential` (kind),
    /// `credentialId`, `ipAddress` (the client's host, as the registry saw it), `dateFrom`/`dateTo` (yyyy-MM-dd or epoch ms); `first`/`max`
    /// (at most 10,000); `format=csv` for a spreadsheet.
    static func events(request: Request, realm: Realm, store: any IdentityStore) async throws -> Response {
        let q = FormParameters.query(of: request)
        func text(_ name: String, _ limit: Int = 255) -> String? { q[name].flatMap { $0.isEmpty ? nil : String($0.prefix(limit)) } }
        var query = RegistryEventQuery()
        query.clientId = text("client")
        query.repository = text("repository")
        query.actor = text("actor")
        query.actions = q.all("action").flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
        guard query.actions.allSatisfy(RegistryEvent.actions.contains) else {
            throw AdminError.badRequest("action is one of \(RegistryEvent.actions.sorted().joined(separator: ", "))")
        }
        query.credentialKind = text("credential", 64)
        query.credentialId = text("credentialId", 128)
        query.sourceHost = text("ipAddress", 64)
        query.from = try AdminAPI.date(q["dateFrom"], endOfDay: false)
        query.to = try AdminAPI.date(q["dateTo"], endOfDay: true)
        let events = try await store.registryEvents(realmId: realm.id, matching: query, page: try AdminAPI.page(request))
        if q["format"] == "csv" {
            var csv = csvHeader.joined(separator: ",") + "\r\n"
            for event in events { csv += csvRow(event).map(csvCell).joined(separator: ",") + "\r\n" }
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                   .contentDisposition: "attachment; filename=\"registry-events-\(realm.name).csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: csv)))
        }
        return try JSONBody.response(JSONValue.array(events.map(representation)))
    }

    static func representation(_ e: RegistryEvent) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(e.id), "time": .number(Double(e.time.millisecondsSince1970)), "receivedTime": .number(Double(e.received.millisecondsSince1970)),
            "action": .string(e.action), "clientId": .string(e.clientId), "registryEventId": .string(e.registryEventId),
            // What follows is the registry's word: whoever holds the notification secret can send it.
            "reportedBy": "registry",
        ]
        let optional: [(String, String?)] = [("actor", e.actor), ("repository", e.repository), ("tag", e.tag), ("digest", e.digest),
                                             ("mediaType", e.mediaType), ("fromRepository", e.fromRepository), ("ipAddress", e.sourceHost),
                                             ("sourceAddress", e.sourceAddress),
                                             ("requestId", e.requestId), ("userAgent", e.userAgent)]
        for (key, value) in optional { if let value { object[key] = .string(value) } }
        if let size = e.size { object["size"] = .number(Double(size)) }
        if let kind = e.credentialKind {
            var credential: [String: JSONValue] = ["kind": .string(kind), "inferred": true]
            if let id = e.credentialId { credential["id"] = .string(id) }
            object["credential"] = .object(credential)
        }
        return .object(object)
    }

    static let csvHeader = ["time", "action", "client", "actor", "repository", "tag", "digest", "size", "ip_address", "source_address",
                            "request_id", "credential_kind_inferred", "credential_id_inferred", "user_agent", "registry_event_id"]

    static func csvRow(_ e: RegistryEvent) -> [String] {
        [e.time.rfc3339(milliseconds: true), e.action, e.clientId, e.actor ?? "", e.repository ?? "", e.tag ?? "", e.digest ?? "",
         e.size.map(String.init) ?? "", e.sourceHost ?? "", e.sourceAddress ?? "", e.requestId ?? "", e.credentialKind ?? "", e.credentialId ?? "",
         e.userAgent ?? "", e.registryEventId]
    }

    /// Quoted; a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) starts with `'`.
    static func csvCell(_ value: String) -> String {
        var cell = value
        if let first = cell.first, "=+-@\t\r".contains(first) { cell = "'" + cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
