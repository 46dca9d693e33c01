import Foundation
import KeyportJSON

/// Conditions on a federated JWT's claims beyond `sub` (Keyport's client attribute
/// `keyport.jwt.credential.claims`): a JSON object from a claim to the value it must have, or a
/// list of values any of which will do. A value may hold `*`, matching any run of characters
/// (`refs/tags/v*`); `\*` is a literal star. A nested claim is named by its path with `/`
/// (`kubernetes.io/namespace`). Numbers and booleans compare as their JSON text (`123456`,
/// `true`). A claim that is missing, an object or a list satisfies no condition.
///
/// Why: `sub` alone names things that can be renamed or recreated — a GitHub repository renamed
/// and its old name registered by someone else has the same `sub`; immutable ids
/// (`repository_id`, `repository_owner_id`, GitLab's `project_id`) and protected refs cannot.
public struct ClaimConditions: Sendable, Equatable {
    public static let attribute = "keyport.jwt.credential.claims"
    public static let maxConditions = 32
    public static let maxValues = 32
    public static let maxValueLength = 512

    public let conditions: [(claim: [String], values: [String])]

    public static func == (a: ClaimConditions, b: ClaimConditions) -> Bool {
        a.conditions.map { $0.claim.joined(separator: "/") + "=" + $0.values.joined(separator: "|") }
            == b.conditions.map { $0.claim.joined(separator: "/") + "=" + $0.values.joined(separator: "|") }
    }

    public struct Invalid: Error, CustomStringConvertible { public let description: String }

    /// The conditions the attribute holds (none when it is absent or empty).
    public init(attribute text: String?) throws {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { conditions = []; return }
        guard text.utf8.count <= 16_384, let object = JSONValue.parse(text)?.objectValue else {
            throw Invalid(description: "\(Self.attribute) must be a JSON object from claim names to a value or a list of values")
        }
        guard object.count <= Self.maxConditions else { throw Invalid(description: "\(Self.attribute) holds at most \(Self.maxConditions) claims") }
        var conditions: [(claim: [String], values: [String])] = []
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            let path = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard !name.isEmpty, name.utf8.count <= 255, !path.contains(where: \.isEmpty) else {
                throw Invalid(description: "\(Self.attribute): '\(name.prefix(80))' is not a claim name")
            }
            let values: [String]
            switch value {
            case .array(let list): values = try list.map { try Self.text($0, claim: name) }
            default: values = [try Self.text(value, claim: name)]
            }
            guard !values.isEmpty, values.count <= Self.maxValues, values.allSatisfy({ !$0.isEmpty && $0.utf8.count <= Self.maxValueLength }) else {
                throw Invalid(description: "\(Self.attribute): '\(name.prefix(80))' needs 1 to \(Self.maxValues) non-empty values of at most \(Self.maxValueLength) characters")
            }
            conditions.append((path, values))
        }
        self.conditions = conditions
    }

    static func text(_ value: JSONValue, claim: String) throws -> String {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .number(let n) where n.rounded() == n && abs(n) < 1e15: return String(Int64(n))
        default: throw Invalid(description: "\(Self.attribute): the values of '\(claim.prefix(80))' must be strings, integers or booleans")
        }
    }

    /// The first condition `claims` does not meet (its claim's name), or nil when all are met.
    public func unmet(in claims: [String: JSONValue]) -> String? {
        for condition in conditions {
            var value: JSONValue? = .object(claims)
            for step in condition.claim { value = value?[step] }
            let text: String?
            switch value {
            case .string(let s)?: text = s
            case .bool(let b)?: text = b ? "true" : "false"
            case .number(let n)? where n.rounded() == n && abs(n) < 1e15: text = String(Int64(n))
            default: text = nil
            }
            guard let text, condition.values.contains(where: { Self.matches(text, pattern: $0) }) else {
                return condition.claim.joined(separator: "/")
            }
        }
        return nil
    }

    /// Glob matching with `*` (and `\*` for a star), over Unicode scalars — byte-for-byte
    /// equality, never Swift's canonical equivalence (`é` and `e` + U+0301 are different
    /// branch names) — in time proportional to the lengths' product at worst: no backtracking blow-up.
    static func matches(_ text: String, pattern: String) -> Bool {
        enum Token: Equatable { case star, char(Unicode.Scalar) }
        var tokens: [Token] = []
        var escaped = false
        for c in pattern.unicodeScalars {
            if escaped { tokens.append(.char(c)); escaped = false }
            else if c == "\\" { escaped = true }
            else if c == "*" { if tokens.last != .star { tokens.append(.star) } }
            else { tokens.append(.char(c)) }
        }
        if escaped { tokens.append(.char("\\")) }
        let chars = Array(text.unicodeScalars)
        var t = 0, p = 0
        var starAt = -1, resumeAt = 0
        while t < chars.count {
            if p < tokens.count, case .char(let c) = tokens[p], c == chars[t] {
                t += 1; p += 1
            } else if p < tokens.count, tokens[p] == .star {
                starAt = p; resumeAt = t; p += 1
            } else if starAt >= 0 {
                p = starAt + 1; resumeAt += 1; t = resumeAt
            } else {
                return false
            }
        }
        while p < tokens.count, tokens[p] == .star { p += 1 }
        return p == tokens.count
    }
}
