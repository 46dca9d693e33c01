import Foundation

/// The claims of a Keycloak-style access token. `aud` is a string or a list on the wire.
public struct AccessTokenClaims: Codable, Sendable, Equatable {
    public struct Roles: Codable, Sendable, Equatable {
        public var roles: [String]
        public init(roles: [String]) { self.roles = roles }
    }

    public var exp: Int64
    public var iat: Int64
    /// When the user last presented its password (OIDC Core §2): a refreshed token keeps its
    /// session's. Absent for a service account's `client_credentials` token.
    public var auth_time: Int64?
    public var jti: String
    public var iss: String
    public var aud: Audience
    public var sub: String
    public var typ: String
    public var azp: String
    public var sid: String?
    public var scope: String
    public var preferred_username: String?
    public var email: String?
    public var email_verified: Bool?
    public var name: String?
    public var given_name: String?
    public var family_name: String?
    public var realm_access: Roles?
    public var resource_access: [String: Roles]?

    public init(exp: Int64, iat: Int64, jti: String, iss: String, aud: Audience, sub: String, typ: String = "Bearer", azp: String,
                sid: String? = nil, scope: String, preferred_username: String? = nil, email: String? = nil, email_verified: Bool? = nil,
                name: String? = nil, given_name: String? = nil, family_name: String? = nil, realm_access: Roles? = nil,
                resource_access: [String: Roles]? = nil, auth_time: Int64? = nil) {
        self.exp = exp
        self.auth_time = auth_time
        self.iat = iat
        self.jti = jti
        self.iss = iss
        self.aud = aud
        self.sub = sub
        self.typ = typ
        self.azp = azp
        self.sid = sid
        self.scope = scope
        self.preferred_username = preferred_username
        self.email = email
        self.email_verified = email_verified
        self.name = name
        self.given_name = given_name
        self.family_name = family_name
        self.realm_access = realm_access
        self.resource_access = resource_access
    }
}

/// `aud`: one audience as a string, several as a list (RFC 7519 §4.1.3).
public enum Audience: Codable, Sendable, Equatable {
    case one(String)
    case many([String])

    public var values: [String] {
        switch self {
        case .one(let value): [value]
        case .many(let values): values
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) { self = .one(one) } else { self = .many(try container.decode([String].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .one(let value): try container.encode(value)
        case .many(let values): try container.encode(values)
        }
    }
}
