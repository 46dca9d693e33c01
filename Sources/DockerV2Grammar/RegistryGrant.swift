/// A permission a client role carries in its `docker.grant` attribute:
/// `<type>:<name-pattern>:<actions>`, e.g. `repository:team-a/*:pull,push`,
/// `repository:${username}/**:*`, `registry:catalog:*`.
public struct RegistryGrant: Sendable, Equatable, CustomStringConvertible {
    public static let attribute = "docker.grant"
    public static let knownActions: Set<String> = ["pull", "push", "delete", "*"]

    public let type: String
    public let pattern: GrantPattern
    public let actions: Set<String>
    public let description: String

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let grant: String
        public let reason: String
        public var description: String { "Invalid \(RegistryGrant.attribute) '\(grant)': \(reason)" }
    }

    public init(parsing text: String) throws(Failure) {
        let shown = String(text.prefix(200))
        guard let first = text.firstIndex(of: ":"), let last = text.lastIndex(of: ":"), first != last else {
            throw Failure(grant: shown, reason: "expected <type>:<name-pattern>:<actions>, e.g. repository:team-a/*:pull,push")
        }
        let type = String(text[..<first])
        guard !type.isEmpty, type.allSatisfy({ ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") }) else {
            throw Failure(grant: shown, reason: "the type must be lower-case letters and digits (repository, registry)")
        }
        let patternText = String(text[text.index(after: first)..<last])
        guard let pattern = GrantPattern(patternText) else {
            throw Failure(grant: shown, reason: "the name pattern '\(String(patternText.prefix(80)))' may hold only name characters, *, ** and ${username}")
        }
        let actions = text[text.index(after: last)...].split(separator: ",", omittingEmptySubsequences: false).map { String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
        guard !actions.isEmpty, !actions.contains("") else { throw Failure(grant: shown, reason: "no actions: use pull, push, delete or *") }
        for action in actions where !Self.knownActions.contains(action) {
            throw Failure(grant: shown, reason: "unknown action '\(String(action.prefix(40)))': use pull, push, delete or *")
        }
        self.type = type
        self.pattern = pattern
        self.actions = Set(actions)
        self.description = text
    }

    /// Whether this grant allows `action` on `resource` for `username`. Only a `*` grant
    /// satisfies a request for `*`; a `*` grant satisfies any action.
    public func allows(_ action: String, on resource: ResourceScope, username: String) -> Bool {
        guard resource.type == type, actions.contains("*") || actions.contains(action) else { return false }
        return pattern.matches(resource.name, username: username)
    }

    /// Checks every `docker.grant` value among role attributes (the admin API refuses bad ones).
    public static func validate(attributes: [String: [String]]) throws(Failure) {
        for value in attributes[attribute] ?? [] { _ = try RegistryGrant(parsing: value) }
    }
}
