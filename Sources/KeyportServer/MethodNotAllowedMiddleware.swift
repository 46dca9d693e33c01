import Hummingbird
import KeyportHTTP
import Synchronization

/// The server's routes as (method, pattern), filled once every controller has added its routes.
final class RouteTable: Sendable {
    private let routes = Mutex<[(method: String, segments: [Substring])]>([])

    func set(_ list: [(method: String, path: String)]) {
        routes.withLock { $0 = list.map { ($0.method, $0.path.split(separator: "/")) } }
    }

    /// The methods some route answers for `path`, sorted.
    func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/")
        let found = routes.withLock { list in list.filter { Self.matches($0.segments, parts) }.map(\.method) }
        return Array(Set(found)).sorted()
    }

    static func matches(_ pattern: [Substring], _ parts: [Substring]) -> Bool {
        var i = 0
        for (n, segment) in pattern.enumerated() {
            if segment == "**" { return true }
            guard i < parts.count else { return false }
            let isParameter = segment == "*" || (segment.hasPrefix("{") && segment.hasSuffix("}"))
            guard isParameter || segment == parts[i] else { return false }
            i += 1
            if n == pattern.count - 1 { return i == parts.count }
        }
        return i == parts.count
    }
}

/// A known path asked with a method it does not answer gets `405` and `Allow` (RFC 9110),
/// not the `404` of a path that does not exist.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = KeyportRequestContext
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && (context.endpointPath == nil || context.endpointPath == "NotFound") {
            let allowed = table.methods(for: request.uri.path)
            guard !allowed.isEmpty else { throw error }
            return JSONBody.raw(#"{"error":"method_not_allowed","error_description":"This resource answers \#(allowed.joined(separator: ", "))"}"#,
                                status: .methodNotAllowed, headers: [.allow: allowed.joined(separator: ", ")])
        }
    }
}
