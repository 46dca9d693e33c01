import DockerV2Grammar
import KeyportDockerV2
import Testing

@Suite("docker-v2 scope grammar")
struct ScopeParserTests {
    typealias S = ResourceScope

    static let valid: [([String], [ResourceScope])] = [
        (["repository:team-a/app:pull"], [S(type: "repository", name: "team-a/app", actions: ["pull"])]),
        (["repository:team-a/app:pull,push"], [S(type: "repository", name: "team-a/app", actions: ["pull", "push"])]),
        (["repository:samalba/my-app:push,pull"], [S(type: "repository", name: "samalba/my-app", actions: ["push", "pull"])]),
        // Repeated params and space-separated values, merged in order.
        (["repository:a:pull", "repository:b:push repository:c:delete"],
         [S(type: "repository", name: "a", actions: ["pull"]), S(type: "repository", name: "b", actions: ["push"]), S(type: "repository", name: "c", actions: ["delete"])]),
        // The same resource twice (containerd): one entry, union of actions in first-seen order.
        (["repository:x:pull", "repository:x:pull,push"], [S(type: "repository", name: "x", actions: ["pull", "push"])]),
        (["repository:x:push repository:x:pull,push,delete"], [S(type: "repository", name: "x", actions: ["push", "pull", "delete"])]),
        // A registry host with a port in the name: type before the first ':', actions after the last.
        (["repository:localhost:5000/team-a/app:pull"], [S(type: "repository", name: "localhost:5000/team-a/app", actions: ["pull"])]),
        (["repository:registry.example.com:443/x:pull"], [S(type: "repository", name: "registry.example.com:443/x", actions: ["pull"])]),
        (["repository:registry.example.com/x:pull"], [S(type: "repository", name: "registry.example.com/x", actions: ["pull"])]),
        // The deprecated resource class is read as the plain type.
        (["repository(plugin):vieux/sshfs:pull"], [S(type: "repository", name: "vieux/sshfs", actions: ["pull"])]),
        (["registry:catalog:*"], [S(type: "registry", name: "catalog", actions: ["*"])]),
        (["repository:a.b_c__d-e---f/g:pull"], [S(type: "repository", name: "a.b_c__d-e---f/g", actions: ["pull"])]),
        // Actions are [a-z]*: empty lists and unknown words parse (and are never granted).
        (["repository:x:"], [S(type: "repository", name: "x", actions: [])]),
        (["repository:x:tag"], [S(type: "repository", name: "x", actions: ["tag"])]),
        (["repository:x:pull,,pull"], [S(type: "repository", name: "x", actions: ["pull"])]),
        ([], []),
        (["", "  "], []),
    ]

    @Test(arguments: valid)
    func parses(_ parameters: [String], _ expected: [ResourceScope]) throws {
        #expect(try ScopeParser.parse(parameters) == expected)
    }

    static let malformed: [String] = [
        "repository", "repository:x", ":x:pull", "repository::pull", "Repository:x:pull", "repo-sitory:x:pull",
        "repository:team-a/App:pull", "repository:team-a//app:pull", "repository:/app:pull", "repository:app/:pull",
        "repository:-app:pull", "repository:app-:pull", "repository:a..b:pull", "repository:a___b:pull",
        "repository:x:PULL", "repository:x:pu+ll", "repository:x:pull;rm", "repository:a:b:c:pull",
        "repository:host:port:5000/x:pull", "repository:host:99999999/x:pull", "repository:x:y:pull",
        "repository(:x:pull", "repository(Plugin):x:pull", "repository():x:pull",
        "repository:" + String(repeating: "a", count: 256) + ":pull",
        "repository:ünïcode/app:pull", "repository:app%2Fx:pull", "repository:%41:pull", "repository:a b:pull",
        "repository:\u{0}:pull",
    ]

    @Test(arguments: malformed)
    func refuses(_ scope: String) {
        #expect(throws: ScopeParser.Failure.self) { try ScopeParser.parse([scope]) }
    }

    @Test func aHugeNumberOfScopesIsRefused() {
        let many = (0..<101).map { "repository:r\($0):pull" }
        #expect(throws: ScopeParser.Failure.self) { try ScopeParser.parse(many) }
        #expect((try? ScopeParser.parse(Array(many.prefix(100))))?.count == 100)
    }
}

