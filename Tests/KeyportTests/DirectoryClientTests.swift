import Foundation
@testable import KeyportLDAP
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The directory client against a real slapd: binds, escaped filters and DNs, paged searches,
/// bounds on answers, TLS verified against a given CA with the host name checked, and one slow
/// directory or realm unable to take every thread.
@Suite("Directory client (slapd)")
struct DirectoryClientTests {
    static let people: String = {
        var ldif = Slapd.person("alice", password: "alice-secret", mail: "alice@example.org", given: "Alice", family: "Liddell")
        ldif += Slapd.person("bob", password: "bob-secret")
        // A uid with characters that mean something in a DN and in a filter.
        ldif += Slapd.person("o,brien*", password: "obrien-secret", rdn: "uid=o\\,brien*")
        for i in 0..<240 { ldif += Slapd.person(String(format: "member%03d", i), password: "member-secret-\(i)") }
        return ldif
    }()

    /// A directory of its own for each test (a shared one would outlive the test process: nothing
    /// ends a static's child).
    func slapd() throws -> Slapd { try Slapd(ldif: Self.people) }

    func directory(_ slapd: Slapd, realm: String = uniqueRealm(), threads: DirectoryThreads = .shared, maxConnections: Int = 4,
                   settings: DirectorySettings? = nil) -> Directory {
        Directory(settings: settings ?? DirectorySettings(url: slapd.url), bindDN: Slapd.adminDN, bindCredential: Slapd.adminPassword,
                  realm: realm, maxConnections: maxConnections, threads: threads)
    }

