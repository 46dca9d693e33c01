import KeycloakRepresentations
import Foundation
import KeyportHTTP
import KeyportModel

/// `ObjectRules`, answering the admin API's way (400 with the rule's sentence).
enum Validate {
    /// Runs `body`, answering a broken rule (the model's `InvalidObject`, a protocol hook's
    /// `BadInput`) with 400 and its sentence.
    static func rule<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as InvalidObject {
            throw AdminError.badRequest(error.message)
        } catch let error as BadInput {
            throw AdminError.badRequest(error.message)
        }
    }
    static func realmName(_ name: String?) throws -> String { try rule { try ObjectRules.realmName(name) } }
    static func username(_ name: String?) throws -> String { try rule { try ObjectRules.username(name) } }
    static func email(_ email: String?) throws -> String? { try rule { try ObjectRules.email(email) } }
    static func clientId(_ id: String?) throws -> String { try rule { try ObjectRules.clientId(id) } }
    static func roleName(_ name: String?) throws -> String { try rule { try ObjectRules.roleName(name) } }
    static func groupName(_ name: String?) throws -> String { try rule { try ObjectRules.groupName(name) } }
    static func optionalText(_ text: String?, what: String, max: Int = ObjectRules.maxDescription) throws -> String? {
        try rule { try ObjectRules.optionalText(text, what: what, max: max) }
    }
    static func plain(_ value: String, what: String) throws { try rule { try ObjectRules.plain(value, what: what) } }
    static func multiAttributes(_ attributes: [String: [String]]) throws -> [String: [String]] { try rule { try ObjectRules.multiAttributes(attributes) } }
    static func singleAttributes(_ attributes: [String: String]) throws -> [String: String] { try rule { try ObjectRules.singleAttributes(attributes) } }
}

/// Keycloak's password policy string (`length(8) and digits(1) and notUsername`), the
/// rules Keyport enforces. An unknown rule is refused when the policy is set, not ignored.
struct PasswordPolicy {
    enum Rule: Equatable {
        case length(Int), maxLength(Int), digits(Int), lowerCase(Int), upperCase(Int), specialChars(Int)
        case notUsername, notEmail, hashIterations(Int), hashAlgorithm(String), passwordHistory(Int)
    }

    let rules: [Rule]

    init(_ text: String?) throws {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { rules = []; return }
        var rules: [Rule] = []
        for part in text.components(separatedBy: " and ") {
            let item = part.trimmingCharacters(in: .whitespaces)
            let name = String(item.prefix { $0 != "(" })
            var argument: String? = nil
            if let open = item.firstIndex(of: "("), item.hasSuffix(")") {
                argument = String(item[item.index(after: open)..<item.index(before: item.endIndex)])
            }
            func number(_ fallback: Int) throws -> Int {
                guard let argument, !argument.isEmpty else { return fallback }
                guard let n = Int(argument), n >= 0, n <= 1024 else { throw AdminError.badRequest("Invalid password policy: \(name)(\(argument))") }
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
                guard Argon2Parameters.iterationsRange.contains(n) else { throw AdminError.badRequest("Invalid password policy: hashIterations must be between 1 and 64") }
                rules.append(.hashIterations(n))
            case "hashAlgorithm":
                guard argument == "argon2" else { throw AdminError.badRequest("Invalid password policy: Keyport hashes with argon2 only") }
                rules.append(.hashAlgorithm("argon2"))
            case "passwordHistory": rules.append(.passwordHistory(try number(3)))
            default: throw AdminError.badRequest("Invalid password policy: unknown rule '\(String(name.prefix(64)))'")
            }
        }
        self.rules = rules
    }

    /// Checks a new password; the message is Keycloak's.
    func check(_ password: String, username: String, email: String?) throws {
        func count(_ set: CharacterSet) -> Int { password.unicodeScalars.filter { set.contains($0) }.count }
        for rule in rules {
            switch rule {
            case .length(let n) where password.count < n: throw AdminError.badRequest("Invalid password: minimum length \(n).")
            case .maxLength(let n) where password.count > n: throw AdminError.badRequest("Invalid password: maximum length \(n).")
            case .digits(let n) where count(.decimalDigits) < n: throw AdminError.badRequest("Invalid password: must contain at least \(n) numerical digits.")
            case .lowerCase(let n) where count(.lowercaseLetters) < n: throw AdminError.badRequest("Invalid password: must contain at least \(n) lower case characters.")
            case .upperCase(let n) where count(.uppercaseLetters) < n: throw AdminError.badRequest("Invalid password: must contain at least \(n) upper case characters.")
            case .specialChars(let n) where count(CharacterSet.alphanumerics.union(.whitespaces).inverted) < n:
                throw AdminError.badRequest("Invalid password: must contain at least \(n) special characters.")
            case .notUsername where password.lowercased() == username.lowercased(): throw AdminError.badRequest("Invalid password: must not be equal to the username.")
            case .notEmail where email != nil && password.lowercased() == email!.lowercased(): throw AdminError.badRequest("Invalid password: must not be equal to the email.")
            default: continue
            }
        }
        guard password.utf8.count <= 4096 else { throw AdminError.badRequest("Invalid password: maximum length 4096.") }
    }

    var hashIterations: Int? {
        for case .hashIterations(let n) in rules { return n }
        return nil
    }
}
