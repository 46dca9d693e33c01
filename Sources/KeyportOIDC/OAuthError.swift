import Hummingbird
import KeyportHTTP

/// An OAuth 2.0 error (RFC 6749 §5.2) in Keycloak's shape: `{"error","error_description"}`.
public struct OAuthError: HTTPResponseError, Equatable {
    public let status: HTTPResponse.Status
    public let error: String
    public let description: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ error: String, _ description: String, headers: HTTPFields = [:]) {
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONBody.response(["error": error, "error_description": description], status: status, headers: headers)
    }

    public static func invalidRequest(_ description: String) -> OAuthError { .init(.badRequest, "invalid_request", description) }
    public static let invalidClient = OAuthError(.unauthorized, "invalid_client", "Invalid client or Invalid client credentials")
    public static let invalidUserCredentials = OAuthError(.unauthorized, "invalid_grant", "Invalid user credentials")
    public static let invalidRefreshToken = OAuthError(.badRequest, "invalid_grant", "Invalid refresh token")
    public static let sessionNotActive = OAuthError(.badRequest, "invalid_grant", "Session not active")
    public static let realmNotFound = OAuthError(.notFound, "invalid_request", "Realm does not exist")
    public static func invalidToken(_ description: String = "Token verification failed") -> OAuthError {
        OAuthError(.unauthorized, "invalid_token", description, headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#])
    }
}
