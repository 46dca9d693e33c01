import Foundation
import Hummingbird
import HTTPTypes

/// `application/x-www-form-urlencoded` bodies and query strings, keeping repeated keys and
/// their order (docker-v2 repeats `scope`).
public struct FormParameters: Sendable, Equatable {
    public let pairs: [(String, String)]

    public static func == (a: FormParameters, b: FormParameters) -> Bool {
        a.pairs.elementsEqual(b.pairs) { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public init(pairs: [(String, String)]) { self.pairs = pairs }

    public init(encoded: String) {
        pairs = encoded.split(separator: "&", omittingEmptySubsequences: true).map { item in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                // Most names and values need neither step (Foundation's string calls showed per request).
                // Bytes, not `contains("+")`: with Foundation imported that is a CFString search.
                let spaced = s.utf8.contains(UInt8(ascii: "+")) ? s.replacingOccurrences(of: "+", with: " ") : String(s)
                guard spaced.utf8.contains(UInt8(ascii: "%")) else { return spaced }
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    public subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
    public func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    /// Reads a form body (bounded by the context's upload limit).
    public static func body(of request: Request, context: some RequestContext) async throws -> FormParameters {
        let buffer = try await BodyReader.read(request, context: context)
        return FormParameters(encoded: String(buffer: buffer))
    }

    public static func query(of request: Request) -> FormParameters {
        FormParameters(encoded: request.uri.query ?? "")
    }
}

public enum BearerToken {
    /// The token of `Authorization: Bearer <token>`, if that is what the header holds.
    public static func from(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}

/// Query booleans as clients send them: `true`, `True`, `TRUE`, `false`, …
public func parseBoolean(_ value: String?) -> Bool? {
    switch value?.lowercased() {
    case "true": true
    case "false": false
    default: nil
    }
}
