import DockerV2Grammar
import Hummingbird
import KeyportHTTP
import KeyportJSON

/// The docker-v2 endpoint's errors, each in the body shape its clients parse: Keycloak's
/// OAuth-style `error`/`error_description` for a bad request, the registry's
/// `{"errors":[…]}` for authentication. The 400s and 404s carry an `errors` list too: the
/// Docker engine then prints "denied: <message>" instead of a raw body. (skopeo and podman
/// print only the status of a non-401 answer; that is theirs, not ours, to change.)
public struct DockerV2Error: HTTPResponseError, Equatable {
    public let status: HTTPResponse.Status
    let body: JSONValue
    var headers: HTTPFields = [:]

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONBody.response(body, status: status, headers: headers)
    }

    public var message: String {
        body["error_description"]?.stringValue ?? body["errors"].flatMap { if case .array(let a) = $0 { a.first?["message"]?.stringValue } else { nil } } ?? ""
    }

    static func badRequest(_ error: String, _ description: String, code: String = "DENIED") -> DockerV2Error {
        DockerV2Error(status: .badRequest, body: [
            "error": .string(error), "error_description": .string(description),
            "errors": [["code": .string(code), "message": .string(description)]],
        ])
    }

    static let serviceMissing = badRequest("invalid_request", "service parameter must be provided", code: "UNSUPPORTED")
    static let unknownClient = badRequest("invalid_client", "Client specified by 'service' parameter does not exist")
    static let clientDisabled = badRequest("invalid_client", "Client specified by 'service' is disabled")

    /// A 404 naming why there is no docker-v2 endpoint here.
    static func notFound(_ error: String, _ description: String) -> DockerV2Error {
        DockerV2Error(status: .notFound, body: [
            "error": .string(error), "error_description": .string(description),
            "errors": [["code": "UNSUPPORTED", "message": .string(description)]],
        ])
    }

    /// 401 in the registry's shape; `detail` lists the access that was asked for. On the OAuth2
    /// POST path the body also carries OAuth2's `error` (`oauthError`) and `error_description`.
    static func unauthorized(_ message: String, requested: [ResourceScope], realmName: String? = nil, oauthError: String? = nil) -> DockerV2Error {
        let detail: [JSONValue] = requested.map { ["Type": .string($0.type), "Name": .string($0.name), "Action": .string($0.actions.joined(separator: ","))] }
        var body: JSONValue = ["errors": [["code": "UNAUTHORIZED", "message": .string(message), "detail": .array(detail)]]]
        if let oauthError {
            body["error"] = .string(oauthError)
            body["error_description"] = .string(message)
        }
        var error = DockerV2Error(status: .unauthorized, body: body)
        if let realmName { error.headers[.wwwAuthenticate] = "Basic realm=\"\(realmName)\"" }
        return error
    }

    /// A dead identity token: OAuth2's `400 invalid_grant`, with an `UNAUTHORIZED` entry so that
    /// the Docker CLI prints "unauthorized: <message>" (the message says to log in again).
    static func invalidGrant(_ message: String) -> DockerV2Error {
        badRequest("invalid_grant", message, code: "UNAUTHORIZED")
    }

    /// 503 when something outside Keyport that a login needs (an identity provider's keys) cannot
    /// be read now: the client may try again; nothing about the credential is decided.
    static func unavailable(_ description: String) -> DockerV2Error {
        DockerV2Error(status: .serviceUnavailable, body: [
            "error": "temporarily_unavailable", "error_description": .string(description),
            "errors": [["code": "UNAVAILABLE", "message": .string(description)]],
        ])
    }

    public static let invalidCredentials = "Invalid username or password."
}

/// A request that asks for more names against more grants than one request may match: a 400
/// in the endpoint's shape, before any matching was done (no client asks for this much).
extension RegistryAuthorizer.TooMuchToMatch: HTTPResponseError {
    public var status: HTTPResponse.Status { .badRequest }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try DockerV2Error.badRequest("invalid_scope", "The request asks for too many names against too many grants: ask for fewer scopes in one request")
            .response(from: request, context: context)
    }
}
