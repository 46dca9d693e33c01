import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportModel
import KeyportPasswords
import KeyportStore
import HTTPTypes
import Logging

/// Gives every request an id, and after it is answered writes one structured log line
/// (request id, realm, route, status, latency) and the request metrics. It sees the route
/// pattern (`/realms/{realm}/…`), never the query string or a body, so no secret can
/// reach a log line through it.
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = KeyportRequestContext
    let metrics: KeyportMetrics
    let randomBytes: @Sendable (Int) -> [UInt8]
    let proxyHeaders: KeyportConfiguration.ProxyHeaders
    /// A line per request; without it only server errors are logged (what it costs: docs/performance.md).
    var accessLog = true
    /// Served over HTTPS by Keyport itself: every answer carries HSTS.
    var strictTransportSecurity = false
    /// The peers whose `X-Forwarded-For` is believed (`--proxy-trusted-addresses`).
    var trustedProxies: TrustedProxies = .privateNetworks

    static let pragma = HTTPField.Name("Pragma")!

    /// `12.34`: milliseconds with two decimals, in integer arithmetic.
    static func milliseconds(_ d: Duration) -> String {
        let (seconds, attoseconds) = d.components
        let hundredths = max(0, seconds) &* 100_000 &+ max(0, attoseconds) / 10_000_000_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = Self.acceptableRequestID(request.headers[.xRequestID]) ?? Hex.lowercase(randomBytes(12))
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        let realm = Self.realmName(in: request.uri.path)
        if let realm { context.logger[metadataKey: "realm"] = .string(realm) }
        context.clientAddress = Self.clientAddress(request: request, peer: context.remoteAddress?.ipAddress, proxyHeaders: proxyHeaders,
                                                   trustedProxies: trustedProxies)
        if let client = context.clientAddress { context.logger[metadataKey: "client_ip"] = .string(client) }

        let clock = ContinuousClock()
        let start = clock.now
        var status = 500
        defer {
            let elapsed = clock.now - start
            let route = context.endpointPath ?? "NotFound"
            metrics.recordRequest(route: route, method: request.method.rawValue, status: status, duration: elapsed)
            if accessLog || status >= 500 {
                var logger = context.logger
                logger[metadataKey: "route"] = .string(route)
                logger[metadataKey: "method"] = .string(request.method.rawValue)
                logger[metadataKey: "status"] = .stringConvertible(status)
                logger[metadataKey: "latency_ms"] = .string(Self.milliseconds(elapsed))
                logger.log(level: status >= 500 ? .error : .info, "request")
            }
        }
        var response: Response
        do {
            response = try await Self.inOwnTask(request, context, next)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch let error as BadInput {
            response = Self.answer(.badRequest, "invalid_request", error.message)
        } catch is BodyReader.Aborted {
            // The client went away mid-body: its fault, and nobody reads this answer.
            response = Self.answer(.badRequest, "invalid_request", "The request body was not received whole")
        } catch is PasswordHashingOverloaded {
            response = Self.answer(.serviceUnavailable, "temporarily_unavailable", "Too many logins at once; try again shortly", retryAfter: 1)
        } catch is UserDirectoryUnavailable {
            // A directory some users sign in with is down or slow: theirs to retry; nobody else's.
            response = Self.answer(.serviceUnavailable, "temporarily_unavailable", "The user directory is unavailable; try again shortly", retryAfter: 5)
        } catch StoreError.unavailable {
            response = Self.answer(.serviceUnavailable, "temporarily_unavailable", "The database is unavailable; try again shortly", retryAfter: 5)
        } catch {
            // A bug, not bad input: say so without details (they may hold secrets) and log it.
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            response = Response(status: .internalServerError, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"internal_error","error_description":"Keyport could not complete the request; the server log has its request id"}"#)))
        }
        status = response.status.code
        response.headers[.xRequestID] = requestID
        // Answers that may carry a token, a secret or personal data are never cached (RFC 6749
        // §5.1, as Keycloak): the token endpoints, the admin and account APIs.
        if response.headers[.cacheControl] == nil, Self.mayCarrySecrets(request.uri.path) {
            response.headers[.cacheControl] = "no-store"
            response.headers[Self.pragma] = "no-cache"
        }
        if strictTransportSecurity { response.headers[.strictTransportSecurity] = "max-age=31536000" }
        return response
    }

    /// Runs the rest of the request in a child task of its own, so the memory its async frames
    /// take is freed when it is answered. A connection is one task for its whole life, and
    /// Swift's task allocator keeps the slabs of the deepest call that task ever made until the
    /// task ends: every idle keep-alive connection held the frames of its last login (tens of
    /// kilobytes; a flood of 1,000 connections, 65 MiB — docs/performance.md).
    static func inOwnTask(_ request: Request, _ context: Context,
                          _ next: (Request, Context) async throws -> Response) async throws -> Response {
        try await withoutActuallyEscaping(next) { next in
            // The child runs before this function returns (the group is awaited), so the closure
            // never outlives its caller; it is not `Sendable` only because its type does not say so.
            let handler = UncheckedSendableHandler(run: next)
            return try await withThrowingTaskGroup(of: Response.self) { group in
                group.addTask { try await handler.run(request, context) }
                guard let response = try await group.next() else { throw CancellationError() }
                return response
            }
        }
    }

    private struct UncheckedSendableHandler: @unchecked Sendable {
        let run: (Request, Context) async throws -> Response
    }

    /// Paths under `/admin/`, a realm's `protocol/` endpoints (tokens, docker-v2, userinfo,
    /// introspection) and its `account/` API (the relative path prefix included).
    /// By path segment, in bytes: with Foundation imported, `String.contains` and `range(of:)`
    /// are CFString searches, and this runs at every request.
    static func mayCarrySecrets(_ path: String) -> Bool {
        let segments = path.utf8.split(separator: UInt8(ascii: "/"))
        for (i, segment) in segments.enumerated() {
            if segment.elementsEqual("admin".utf8) { return true }
            if segment.elementsEqual("realms".utf8) {
                guard i + 2 < segments.count else { return false }
                return segments[i + 2].elementsEqual("protocol".utf8) || segments[i + 2].elementsEqual("account".utf8)
            }
        }
        return false
    }

    /// The answer for failures any route can meet, in a shape every client here parses: OAuth's
    /// `error`/`error_description`, and the registry's `errors` list.
    static func answer(_ status: HTTPResponse.Status, _ error: String, _ description: String, retryAfter: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let code = status == .serviceUnavailable ? "UNAVAILABLE" : "UNSUPPORTED"
        let body = #"{"error":"\#(error)","error_description":"\#(description)","errors":[{"code":"\#(code)","message":"\#(description)"}]}"#
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A caller's request id is kept only when it is short and plain, so it cannot forge log lines.
    static func acceptableRequestID(_ value: String?) -> String? {
        guard let value, (1...64).contains(value.utf8.count),
              value.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
        else { return nil }
        return value
    }

    /// The client's address: the peer's, or behind a trusted proxy the **last** `X-Forwarded-For`
    /// entry — the one that proxy appended for the address it saw connect. Entries before it
    /// came from the client (or from proxies nobody vouched for): a caller who sends its own
    /// `X-Forwarded-For: 203.0.113.7` through nginx arrives as `203.0.113.7, <its real address>`,
    /// and must not be able to choose the address its events and failures are recorded under.
    /// Never trusted unless the operator said so.
    static func clientAddress(request: Request, peer: String?, proxyHeaders: KeyportConfiguration.ProxyHeaders,
                              trustedProxies: TrustedProxies = .privateNetworks) -> String? {
        guard proxyHeaders == .xforwarded else { return peer }
        // Several header lines are one list, in order (RFC 9110 §5.3).
        return trustedProxies.client(peer: peer, forwardedFor: request.headers[values: .xForwardedFor])
    }

    /// The `{realm}` of `/realms/{realm}/…` and `/admin/realms/{realm}/…`.
    static func realmName(in path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        let start = parts.first == "admin" ? 1 : 0
        guard parts.count > start + 1, parts[start] == "realms" else { return nil }
        // Foundation's decoding only when there is something to decode (it showed in the profile).
        let segment = parts[start + 1]
        let name = segment.utf8.contains(UInt8(ascii: "%")) ? segment.removingPercentEncoding ?? String(segment) : String(segment)
        return name.count <= 255 ? name : nil
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
    static let xForwardedFor = Self("X-Forwarded-For")!
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

import Foundation
