import Foundation

/// Keycloak's password policy string (`length(8) and digits(1) and notUsername`), the
/// rules Keyport enforces. An unknown rule is refused when the policy is set, not ignored.
public struct PasswordPolicy: Sendable, Equatable {
    public enum Rule: Sendable, Equatable {
        case length(Int), maxLength(Int), digits(Int), lowerCase(Int), upperCase(Int), specialChars(Int)
        case notUsername, notEmail, hashIterations(Int), hashAlgorithm(String), passwordHistory(Int)
    }

    public let rules: [Rule]

    public init(_ text: String?) throws(InvalidObject) {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { rules = []; return }
        var rules: [Rule] = []
        for part in text.components(separatedBy: " and ") {
            let item = part.trimmingCharacters(in: .whitespaces)
            let name = String(item.prefix { $0 != "(" })
            var argument: String? = nil
            if let open = item.firstIndex(of: "("), item.hasSuffix(")") {
                argument = String(item[item.index(after: open)..<item.index(before: item.endIndex)])
            }
            func number(_ fallback: Int) throws(InvalidObject) -> Int {
                guard let argument, !argument.isEmpty else { return fallback }
                guard let n = Int(argument), n >= 0, n <= 1024 else { throw InvalidObject("Invalid password policy: \(name)(\(argument))") }
                return n
            }
            switch name {
            case "length": rules.append(.length(try number(8)))
            case "maxLength": rules.append(.maxLength(try number(64)))
            case "digits": rules.append(.digits(try number(1)))
            case "lowerCase": rules.append(.lowerCase(try number(1)))
            case "upperCase": rules.append(.upperCase(try number(1)))
            case "specialChars": rules.append(.specialChars(try number(1)))
            case "notUsername": rules.append(.notUsername)
            case "notEmail": rules.append(.notEmail)
            case "hashIterations":
                let n = try number(5)
                guard Argon2Parameters.iterationsRange.contains(n) else { throw InvalidObject("Invalid password policy: hashIterations must be between 1 and 64") }
                rules.append(.hashIterations(n))
            case "hashAlgorithm":
                guard argument == "argon2" else { throw InvalidObject("Invalid password policy: Keyport hashes with argon2 only") }
                rules.append(.hashAlgorithm("argon2"))
            case "passwordHistory": rules.append(.passwordHistory(try number(3)))
            default: throw InvalidObject("Invalid password policy: unknown rule '\(String(name.prefix(64)))'")
            }
        }
        self.rules = rules
    }

    /// Checks a new password; the message is Keycloak's.
    public func check(_ password: String, username: String, email: String?) throws(InvalidObject) {
        func count(_ set: CharacterSet) -> Int { password.unicodeScalars.filter { set.contains($0) }.count }
        for rule in rules {
            switch rule {
            case .length(let n) where password.count < n: throw InvalidObject("Invalid password: minimum length \(n).")
            case .maxLength(let n) where password.count > n: throw InvalidObject("Invalid password: maximum length \(n).")
            case .digits(let n) where count(.decimalDigits) < n: throw InvalidObject("Invalid password: must contain at least \(n) numerical digits.")
            case .lowerCase(let n) where count(.lowercaseLetters) < n: throw InvalidObject("Invalid password: must contain at least \(n) lower case characters.")
            case .upperCase(let n) where count(.uppercaseLetters) < n: throw InvalidObject("Invalid password: must contain at least \(n) upper case characters.")
            case .specialChars(let n) where count(CharacterSet.alphanumerics.union(.whitespaces).inverted) < n:
                throw InvalidObject("Invalid password: must contain at least \(n) special characters.")
            case .notUsername where password.lowercased() == username.lowercased(): throw InvalidObject("Invalid password: must not be equal to the username.")
            case .notEmail where email != nil && password.lowercased() == email!.lowercased(): throw InvalidObject("Invalid password: must not be equal to the email.")
            default: continue
            }
        }
        guard password.utf8.count <= 4096 else { throw InvalidObject("Invalid password: maximum length 4096.") }
    }

    public var hashIterations: Int? {
        for case .hashIterations(let n) in rules { return n }
        return nil
    }
}

extension PasswordPolicy {
    /// A policy from a realm file written for Keycloak, which may name rules Keyport does not
    /// enforce (`forceExpiredPasswordChange(365)`, `regexPattern(…)`) or PBKDF2's hashing
    /// (`hashAlgorithm(pbkdf2-sha256)`, `hashIterations(27500)`): those are dropped — and named, for
    /// the operator to read — rather than refusing the file or storing a policy that would refuse
    /// every later password. What remains is the policy text to store (nil when nothing remains).
    public static func importing(_ text: String?) -> (policy: String?, dropped: [String]) {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return (nil, []) }
        var kept: [String] = []
        var dropped: [String] = []
        for part in text.components(separatedBy: " and ").prefix(64) {
            let item = part.trimmingCharacters(in: .whitespaces)
            if (try? PasswordPolicy(item)) != nil { kept.append(item) } else { dropped.append(String(item.prefix(80))) }
        }
        return (kept.isEmpty ? nil : kept.joined(separator: " and "), dropped)
    }
}
