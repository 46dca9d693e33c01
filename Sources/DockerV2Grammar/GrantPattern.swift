/// A name pattern of a grant: `*` matches any run of characters without `/`, `**` any run
/// including `/`, `${username}` the requesting user's username taken literally; everything
/// else is literal, and the whole name must match.
public struct GrantPattern: Sendable, Equatable, CustomStringConvertible {
    enum Token: Sendable, Equatable {
        case literal(String)
        case star
        case doubleStar
        case username
    }

    let tokens: [Token]
    public let description: String

    public static let usernamePlaceholder = "${username}"

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 255 else { return nil }
        var tokens: [Token] = []
        var literal = ""
        var rest = Substring(text)
        func flush() {
            if !literal.isEmpty { tokens.append(.literal(literal)); literal = "" }
        }
        while let c = rest.first {
            if rest.hasPrefix(Self.usernamePlaceholder) {
                flush()
                tokens.append(.username)
                rest = rest.dropFirst(Self.usernamePlaceholder.count)
            } else if rest.hasPrefix("**") {
                flush()
                tokens.append(.doubleStar)
                rest = rest.dropFirst(2)
                if rest.first == "*" { return nil }
            } else if c == "*" {
                flush()
                tokens.append(.star)
                rest = rest.dropFirst()
            } else {
                // Characters a repository name (with a registry host) may hold.
                guard c.isASCII, c.isLetter || c.isNumber || "._-/:".contains(c) else { return nil }
                literal.append(c)
                rest = rest.dropFirst()
            }
        }
        flush()
        self.tokens = tokens
        self.description = text
    }

    /// Whether `name` matches, with `${username}` standing for `username`. Linear memory,
    /// quadratic time in the worst case; names and patterns are at most 255 characters.
    public func matches(_ name: String, username: String) -> Bool {
        let resolved: [Token] = tokens.map { if case .username = $0 { .literal(username) } else { $0 } }
        let chars = Array(name.utf8)
        var memo = [Int: Bool]()
        func match(_ t: Int, _ i: Int) -> Bool {
            let key = t * (chars.count + 1) + i
            if let known = memo[key] { return known }
            let result: Bool
            if t == resolved.count {
                result = i == chars.count
            } else {
                switch resolved[t] {
                case .literal(let text):
                    let bytes = Array(text.utf8)
                    result = i + bytes.count <= chars.count && Array(chars[i..<(i + bytes.count)]) == bytes && match(t + 1, i + bytes.count)
                case .star:
                    var j = i
                    var found = match(t + 1, j)
                    while !found && j < chars.count && chars[j] != UInt8(ascii: "/") {
                        j += 1
                        found = match(t + 1, j)
                    }
                    result = found
                case .doubleStar:
                    var j = i
                    var found = match(t + 1, j)
                    while !found && j < chars.count {
                        j += 1
                        found = match(t + 1, j)
                    }
                    result = found
                case .username:
                    result = false
                }
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }
}
