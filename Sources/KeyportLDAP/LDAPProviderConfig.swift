import CLDAP

/// An LDAP user storage provider's settings, read from the component config Keycloak's admin API
/// and realm files carry (`providerId` `ldap`, every value a list of strings), with Keycloak's
/// keys and defaults, each checked and bounded.
public struct LDAPProviderConfig: Sendable, Equatable {
    public enum Vendor: String, Sendable, CaseIterable {
        case other, ad, rhds, tivoli, edirectory
    }

    /// Keycloak's `editMode`. Keyport reads the directory and never writes it: `READ_ONLY`.
    public enum EditMode: String, Sendable {
        case readOnly = "READ_ONLY"
    }

    public var enabled: Bool
    public var priority: Int
    public var vendor: Vendor
    public var directory: DirectorySettings
    /// `authType` `simple` with a bind DN, or `none` (anonymous searches).
    public var bindDN: String?
    public var editMode: EditMode
    public var usersDN: String
    public var usernameAttribute: String
    public var rdnAttribute: String
    public var uuidAttribute: String
    public var userObjectClasses: [String]
    public var customUserSearchFilter: String?
    public var searchScope: SearchScope
    public var pagination: Bool
    public var batchSizeForSync: Int
    /// Seconds between periodic syncs; nil: none (Keycloak's -1).
    public var fullSyncPeriod: Int?
    public var changedSyncPeriod: Int?
    public var importEnabled: Bool
    public var syncRegistrations: Bool
    public var trustEmail: Bool

    public struct Problem: Error, Equatable, Sendable {
        public let message: String
        init(_ message: String) { self.message = message }
    }

    public static let maxBatchSize = 5_000
    public static let minSyncPeriodSeconds = 60
    public static let maxSyncPeriodSeconds = 366 * 24 * 3600
    public static let maxValueLength = 1_024
    public static let maxObjectClasses = 16

