import Foundation
import Hummingbird
import KeyportModel
import NIOCore

/// The per-request context: Hummingbird's core storage plus the peer address (for events,
/// logs and, behind a trusted proxy, `X-Forwarded-For`).
public struct KeyportRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by the observability middleware; echoed back as `X-Request-Id`.
    public var requestID: String = ""
    /// The client's IP address, through a trusted proxy when `--proxy-headers xforwarded`.
    public var clientAddress: String?
    /// Who the request is from, once an authentication middleware has verified its token
    /// (the admin API's): handlers read this, they never parse an `Authorization` header.
    public var caller: AuthenticatedCaller?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Requests larger than this are refused with 413 before a handler sees them.
    public var maxUploadSize: Int { 1 << 20 }
}

extension KeyportRequestContext {
    /// A path parameter as the client meant it: percent-decoded (a role named `a b` is
    /// `/roles/a%20b` on the wire), or `nil` when absent or not valid percent-encoding.
    public func pathParameter(_ name: String) -> String? {
        guard let raw = parameters.get(name) else { return nil }
        return raw.utf8.contains(UInt8(ascii: "%")) ? raw.removingPercentEncoding : raw
    }
}

/// A verified bearer token's realm and user.
public struct AuthenticatedCaller: Sendable {
    public let realm: Realm
    public let user: User
    /// When the caller last presented its password (the token's `auth_time`; nil for a service
    /// account's token): a new credential for oneself needs a recent one.
    public let authTime: Timestamp?
    public init(realm: Realm, user: User, authTime: Timestamp? = nil) {
        self.realm = realm
        self.user = user
        self.authTime = authTime
    }
}
