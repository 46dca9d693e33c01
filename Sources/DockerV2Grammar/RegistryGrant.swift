/// A permission a client role carries in its `docker.grant` attribute:
/// `<type>:<name-pattern>:<actions>`, e.g. `repository:team-a/*:pull,push`,
/// `repository:${username}/**:*`, `registry:catalog:*`.
public struct RegistryGrant: Sendable, Equatable, CustomStringConvertible {
    public static let attribute = "docker.grant"
    public static let knownActions: Set<String> = ["pull", "push", "delete", "*"]
    /// A grant's whole text, and its type: a pattern of at most `GrantPattern.maxLength`
    /// bytes with every action once fits well within these.
    public static let maxLength = 320
    public static let maxTypeLength = 32
    /// `docker.grant` values on one role (and anonymous grants on one client, and grants on one
    /// personal access token): each is matched against every name a request asks for.
    public static let maxPerHolder = 50

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
        guard text.utf8.count <= Self.maxLength else {
            throw Failure(grant: shown, reason: "a grant is at most \(Self.maxLength) bytes")
        }
        guard let first = text.firstIndex(of: ":"), let last = text.lastIndex(of: ":"), first != last else {
            throw Failure(grant: shown, reason: "expected <type>:<name-pattern>:<actions>, e.g. repository:team-a/*:pull,push")
        }
        let type = String(text[..<first])
        guard !type.isEmpty, type.utf8.count <= Self.maxTypeLength, type.allSatisfy({ ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") }) else {
            throw Failure(grant: shown, reason: "the type must be lower-case letters and digits (repository, registry), at most \(Self.maxTypeLength)")
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
        guard Set(actions).count == actions.count else { throw Failure(grant: shown, reason: "an action is named twice") }
        self.type = type
        self.pattern = pattern
        self.actions = Set(actions)
        self.description = text
    }

    /// Whether this grant allows `action` on `resource` for `username`. Only a `*` grant
    /// satisfies a request for `*`; a `*` grant satisfies any action.
    public func allows(_ action: String, on resource: ResourceScope, username: String) -> Bool {
        compiled(username: username).allows(action, on: resource)
    }

    /// The grant with its pattern compiled for `username`: keep it where it is matched often.
    public func compiled(username: String) -> CompiledGrant {
        CompiledGrant(grant: self, program: pattern.program(username: username))
    }

    /// Checks every `docker.grant` value among role attributes (the admin API refuses bad ones).
    public static func validate(attributes: [String: [String]]) throws(Failure) {
        let values = attributes[attribute] ?? []
        guard values.count <= maxPerHolder else {
            throw Failure(grant: "\(values.count) values", reason: "a role may carry at most \(maxPerHolder) \(attribute) values")
        }
        for value in values { _ = try RegistryGrant(parsing: value) }
    }
}

/// A grant ready to match names for one user.
public struct CompiledGrant: Sendable {
    public let grant: RegistryGrant
    public let program: GlobProgram
    /// `grant.actions` as bits (`ActionBits`), to decide per pair without hashing strings.
    public let actionBits: UInt8

    init(grant: RegistryGrant, program: GlobProgram) {
        self.grant = grant
        self.program = program
        self.actionBits = grant.actions.reduce(0) { $0 | ActionBits.of($1) }
    }

    public func allows(_ action: String, on resource: ResourceScope) -> Bool {
        resource.type == grant.type && covers(ActionBits.of(action)) && program.matches(resource.name)
    }

    /// Whether any of `actions` (bits) is one this grant allows: a `*` grant allows any action.
    public func covers(_ actions: UInt8) -> Bool {
        actions != 0 && (actionBits & ActionBits.star != 0 || actionBits & actions != 0)
    }
}

/// The known actions as bits; any other action is `other` (only a `*` grant allows it).
public enum ActionBits {
    public static let pull: UInt8 = 1, push: UInt8 = 2, delete: UInt8 = 4, star: UInt8 = 8, other: UInt8 = 16

    public static func of(_ action: String) -> UInt8 {
        switch action {
        case "pull": pull
        case "push": push
        case "delete": delete
        case "*": star
        default: other
        }
    }

    public static func of(_ actions: [String]) -> UInt8 { actions.reduce(0) { $0 | of($1) } }
}
