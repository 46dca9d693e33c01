import Foundation
import KeyportJSON
import KeyportModel

/// What an upstream said about a person (its ID token's claims, and its userinfo), read the way
/// Keycloak's broker mappers read them: a claim named by a dotted path (`address.country`; `\.`
/// is a literal dot, as in `https://example\.com/groups`), a list standing for each of its values.
public struct BrokeredClaims: Sendable {
    public let claims: [String: JSONValue]

    public init(_ claims: [String: JSONValue]) { self.claims = claims }

    /// Claim values longer than this are not compared (nor regular expressions run on them).
    public static let maxComparedLength = 1_024

    /// The values of the claim at `path`: a string, an integer or a boolean as its text, each
    /// string of a list; nothing for an object or a missing claim.
    public func values(_ path: String) -> [String] {
        var value: JSONValue? = .object(claims)
        for step in Self.steps(path) { value = value?[step] }
        func text(_ v: JSONValue) -> String? {
            switch v {
            case .string(let s): s
            case .bool(let b): b ? "true" : "false"
            case .number(let n) where n.rounded() == n && abs(n) < 1e15: String(Int64(n))
            default: nil
            }
        }
        switch value {
        case .array(let items)?: return items.prefix(1_000).compactMap(text)
        case let v?: return text(v).map { [$0] } ?? []
        case nil: return []
        }
    }

    public func first(_ path: String) -> String? { values(path).first }

    /// `a.b\.c` → `["a", "b.c"]`.
    static func steps(_ path: String) -> [String] {
        var steps: [String] = [], current = "", escaped = false
        for ch in path {
            if escaped { current.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == "." { steps.append(current); current = ""; continue }
            current.append(ch)
        }
        steps.append(current)
        return steps
    }

    /// The conditions of a claim-to-group mapper (`claims`: `[{"key": …, "value": …}]`), checked:
    /// at most 16, each key 1 to 255 characters, each value at most 255 and a regular expression
    /// that compiles when `are.claim.values.regex` is true.
    public static func conditions(of mapper: IdentityProviderMapper) throws -> [(key: String, value: String)] {
        guard let text = mapper.config["claims"], let list = JSONValue.parse(text), case .array(let items) = list, !items.isEmpty, items.count <= 16
        else { throw InvalidClaims(description: "Config 'claims' must be a JSON list of 1 to 16 {\"key\": …, \"value\": …}") }
        let regex = mapper.config["are.claim.values.regex"] == "true"
        return try items.map { item in
            guard let key = item["key"]?.stringValue, (1...255).contains(key.utf8.count), let value = item["value"]?.stringValue, value.utf8.count <= 255
            else { throw InvalidClaims(description: "Config 'claims': each entry needs a key (1 to 255 characters) and a value (at most 255)") }
            if regex, (try? NSRegularExpression(pattern: value)) == nil {
                throw InvalidClaims(description: "Config 'claims': '\(value.prefix(80))' is not a regular expression")
            }
            return (key, value)
        }
    }

    public struct InvalidClaims: Error, CustomStringConvertible { public let description: String }

    /// Whether the claims meet `mapper`'s condition: for claim-to-role, claim `claim` holds
    /// `claim.value` (exactly, or as a regular expression matching the whole value when
    /// `are.claim.values.regex`); for claim-to-group, every entry of `claims` does. Mappers
    /// without a condition always match.
    public func match(_ mapper: IdentityProviderMapper) -> Bool {
        let regex = mapper.config["are.claim.values.regex"] == "true"
        func holds(_ path: String, _ expected: String) -> Bool {
            let values = values(path).filter { $0.utf8.count <= Self.maxComparedLength }
            guard regex else { return values.contains { $0.utf8.elementsEqual(expected.utf8) } }
            // Compiled once per condition, not per value.
            guard !values.isEmpty, let pattern = try? NSRegularExpression(pattern: "^(?:\(expected))$") else { return false }
            return values.contains { pattern.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
        }
        switch mapper.kind {
        case .claimToRole?:
            guard let claim = mapper.config["claim"] else { return false }
            return holds(claim, mapper.config["claim.value"] ?? "")
        case .claimToGroup?:
            guard let conditions = try? Self.conditions(of: mapper) else { return false }
            return conditions.allSatisfy { holds($0.key, $0.value) }
        case .hardcodedRole?, .hardcodedGroup?, .userAttribute?: return true
        case nil: return false
        }
    }
}
