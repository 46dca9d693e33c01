// libFuzzer entry point for Keyport's parsers of untrusted input. scripts/fuzz compiles this
// file with the parsers' sources into one instrumented binary (swiftc -sanitize=fuzzer,address)
// and picks the target with KEYPORT_FUZZ_TARGET. A target fails by crashing: a trap, an
// out-of-bounds access, a leak of the sanitizer's kind. Parsers must answer every input.
import Foundation

enum FuzzTarget: String, CaseIterable {
    case scope, grant, match, basic, hash, realm, ldap
}

let target: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["KEYPORT_FUZZ_TARGET"], let t = FuzzTarget(rawValue: name) else {
        fatalError("set KEYPORT_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
    }
    return t
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    switch target {
    case .scope:
        // The repeated `scope` query parameters, one per line.
        _ = try? ScopeParser.parse(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
    case .grant:
        // A docker.grant, then a repository name and a username to match it against.
        let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        if let grant = try? RegistryGrant(parsing: lines[0]) {
            let name = lines.count > 1 ? lines[1] : "team/app"
            let username = lines.count > 2 ? lines[2] : "alice"
            for action in ["pull", "push", "delete", "*"] {
                _ = grant.allows(action, on: ResourceScope(type: "repository", name: name, actions: [action]), username: username)
            }
        }
        if let pattern = GrantPattern(lines[0]) { _ = pattern.matches(lines.count > 1 ? lines[1] : "x", username: "alice") }
        _ = try? RegistryGrant.validate(attributes: ["docker.grant": lines])
    case .match:
        // A pattern, a name and a username: the automaton must agree with a plain backtracking
        // matcher (on inputs small enough for it) and never take more steps than it promises.
        let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard let pattern = GrantPattern(lines[0]) else { return 0 }
        let name = lines.count > 1 ? lines[1] : ""
        let username = lines.count > 2 ? lines[2] : "alice"
        let program = pattern.program(username: username)
        var steps = 0
        let fast = program.matches(name, steps: &steps)
        if steps > program.cost(length: name.utf8.count) {
            fatalError("cost oracle: \(steps) steps for a name of \(name.utf8.count) bytes, promised \(program.cost(length: name.utf8.count))")
        }
        if name.utf8.count <= 40, lines[0].utf8.count <= 40, username.utf8.count <= 16 {
            let expected = referenceMatch(lines[0].replacingOccurrences(of: GrantPattern.usernamePlaceholder, with: "\u{1}"), name, username)
            if fast != expected { fatalError("the automaton says \(fast), backtracking says \(expected)") }
        }
    case .basic:
        _ = BasicCredentials(header: text)
        _ = BasicCredentials(header: "Basic " + bytes.base64EncodedString())
    case .hash:
        // A stored hash (PHC or PBKDF2 form); and Keycloak's secretData / credentialData pair.
        _ = PasswordHash(phc: text)
        _ = PBKDF2Hash(stored: text)
        let pair = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if pair.count == 2 { _ = try? KeycloakCredential.storedHash(secretData: pair[0], credentialData: pair[1]) }
    case .realm:
        // The realm import decoder: the document, its unmodelled fields, duplicate keys.
        _ = try? JSONDecoder().decode(RealmRepresentation.self, from: bytes)
        if let raw = try? JSONDecoder().decode(JSONValue.self, from: bytes) { _ = RealmRepresentation.unmodeledFields(in: raw) }
        _ = JSONDuplicateKeys.first(in: bytes)
    case .ldap:
        // A username put in a filter and a DN: nothing it holds may end the value early, and
        // reading the escapes back gives the username again, byte for byte.
        let filter = Array(LDAPEscaping.filterValue(text).utf8)
        if filter.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "(") || $0 == UInt8(ascii: ")") || $0 == 0 }) {
            fatalError("a filter value keeps a special character")
        }
        if unescapeFilterValue(filter) != Array(text.utf8) { fatalError("the filter escape does not read back") }
        let dn = Array(LDAPEscaping.dnValue(text).utf8)
        if unescapeDNValue(dn) != Array(text.utf8) { fatalError("the DN escape does not read back") }
        var bare = false
        for (index, byte) in dn.enumerated() where [UInt8(ascii: ","), UInt8(ascii: "+"), UInt8(ascii: ";"), UInt8(ascii: "=")].contains(byte) {
            var slashes = 0
            var before = index - 1
            while before >= 0 && dn[before] == UInt8(ascii: "\\") { slashes += 1; before -= 1 }
            if slashes % 2 == 0 { bare = true }
        }
        if bare { fatalError("a DN value keeps a separator unescaped") }
    }
    return 0
}

/// RFC 4515's `\XX` escapes read back.
func unescapeFilterValue(_ bytes: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        if bytes[index] == UInt8(ascii: "\\") {
            guard index + 2 < bytes.count, let byte = UInt8(String(decoding: bytes[index + 1...index + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
            index += 3
        } else {
            out.append(bytes[index])
            index += 1
        }
    }
    return out
}

/// RFC 4514's escapes read back (`\` before a character, `\00` for NUL).
func unescapeDNValue(_ bytes: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        if bytes[index] == UInt8(ascii: "\\") {
            guard index + 1 < bytes.count else { return nil }
            if bytes[index + 1] == UInt8(ascii: "0"), index + 2 < bytes.count, bytes[index + 2] == UInt8(ascii: "0") {
                out.append(0)
                index += 3
            } else {
                out.append(bytes[index + 1])
                index += 2
            }
        } else {
            out.append(bytes[index])
            index += 1
        }
    }
    return out
}

/// Glob matching the slow, obvious way (exponential in the worst case: small inputs only).
/// `\u{1}` in the pattern stands for the username.
func referenceMatch(_ pattern: String, _ name: String, _ username: String) -> Bool {
    let p = Array(pattern.utf8), n = Array(name.utf8), u = Array(username.utf8)
    func go(_ i: Int, _ j: Int) -> Bool {
        if i == p.count { return j == n.count }
        if p[i] == 1 { return n.count - j >= u.count && Array(n[j..<(j + u.count)]) == u && go(i + 1, j + u.count) }
        if p[i] == UInt8(ascii: "*") {
            let any = i + 1 < p.count && p[i + 1] == UInt8(ascii: "*")
            let next = any ? i + 2 : i + 1
            var k = j
            while true {
                if go(next, k) { return true }
                if k == n.count || (!any && n[k] == UInt8(ascii: "/")) { return false }
                k += 1
            }
        }
        return j < n.count && n[j] == p[i] && go(i + 1, j + 1)
    }
    return go(0, 0)
}
