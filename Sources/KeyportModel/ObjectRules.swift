import Foundation

/// A name, text or attribute that cannot be stored; `message` is the sentence the admin API
/// answers with and the importer reports, word for word.
public struct InvalidObject: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Limits and shapes of names, text and attributes, checked once here for every door an object
/// comes through (the admin API and realm import), so bad input is refused with the same
/// sentence before it reaches the store (the database has its own CHECKs behind these).
public enum ObjectRules {
    public static let maxName = 255
    public static let maxDescription = 1024
    public static let maxAttributeKeys = 100
    public static let maxAttributeValues = 100
    public static let maxAttributeValueLength = 2048

    public static func realmName(_ name: String?) throws -> String {
        guard let name, !name.isEmpty else { throw InvalidObject("Realm name cannot be empty") }
        // Its default role, `default-roles-{name}`, must fit a role name.
        guard RealmBounds.realmNameLength.contains(name.utf8.count) else {
            throw InvalidObject("Realm name is longer than \(RealmBounds.realmNameLength.upperBound) characters")
        }
        guard name != ".", name != "..", name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }) else {
            throw InvalidObject("Realm name may contain only letters, digits, '-', '_' and '.'")
        }
        return name
    }

    public static func username(_ name: String?) throws -> String {
        guard let name, !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw InvalidObject("User name is missing") }
        try plain(name, what: "Username")
        guard !name.contains("/") else { throw InvalidObject("Username must not contain '/'") }
        guard name == name.trimmingCharacters(in: .whitespaces) else { throw InvalidObject("Username must not start or end with a space") }
        return nfc(name)
    }

    /// Unicode's canonical composition (NFC): two spellings of one name are one name, in the
    /// database as in every cache keyed by it (Swift's `==` already equates them).
    public static func nfc(_ text: String) -> String {
        text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
    }

    public static func email(_ email: String?) throws -> String? {
        guard let email, !email.isEmpty else { return nil }
        guard email.utf8.count <= 254, email.contains("@"), !email.hasPrefix("@"), !email.hasSuffix("@"),
              email.unicodeScalars.allSatisfy({ !CharacterSet.whitespacesAndNewlines.contains($0) && !CharacterSet.controlCharacters.contains($0) })
        else { throw InvalidObject("Invalid email address: \(String(email.prefix(100)))") }
        return email
    }

    public static func clientId(_ id: String?) throws -> String {
        guard let id, !id.isEmpty else { throw InvalidObject("Client id is required") }
        try plain(id, what: "Client id")
        guard !id.contains(" ") else { throw InvalidObject("Client id must not contain spaces") }
        return nfc(id)
    }

    public static func roleName(_ name: String?) throws -> String {
        guard let name, !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw InvalidObject("Role name is required") }
        try plain(name, what: "Role name")
        guard !name.contains("/") else { throw InvalidObject("Role name must not contain '/'") }
        return name
    }

    public static func groupName(_ name: String?) throws -> String {
        guard let name, !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw InvalidObject("Group name is missing") }
        try plain(name, what: "Group name")
        guard !name.contains("/") else { throw InvalidObject("Group name must not contain '/'") }
        return name
    }

    public static func optionalText(_ text: String?, what: String, max: Int = maxDescription) throws -> String? {
        guard let text else { return nil }
        guard text.utf8.count <= max else { throw InvalidObject("\(what) is longer than \(max) characters") }
        return text
    }

    /// No control characters, no line or paragraph separators (U+2028 and kin end a line in
    /// logs and scripts), not too long.
    public static func plain(_ value: String, what: String) throws {
        guard value.utf8.count <= maxName else { throw InvalidObject("\(what) is longer than \(maxName) characters") }
        guard !value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) || CharacterSet.newlines.contains($0) }) else {
            throw InvalidObject("\(what) must not contain control characters or line separators")
        }
    }

    public static func multiAttributes(_ attributes: [String: [String]]) throws -> [String: [String]] {
        guard attributes.count <= maxAttributeKeys else { throw InvalidObject("At most \(maxAttributeKeys) attributes are allowed") }
        for (key, values) in attributes {
            try plain(key, what: "Attribute name")
            guard !key.isEmpty else { throw InvalidObject("Attribute names must not be empty") }
            guard values.count <= maxAttributeValues else { throw InvalidObject("Attribute '\(key)' has more than \(maxAttributeValues) values") }
            for value in values where value.utf8.count > maxAttributeValueLength {
                throw InvalidObject("A value of attribute '\(key)' is longer than \(maxAttributeValueLength) characters")
            }
        }
        return attributes
    }

    public static func singleAttributes(_ attributes: [String: String]) throws -> [String: String] {
        _ = try multiAttributes(attributes.mapValues { [$0] })
        return attributes
    }

    /// A client scope's name: what a token request's `scope` parameter (space-separated) names.
    public static func clientScopeName(_ name: String?) throws -> String {
        guard let name, !name.isEmpty else { throw InvalidObject("Client scope name is required") }
        try plain(name, what: "Client scope name")
        guard !name.contains(" ") else { throw InvalidObject("Client scope name must not contain spaces") }
        return nfc(name)
    }

    /// Protocol mappers (a client's or a client scope's): at most `ClientScope.maxProtocolMappers`,
    /// names unique and plain, configs bounded like attributes; a mapper without an id gets one.
    public static func protocolMappers(_ mappers: [ProtocolMapper], newID: () -> String) throws -> [ProtocolMapper] {
        guard mappers.count <= ClientScope.maxProtocolMappers else {
            throw InvalidObject("At most \(ClientScope.maxProtocolMappers) protocol mappers are allowed")
        }
        var names = Set<String>()
        return try mappers.map { mapper in
            var m = mapper
            guard !m.name.isEmpty else { throw InvalidObject("A protocol mapper needs a name") }
            try plain(m.name, what: "Protocol mapper name")
            guard names.insert(m.name).inserted else { throw InvalidObject("Protocol mapper '\(m.name)' appears twice") }
            guard !m.protocolMapper.isEmpty else { throw InvalidObject("Protocol mapper '\(m.name)' needs its protocolMapper type") }
            try plain(m.protocolMapper, what: "protocolMapper")
            try plain(m.protocol, what: "A protocol mapper's protocol")
            _ = try singleAttributes(m.config)
            if let id = m.id { try plain(id, what: "A protocol mapper's id") } else { m.id = newID() }
            return m
        }
    }
}

