/// A name pattern of a grant: `*` matches any run of characters without `/`, `**` any run
/// including `/`, `${username}` the requesting user's username taken literally; everything
/// else is literal, and the whole name must match.
///
/// Matching costs time linear in the name whatever the pattern: a pattern is compiled
/// (`program(username:)`) into a bit-parallel automaton whose states are the pattern's
/// positions, and each byte of the name moves every state at once. There is no
/// backtracking, no memo table and no allocation while matching; `GlobProgram.cost`
/// says in advance how many word operations a match of a name will take.
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
    /// A pattern's text, and a name's (the registry's own limit for a repository name).
    public static let maxLength = 255
    /// `*` and `**` together, and `${username}` placeholders, per pattern. No useful grant
    /// needs more; each wildcard is a state every byte of a name has to move.
    public static let maxWildcards = 16
    public static let maxUsernamePlaceholders = 2

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= Self.maxLength else { return nil }
        var tokens: [Token] = []
        var literal = ""
        var rest = Substring(text)
        var wildcards = 0
        var placeholders = 0
        func flush() {
            if !literal.isEmpty { tokens.append(.literal(literal)); literal = "" }
        }
        while let c = rest.first {
            if rest.hasPrefix(Self.usernamePlaceholder) {
                flush()
                placeholders += 1
                tokens.append(.username)
                rest = rest.dropFirst(Self.usernamePlaceholder.count)
            } else if rest.hasPrefix("**") {
                flush()
                wildcards += 1
                tokens.append(.doubleStar)
                rest = rest.dropFirst(2)
                if rest.first == "*" { return nil }
            } else if c == "*" {
                flush()
                wildcards += 1
                tokens.append(.star)
                rest = rest.dropFirst()
            } else {
                // Characters a repository name (with a registry host) may hold.
                guard c.isASCII, c.isLetter || c.isNumber || "._-/:".contains(c) else { return nil }
                literal.append(c)
                rest = rest.dropFirst()
            }
        }
        guard wildcards <= Self.maxWildcards, placeholders <= Self.maxUsernamePlaceholders else { return nil }
        flush()
        self.tokens = tokens
        self.description = text
    }

    /// Whether the pattern uses `${username}` (its program then depends on the user).
    public var usesUsername: Bool { tokens.contains(.username) }

    /// The automaton for this pattern with `${username}` standing for `username`.
    public func program(username: String) -> GlobProgram {
        var elements: [GlobProgram.Element] = []
        for token in tokens {
            switch token {
            case .literal(let text): elements += text.utf8.map { .byte($0) }
            case .username: elements += username.utf8.map { .byte($0) }
            case .star, .doubleStar:
                let any = token == .doubleStar
                // Two wildcards side by side (around an empty username) are one.
                if case .wildcard(let previous)? = elements.last {
                    elements[elements.count - 1] = .wildcard(crossesSlash: previous || any)
                } else {
                    elements.append(.wildcard(crossesSlash: any))
                }
            }
        }
        return GlobProgram(elements)
    }

    /// Whether `name` matches, with `${username}` standing for `username` (compiles the
    /// pattern each time: keep the program where the same pattern is matched often).
    public func matches(_ name: String, username: String) -> Bool {
        program(username: username).matches(name)
    }
}

/// A compiled `GrantPattern`: a Shift-And automaton over the pattern's positions (state `j`:
/// the first `j` elements are matched). A byte moves state `j` to `j + 1` when element `j` is
/// that byte, keeps it at `j` when element `j` is a wildcard that takes the byte, and a
/// wildcard's state also stands for the state after it (it may match nothing).
public struct GlobProgram: Sendable {
    enum Element: Equatable { case byte(UInt8), wildcard(crossesSlash: Bool) }

    /// Words per state set; 0 when the pattern can never match a name of legal length.
    let words: Int
    let acceptWord: Int
    let acceptBit: UInt64
    /// Byte → index of its mask in `advance` (0: a byte the pattern does not hold).
    let byteClass: [UInt8]
    /// Per class, the states a byte of that class leads to from the state before it.
    let advance: [UInt64]
    /// States that stay on any byte (`*`, `**`), and on `/` (`**` only).
    let stay: [UInt64]
    let staySlash: [UInt64]
    /// The states that also stand for the next state (wildcards).
    let skip: [UInt64]