@Suite("docker-v2 grant patterns")
struct GrantPatternTests {
    /// (pattern, name, username, matches)
    static let cases: [(String, String, String, Bool)] = [
        ("team-a/*", "team-a/app", "alice", true),
        ("team-a/*", "team-a/app/sub", "alice", false),
        ("team-a/*", "team-a", "alice", false),
        ("team-a/*", "team-b/app", "alice", false),
        ("team-a/**", "team-a/x", "alice", true),
        ("team-a/**", "team-a/x/y", "alice", true),
        ("team-a/**", "team-a", "alice", false),
        ("team-a/**", "team-ab/x", "alice", false),
        ("library/**", "library/ubuntu", "alice", true),
        ("${username}/**", "alice/app", "alice", true),
        ("${username}/**", "alice/a/b/c", "alice", true),
        ("${username}/**", "bob/app", "alice", false),
        ("${username}/**", "alice", "alice", false),
        // The username is taken literally: no pattern characters inside it take effect.
        ("${username}/*", "a.b/app", "a.b", true),
        ("${username}/*", "axb/app", "a.b", false),
        ("${username}-*", "alice-tools", "alice", true),
        ("*", "app", "alice", true),
        ("*", "team/app", "alice", false),
        ("**", "team/app", "alice", true),
        ("app", "app", "alice", true),
        ("app", "app2", "alice", false),
        ("app", "ap", "alice", false),
        ("*-prod", "web-prod", "alice", true),
        ("*-prod", "web-prod/x", "alice", false),
        ("*/*", "a/b", "alice", true),
        ("*/*", "a/b/c", "alice", false),
        ("a/**/z", "a/b/c/z", "alice", true),
        ("a/**/z", "a/z", "alice", false),
        ("localhost:5000/team/*", "localhost:5000/team/app", "alice", true),
        ("catalog", "catalog", "alice", true),
    ]

    @Test(arguments: cases)
    func matches(_ pattern: String, _ name: String, _ username: String, _ expected: Bool) throws {
        let parsed = try #require(GrantPattern(pattern))
        #expect(parsed.matches(name, username: username) == expected)
    }

    @Test(arguments: ["", "***", "team a/*", "team/$USER", "ünï/*", "a?b", "a[b]", "${user}", String(repeating: "a", count: 256)])
    func refusesPatterns(_ pattern: String) {
        #expect(GrantPattern(pattern) == nil)
    }

    @Test func wildcardsAndPlaceholdersAreBounded() {
        #expect(GrantPattern(String(repeating: "*a", count: GrantPattern.maxWildcards)) != nil)
        #expect(GrantPattern(String(repeating: "*a", count: GrantPattern.maxWildcards + 1)) == nil)
        #expect(GrantPattern("${username}/${username}") != nil)
        #expect(GrantPattern("${username}/${username}/${username}") == nil)
    }

    /// The attack: `*a*a…*c` against long names of `a`s took 190 ms per match. The
    /// automaton takes the same number of word operations for every name of a length: the
    /// worst pattern we allow, against the longest name, costs `(255 + 1) × words` steps.
    @Test func matchingCostsStepsLinearInTheNameWhateverThePattern() throws {
        let worst = try #require(GrantPattern("team/" + String(repeating: "*a", count: 15) + "*c"))
        let program = worst.program(username: "alice")
        for length in [10, 100, 255] {
            var steps = 0
            #expect(!program.matches(String(repeating: "a", count: length), steps: &steps))
            #expect(steps <= program.cost(length: length))
            #expect(program.cost(length: length) == (length + 1) * 1, "fits one word: steps grow with the name only")
        }
        // A pattern as long as allowed, with the longest username twice: still a handful of words.
        let long = try #require(GrantPattern("${username}/" + String(repeating: "a/*", count: 15) + "/${username}"))
        let longProgram = long.program(username: String(repeating: "u", count: 255))
        #expect(longProgram.cost(length: 255) == 0 || longProgram.cost(length: 255) <= 256 * 5)
        var steps = 0
        #expect(!longProgram.matches(String(repeating: "u", count: 255), steps: &steps))
        #expect(steps <= 256 * 5)
    }

    /// The automaton agrees with plain backtracking on thousands of random small cases.
    @Test func theAutomatonAgreesWithBacktracking() {
        var random = SplitMix(seed: 24)
        let alphabet = Array("ab/-".utf8)
        var matched = 0
        for _ in 0..<5_000 {
            var pattern = ""
            for _ in 0..<random.next(upTo: 9) {
                switch random.next(upTo: 7) {
                case 0: pattern += "*"
                case 1: pattern += "**"
                case 2: pattern += "${username}"
                default: pattern += String(UnicodeScalar(alphabet[random.next(upTo: alphabet.count)]))
                }
            }
            let name = String(decoding: (0..<random.next(upTo: 10)).map { _ in alphabet[random.next(upTo: alphabet.count)] }, as: UTF8.self)
            let username = ["a", "ab", "b/a", ""][random.next(upTo: 4)]
            guard let parsed = GrantPattern(pattern) else { continue }
            let expected = Self.backtrack(Array(pattern.replacingOccurrences(of: GrantPattern.usernamePlaceholder, with: "\u{1}").utf8), Array(name.utf8), Array(username.utf8))
            #expect(parsed.matches(name, username: username) == expected, "\(pattern) ~ \(name) (username \(username))")
            if expected { matched += 1 }
        }
        #expect(matched > 200, "the random cases include matches")
    }

