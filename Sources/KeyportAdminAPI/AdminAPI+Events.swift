import KeycloakRepresentations
import Foundation
import Hummingbird
import KeyportHTTP
import KeyportModel
import KeyportStore

extension AdminAPI {
    struct EventRepresentation: Encodable {
        let id: String
        let time: Int64
        let type: String
        let realmId: String
        let clientId: String?
        let userId: String?
        let ipAddress: String?
        let error: String?
        let details: [String: String]
    }

    func addEventRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms/{realm}/events", use: listEvents)
    }

    /// `yyyy-MM-dd` (Keycloak), or epoch milliseconds.
    func date(_ text: String?, endOfDay: Bool) throws -> Timestamp? {
        guard let text, !text.isEmpty else { return nil }
        if let ms = Int64(text) { return Timestamp(millisecondsSince1970: ms) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard let day = formatter.date(from: text) else { throw AdminError.badRequest("Dates are yyyy-MM-dd, not '\(String(text.prefix(40)))'") }
        let ms = Int64(day.timeIntervalSince1970 * 1000) + (endOfDay ? 86_400_000 - 1 : 0)
        return Timestamp(millisecondsSince1970: ms)
    }
}

// MARK: Handlers

extension AdminAPI {
    func listEvents(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewEvents)
        let q = FormParameters.query(of: request)
        var userId = q["user"].flatMap { $0.isEmpty ? nil : $0 }
        // Keycloak filters by user id; a username is accepted too.
        if let name = userId, let user = try await store.user(username: name, realmId: realm.id) { userId = user.id }
        let query = EventQuery(types: q.all("type").flatMap { $0.split(separator: ",").map(String.init) },
                               userId: userId, clientId: q["client"].flatMap { $0.isEmpty ? nil : $0 },
                               from: try date(q["dateFrom"], endOfDay: false), to: try date(q["dateTo"], endOfDay: true))
        let events = try await store.events(realmId: realm.id, matching: query, page: try page(request))
        return try JSONBody.response(events.map {
            EventRepresentation(id: $0.id, time: $0.time.millisecondsSince1970, type: $0.type, realmId: realm.id, clientId: $0.clientId,
                                userId: $0.userId, ipAddress: $0.ipAddress, error: $0.error, details: $0.details)
        })
    }
}