    /// Reads `config`; a missing optional key takes Keycloak's default, a value that is wrong or
    /// out of bounds is a `Problem` naming the key.
    public static func parse(_ config: [String: [String]]) throws(Problem) -> LDAPProviderConfig {
        let read = ConfigReader(config: config)
        func number(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) throws(Problem) -> Int {
            guard let text = try read.value(key) else { return fallback }
            guard let number = Int(text), range.contains(number) else {
                throw Problem("\(key) is a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func period(_ key: String) throws(Problem) -> Int? {
            let seconds = try number(key, -1, -1...maxSyncPeriodSeconds)
            guard seconds > 0 else { return nil }
            guard seconds >= minSyncPeriodSeconds else { throw Problem("\(key) is -1 (off) or at least \(minSyncPeriodSeconds) seconds") }
            return seconds
        }
        func dn(_ key: String) throws(Problem) -> String? {
            guard let text = try read.value(key) else { return nil }
            guard isDN(text) else { throw Problem("\(key) is not a DN") }
            return text
        }

        let vendorText = try read.value("vendor") ?? "other"
        guard let vendor = Vendor(rawValue: vendorText) else {
            throw Problem("vendor is one of \(Vendor.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let url = try read.required("connectionUrl")
        if let problem = DirectorySettings.problem(url: url) { throw Problem("connectionUrl: \(problem)") }
        let startTLS = try read.flag("startTls", false)
        if startTLS, url.lowercased().contains("ldaps://") { throw Problem("startTls is for ldap:// URLs; ldaps:// is TLS already") }
        let timeouts = 0...DirectorySettings.maxTimeoutMilliseconds
        let connect = try number("connectionTimeout", DirectorySettings.defaultTimeoutMilliseconds, timeouts)
        let readTimeout = try number("readTimeout", DirectorySettings.defaultTimeoutMilliseconds, timeouts)
        let directory = DirectorySettings(url: url, startTLS: startTLS,
                                          connectTimeoutMilliseconds: connect == 0 ? DirectorySettings.defaultTimeoutMilliseconds : connect,
                                          readTimeoutMilliseconds: readTimeout == 0 ? DirectorySettings.defaultTimeoutMilliseconds : readTimeout)

        let authType = try read.value("authType") ?? "simple"
        let bindDN: String?
        switch authType {
        case "simple":
            guard let given = try dn("bindDn") else { throw Problem("bindDn is required when authType is simple") }
            bindDN = given
        case "none":
            bindDN = nil
        default:
            throw Problem("authType is simple or none")
        }
        let editModeText = try read.required("editMode")
        guard let editMode = EditMode(rawValue: editModeText) else {
            throw Problem("editMode: Keyport reads the directory and never writes it; READ_ONLY is the mode it runs")
        }
        guard let usersDN = try dn("usersDn") else { throw Problem("usersDn is required") }
        let defaults = Self.defaults(for: vendor)
        let classesText = try read.value("userObjectClasses") ?? defaults.objectClasses
        let classes = classesText.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        guard !classes.isEmpty, classes.count <= maxObjectClasses, classes.allSatisfy(isAttributeName) else {
            throw Problem("userObjectClasses is a comma-separated list of at most \(maxObjectClasses) object classes")
        }
        var customFilter = try read.value("customUserSearchFilter")
        if let filter = customFilter {
            guard filter.hasPrefix("("), filter.hasSuffix(")"), parenthesesBalance(filter) else {
                throw Problem("customUserSearchFilter is an LDAP filter: it starts with ( and ends with ), its parentheses balanced")
            }
        }
        if customFilter?.isEmpty == true { customFilter = nil }
        let scopeText = try read.value("searchScope") ?? "1"
        let scope: SearchScope
        switch scopeText {
        case "1": scope = .oneLevel
        case "2": scope = .subtree
        default: throw Problem("searchScope is 1 (one level) or 2 (subtree)")
        }
        for key in ["allowKerberosAuthentication", "useKerberosForPasswordAuthentication"] where try read.flag(key, false) {
            throw Problem("\(key): Keyport does not sign people in with Kerberos")
        }
        return LDAPProviderConfig(
            enabled: try read.flag("enabled", true),
            priority: try number("priority", 0, -1_000_000...1_000_000),
            vendor: vendor, directory: directory, bindDN: bindDN, editMode: editMode, usersDN: usersDN,
            usernameAttribute: try read.attribute("usernameLDAPAttribute", defaults.username),
            rdnAttribute: try read.attribute("rdnLDAPAttribute", defaults.rdn),
            uuidAttribute: try read.attribute("uuidLDAPAttribute", defaults.uuid),
            userObjectClasses: classes, customUserSearchFilter: customFilter, searchScope: scope,
            pagination: try read.flag("pagination", true),
            batchSizeForSync: try number("batchSizeForSync", 1_000, 1...maxBatchSize),
            fullSyncPeriod: try period("fullSyncPeriod"), changedSyncPeriod: try period("changedSyncPeriod"),
            importEnabled: try read.flag("importEnabled", true), syncRegistrations: try read.flag("syncRegistrations", false),
            trustEmail: try read.flag("trustEmail", false))
    }

    /// Keycloak's admin console defaults for each vendor.
    public static func defaults(for vendor: Vendor) -> (username: String, rdn: String, uuid: String, objectClasses: String) {
        switch vendor {
        case .ad: ("cn", "cn", "objectGUID", "person, organizationalPerson, user")
        case .rhds: ("uid", "uid", "nsuniqueid", "inetOrgPerson, organizationalPerson")
        case .tivoli: ("uid", "uid", "uniqueidentifier", "inetOrgPerson, organizationalPerson")
        case .edirectory: ("uid", "uid", "guid", "inetOrgPerson, organizationalPerson")
        case .other: ("uid", "uid", "entryUUID", "inetOrgPerson, organizationalPerson")
        }
    }

    /// The filter that finds the person called `username` (escaped): every object class, the
    /// custom filter, and the username attribute.
    public func userFilter(username: String) -> String {
        "(&\(baseFilter)(\(usernameAttribute)=\(LDAPEscaping.filterValue(username))))"
    }

    /// The filter that finds every person of this provider (sync).
    public var allUsersFilter: String { "(&\(baseFilter))" }

    var baseFilter: String {
        userObjectClasses.map { "(objectClass=\($0))" }.joined() + (customUserSearchFilter ?? "")
    }

    /// Whether a change from `old` to `new` config must come with the bind credential again:
    /// the stored one is never sent to another host, port or bind DN than the one it was entered for.
    public static func credentialMustBeReentered(old: [String: [String]], new: [String: [String]]) -> Bool {
        func normalized(_ key: String, _ config: [String: [String]]) -> String {
            (config[key]?.first ?? "").trimmingSpaces.lowercased()
        }
        return normalized("connectionUrl", old) != normalized("connectionUrl", new)
            || normalized("bindDn", old) != normalized("bindDn", new)
            || normalized("startTls", old) == "true" && normalized("startTls", new) != "true"
    }

    /// An attribute description (RFC 4512 §2.5): a name or an OID, with options such as `;binary`.
    public static func isAttributeName(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 128 else { return false }
        let isLetter = { (byte: UInt8) in (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) }
        let isDigit = { (byte: UInt8) in (0x30...0x39).contains(byte) }
        if isDigit(first) {
            return text.utf8.allSatisfy { isDigit($0) || $0 == UInt8(ascii: ".") }
        }
        guard isLetter(first) else { return false }
        return text.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ";") }
    }

    /// Whether libldap reads `text` as an RFC 4514 DN.
    public static func isDN(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= maxValueLength && !text.utf8.contains(0) && keyport_ldap_is_dn(text) != 0
    }

    /// Keycloak's multivalued component config read a key at a time — the first value, trimmed,
    /// bounded — for providers and mappers alike. `owner` (a mapper's type) is named in what a
    /// missing key answers.
    struct ConfigReader {
        let config: [String: [String]]
        var owner: String? = nil

        func value(_ key: String) throws(Problem) -> String? {
            guard let text = config[key]?.first?.trimmingSpaces, !text.isEmpty else { return nil }
            guard text.utf8.count <= maxValueLength, !text.utf8.contains(0) else { throw Problem("\(key) is too long") }
            return text
        }
        func required(_ key: String) throws(Problem) -> String {
            guard let text = try value(key) else { throw missing(key) }
            return text
        }
        func flag(_ key: String, _ fallback: Bool) throws(Problem) -> Bool {
            guard let text = try value(key) else { return fallback }
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: throw Problem("\(key) is true or false")
            }
        }
        /// An attribute name (`fallback` when the key is absent).
        func attribute(_ key: String, _ fallback: String? = nil) throws(Problem) -> String {
            guard let name = try value(key) ?? fallback else { throw missing(key) }
            guard isAttributeName(name) else { throw Problem("\(key) is an LDAP attribute name") }
            return name
        }
        func missing(_ key: String) -> Problem { Problem("\(key) is required" + (owner.map { " for \($0)" } ?? "")) }
    }

    static func parenthesesBalance(_ filter: String) -> Bool {
        var depth = 0
        var escaped = false
        for byte in filter.utf8 {
            if escaped { escaped = false; continue }
            switch byte {
            case UInt8(ascii: "\\"): escaped = true
            case UInt8(ascii: "("): depth += 1
            case UInt8(ascii: ")"):
                depth -= 1
                if depth < 0 { return false }
            default: break
            }
        }
        return depth == 0 && !escaped
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
