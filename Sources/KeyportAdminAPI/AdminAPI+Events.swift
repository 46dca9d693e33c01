import KeycloakRepresentations
import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
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

    /// Keycloak's admin event: who (`authDetails`) did what to which resource.
    struct AdminEventRepresentation: Encodable {
        struct AuthDetails: Encodable {
            let realmId: String?
            let clientId: String?
            let userId: String?
            let ipAddress: String?
        }
        let id: String
        let time: Int64
        let realmId: String
        let authDetails: AuthDetails
        let operationType: String
        let resourceType: String
        let resourcePath: String
        let representation: String?
        let error: String?
    }

    func addEventRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms/{realm}/events", use: listEvents)
        admin.delete("realms/{realm}/events", use: clearEvents)
        admin.get("realms/{realm}/events/config", use: getEventsConfig)
        admin.put("realms/{realm}/events/config", use: updateEventsConfig)
        admin.get("realms/{realm}/admin-events", use: listAdminEvents)
        admin.delete("realms/{realm}/admin-events", use: clearAdminEvents)
        for (name, query) in extensions.realmRecordQueries {
            admin.get("realms/{realm}/\(name)") { request, context in
                let (_, realm) = try await authorize(request, context, .viewEvents)
                return try await query(request, realm)
            }
        }
    }

    /// `yyyy-MM-dd` (Keycloak), or epoch milliseconds.
    public static func date(_ text: String?, endOfDay: Bool) throws -> Timestamp? {
        guard let text, !text.isEmpty else { return nil }
        if let ms = Int64(text) { return Timestamp(millisecondsSince1970: ms) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        // Within years 1 to 9999: a longer year would not fit the milliseconds below.
        guard let day = formatter.date(from: text), abs(day.timeIntervalSince1970) < 253_402_300_800 else {
            throw AdminError.badRequest("Dates are yyyy-MM-dd, not '\(String(text.prefix(40)))'")
        }
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
                               from: try date(q["dateFrom"], endOfDay: false), to: try date(q["dateTo"], endOfDay: true),
                               ipAddress: q["ipAddress"].flatMap { $0.isEmpty ? nil : String($0.prefix(64)) })
        let events = try await store.events(realmId: realm.id, matching: query, page: try page(request))
        return try JSONBody.response(events.map {
            EventRepresentation(id: $0.id, time: $0.time.millisecondsSince1970, type: $0.type, realmId: realm.id, clientId: $0.clientId,
                                userId: $0.userId, ipAddress: $0.ipAddress, error: $0.error, details: $0.details)
        })
    }

    /// `DELETE events`: every login event of the realm (manage-events).
    func clearEvents(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageEvents)
        _ = try await store.deleteEvents(realmId: realm.id, before: Timestamp(millisecondsSince1970: Int64.max))
        return noContent
    }

    /// Keycloak's `RealmEventsConfigRepresentation` of the realm.
    func eventsConfig(_ realm: Realm) -> JSONValue {
        var config: [String: JSONValue] = [
            "eventsEnabled": .bool(realm.eventsEnabled), "eventsListeners": ["jboss-logging"],
            "enabledEventTypes": .array(realm.enabledEventTypes.map { .string($0) }),
            "adminEventsEnabled": .bool(realm.adminEventsEnabled), "adminEventsDetailsEnabled": .bool(realm.adminEventsDetailsEnabled),
        ]
        if let expiration = realm.eventsExpiration { config["eventsExpiration"] = .number(Double(expiration)) }
        return .object(config)
    }

    func getEventsConfig(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewEvents)
        return try JSONBody.response(eventsConfig(realm))
    }

    /// `PUT events/config` (manage-events): the realm's event settings, checked as a realm
    /// update checks them. Keyport writes events to its own store; the listeners named are
    /// accepted (Keycloak's `jboss-logging` is what Keyport's log already does) and not kept.
    func updateEventsConfig(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, existing) = try await authorize(request, context, .manageEvents)
        let body = try await BodyReader.read(request, context: context)
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else {
            throw AdminError.badRequest("The request body is not valid JSON")
        }
        if let message = KeycloakShape.eventsConfig.unrecognizedField(in: json) { throw AdminError.unrecognizedField(message) }
        let rep: RealmRepresentation
        do { rep = try JSONBody.decode(RealmRepresentation.self, from: body) } catch let error as BadInput { throw AdminError.badRequest(error.message) }
        var change = RealmSettingsChange()
        change.eventsEnabled = rep.eventsEnabled
        change.enabledEventTypes = rep.enabledEventTypes
        change.eventsExpiration = rep.eventsExpiration
        change.adminEventsEnabled = rep.adminEventsEnabled
        change.adminEventsDetailsEnabled = rep.adminEventsDetailsEnabled
        let settings = change
        try await store.updateRealm(id: existing.id) { realm in
            do { try realm.apply(settings, ceiling: ceiling) } catch let error as InvalidRealmSetting { throw AdminError.badRequest(error.description) }
        }
        return noContent
    }

    /// `GET admin-events` with Keycloak's filters, newest first (view-events).
    func listAdminEvents(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewEvents)
        let q = FormParameters.query(of: request)
        func text(_ name: String) -> String? { q[name].flatMap { $0.isEmpty ? nil : String($0.prefix(1024)) } }
        var query = AdminEventQuery()
        query.operationTypes = q.all("operationTypes").flatMap { $0.split(separator: ",").map(String.init) }.prefix(20).map { $0 }
        query.resourceTypes = q.all("resourceTypes").flatMap { $0.split(separator: ",").map(String.init) }.prefix(50).map { $0 }
        query.resourcePath = text("resourcePath")
        query.authClientId = text("authClient")
        query.authUserId = text("authUser")
        query.authIpAddress = text("authIpAddress")
        if let name = text("authRealm") {
            // Keycloak filters by the admin's realm id; a realm name is accepted too.
            query.authRealmId = try await store.realm(named: name)?.id ?? name
        }
        query.from = try date(q["dateFrom"], endOfDay: false)
        query.to = try date(q["dateTo"], endOfDay: true)
        var events = try await store.adminEvents(realmId: realm.id, matching: query, page: try page(request))
        if q["direction"]?.lowercased() == "asc" { events.reverse() }
        return try JSONBody.response(events.map {
            AdminEventRepresentation(id: $0.id, time: $0.time.millisecondsSince1970, realmId: realm.id,
                                     authDetails: .init(realmId: $0.authRealmId, clientId: $0.authClientId, userId: $0.authUserId, ipAddress: $0.authIpAddress),
                                     operationType: $0.operationType, resourceType: $0.resourceType, resourcePath: $0.resourcePath,
                                     representation: $0.representation, error: $0.error)
        })
    }

    /// `DELETE admin-events`: the realm's admin events (manage-events; the deletion itself is
    /// recorded as the first event after it when admin events stay on).
    func clearAdminEvents(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageEvents)
        _ = try await store.deleteAdminEvents(realmId: realm.id, before: Timestamp(millisecondsSince1970: Int64.max))
        return noContent
    }
}
