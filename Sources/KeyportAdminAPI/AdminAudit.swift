import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore

/// Keycloak's admin events, recorded in one place for every admin route: after a change
/// succeeds (2xx), when the realm it touched has `adminEventsEnabled`, who made it (the
/// verified caller, from where), what (operation and resource type, the path under the realm,
/// with a created object's id) and — with `adminEventsDetailsEnabled` — the body sent, its
/// secrets replaced by `**********`. Reads are not recorded; refused requests are not either
/// (nothing changed). A failure to record is logged and does not undo or fail the change.
///
/// Bounded like login events: a realm keeps at most `AdminEvent.limitPerRealm` (the oldest go
/// in the inserting transaction), a representation longer than `maxRepresentationBytes` is
/// left out, and the realm attribute `adminEventsExpiration` (seconds) ages them out
/// (EventRetentionService).
struct AdminAuditMiddleware: RouterMiddleware {
    typealias Context = KeyportRequestContext
    let store: any IdentityStore
    let environment: TimeAndRandomness

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard [.post, .put, .delete, .patch].contains(request.method), let caller = context.caller,
              let target = AdminAuditTarget(path: request.uri.path), !target.changesNothing else {
            return try await next(request, context)
        }
        var request = request
        // Buffered here (bounded as every admin body) so the handler and the record both read it.
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let response = try await next(request, context)
        guard (200..<300).contains(Int(response.status.code)) else { return response }
        do {
            try await record(target, body: body, response: response, caller: caller, method: request.method, context: context)
        } catch {
            context.logger.error("could not record an admin event", metadata: ["error": "\(type(of: error))", "path": "\(target.realmName)/\(target.resourcePath)"])
        }
        return response
    }

    func record(_ target: AdminAuditTarget, body: ByteBuffer, response: Response, caller: AuthenticatedCaller, method: HTTPRequest.Method,
                context: Context) async throws {
        // Creating or deleting a realm is recorded in the caller's realm, as Keycloak does.
        let realmName = target.isRealmLifecycle ? caller.realm.name : target.realmName
        guard let realm = try await store.realm(named: realmName), realm.adminEventsEnabled else { return }
        var path = target.resourcePath
        if method == .post, let location = response.headers[.location], let created = target.createdPath(from: location) { path = created }
        let representation = realm.adminEventsDetailsEnabled ? Self.redactedRepresentation(body) : nil
        let event = AdminEvent(id: environment.newID(), realmId: realm.id, time: environment.now(),
                               operationType: target.operationType(method), resourceType: target.resourceType,
                               resourcePath: String(path.prefix(1024)), representation: representation,
                               authRealmId: caller.realm.id, authUserId: caller.user.id, authIpAddress: context.clientAddress.map { String($0.prefix(64)) })
        try await store.recordAdminEvent(event, keepingPerRealm: AdminEvent.limitPerRealm)
    }

    /// Names whose values are secrets wherever they appear in a body: passwords and other
    /// credential values, client secrets, hashes, tokens, private keys.
    static let secretNames: Set<String> = [
        "value", "secret", "secretData", "credentialData", "hashedSaltedValue", "salt", "password", "token", "privateKey",
        "registrationAccessToken", "bindCredential", "clientSecret", "client_secret", "refresh_token", "access_token", "id_token",
    ]

    /// The body as JSON with every secret replaced; nil when it is empty, not JSON, or too long to keep.
    static func redactedRepresentation(_ body: ByteBuffer) -> String? {
        guard body.readableBytes > 0, let json = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else { return nil }
        func redact(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(let object):
                return .object(Dictionary(uniqueKeysWithValues: object.map { key, inner in
                    (key, secretNames.contains(key) && inner != .null ? .string("**********") : redact(inner))
                }))
            case .array(let items):
                return .array(items.map(redact))
            default:
                return value
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(redact(json)), data.count <= AdminEvent.maxRepresentationBytes else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What an admin request path touches, in Keycloak's terms.
struct AdminAuditTarget: Equatable {
    let realmName: String
    /// The path under `/admin/realms/{realm}/` ("" for the realm itself).
    let resourcePath: String
    let segments: [String]
    /// `POST /admin/realms` or `DELETE /admin/realms/{realm}`.
    let isRealmLifecycle: Bool

    init?(path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2, parts[0] == "admin", parts[1] == "realms" else { return nil }
        if parts.count == 2 {
            realmName = ""
            resourcePath = ""
            segments = []
            isRealmLifecycle = true
            return
        }
        realmName = parts[2].removingPercentEncoding ?? parts[2]
        segments = Array(parts.dropFirst(3))
        resourcePath = segments.joined(separator: "/")
        isRealmLifecycle = segments.isEmpty
    }

    /// A POST that only reads (`partial-export`, a directory's connection test): nothing to record.
    var changesNothing: Bool { segments.last == "partial-export" || segments.last == "testLDAPConnection" }

    /// The new object's path under its realm, from a creation's `Location`.
    func createdPath(from location: String) -> String? {
        guard let range = location.range(of: "/admin/realms/") else { return nil }
        let rest = location[range.upperBound...].split(separator: "/", maxSplits: 1).map(String.init)
        if isRealmLifecycle { return rest.first.map { $0.removingPercentEncoding ?? $0 } }
        return rest.count == 2 ? rest[1] : nil
    }

    /// Keycloak's resource type for the path.
    var resourceType: String {
        let s = segments
        func at(_ i: Int) -> String? { i < s.count ? s[i] : nil }
        if isRealmLifecycle { return "REALM" }
        if let i = s.firstIndex(of: "role-mappings") { return at(i + 1) == "clients" ? "CLIENT_ROLE_MAPPING" : "REALM_ROLE_MAPPING" }
        if let i = s.firstIndex(of: "scope-mappings") { return at(i + 1) == "clients" ? "CLIENT_SCOPE_MAPPING" : "REALM_SCOPE_MAPPING" }
        if s.contains("protocol-mappers") { return "PROTOCOL_MAPPER" }
        if s.count >= 3, s[0] == "clients", ["default-client-scopes", "optional-client-scopes"].contains(s[2]) { return "CLIENT_SCOPE_CLIENT_MAPPING" }
        switch s[0] {
        case "users":
            if at(2) == "groups" { return "GROUP_MEMBERSHIP" }
            return "USER"
        case "groups", "group-by-path": return "GROUP"
        case "clients":
            if at(2) == "roles" { return "CLIENT_ROLE" }
            return "CLIENT"
        case "roles", "roles-by-id": return "REALM_ROLE"
        case "sessions": return "USER_SESSION"
        case "attack-detection": return "USER_LOGIN_FAILURE"
        case "components", "keys": return "COMPONENT"
        case "client-scopes": return "CLIENT_SCOPE"
        case "identity-provider": return s.contains("mappers") ? "IDENTITY_PROVIDER_MAPPER" : "IDENTITY_PROVIDER"
        default: return "REALM"
        }
    }

    /// CREATE, UPDATE, DELETE, or ACTION for what is done rather than made.
    func operationType(_ method: HTTPRequest.Method) -> String {
        let last = segments.last ?? ""
        if ["reset-password", "logout", "logout-all", "client-secret", "partialImport", "push-revocation",
            "clear-realm-cache", "clear-user-cache", "clear-keys-cache", "send-verify-email", "execute-actions-email", "import-config"].contains(last) {
            return "ACTION"
        }
        switch method {
        case .post: return "CREATE"
        case .delete: return "DELETE"
        default: return "UPDATE"
        }
    }
}
