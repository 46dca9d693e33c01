import Hummingbird
import KeyportHTTP

/// Keycloak's `--http-relative-path` (e.g. `/auth`, the path of Keycloak before version 17, which
/// old scripts and registries still name): every route is served under the prefix, which this
/// responder removes before the router matches routes (Hummingbird matches a route before its
/// middleware run, so a middleware could not do it). Anything else is `404` — except health and
/// metrics, which probes and scrapers also find at the root.
public struct RelativePathResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == KeyportRequestContext {
    public typealias Context = KeyportRequestContext

    /// `/auth`: a leading slash, no trailing one (`KeyportConfiguration.validate` checks it); ""
    /// serves at the root.
    let prefix: String
    let inner: Inner

    public func respond(to request: Request, context: Context) async throws -> Response {
        guard !prefix.isEmpty else { return try await inner.respond(to: request, context: context) }
        let path = request.head.path ?? "/"
        if let rest = Self.strip(prefix, from: path) {
            var head = request.head
            head.path = rest
            return try await inner.respond(to: Request(head: head, body: request.body), context: context)
        }
        if path.hasPrefix("/health/") || path == "/metrics" || path.hasPrefix("/metrics?") {
            return try await inner.respond(to: request, context: context)
        }
        return Response(status: .notFound)
    }

    /// `/auth/realms/x?y` → `/realms/x?y`; `/auth` and `/auth?q` → `/`; `/authx/…` → nil.
    static func strip(_ prefix: String, from path: String) -> String? {
        guard path.hasPrefix(prefix) else { return nil }
        let rest = path.dropFirst(prefix.count)
        if rest.isEmpty || rest.hasPrefix("?") { return "/" + rest }
        return rest.hasPrefix("/") ? String(rest) : nil
    }
}
