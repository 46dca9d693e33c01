import Foundation
import Testing

/// `docs/openapi.yaml` describes every admin and protocol route the server serves.
@Suite("OpenAPI description")
struct OpenAPITests {
    /// (method, path) pairs declared in the YAML: `  /path:` then `    get:` lines.
    static func declaredOperations() throws -> Set<String> {
        let text = try String(contentsOf: Paths.repository.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        var operations: Set<String> = []
        var current: String?
        var inPaths = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, !line.isEmpty, !line.hasPrefix(" ") { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                current = String(line.dropFirst(2).dropLast())
            } else if let path = current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"].contains(method) { operations.insert("\(method) \(path)") }
            }
        }
        return operations
    }

    /// Hummingbird's `{name}` and `**` in OpenAPI's notation.
    static func openAPIPath(_ route: String) -> String {
        route.replacingOccurrences(of: "**", with: "{path}")
    }

    @Test func everyRouteHasAnEntryAndEveryEntryARoute() async throws {
        try await APIHarness.run { api in
            let declared = try Self.declaredOperations()
            let served = Set(api.server.services.routes.map { "\($0.method) \(Self.openAPIPath($0.path))" })
            let missing = served.subtracting(declared).sorted()
            let stale = declared.subtracting(served).sorted()
            #expect(missing.isEmpty, "routes without an OpenAPI entry:\n\(missing.joined(separator: "\n"))")
            #expect(stale.isEmpty, "OpenAPI entries without a route:\n\(stale.joined(separator: "\n"))")
        }
    }
}
