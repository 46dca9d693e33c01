import KeycloakRepresentations
import Hummingbird
import KeyportAccessTokens
import KeyportHTTP
import KeyportModel
import KeyportStore

/// The admin API's errors in the shapes Keycloak clients parse: `409 {"errorMessage"}`,
/// `404 {"error"}`, `400 {"errorMessage"}`, `401`/`403 {"error"}`.
public struct AdminError: HTTPResponseError, Equatable {
    public let status: HTTPResponse.Status
    public let message: String

    /// Keycloak answers some 400s as `{"error"}` rather than `{"errorMessage"}` (an
    /// unrecognized field, among others); tools match on the shape they know.
    public var keyedAsError = false
    /// Keycloak's `error` code for a body it could not read (`BadInput.keycloakCode`): the answer
    /// carries it first, with the description beside it, and Keyport's `errorMessage` as well.
    public var keycloakCode: String?

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        if keyedAsError { return try JSONBody.response(["error": message], status: status) }
        if let keycloakCode {
            return try JSONBody.response(["error": keycloakCode, "error_description": message, "errorMessage": message], status: status)
        }
        switch status {
        case .notFound, .unauthorized, .forbidden:
            var headers: HTTPFields = [:]
            if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
            return try JSONBody.response(["error": message], status: status, headers: headers)
        case .serviceUnavailable:
            // The same answer as every other surface gives for a database outage.
            return try JSONBody.response(["errorMessage": message, "error": "temporarily_unavailable"], status: status, headers: [.retryAfter: "5"])
        default:
            return try JSONBody.response(["errorMessage": message], status: status)
        }
    }

    public static func badRequest(_ message: String) -> AdminError { .init(.badRequest, message) }
    /// A body that could not be read, with Keycloak's code when it has one.
    public static func badInput(_ error: BadInput) -> AdminError {
        var answer = AdminError(.badRequest, error.message)
        answer.keycloakCode = error.keycloakCode
        return answer
    }

    /// A field Keycloak's representation does not have, in Keycloak's words and shape.
    public static func unrecognizedField(_ message: String) -> AdminError {
        var error = AdminError(.badRequest, message)
        error.keyedAsError = true
        return error
    }
    public static func notFound(_ message: String) -> AdminError { .init(.notFound, message) }
    public static func conflict(_ message: String) -> AdminError { .init(.conflict, message) }
    public static let unauthorized = AdminError(.unauthorized, "HTTP 401 Unauthorized")
    public static let forbidden = AdminError(.forbidden, "HTTP 403 Forbidden")

    /// Keycloak's words for each uniqueness rule (clients such as python-keycloak match on them).
    static func keycloakWording(_ rule: StoreConflict) -> String {
        switch rule {
        case .realmName: "Realm with same name exists"
        case .username: "User exists with same username"
        case .email: "User exists with same email"
        case .clientId: "Client with same clientId exists"
        case .roleName: "Role with same name exists"
        case .topLevelGroupName: "Top level group with same name exists"
        case .siblingGroupName: "Sibling group with same name exists"
        case .keyLimit: "The realm holds \(RealmKey.limitPerRealm) keys already: delete one first"
        case .lastActiveKey: "That would leave the realm without an active key for this algorithm: activate another one first"
        case .credentialType: "User already has a credential of this type"
        case .tokenName: "User already has a personal access token with this name"
        case .tokenLimit: "User already holds the most personal access tokens allowed (\(PersonalAccessToken.limitPerUser)); revoke one first"
        case .emailsShared: "Realm has users sharing an email; duplicate emails cannot be disallowed"
        case .concurrentChange: "The realm changed while the request was being prepared; send it again"
        case .credentialChanged: "The user's password changed during the login; log in again"
        case .clientScopeName: "Client Scope with same name exists"
        case .identityProviderAlias: "Identity Provider with same alias exists"
        case .identityProviderMapperName: "Identity Provider mapper with same name exists"
        case .userAlreadyLinked: "User is already linked with provider"
        case .upstreamAccountLinked: "The identity provider account is linked to another user"
        case .directoryEntryLinked: "The directory entry is linked to another user"
        case .other: "Object already exists"
        }
    }

    /// Runs a write that creates (or renames to) `name`; a uniqueness conflict answers in
    /// Keycloak's words for creating that object, which name it (`Client x already exists`).
    static func naming<T>(_ name: String, _ write: () async throws -> T) async throws -> T {
        do {
            return try await write()
        } catch StoreError.conflict(let rule) {
            switch rule {
            case .clientId: throw conflict("Client \(name) already exists")
            case .roleName: throw conflict("Role with name \(name) already exists")
            case .topLevelGroupName: throw conflict("Top level group named '\(name)' already exists.")
            case .siblingGroupName: throw conflict("Sibling group named '\(name)' already exists.")
            case .clientScopeName: throw conflict("Client Scope \(name) already exists")
            case .identityProviderAlias: throw conflict("Identity Provider \(name) already exists")
            default: throw StoreError.conflict(rule)
            }
        }
    }

    /// What any failure a handler lets through means to an admin client: the one mapping of
    /// errors to statuses. Unknown errors pass through (the server's generic 500, logged by type).
    public static func mapping(_ error: any Error) -> any Error {
        switch error {
        case let error as AdminError: error
        case let error as StoreError: from(error)
        case let error as BadInput: badInput(error)
        case let error as InvalidObject: badRequest(error.message)
        case let error as PersonalAccessTokens.Invalid: badRequest(error.description)
        default: error
        }
    }

    /// What a store failure means to an admin client.
    public static func from(_ error: StoreError) -> AdminError {
        switch error {
        case .notFound(let entity):
            switch entity {
            case .realm: .notFound("Realm not found.")
            case .role: .notFound("Could not find role")
            case .group: .notFound("Could not find group by id")
            case .clientScope: .notFound("Could not find client scope")
            default: .notFound("\(entity.rawValue) not found")
            }
        case .conflict(let rule): .conflict(keycloakWording(rule))
        case .invalid(let message): .badRequest(message)
        case .unavailable: AdminError(.serviceUnavailable, "The database is unavailable; try again")
        }
    }
}

/// Gives every error out of an admin route its status and body, through `AdminError.mapping`.
struct AdminErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw AdminError.mapping(error)
        }
    }
}
