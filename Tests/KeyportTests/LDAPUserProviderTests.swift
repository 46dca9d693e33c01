@testable import KeyportLDAP
import Testing

/// An LDAP provider reading people from a real slapd: by username and by id, a password checked by
/// a bind as the person, everyone page by page, the test Keycloak's console runs, and the names
/// that are not one person's.
@Suite("LDAP user provider (slapd)")
struct LDAPUserProviderTests {
    func provider(_ slapd: Slapd, _ changes: [String: [String]] = [:], credential: String = Slapd.adminPassword,
                  attributes: [String] = ["mail", "givenName", "sn"]) throws -> LDAPUserProvider {
        var keycloak = LDAPProviderConfigTests.keycloakConsole
        keycloak["connectionUrl"] = [slapd.url]
        keycloak["bindDn"] = [Slapd.adminDN]
        keycloak["usersDn"] = ["ou=people,\(Slapd.suffix)"]
        keycloak.merge(changes) { $1 }
        return LDAPUserProvider(config: try LDAPProviderConfig.parse(keycloak), bindCredential: credential, realm: "realm-\(UInt64.random(in: 0...UInt64.max))", attributes: attributes)
    }

    @Test func aPersonIsFoundByNameAndByIdAndSignsInWithTheDirectorysPassword() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        let provider = try provider(slapd)
        let alice = try #require(try await provider.find(username: "Alice"))
        #expect(alice.username == "alice" && alice.first("mail") == "alice@example.org" && alice.first("givenname") == "Alice")
        #expect(alice.externalId.count == 36 && alice.dn == "uid=alice,ou=people,\(Slapd.suffix)")
        #expect(try await provider.find(externalId: alice.externalId) == alice)
        #expect(try await provider.find(username: "nobody") == nil)
        #expect(try await provider.find(username: "*") == nil)
        #expect(try await provider.find(externalId: "*") == nil)
        try await provider.authenticate(alice, password: "alice-secret")
        await #expect(throws: DirectoryError.invalidCredentials) { try await provider.authenticate(alice, password: "bob-secret") }
        await #expect(throws: DirectoryError.invalidCredentials) { try await provider.authenticate(alice, password: "") }
    }

    @Test func everyoneArrivesPageByPageWithinItsLimit() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        let provider = try provider(slapd, ["batchSizeForSync": ["100"]])
        var pages: [Int] = []
        var names = Set<String>()
        try await provider.everyone(limit: 1_000) { people in
            pages.append(people.count)
            names.formUnion(people.map(\.username))
        }
        #expect(pages == [100, 100, 43])
        #expect(names.count == 243 && names.contains("o,brien*"))
        await #expect(throws: DirectoryError.tooManyEntries) { try await provider.everyone(limit: 150) { _ in } }
        // Without paging one search holds everyone, and the limit still holds.
        let unpaged = try self.provider(slapd, ["pagination": ["false"]])
        var count = 0
        try await unpaged.everyone(limit: 1_000) { count += $0.count }
        #expect(count == 243)
        await #expect(throws: DirectoryError.tooManyEntries) { try await unpaged.everyone(limit: 200) { _ in } }
    }

    @Test func aNameTwoEntriesAnswerToIsNobodysAndEntriesWithoutAnIdAreLeftOut() async throws {
        var ldif = DirectoryClientTests.people
        ldif += """
        dn: ou=staff,ou=people,\(Slapd.suffix)
        objectClass: organizationalUnit
        ou: staff


        """
        ldif += Slapd.person("bob", password: "other-bob", rdn: "uid=bob,ou=staff")
        let slapd = try Slapd(ldif: ldif)
        let subtree = try provider(slapd, ["searchScope": ["2"]])
        await #expect(throws: DirectoryError.ambiguous) { _ = try await subtree.find(username: "bob") }
        // One level below usersDn there is one bob.
        #expect(try await provider(slapd).find(username: "bob")?.dn == "uid=bob,ou=people,\(Slapd.suffix)")
        // A uuid attribute the entries do not have: nobody can be imported.
        let noId = try provider(slapd, ["uuidLDAPAttribute": ["employeeNumber"]])
        #expect(try await noId.find(username: "alice") == nil)
    }

    @Test func theConnectionTestSaysWhatIsWrong() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        try await provider(slapd).test(authenticate: true)
        let wrong = try provider(slapd, credential: "not-it")
        await #expect(throws: DirectoryError.self) { try await wrong.test(authenticate: true) }
        try await wrong.test(authenticate: false)
        let nowhere = try provider(slapd, ["connectionUrl": ["ldap://127.0.0.1:\(Slapd.freePort())"]])
        do {
            try await nowhere.test(authenticate: false)
            Issue.record("a directory that is not there passed the test")
        } catch {
            guard case .unavailable = error else { Issue.record("\(error)"); return }
        }
    }

    @Test func activeDirectoryGUIDsReadAsTheirTextAndBack() {
        let bytes: [UInt8] = [0x5c, 0x95, 0x52, 0x3a, 0xd0, 0x7e, 0x37, 0x42, 0xa3, 0x6e, 0x7a, 0x34, 0x10, 0x84, 0x7d, 0x9b]
        #expect(LDAPIdentifiers.text(bytes, attribute: "objectGUID") == "3a52955c-7ed0-4237-a36e-7a3410847d9b")
        #expect(LDAPIdentifiers.filterValue(externalId: "3a52955c-7ed0-4237-a36e-7a3410847d9b", attribute: "objectGUID")
                == "\\5c\\95\\52\\3a\\d0\\7e\\37\\42\\a3\\6e\\7a\\34\\10\\84\\7d\\9b")
        #expect(LDAPIdentifiers.text(Array(bytes.prefix(15)), attribute: "objectGUID") == nil)
        #expect(LDAPIdentifiers.filterValue(externalId: "not-a-guid", attribute: "objectGUID") == nil)
        #expect(LDAPIdentifiers.filterValue(externalId: "zz52955c-7ed0-4237-a36e-7a3410847d9b", attribute: "objectGUID") == nil)
        #expect(LDAPIdentifiers.filterValue(externalId: "a*b", attribute: "entryUUID") == "a\\2ab")
        #expect(LDAPIdentifiers.text([0xff, 0xfe], attribute: "entryUUID") == nil, "an id that is not text is not taken")
        // eDirectory's binary guid reads in byte order.
        #expect(LDAPIdentifiers.text(bytes, attribute: "guid") == "5c95523a-d07e-3742-a36e-7a3410847d9b")
        #expect(LDAPIdentifiers.filterValue(externalId: "5c95523a-d07e-3742-a36e-7a3410847d9b", attribute: "guid")
                == "\\5c\\95\\52\\3a\\d0\\7e\\37\\42\\a3\\6e\\7a\\34\\10\\84\\7d\\9b")
    }
}