    @Test func aPersonIsCheckedByABindAndAnEmptyPasswordNeverReachesTheDirectory() async throws {
        let slapd = try slapd()
        let directory = directory(slapd)
        try await directory.authenticate(dn: "uid=alice,ou=people,\(Slapd.suffix)", password: "alice-secret")
        await #expect(throws: DirectoryError.invalidCredentials) {
            try await directory.authenticate(dn: "uid=alice,ou=people,\(Slapd.suffix)", password: "wrong")
        }
        // slapd, like many servers, answers an unauthenticated bind (a name, no password) with success.
        await #expect(throws: DirectoryError.invalidCredentials) {
            try await directory.authenticate(dn: "uid=alice,ou=people,\(Slapd.suffix)", password: "")
        }
        // Refused before any connection: a directory that is not there is never asked.
        let nowhere = Directory(settings: DirectorySettings(url: "ldap://127.0.0.1:\(Slapd.freePort())"), bindDN: nil, bindCredential: nil, realm: uniqueRealm())
        await #expect(throws: DirectoryError.invalidCredentials) {
            try await nowhere.authenticate(dn: "uid=alice,ou=people,\(Slapd.suffix)", password: "")
        }
        await #expect(throws: DirectoryError.self) {
            try await nowhere.authenticate(dn: "uid=alice,ou=people,\(Slapd.suffix)", password: "alice-secret")
        }
    }

    @Test func filtersAndDNsAreEscaped() async throws {
        let slapd = try slapd()
        let directory = directory(slapd)
        let found = try await directory.withSession { session in
            try await session.search(base: "ou=people,\(Slapd.suffix)", scope: .oneLevel,
                                     filter: "(&(objectClass=inetOrgPerson)(uid=\(LDAPEscaping.filterValue("alice"))))",
                                     attributes: ["uid", "mail", "givenName", "sn", "entryUUID"]).entries
        }
        #expect(found.count == 1)
        #expect(found.first?.first("mail") == "alice@example.org")
        #expect(found.first?.first("givenname") == "Alice", "attribute names are read case-insensitively")
        #expect(found.first?.first("entryUUID")?.count == 36, "slapadd gave every entry a UUID")

        // An injection finds nobody once escaped; unescaped it would have found everyone.
        let injected = "*)(uid=*"
        let nobody = try await directory.withSession { session in
            try await session.search(base: "ou=people,\(Slapd.suffix)", scope: .oneLevel,
                                     filter: "(uid=\(LDAPEscaping.filterValue(injected)))", attributes: ["uid"]).entries
        }
        #expect(nobody.isEmpty)
        #expect(LDAPEscaping.filterValue(injected) == "\\2a\\29\\28uid=\\2a")

        // A uid with a comma and a star: found by its exact value, and by a DN built from it.
        let odd = try await directory.withSession { session in
            try await session.search(base: "ou=people,\(Slapd.suffix)", scope: .oneLevel,
                                     filter: "(uid=\(LDAPEscaping.filterValue("o,brien*")))", attributes: ["uid"]).entries
        }
        #expect(odd.count == 1 && odd.first?.dn.hasSuffix(",ou=people,\(Slapd.suffix)") == true)
        try await directory.authenticate(dn: "uid=\(LDAPEscaping.dnValue("o,brien*")),ou=people,\(Slapd.suffix)", password: "obrien-secret")
        #expect(LDAPEscaping.dnValue(" #a+b=c;<d>\"e\\ ") == "\\ #a\\+b\\=c\\;\\<d\\>\\\"e\\\\\\ ")
        #expect(LDAPEscaping.dnValue("#lead") == "\\#lead")
        #expect(LDAPEscaping.filterValue("nul\u{0}") == "nul\\00")
        #expect(LDAPEscaping.filterValue("Zoë") == "Zoë", "UTF-8 passes as it is")
    }

    /// A provider's filters, as its config writes them, against the real directory.
    @Test func aProvidersFiltersFindItsPeopleAndNobodyElse() async throws {
        let slapd = try slapd()
        var keycloak = LDAPProviderConfigTests.keycloakConsole
        keycloak["connectionUrl"] = [slapd.url]
        keycloak["bindDn"] = [Slapd.adminDN]
        keycloak["usersDn"] = ["ou=people,\(Slapd.suffix)"]
        keycloak["customUserSearchFilter"] = ["(!(uid=member1*))"]
        let config = try LDAPProviderConfig.parse(keycloak)
        let directory = Directory(settings: config.directory, bindDN: config.bindDN, bindCredential: Slapd.adminPassword, realm: uniqueRealm())
        func find(_ filter: String) async throws -> [DirectoryEntry] {
            try await directory.withSession { session in
                var cookie: [UInt8] = []
                var found: [DirectoryEntry] = []
                repeat {
                    let page = try await session.search(base: config.usersDN, scope: config.searchScope, filter: filter,
                                                        attributes: [config.usernameAttribute, config.uuidAttribute],
                                                        pageSize: config.batchSizeForSync, cookie: cookie)
                    found += page.entries
                    cookie = page.cookie
                } while !cookie.isEmpty
                return found
            }
        }
        #expect(try await find(config.userFilter(username: "alice")).map { $0.first("uid") } == ["alice"])
        #expect(try await find(config.userFilter(username: "ALICE")).count == 1, "uid matches without regard to case")
        #expect(try await find(config.userFilter(username: "*")).isEmpty)
        #expect(try await find(config.userFilter(username: "member150")).isEmpty, "the custom filter leaves it out")
        // 243 people less the 100 whose uid starts member1.
        #expect(try await find(config.allUsersFilter).count == 143)
    }

    @Test func largeDirectoriesArePagedAndAnswersAreBounded() async throws {
        let slapd = try slapd()
        let directory = directory(slapd)
        let filter = "(objectClass=inetOrgPerson)"
        let (pages, total) = try await directory.withSession { session in
            var cookie: [UInt8] = []
            var pages = 0, total = 0
            repeat {
                let page = try await session.search(base: "ou=people,\(Slapd.suffix)", scope: .subtree, filter: filter,
                                                    attributes: ["uid"], pageSize: 100, cookie: cookie)
                pages += 1
                total += page.entries.count
                cookie = page.cookie
            } while !cookie.isEmpty && pages < 100
            return (pages, total)
        }
        #expect(total == 243)
        #expect(pages == 3)
        // Without paging, more entries than the limit is an error, never a partial answer taken as whole.
        await #expect(throws: DirectoryError.tooManyEntries) {
            try await directory.withSession { session in
                try await session.search(base: "ou=people,\(Slapd.suffix)", scope: .subtree, filter: filter, attributes: ["uid"],
                                         limits: SearchLimits(maxEntries: 50, maxBytes: 1 << 20)).entries.count
            }
        }
        await #expect(throws: DirectoryError.tooLarge) {
            try await directory.withSession { session in
                try await session.search(base: "ou=people,\(Slapd.suffix)", scope: .subtree, filter: filter, attributes: ["uid", "cn", "sn"],
                                         pageSize: 100, limits: SearchLimits(maxEntries: 100, maxBytes: 2_000)).entries.count
            }
        }
        // A base that does not exist is an empty answer.
        let none = try await directory.withSession { session in
            try await session.search(base: "ou=nobody,\(Slapd.suffix)", scope: .subtree, filter: filter, attributes: ["uid"]).entries
        }
        #expect(none.isEmpty)
    }

    @Test func aWrongServiceCredentialIsNamedAndNeverEchoed() async throws {
        let slapd = try slapd()
        let directory = Directory(settings: DirectorySettings(url: slapd.url), bindDN: Slapd.adminDN, bindCredential: "not-the-secret", realm: uniqueRealm())
        do {
            _ = try await directory.withSession { session in
                try await session.search(base: Slapd.suffix, scope: .base, filter: "(objectClass=*)", attributes: ["dc"]).entries
            }
            Issue.record("a wrong bind credential searched")
        } catch let error as DirectoryError {
            guard case .refused(49, let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("bind DN and credential"))
            #expect(!message.contains("not-the-secret"))
        }
    }

    @Test func tlsIsVerifiedAgainstTheGivenCAAndTheHostName() async throws {
        let slapd = try slapd()
        func search(_ settings: DirectorySettings) async throws -> Int {
            try await directory(slapd, settings: settings).withSession { session in
                try await session.search(base: Slapd.suffix, scope: .base, filter: "(objectClass=*)", attributes: ["dc"]).entries.count
            }
        }
        #expect(try await search(DirectorySettings(url: slapd.tlsURL, caFile: slapd.caFile)) == 1)
        #expect(try await search(DirectorySettings(url: slapd.url, startTLS: true, caFile: slapd.caFile)) == 1)
        // Not signed by a CA we trust: refused, over ldaps:// and over StartTLS alike.
        for settings in [DirectorySettings(url: slapd.tlsURL, caFile: slapd.otherCAFile), DirectorySettings(url: slapd.tlsURL),
                         DirectorySettings(url: slapd.url, startTLS: true, caFile: slapd.otherCAFile)] {
            await #expect(throws: DirectoryError.self, "\(settings)") { try await search(settings) }
        }
        // The same server at an address its certificate does not name: refused.
        await #expect(throws: DirectoryError.self) {
            try await search(DirectorySettings(url: "ldaps://127.0.0.2:\(slapd.tlsPort)", caFile: slapd.caFile))
        }
    }

    @Test func settingsThatAreNotADirectorysAreRefused() {
        for url in ["http://127.0.0.1", "ldap://", "ldap://host/dc=example?uid", "ldap://host:0", "ldap://host:70000",
                    "ldap://a ldap://b ldap://c ldap://d ldap://e", "ldapi:///var/run/slapd", "ldap://user@host", ""] {
            #expect(DirectorySettings.problem(url: url) != nil, "\(url)")
        }
        for url in ["ldap://127.0.0.1", "ldaps://ldap.example.org:636", "LDAP://DC1.corp.example ldap://dc2.corp.example:389", "ldap://[::1]:389/"] {
            #expect(DirectorySettings.problem(url: url) == nil, "\(url)")
        }
    }

    @Test func aDirectoryThatHangsHoldsOnlyItsOwnSlotsAndItsRealmsThreads() async throws {
        let slapd = try slapd()
        let listener = HangingListener()
        defer { listener.close() }
        let threads = DirectoryThreads(threads: 4, perRealm: 2)
        // Deadlines far beyond the test: the hanging calls end when the listener closes.
        let hanging = Directory(settings: DirectorySettings(url: "ldap://127.0.0.1:\(listener.port)", connectTimeoutMilliseconds: 60_000,
                                                           readTimeoutMilliseconds: 60_000),
                                bindDN: Slapd.adminDN, bindCredential: "x", realm: "slow", maxConnections: 1, threads: threads)
        let first = Task { try await hanging.authenticate(dn: "uid=a,\(Slapd.suffix)", password: "p") }
        while hanging.state.withLock({ $0.busy }) < 1 { await Task.yield() }
        // Up to eight more wait their turn on this directory; the next is told busy at once.
        let waiting = (0..<8).map { _ in Task { try await hanging.authenticate(dn: "uid=a,\(Slapd.suffix)", password: "p") } }
        while hanging.state.withLock({ $0.waiting.count }) < 8 { await Task.yield() }
        await #expect(throws: DirectoryError.busy) { try await hanging.authenticate(dn: "uid=a,\(Slapd.suffix)", password: "p") }

        // Another directory of the same realm gets the realm's second thread, not a third.
        let sibling = Directory(settings: DirectorySettings(url: "ldap://127.0.0.1:\(listener.port)", connectTimeoutMilliseconds: 60_000,
                                                           readTimeoutMilliseconds: 60_000),
                                bindDN: nil, bindCredential: nil, realm: "slow", maxConnections: 4, threads: threads)
        let second = Task { try await sibling.authenticate(dn: "uid=b,\(Slapd.suffix)", password: "p") }
        while threads.held.withLock({ $0.perRealm["slow"] ?? 0 }) < 2 { await Task.yield() }
        await #expect(throws: DirectoryError.busy) { try await sibling.authenticate(dn: "uid=c,\(Slapd.suffix)", password: "p") }

        // Another realm's directory answers at once.
        try await directory(slapd, realm: "other", threads: threads)
            .authenticate(dn: "uid=bob,ou=people,\(Slapd.suffix)", password: "bob-secret")

        // A directory shut down (its provider changed or removed) tells everyone waiting at once.
        hanging.shutdown()
        for task in waiting {
            await #expect(throws: DirectoryError.busy) { try await task.value }
        }
        listener.close()
        for task in [first, second] {
            await #expect(throws: DirectoryError.self) { try await task.value }
        }
        #expect(threads.held.withLock { $0.total } == 0)
        #expect(hanging.state.withLock { $0.busy + $0.waiting.count } == 0)
    }

    /// Names nobody here has yet (anyone can send thousands) hold at most half the waiting room of a
    /// provider, running or waiting: past that they are told busy at once, while a person already
    /// imported still gets in line.
    @Test func namesNobodyHasTakeAtMostHalfTheWaitingRoom() async throws {
        let listener = HangingListener()
        defer { listener.close() }
        var config = LDAPProviderConfigTests.keycloakConsole
        config["connectionUrl"] = ["ldap://127.0.0.1:\(listener.port)"]
        config["connectionTimeout"] = ["60000"]
        config["readTimeout"] = ["60000"]
        let provider = LDAPUserProvider(config: try LDAPProviderConfig.parse(config), bindCredential: "x", realm: uniqueRealm(),
                                        threads: DirectoryThreads(threads: 64, perRealm: 64))
        let directory = provider.directory
        let share = directory.maxWaiting / 2
        let guesses = (0..<share).map { n in Task { try await provider.find(newcomer: "guess\(n)") } }
        while directory.state.withLock({ $0.newcomers }) < share || directory.state.withLock({ $0.busy }) < directory.maxConnections { await Task.yield() }
        await #expect(throws: DirectoryError.busy) { try await provider.find(newcomer: "one-more") }
        // Someone already imported is not refused: in line behind the guesses, with room to spare.
        let waitingBefore = directory.state.withLock { $0.waiting.count }
        let known = Task { try await provider.find(externalId: "0a1b2c3d-0000-4000-8000-000000000001") }
        while directory.state.withLock({ $0.waiting.count }) == waitingBefore { await Task.yield() }
        #expect(directory.state.withLock { $0.waiting.count } <= directory.maxWaiting / 2 + 1 - directory.maxConnections)

        provider.shutdown()
        listener.close()
        for task in guesses { await #expect(throws: DirectoryError.self) { try await task.value } }
        await #expect(throws: DirectoryError.self) { try await known.value }
        #expect(directory.state.withLock { $0.newcomers + $0.busy } == 0)
    }
}

/// A realm name no other test uses: tests run at once, and the shared threads' budget is per realm.
func uniqueRealm() -> String { "realm-\(UInt64.random(in: 0...UInt64.max))" }
