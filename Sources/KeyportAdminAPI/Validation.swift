import Foundation
import KeyportModel

/// Limits and shapes of names, so bad input is refused with a sentence before it reaches
/// the store (the database has its own CHECKs behind these).
enum Validate {
    static let maxName = 255
    static let maxDescription = 1024
    static let maxAttributeKeys = 100
    static let maxAttributeValues = 100
    static let maxAttributeValueLength = 2048

    static func realmName(_ name: String?) throws -> String {
        guard let name, !name.isEmpty else { throw AdminError.badRequest("Realm name is required") }
        // Its default role, `default-roles-{name}`, must fit a role name.
        guard RealmBounds.realmNameLength.contains(name.utf8.count) else {
            throw AdminError.badRequest("Realm name is longer than \(RealmBounds.realmNameLength.upperBound) characters")
        }
        guard name != ".", name != "..", name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }) else {
            throw AdminError.badRequest("Realm name may contain only letters, digits, '-', '_' and '.'")
        }
        return name
    }

    static func username(_ name: String?) throws -> String {
        guard let name, !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw AdminError.badRequest("User name is missing") }
        try plain(name, what: "Username")
        guard !name.contains("/") else { throw AdminError.badRequest("Username must not contain '/'") }
        guard name == name.trimmingCharacters(in: .whitespaces) else { throw AdminError.badRequest("Username must not start or end with a space") }
        return name
    }

    static func email(_ email: String?) throws -> String? {
        guard let email, !email.isEmpty else { return nil }
        guard email.utf8.count <= 254, email.contains("@"), !email.hasPrefix("@"), !email.hasSuffix("@"),
              email.unicodeScalars.allSatisfy({ !CharacterSet.whitespacesAndNewlines.contains($0) && !CharacterSet.controlCharacters.contains($0) })
        else { throw AdminError.badRequest("Invalid email address: \(String(email.prefix(100)))") }
        return email
    }

    static func clientId(_ id: String?) throws -> String {
        guard let id, !id.isEmpty else { throw AdminError.badRequest("Client id is required") }
        try plain(id, what: "Client id")
        guard !id.contains(" ") else { throw AdminError.badRequest("Client id must not contain spaces") }
        return id
    }

    static func roleName(_ name: String?) throws -> String {
        guard let name, !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw AdminError.badRequest("Role name is required") }
        try plain(name, what: "Role name")
        guard !name.contains("/") else { throw AdminError.badRequest("Role name must not contain '/'") }
        return name
    }

    static func groupName(_ name: String?) throws -> String {
        guard let name, !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw AdminError.badRequest("Group name is missing") }
        try plain(name, what: "Group name")
        guard !name.contains("/") else { throw AdminError.badRequest("Group name must not contain '/'") }
        return name
    }

    static func optionalText(_ text: String?, what: String, max: Int = maxDescription) throws -> String? {
        guard let text else { return nil }
        guard text.utf8.count <= max else { throw AdminError.badRequest("\(what) is longer than \(max) characters") }
        return text
    }

    /// No control characters, not too long.
    static func plain(_ value: String, what: String) throws {
        guard value.utf8.count <= maxName else { throw AdminError.badRequest("\(what) is longer than \(maxName) characters") }
        guard !value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw AdminError.badRequest("\(what) must not contain control characters")
        }
    }

    static func multiAttributes(_ attributes: [String: [String]]) throws -> [String: [String]] {
        guard attributes.count <= maxAttributeKeys else { throw AdminError.badRequest("At most \(maxAttributeKeys) attributes are allowed") }
        for (key, values) in attributes {
            try plain(key, what: "Attribute name")
            guard !key.isEmpty else { throw AdminError.badRequest("Attribute names must not be empty") }
            guard values.count <= maxAttributeValues else { throw AdminError.badRequest("Attribute '\(key)' has more than \(maxAttributeValues) values") }
            for value in values where value.utf8.count > maxAttributeValueLength {
                throw AdminError.badRequest("A value of attribute '\(key)' is longer than \(maxAttributeValueLength) characters")
            }
        }
        return attributes
    }

    static func singleAttributes(_ attributes: [String: String]) throws -> [String: String] {
        _ = try multiAttributes(attributes.mapValues { [$0] })
        return attributes
    }
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
