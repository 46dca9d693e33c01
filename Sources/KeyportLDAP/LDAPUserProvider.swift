/// A person as one LDAP provider reads them: the entry's DN, the username and the stable id
/// (`uuidLDAPAttribute`, in text), and the other attributes asked for.
public struct LDAPPerson: Sendable, Equatable {
    public let dn: String
    public let username: String
    /// The value of `uuidLDAPAttribute`: what links an imported user to its entry through renames
    /// and moves (Keycloak's `LDAP_ID`). Active Directory's binary `objectGUID` in its usual text form.
    public let externalId: String
    /// The attributes asked for, by lowercased name, text values only.
    public let values: [String: [String]]

    public func first(_ attribute: String) -> String? { values[attribute.lowercased()]?.first }
}

/// One realm's LDAP user storage provider at work: finds a person by username or by id, checks a
/// password with a bind as that person, and reads everyone page by page for a sync. The realm and
/// the provider decide nothing here; this reads the directory and says what it found.
public final class LDAPUserProvider: Sendable {
    public let config: LDAPProviderConfig
    let directory: Directory
    /// The attributes every search asks for besides the provider's own.
    let extraAttributes: [String]

    public init(config: LDAPProviderConfig, bindCredential: String?, realm: String, attributes: [String] = [],
                caFile: String? = nil, threads: DirectoryThreads = .shared) {
        self.config = config
        var settings = config.directory
        settings.caFile = caFile
        directory = Directory(settings: settings, bindDN: config.bindDN, bindCredential: bindCredential, realm: realm, threads: threads)
        extraAttributes = attributes.filter(LDAPProviderConfig.isAttributeName)
    }

    public func shutdown() { directory.shutdown() }

    var attributes: [String] {
        var seen = Set<String>()
        return ([config.usernameAttribute, config.uuidAttribute, config.rdnAttribute] + extraAttributes)
            .filter { seen.insert($0.lowercased()).inserted }
    }

    /// The one person called `username`, or nil. Two entries with the name is an error (Keycloak's
    /// duplicate), never a guess.
    public func find(username: String) async throws(DirectoryError) -> LDAPPerson? {
        guard !username.isEmpty, username.utf8.count <= 255 else { return nil }
        return try await one(filter: config.userFilter(username: username))
    }

    /// `find(username:)` for a name nobody here has yet, within the newcomers' share of the
    /// connections (`Directory.reserveNewcomer`); `busy` past it.
    public func find(newcomer username: String) async throws(DirectoryError) -> LDAPPerson? {
        guard directory.reserveNewcomer() else { throw .busy }
        defer { directory.releaseNewcomer() }
        return try await find(username: username)
    }

    /// The person whose `uuidLDAPAttribute` is `externalId`, or nil.
    public func find(externalId: String) async throws(DirectoryError) -> LDAPPerson? {
        guard let value = LDAPIdentifiers.filterValue(externalId: externalId, attribute: config.uuidAttribute) else { return nil }
        return try await one(filter: "(&\(config.baseFilter)(\(config.uuidAttribute)=\(value)))")
    }

    /// Whether `password` is `person`'s, by a bind as them. An empty password never reaches the
    /// directory.
    public func authenticate(_ person: LDAPPerson, password: String) async throws(DirectoryError) {
        try await directory.authenticate(dn: person.dn, password: password)
    }

    /// Everyone the provider's filter finds (or `filter`, a sync's narrower one), `batchSizeForSync`
    /// at a time (paged when `pagination`), handed to `page` as each arrives; at most `limit` in all.
    public func everyone(limit: Int, filter: String? = nil, page: (_ people: [LDAPPerson]) async throws -> Void) async throws {
        let filter = filter ?? config.allUsersFilter
        let config = self.config, attributes = self.attributes
        try await directory.withSession { session in
            var cookie: [UInt8] = []
            var seen = 0
            // Pages that bring nothing yet promise more are a directory going round in circles.
            var pages = 0
            let maxPages = limit / max(config.batchSizeForSync, 1) + 2
            repeat {
                pages += 1
                guard pages <= maxPages else { throw DirectoryError.tooManyEntries }
                let size = min(config.batchSizeForSync, max(limit - seen, 1))
                let answer = try await session.search(base: config.usersDN, scope: config.searchScope, filter: filter,
                                                      attributes: attributes, pageSize: config.pagination ? size : nil, cookie: cookie,
                                                      limits: SearchLimits(maxEntries: config.pagination ? size : min(limit, LDAPProviderConfig.maxBatchSize),
                                                                           maxBytes: 64 << 20))
                let people = answer.entries.compactMap(self.person)
                seen += answer.entries.count
                guard seen <= limit else { throw DirectoryError.tooManyEntries }
                try await page(people)
                cookie = answer.cookie
            } while !cookie.isEmpty
        }
    }