    init(_ elements: [Element]) {
        let literalBytes = elements.reduce(0) { if case .byte = $1 { $0 + 1 } else { $0 } }
        // A name is at most `GrantPattern.maxLength` bytes and every literal byte takes one.
        guard literalBytes <= GrantPattern.maxLength else {
            self.words = 0; self.acceptWord = 0; self.acceptBit = 0
            self.byteClass = []; self.advance = []; self.stay = []; self.staySlash = []; self.skip = []
            return
        }
        let states = elements.count + 1
        let words = (states + 63) / 64
        var byteClass = [UInt8](repeating: 0, count: 256)
        var classes = 1
        for case .byte(let b) in elements where byteClass[Int(b)] == 0 {
            byteClass[Int(b)] = UInt8(classes)
            classes += 1
        }
        var advance = [UInt64](repeating: 0, count: classes * words)
        var stay = [UInt64](repeating: 0, count: words)
        var staySlash = [UInt64](repeating: 0, count: words)
        var skip = [UInt64](repeating: 0, count: words)
        for (j, element) in elements.enumerated() {
            switch element {
            case .byte(let b):
                let next = j + 1
                advance[Int(byteClass[Int(b)]) * words + next / 64] |= 1 << UInt64(next % 64)
            case .wildcard(let crossesSlash):
                stay[j / 64] |= 1 << UInt64(j % 64)
                skip[j / 64] |= 1 << UInt64(j % 64)
                if crossesSlash { staySlash[j / 64] |= 1 << UInt64(j % 64) }
            }
        }
        self.words = words
        self.acceptWord = elements.count / 64
        self.acceptBit = 1 << UInt64(elements.count % 64)
        self.byteClass = byteClass
        self.advance = advance
        self.stay = stay
        self.staySlash = staySlash
        self.skip = skip
    }

    /// Word operations a match of a name of `length` bytes takes at most (the fuzz target's
    /// cost oracle and the authorizer's budget count these).
    public func cost(length: Int) -> Int { (min(length, GrantPattern.maxLength) + 1) * max(words, 1) }

    /// Whether the whole of `name` matches. Names longer than `GrantPattern.maxLength` never do.
    public func matches(_ name: String) -> Bool {
        var steps = 0
        return matches(name, steps: &steps)
    }

    /// `matches`, adding to `steps` the word operations it took (never more than `cost`).
    public func matches(_ name: String, steps: inout Int) -> Bool {
        guard words > 0 else { return false }
        var name = name
        return name.withUTF8 { bytes in
            guard bytes.count <= GrantPattern.maxLength else { return false }
            // At most five words (256 literal bytes, 16 wildcards): a fixed buffer, no heap.
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words * 2) { buffer in
                let words = self.words
                let current = UnsafeMutableBufferPointer(rebasing: buffer[0..<words])
                let next = UnsafeMutableBufferPointer(rebasing: buffer[words..<(2 * words)])
                for w in 0..<words { current[w] = 0 }
                current[0] = 1
                closeOverSkips(current)
                steps += words
                for byte in bytes {
                    steps += words
                    let base = Int(byteClass[Int(byte)]) * words
                    let stays = byte == UInt8(ascii: "/") ? staySlash : stay
                    var carry: UInt64 = 0
                    var alive: UInt64 = 0
                    for w in 0..<words {
                        let d = current[w]
                        // Shift left by one across words: state j moves to j + 1.
                        let shifted = (d << 1) | carry
                        carry = d >> 63
                        let moved = (base == 0 ? 0 : shifted & advance[base + w]) | (d & stays[w])
                        next[w] = moved
                        alive |= moved
                    }
                    if alive == 0 { return false }
                    for w in 0..<words { current[w] = next[w] }
                    closeOverSkips(current)
                }
                return current[acceptWord] & acceptBit != 0
            }
        }
    }

    /// Adds, for each wildcard state, the state after it (no two wildcards are adjacent, so
    /// one pass suffices).
    private func closeOverSkips(_ set: UnsafeMutableBufferPointer<UInt64>) {
        var carry: UInt64 = 0
        for w in 0..<words {
            let skipping = set[w] & skip[w]
            let shifted = (skipping << 1) | carry
            carry = skipping >> 63
            set[w] |= shifted
        }
    }
}
