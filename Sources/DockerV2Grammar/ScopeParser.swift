/// Parses the `scope` parameters of a token request (distribution's token-auth grammar).
///
/// Scopes arrive as repeated parameters, as one space-separated value, or both; they are
/// merged in request order, and a resource asked for twice becomes one entry whose actions
/// are the union in first-seen order. `repository(plugin)` is read as `repository`.
public enum ScopeParser {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let scope: String
        public let reason: String
        public var description: String { "Invalid scope '\(scope)': \(reason)" }
    }

    /// More than this many scopes in one request is refused (no client sends more than a few).
    public static let maxScopes = 100
    public static let maxNameLength = 255

    public static func parse(_ parameters: [String]) throws(Failure) -> [ResourceScope] {
        var result: [ResourceScope] = []
        var count = 0
        for parameter in parameters {
            for item in parameter.split(separator: " ", omittingEmptySubsequences: true) {
                count += 1
                guard count <= maxScopes else { throw Failure(scope: String(item.prefix(80)), reason: "more than \(maxScopes) scopes in one request") }
                let scope = try parseOne(String(item))
                if let index = result.firstIndex(where: { $0.type == scope.type && $0.name == scope.name }) {
                    for action in scope.actions where !result[index].actions.contains(action) { result[index].actions.append(action) }
                } else {
                    result.append(scope)
                }
            }
        }
        return result
    }

    /// `type[(class)]:name:actions`, the name possibly holding one `:` (a registry host's port).
    static func parseOne(_ text: String) throws(Failure) -> ResourceScope {
        let shown = String(text.prefix(120))
        // Byte searches: ':' is ASCII, and Character-wise search was most of a 100-scope request.
        guard let first = text.utf8.firstIndex(of: UInt8(ascii: ":")), let last = text.utf8.lastIndex(of: UInt8(ascii: ":")), first != last else {
            throw Failure(scope: shown, reason: "expected type:name:actions")
        }
        var type = String(text[..<first])
        let name = String(text[text.index(after: first)..<last])
        let actionText = String(text[text.index(after: last)...])

        if let open = type.firstIndex(of: "(") {
            guard type.hasSuffix(")") else { throw Failure(scope: shown, reason: "unbalanced resource class") }
            let resourceClass = type[type.index(after: open)..<type.index(before: type.endIndex)]
            guard !resourceClass.isEmpty, resourceClass.allSatisfy(isLowerAlnum) else { throw Failure(scope: shown, reason: "invalid resource class") }
            type = String(type[..<open])
        }
        guard !type.isEmpty, type.allSatisfy(isLowerAlnum) else { throw Failure(scope: shown, reason: "the resource type must be lower-case letters and digits") }
        guard !name.isEmpty else { throw Failure(scope: shown, reason: "the resource name is empty") }
        guard name.utf8.count <= maxNameLength else { throw Failure(scope: shown, reason: "the resource name is longer than \(maxNameLength) characters") }
        guard RepositoryName.isValid(name) else { throw Failure(scope: shown, reason: "'\(String(name.prefix(80)))' is not a valid resource name") }

        var actions: [String] = []
        for action in actionText.split(separator: ",", omittingEmptySubsequences: true) {
            guard action == "*" || action.allSatisfy({ $0 >= "a" && $0 <= "z" }) else {
                throw Failure(scope: shown, reason: "invalid action '\(String(action.prefix(40)))'")
            }
            if !actions.contains(String(action)) { actions.append(String(action)) }
        }
        return ResourceScope(type: type, name: name, actions: actions)
    }

    static func isLowerAlnum(_ c: Character) -> Bool { (c >= "a" && c <= "z") || (c >= "0" && c <= "9") }
}

/// Distribution's reference grammar for a repository name:
/// `[host[:port]/]component(/component)*`, components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
public enum RepositoryName {
    public static func isValid(_ name: String) -> Bool {
        var components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !components.isEmpty, components.allSatisfy({ !$0.isEmpty }) else { return false }
        // The first of several components may be a registry host (with a port); like the
        // reference grammar, it is read as a host only when it is not a plain component.
        if components.count > 1, !isComponent(components[0]) {
            guard isHost(components[0]) else { return false }
            components.removeFirst()
        } else if name.utf8.contains(UInt8(ascii: ":")) {
            return false
        }
        return components.allSatisfy(isComponent)
    }

    static func isComponent(_ s: String) -> Bool {
        let chars = Array(s.utf8)
        guard let first = chars.first, let last = chars.last, isAlnum(first), isAlnum(last) else { return false }
        var i = 0
        while i < chars.count {
            if isAlnum(chars[i]) { i += 1; continue }
            // A separator: '.', '_', '__' or a run of '-', always between alphanumerics.
            let start = i
            if chars[i] == UInt8(ascii: "-") {
                while i < chars.count && chars[i] == UInt8(ascii: "-") { i += 1 }
            } else if chars[i] == UInt8(ascii: "_") {
                i += 1
                if i < chars.count && chars[i] == UInt8(ascii: "_") { i += 1 }
            } else if chars[i] == UInt8(ascii: ".") {
                i += 1
            } else {
                return false
            }
            guard start > 0, i < chars.count, isAlnum(chars[i]) else { return false }
        }
        return true
    }

    static func isHost(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 5, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber) else { return false }
        }
        let labels = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let f = bytes.first, let l = bytes.last, isAlnumAnyCase(f), isAlnumAnyCase(l) else { return false }
            return bytes.allSatisfy { isAlnumAnyCase($0) || $0 == UInt8(ascii: "-") }
        }
    }

    static func isAlnum(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }

    static func isAlnumAnyCase(_ c: UInt8) -> Bool { isAlnum(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) }
}