    /// Whether the directory answers and, when asked, the provider's bind DN and credential work
    /// (Keycloak's `testLDAPConnection`: `testConnection` and `testAuthentication`): a session
    /// (connect, StartTLS, bind) that reads the root DSE, which every directory shows.
    public func test(authenticate: Bool) async throws(DirectoryError) {
        do {
            _ = try await directory.withSession { session in
                try await session.search(base: "", scope: .base, filter: "(objectClass=*)", attributes: ["namingContexts"],
                                         limits: SearchLimits(maxEntries: 1, maxBytes: 1 << 16)).entries.count
            }
        } catch let error as DirectoryError {
            // Without authentication, any answer at all means the directory is there.
            if !authenticate, case .refused = error { return }
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
    }

    func one(filter: String) async throws(DirectoryError) -> LDAPPerson? {
        let config = self.config, attributes = self.attributes
        let entries: [DirectoryEntry]
        do {
            entries = try await directory.withSession { session in
                try await session.search(base: config.usersDN, scope: config.searchScope, filter: filter, attributes: attributes,
                                         limits: SearchLimits(maxEntries: 2, maxBytes: 4 << 20)).entries
            }
        } catch let error as DirectoryError {
            // More than the two asked for: the name is not one person's.
            if error == .tooManyEntries { throw .ambiguous }
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
        guard entries.count <= 1 else { throw .ambiguous }
        return entries.first.flatMap(person)
    }

    /// The entry as a person, or nil when it lacks a username or an id (it cannot be imported).
    func person(_ entry: DirectoryEntry) -> LDAPPerson? {
        guard let username = entry.first(config.usernameAttribute), !username.isEmpty,
              let raw = entry.attributes[config.uuidAttribute.lowercased()]?.first,
              let externalId = LDAPIdentifiers.text(raw, attribute: config.uuidAttribute)
        else { return nil }
        var values: [String: [String]] = [:]
        for name in extraAttributes {
            let texts = entry.strings(name)
            if !texts.isEmpty { values[name.lowercased()] = texts }
        }
        return LDAPPerson(dn: entry.dn, username: username, externalId: externalId, values: values)
    }
}

/// The stable ids directories give their entries, as text and back into a filter.
public enum LDAPIdentifiers {
    /// Active Directory's `objectGUID` is 16 bytes whose first three fields are little-endian;
    /// its text form (what AD's tools and Keycloak show) reads them in the usual order.
    /// eDirectory's `guid` is 16 bytes read in order.
    public static func text(_ raw: [UInt8], attribute: String) -> String? {
        if let order = byteOrder(attribute) {
            guard raw.count == 16 else { return nil }
            let hex = order.map { LDAPEscaping.hexText(raw[$0]) }
            return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
        }
        guard let text = String(validating: raw, as: UTF8.self), !text.isEmpty, text.utf8.count <= 255 else { return nil }
        return text
    }

    /// The filter value that finds `externalId` in `attribute`: AD's GUID as its 16 escaped bytes,
    /// anything else escaped as text.
    public static func filterValue(externalId: String, attribute: String) -> String? {
        guard !externalId.isEmpty, externalId.utf8.count <= 255 else { return nil }
        guard let order = byteOrder(attribute) else { return LDAPEscaping.filterValue(externalId) }
        let digits = externalId.filter { $0 != "-" }
        guard digits.count == 32 else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return order.map { "\\" + LDAPEscaping.hexText(bytes[$0]) }.joined()
    }

    /// For the binary 16-byte ids, the order their bytes are written in text; nil for text ids.
    static func byteOrder(_ attribute: String) -> [Int]? {
        switch attribute.lowercased() {
        case "objectguid": [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        case "guid": Array(0..<16)
        default: nil
        }
    }
}