    static func backtrack(_ p: [UInt8], _ n: [UInt8], _ u: [UInt8], _ i: Int = 0, _ j: Int = 0) -> Bool {
        if i == p.count { return j == n.count }
        if p[i] == 1 { return n.count - j >= u.count && Array(n[j..<(j + u.count)]) == u && backtrack(p, n, u, i + 1, j + u.count) }
        if p[i] == UInt8(ascii: "*") {
            let any = i + 1 < p.count && p[i + 1] == UInt8(ascii: "*")
            var k = j
            while true {
                if backtrack(p, n, u, any ? i + 2 : i + 1, k) { return true }
                if k == n.count || (!any && n[k] == UInt8(ascii: "/")) { return false }
                k += 1
            }
        }
        return j < n.count && n[j] == p[i] && backtrack(p, n, u, i + 1, j + 1)
    }
}

/// A small deterministic generator for reproducible random cases.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(upTo bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

@Suite("docker-v2 grants and the intersection")
struct RegistryGrantTests {
    static let grammar: [(String, String?)] = [
        ("repository:team-a/*:pull,push", nil),
        ("repository:${username}/**:*", nil),
        ("registry:catalog:*", nil),
        ("repository:library/**:pull", nil),
        ("repository:x:pull, push", nil),
        ("repository:team-a/*", "expected <type>:<name-pattern>:<actions>"),
        ("repository:team-a/*:", "no actions"),
        ("repository:team-a/*:pull,,push", "no actions"),
        ("repository:team-a/*:fly", "unknown action 'fly'"),
        ("Repository:x:pull", "the type must be lower-case"),
        ("repository:a b:pull", "the name pattern"),
        ("", "expected"),
    ]

    @Test(arguments: grammar)
    func parsesOrExplains(_ text: String, _ problem: String?) {
        do {
            _ = try RegistryGrant(parsing: text)
            #expect(problem == nil, "accepted \(text)")
        } catch {
            #expect(problem != nil, "refused \(text): \(error)")
            #expect(error.description.contains(problem ?? "") && error.description.contains("'\(text)'"))
        }
    }

    func grants(_ texts: String...) throws -> [RegistryGrant] { try texts.map { try RegistryGrant(parsing: $0) } }

    @Test func eachResourceGetsTheGrantedSubsetInRequestOrder() throws {
        let g = try grants("repository:team-a/*:pull,push", "repository:library/**:pull", "repository:${username}/**:*", "registry:catalog:*")
        let requested = [
            ResourceScope(type: "repository", name: "team-a/app", actions: ["push", "pull", "delete"]),
            ResourceScope(type: "repository", name: "library/ubuntu", actions: ["pull", "push"]),
            ResourceScope(type: "repository", name: "team-b/app", actions: ["pull"]),
            ResourceScope(type: "repository", name: "alice/tools/x", actions: ["delete", "*"]),
            ResourceScope(type: "registry", name: "catalog", actions: ["*"]),
            ResourceScope(type: "repository", name: "catalog", actions: ["pull"]),
        ]
        let result = RegistryAuthorizer.intersect(requested, grants: g, username: "alice")
        #expect(result.map(\.actions) == [["push", "pull"], ["pull"], [], ["delete", "*"], ["*"], []])
        #expect(result.map(\.name) == requested.map(\.name))
        // The same request by bob: alice's namespace is not his.
        #expect(RegistryAuthorizer.intersect(requested, grants: g, username: "bob")[3].actions == [])
    }

    @Test func onlyAStarGrantSatisfiesAStarRequest() throws {
        let pullPushDelete = try grants("repository:x:pull,push,delete")
        let star = try grants("repository:x:*")
        let request = [ResourceScope(type: "repository", name: "x", actions: ["*", "pull"])]
        #expect(RegistryAuthorizer.intersect(request, grants: pullPushDelete, username: "u")[0].actions == ["pull"])
        #expect(RegistryAuthorizer.intersect(request, grants: star, username: "u")[0].actions == ["*", "pull"])
    }

    @Test func noGrantsMeansEmptyAccessNotAnError() {
        let request = [ResourceScope(type: "repository", name: "x", actions: ["pull"])]
        #expect(RegistryAuthorizer.intersect(request, grants: [], username: "u") == [ResourceScope(type: "repository", name: "x", actions: [])])
        #expect(RegistryAuthorizer.intersect([], grants: [], username: "u").isEmpty)
    }
}
