import KeyportModel
import KeyportStore
import Testing

/// The contract every `IdentityStore` backend must keep. Each test runs once per backend in
/// `StoreBackend.allCases`; a new backend is done when this suite passes against it.
@Suite("IdentityStore conformance")
struct IdentityStoreConformanceTests {
    // MARK: Realms

    @Test(arguments: StoreBackend.allCases)
    func realmsAreCreatedReadUpdatedAndDeleted(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        var realm = try await f.realm("acme")
        #expect(try await store.realm(named: "acme") == realm)
        #expect(try await store.realm(id: realm.id) == realm)

        realm.dockerV2Enabled = true
        realm.accessTokenLifespan = 120
        realm.passwordHashing = Argon2Parameters(memoryKiB: 19456, iterations: 2, parallelism: 1)
        realm.attributes = ["frontendUrl": "https://auth.example.com"]
        try await store.updateRealm(id: realm.id) { [realm] in $0 = realm }
        #expect(try await store.realm(id: realm.id) == realm)

        try await store.deleteRealm(id: realm.id)
        #expect(try await store.realm(id: realm.id) == nil)
        await #expect(throws: StoreError.notFound(.realm)) { try await store.deleteRealm(id: realm.id) }
        await #expect(throws: StoreError.notFound(.realm)) { try await store.updateRealm(id: realm.id) { [realm] in $0 = realm } }
    }

    @Test(arguments: StoreBackend.allCases)
    func realmNamesAreUnique(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        try await f.realm("acme")
        await #expect(throws: StoreError.conflict(.realmName)) { try await f.realm("acme") }
        #expect(try await store.realms().map(\.name) == ["acme"])
    }

    @Test(arguments: StoreBackend.allCases)
    func aFailedRealmSeedWritesNothing(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let env = testEnvironment()
        let realm = Realm(id: env.newID(), name: "half", createdAt: env.now())
        // Two realm roles with one name: the second insert fails, so the whole seed must roll back.
        let roles = [Role(id: env.newID(), realmId: realm.id, name: "dup"), Role(id: env.newID(), realmId: realm.id, name: "dup")]
        let client = Client(id: env.newID(), realmId: realm.id, clientId: "app", createdAt: env.now())
        await #expect(throws: StoreError.self) { try await store.createRealm(RealmSeed(realm: realm, clients: [client], roles: roles)) }
        #expect(try await store.realm(named: "half") == nil)
        #expect(try await store.realms().isEmpty)
    }

    // MARK: Users

    @Test(arguments: StoreBackend.allCases)
    func usernamesAreStoredLowerCasedAndUniquePerRealm(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let acme = try await f.realm("acme")
        let other = try await f.realm("other")
        let alice = try await f.user("Alice", in: acme, email: "Alice@Example.COM")
        #expect(alice.username == "alice")
        #expect(try await store.user(username: "ALICE", realmId: acme.id)?.id == alice.id)
        #expect(try await store.user(email: "alice@example.com", realmId: acme.id).map(\.id) == [alice.id])
        await #expect(throws: StoreError.conflict(.username)) { try await f.user("aLiCe", in: acme) }
        // The same name in another realm is another user.
        try await f.user("alice", in: other)
        #expect(try await store.countUsers(realmId: acme.id, matching: UserQuery()) == 1)
    }

    @Test(arguments: StoreBackend.allCases)
    func emailsAreUniqueUnlessTheRealmAllowsDuplicates(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let strict = try await f.realm("strict")
        var relaxed = try await f.realm("relaxed", duplicateEmails: true)
        try await f.user("a", in: strict, email: "x@example.com")
        await #expect(throws: StoreError.conflict(.email)) { try await f.user("b", in: strict, email: "X@example.com") }
        var c = try await f.user("c", in: strict, email: "c@example.com")
        c.email = "x@example.com"
        await #expect(throws: StoreError.conflict(.email)) { try await store.updateUser(id: c.id, realmId: c.realmId) { [c] in $0 = c } }

        try await f.user("a", in: relaxed, email: "x@example.com")
        try await f.user("b", in: relaxed, email: "x@example.com")
        #expect(try await store.user(email: "x@example.com", realmId: relaxed.id).count == 2)
        // Disallowing duplicates while they exist would leave the rule broken.
        relaxed.duplicateEmailsAllowed = false
        await #expect(throws: StoreError.self) { try await store.updateRealm(id: relaxed.id) { [relaxed] in $0 = relaxed } }
        #expect(try await store.realm(id: relaxed.id)?.duplicateEmailsAllowed == true)
    }

    @Test(arguments: StoreBackend.allCases)
    func usersAreSearchedCountedAndPaged(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        for name in ["anna", "bob", "annabel", "carl", "ann_x"] { try await f.user(name, in: realm, email: "\(name)@acme.io") }
        var u = try #require(try await store.user(username: "carl", realmId: realm.id))
        u.firstName = "Carl"
        u.lastName = "Annerson"
        try await store.updateUser(id: u.id, realmId: u.realmId) { [u] in $0 = u }

        #expect(try await store.users(realmId: realm.id, matching: UserQuery(username: "ann"), page: Page()).map(\.username) == ["ann_x", "anna", "annabel"])
        #expect(try await store.users(realmId: realm.id, matching: UserQuery(username: "anna", exact: true), page: Page()).map(\.username) == ["anna"])
        #expect(try await store.users(realmId: realm.id, matching: UserQuery(search: "anner"), page: Page()).map(\.username) == ["carl"])
        // `_` and `%` are literal characters in a search, not wildcards.
        #expect(try await store.users(realmId: realm.id, matching: UserQuery(search: "n_x"), page: Page()).map(\.username) == ["ann_x"])
        #expect(try await store.users(realmId: realm.id, matching: UserQuery(search: "%"), page: Page()).isEmpty)
        #expect(try await store.users(realmId: realm.id, matching: UserQuery(), page: Page(first: 1, max: 2)).map(\.username) == ["anna", "annabel"])
        #expect(try await store.countUsers(realmId: realm.id, matching: UserQuery(search: "ann")) == 4)
    }

    @Test(arguments: StoreBackend.allCases)
    func userFieldsRoundTrip(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        var user = try await f.user("dora", in: realm)
        user.attributes = ["team": ["a", "b"], "ünïcode": ["✓"]]
        user.requiredActions = ["UPDATE_PASSWORD"]
        user.enabled = false
        user.emailVerified = true
        try await store.updateUser(id: user.id, realmId: user.realmId) { [user] in $0 = user }
        #expect(try await store.user(id: user.id, realmId: realm.id) == user)
        // A user is only found in its own realm.
        let other = try await f.realm("other")
        #expect(try await store.user(id: user.id, realmId: other.id) == nil)
        await #expect(throws: StoreError.notFound(.user)) { try await store.deleteUser(id: user.id, realmId: other.id) }
    }

    // MARK: Credentials

    @Test(arguments: StoreBackend.allCases)
    func settingAPasswordReplacesTheOldOneAndCanRevokeTokens(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let user = try await f.user("erin", in: realm, password: "$argon2id$old")
        clock.advance(seconds: 60)
        let new = Credential(id: f.env.newID(), userId: user.id, secret: Sensitive("$argon2id$new"), createdAt: clock.now)
        try await store.setCredential(new, revokeTokensBefore: clock.now)
        let credentials = try await store.credentials(userId: user.id)
        #expect(credentials.map(\.secret.revealed) == ["$argon2id$new"])
        #expect(try await store.user(id: user.id, realmId: realm.id)?.notBefore == clock.now)

        // Compare-and-swap: a rehash racing a password change loses.
        #expect(try await store.replaceCredentialSecret(id: new.id, expected: Sensitive("$argon2id$old"), with: Sensitive("$argon2id$rehash")) == false)
        #expect(try await store.replaceCredentialSecret(id: new.id, expected: Sensitive("$argon2id$new"), with: Sensitive("$argon2id$rehash")) == true)
        #expect(try await store.credentials(userId: user.id).first?.secret.revealed == "$argon2id$rehash")

        await #expect(throws: StoreError.notFound(.user)) {
            try await store.setCredential(Credential(id: f.env.newID(), userId: "nobody", secret: Sensitive("x"), createdAt: clock.now), revokeTokensBefore: nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aLoginReadsTheUserAndItsPasswordInOneStatement(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let other = try await f.realm("other")
        let erin = try await f.user("Erin", in: realm, password: "$argon2id$erin")
        let noPassword = try await f.user("nopw", in: realm)
        _ = try await f.user("erin", in: other, password: "$argon2id$other")

        let found = try #require(try await store.userWithPassword(username: "ERIN", realmId: realm.id))
        #expect(found.user == (try await store.user(id: erin.id, realmId: realm.id)))
        #expect(found.password == (try await store.credentials(userId: erin.id)).first)
        #expect(found.password?.secret.revealed == "$argon2id$erin")
        let bare = try #require(try await store.userWithPassword(username: "nopw", realmId: realm.id))
        #expect(bare.user.id == noPassword.id && bare.password == nil)
        #expect(try await store.userWithPassword(username: "mallory", realmId: realm.id) == nil)
        #expect(try await store.userWithPassword(username: "erin", realmId: "no-such-realm") == nil)

        // A new password is what the next read finds.
        try await store.setCredential(Credential(id: f.env.newID(), userId: erin.id, secret: Sensitive("$argon2id$new"), createdAt: clock.now),
                                      revokeTokensBefore: nil)
        #expect(try await store.userWithPassword(username: "erin", realmId: realm.id)?.password?.secret.revealed == "$argon2id$new")
    }

    // MARK: Clients and roles

    @Test(arguments: StoreBackend.allCases)
    func clientIdsAndRoleNamesAreUniqueWhereTheyShouldBe(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let acme = try await f.realm("acme")
        let other = try await f.realm("other")
        let registry = try await f.client("registry", in: acme, protocol: .dockerV2)
        let app = try await f.client("app", in: acme)
        await #expect(throws: StoreError.conflict(.clientId)) { try await f.client("registry", in: acme) }
        try await f.client("registry", in: other)

        try await f.role("push", in: acme, client: registry)
        await #expect(throws: StoreError.conflict(.roleName)) { try await f.role("push", in: acme, client: registry) }
        // The same name on another client, or as a realm role, is another role.
        try await f.role("push", in: acme, client: app)
        try await f.role("push", in: acme)
        await #expect(throws: StoreError.conflict(.roleName)) { try await f.role("push", in: acme) }

        #expect(try await store.roles(realmId: acme.id, clientId: registry.id, search: nil, page: Page()).map(\.name) == ["push"])
        #expect(try await store.role(named: "push", realmId: acme.id, clientId: nil)?.isClientRole == false)
        #expect(try await store.client(clientId: "registry", realmId: acme.id)?.protocolName == .dockerV2)
    }

    @Test(arguments: StoreBackend.allCases)
    func clientFieldsRoundTrip(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        var client = try await f.client("registry", in: realm, protocol: .dockerV2)
        client.attributes = ["docker.authorization": "roles", "docker.signature.algorithm": "ES256"]
        client.secret = Sensitive("s3cret")
        client.redirectUris = ["https://x/*"]
        client.protocolMappers = [ProtocolMapper(name: "m", protocol: "docker-v2", protocolMapper: "docker-v2-allow-all-mapper")]
        try await store.updateClient(id: client.id, realmId: client.realmId) { [client] in $0 = client }
        #expect(try await store.client(id: client.id, realmId: realm.id) == client)
    }

    @Test(arguments: StoreBackend.allCases)
    func roleAttributesAndCompositesRoundTrip(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        var role = try await f.role("team-a", in: realm, attributes: ["docker.grant": ["repository:team-a/*:pull,push"]])
        role.description = "Team A"
        role.attributes["docker.grant", default: []].append("registry:catalog:*")
        try await store.updateRole(id: role.id, realmId: role.realmId) { [role] in $0 = role }
        #expect(try await store.role(id: role.id, realmId: realm.id) == role)

        let child = try await f.role("child", in: realm)
        try await store.addComposites(parentId: role.id, childIds: [child.id], realmId: realm.id)
        #expect(try await store.composites(of: role.id, realmId: realm.id).map(\.name) == ["child"])
        #expect(try await store.compositeRoleIds(among: [role.id, child.id]) == [role.id])
        try await store.removeComposites(parentId: role.id, childIds: [child.id], realmId: realm.id)
        #expect(try await store.composites(of: role.id, realmId: realm.id).isEmpty)
    }

    @Test(arguments: StoreBackend.allCases)
    func referencesNeverCrossRealms(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let a = try await f.realm("a")
        let b = try await f.realm("b")
        let userA = try await f.user("u", in: a)
        let roleB = try await f.role("r", in: b)
        let roleA = try await f.role("r", in: a)
        let groupB = try await f.group("g", in: b)
        await #expect(throws: StoreError.notFound(.role)) { try await store.grantUserRoles(userId: userA.id, roleIds: [roleB.id], realmId: a.id) }
        await #expect(throws: StoreError.notFound(.user)) { try await store.grantUserRoles(userId: userA.id, roleIds: [roleB.id], realmId: b.id) }
        await #expect(throws: StoreError.notFound(.role)) { try await store.addComposites(parentId: roleA.id, childIds: [roleB.id], realmId: a.id) }
        await #expect(throws: StoreError.notFound(.group)) { try await store.addMember(groupId: groupB.id, userId: userA.id, realmId: a.id) }
        await #expect(throws: StoreError.self) {
            try await store.createGroup(Group(id: f.env.newID(), realmId: a.id, parentId: groupB.id, name: "child"))
        }
        // Seeds are checked by the database too, not only by the store's code.
        await #expect(throws: StoreError.self) {
            try await store.createUser(UserSeed(user: User(id: f.env.newID(), realmId: a.id, username: "v", createdAt: f.env.now()), roleIds: [roleB.id]))
        }
        #expect(try await store.user(username: "v", realmId: a.id) == nil)
        #expect(try await store.effectiveRoles(userId: userA.id, realmId: a.id).isEmpty)
    }

    // MARK: Effective roles

    @Test(arguments: StoreBackend.allCases)
    func effectiveRolesCombineDirectGroupAncestorAndCompositeRoles(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let registry = try await f.client("registry", in: realm, protocol: .dockerV2)
        let direct = try await f.role("direct", in: realm)
        let viaGroup = try await f.role("via-group", in: realm)
        let viaAncestor = try await f.role("via-ancestor", in: realm)
        let clientRole = try await f.role("team-a-push", in: realm, client: registry)
        let nestedRealmRole = try await f.role("nested", in: realm)
        let unrelated = try await f.role("unrelated", in: realm)
        // realm role → client role → realm role: composites cross the realm/client boundary both ways.
        try await store.addComposites(parentId: viaAncestor.id, childIds: [clientRole.id], realmId: realm.id)
        try await store.addComposites(parentId: clientRole.id, childIds: [nestedRealmRole.id], realmId: realm.id)

        let eng = try await f.group("eng", in: realm)
        let backend = try await f.group("backend", in: realm, parent: eng)
        try await store.grantGroupRoles(groupId: eng.id, roleIds: [viaAncestor.id], realmId: realm.id)
        try await store.grantGroupRoles(groupId: backend.id, roleIds: [viaGroup.id], realmId: realm.id)
        let user = try await f.user("alice", in: realm, roles: [direct], groups: [backend])
        let bystander = try await f.user("bob", in: realm)
        _ = unrelated

        let names = Set(try await store.effectiveRoles(userId: user.id, realmId: realm.id).map(\.name))
        #expect(names == ["direct", "via-group", "via-ancestor", "team-a-push", "nested"])
        #expect(try await store.userRoles(userId: user.id, realmId: realm.id).map(\.name) == ["direct"])
        #expect(try await store.effectiveRoles(userId: bystander.id, realmId: realm.id).isEmpty)

        // Leaving the group takes its roles (and its ancestors') away at once.
        try await store.removeMember(groupId: backend.id, userId: user.id, realmId: realm.id)
        #expect(try await store.effectiveRoles(userId: user.id, realmId: realm.id).map(\.name) == ["direct"])
    }

    @Test(arguments: StoreBackend.allCases)
    func aCycleOfCompositesTerminates(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let a = try await f.role("a", in: realm)
        let b = try await f.role("b", in: realm)
        let c = try await f.role("c", in: realm)
        try await store.addComposites(parentId: a.id, childIds: [b.id], realmId: realm.id)
        try await store.addComposites(parentId: b.id, childIds: [c.id], realmId: realm.id)
        try await store.addComposites(parentId: c.id, childIds: [a.id], realmId: realm.id)
        // A role made a composite of itself is ignored rather than stored.
        try await store.addComposites(parentId: a.id, childIds: [a.id], realmId: realm.id)
        let user = try await f.user("u", in: realm, roles: [b])
        let names = try await store.effectiveRoles(userId: user.id, realmId: realm.id).map(\.name)
        #expect(names.sorted() == ["a", "b", "c"])
    }

    // MARK: Groups

    @Test(arguments: StoreBackend.allCases)
    func groupsFormATreeWithPathsAndSiblingUniqueNames(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let eng = try await f.group("eng", in: realm)
        let ops = try await f.group("ops", in: realm)
        let backendGroup = try await f.group("backend", in: realm, parent: eng)
        try await f.group("backend", in: realm, parent: ops)
        await #expect(throws: StoreError.conflict(.siblingGroupName)) { try await f.group("backend", in: realm, parent: eng) }
        await #expect(throws: StoreError.conflict(.topLevelGroupName)) { try await f.group("eng", in: realm) }
        let db = try await f.group("db", in: realm, parent: backendGroup)

        #expect(try await store.group(id: db.id, realmId: realm.id)?.path == "/eng/backend/db")
        #expect(try await store.group(path: "/eng/backend", realmId: realm.id)?.group.id == backendGroup.id)
        #expect(try await store.group(path: "/eng/nothing", realmId: realm.id) == nil)
        #expect(try await store.groups(realmId: realm.id, parentId: nil, search: nil, page: Page()).map(\.path) == ["/eng", "/ops"])
        #expect(try await store.groups(realmId: realm.id, parentId: nil, search: nil, page: Page()).first?.subGroupCount == 1)
        #expect(try await store.groups(realmId: realm.id, parentId: nil, search: "back", page: Page()).map(\.path).sorted() == ["/eng/backend", "/ops/backend"])
        #expect(try await store.countGroups(realmId: realm.id, search: nil, topOnly: false) == 5)
        #expect(try await store.countGroups(realmId: realm.id, search: nil, topOnly: true) == 2)
        #expect(try await store.countGroups(realmId: realm.id, search: "BACK", topOnly: false) == 2)
        #expect(try await store.countGroups(realmId: realm.id, search: "%", topOnly: false) == 0)

        // Moving a group under its own subtree is refused; elsewhere is fine.
        var moved = eng
        moved.parentId = db.id
        await #expect(throws: StoreError.self) { try await store.updateGroup(id: moved.id, realmId: moved.realmId) { [moved] in $0 = moved } }
        var dbMoved = db
        dbMoved.parentId = ops.id
        try await store.updateGroup(id: dbMoved.id, realmId: dbMoved.realmId) { [dbMoved] in $0 = dbMoved }
        #expect(try await store.group(id: db.id, realmId: realm.id)?.path == "/ops/db")
    }

    @Test(arguments: StoreBackend.allCases)
    func membershipIsListedBothWays(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let readers = try await f.group("readers", in: realm)
        let alice = try await f.user("alice", in: realm)
        let bob = try await f.user("bob", in: realm)
        try await store.addMember(groupId: readers.id, userId: bob.id, realmId: realm.id)
        try await store.addMember(groupId: readers.id, userId: alice.id, realmId: realm.id)
        try await store.addMember(groupId: readers.id, userId: alice.id, realmId: realm.id)
        #expect(try await store.members(groupId: readers.id, realmId: realm.id, page: Page()).map(\.username) == ["alice", "bob"])
        #expect(try await store.groupsOfUser(userId: alice.id, realmId: realm.id).map(\.path) == ["/readers"])
    }

    // MARK: Cascades

    @Test(arguments: StoreBackend.allCases)
    func deletingLeavesNothingDangling(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let registry = try await f.client("registry", in: realm, protocol: .dockerV2)
        let push = try await f.role("push", in: realm, client: registry)
        let dev = try await f.role("dev", in: realm)
        try await store.addComposites(parentId: dev.id, childIds: [push.id], realmId: realm.id)
        let parent = try await f.group("eng", in: realm)
        let child = try await f.group("backend", in: realm, parent: parent)
        try await store.grantGroupRoles(groupId: child.id, roleIds: [push.id], realmId: realm.id)
        let alice = try await f.user("alice", in: realm, roles: [push, dev], groups: [child], password: "x")
        let bob = try await f.user("bob", in: realm, groups: [child])

        // Client → its roles → their mappings and composite edges.
        try await store.deleteClient(id: registry.id, realmId: realm.id)
        #expect(try await store.role(id: push.id, realmId: realm.id) == nil)
        #expect(try await store.userRoles(userId: alice.id, realmId: realm.id).map(\.name) == ["dev"])
        #expect(try await store.composites(of: dev.id, realmId: realm.id).isEmpty)
        #expect(try await store.groupRoles(groupId: child.id, realmId: realm.id).isEmpty)

        // Role → its mappings.
        try await store.deleteRole(id: dev.id, realmId: realm.id)
        #expect(try await store.userRoles(userId: alice.id, realmId: realm.id).isEmpty)

        // Group → its subgroups and their memberships.
        try await store.deleteGroup(id: parent.id, realmId: realm.id)
        #expect(try await store.group(id: child.id, realmId: realm.id) == nil)
        #expect(try await store.groupsOfUser(userId: bob.id, realmId: realm.id).isEmpty)

        // User → credentials.
        try await store.deleteUser(id: alice.id, realmId: realm.id)
        #expect(try await store.credentials(userId: alice.id).isEmpty)

        // Realm → everything.
        let event = Event(id: f.env.newID(), realmId: realm.id, time: f.env.now(), type: "LOGIN")
        try await store.recordEvent(event)
        try await store.deleteRealm(id: realm.id)
        #expect(try await store.user(id: bob.id, realmId: realm.id) == nil)
        #expect(try await store.credentials(userId: bob.id).isEmpty)
        #expect(try await store.events(realmId: realm.id, matching: EventQuery(), page: Page()).isEmpty)
        #expect(try await store.realmKeys(realmId: realm.id).isEmpty)
    }

    // MARK: Keys and events

    @Test(arguments: StoreBackend.allCases)
    func keysRotateAsKeycloaksDoAndTheLastActiveOneStays(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        func key(_ id: String, _ status: KeyStatus) -> RealmKey {
            RealmKey(id: id, realmId: realm.id, algorithm: .rs256, status: status, privateKeyPEM: Sensitive("pem"),
                     certificateDER: [1, 2, 3], libtrustKeyID: "AAAA", thumbprint: id, createdAt: f.env.now())
        }
        try await store.addRealmKey(key("k1", .active))
        try await store.addRealmKey(key("k2", .passive))
        // Keycloak's rotation: the new key active beside the old (the higher priority signs),
        // then the old one passive; both still listed.
        try await store.updateRealmKey(id: "k2", realmId: realm.id, name: "rotated", status: .active, priority: 200)
        try await store.updateRealmKey(id: "k1", realmId: realm.id, name: "rsa-generated", status: .passive, priority: 100)
        var keys = try await store.realmKeys(realmId: realm.id)
        #expect(Dictionary(uniqueKeysWithValues: keys.map { ($0.id, $0.status) }) == ["k1": .passive, "k2": .active])
        #expect(keys.first { $0.id == "k2" }.map { ($0.name, $0.priority) } ?? ("", 0) == ("rotated", 200))
        #expect(keys.first { $0.id == "k1" }?.certificateDER == [1, 2, 3])
        // The last active key can be neither demoted nor deleted: nothing could sign.
        await #expect(throws: StoreError.conflict(.lastActiveKey)) {
            try await store.updateRealmKey(id: "k2", realmId: realm.id, name: "rotated", status: .disabled, priority: 200)
        }
        await #expect(throws: StoreError.conflict(.lastActiveKey)) { try await store.deleteRealmKey(id: "k2", realmId: realm.id) }
        try await store.deleteRealmKey(id: "k1", realmId: realm.id)
        await #expect(throws: StoreError.notFound(.key)) { try await store.deleteRealmKey(id: "k1", realmId: realm.id) }
        await #expect(throws: StoreError.notFound(.key)) {
            try await store.updateRealmKey(id: "k2", realmId: "other-realm", name: "x", status: .passive, priority: 1)
        }
        keys = try await store.realmKeys(realmId: realm.id)
        #expect(keys.map(\.id) == ["k2"] && keys.first?.status == .active)
        // A realm holds a bounded number of keys.
        for i in 1..<RealmKey.limitPerRealm { try await store.addRealmKey(key("extra-\(i)", .passive)) }
        await #expect(throws: StoreError.conflict(.keyLimit)) { try await store.addRealmKey(key("one-too-many", .passive)) }
    }

    /// A realm keeps its newest `limit` events; the other realm's are untouched.
    @Test(arguments: StoreBackend.allCases)
    func eventsPastARealmsCeilingGoOldestFirst(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let acme = try await f.realm("acme")
        let other = try await f.realm("other")
        try await store.recordEvents([Event(id: "o1", realmId: other.id, time: clock.now, type: "LOGIN")], keepingPerRealm: 5)
        for batch in 0..<4 {
            let events = (0..<3).map { i in
                Event(id: "a\(batch)-\(i)", realmId: acme.id, time: clock.now.adding(seconds: batch * 10 + i), type: "LOGIN")
            }
            try await store.recordEvents(events, keepingPerRealm: 5)
        }
        let kept = try await store.events(realmId: acme.id, matching: EventQuery(), page: .all).map(\.id)
        #expect(kept == ["a3-2", "a3-1", "a3-0", "a2-2", "a2-1"])
        #expect(try await store.events(realmId: other.id, matching: EventQuery(), page: .all).map(\.id) == ["o1"])
    }

    /// Token requests keep a client's scopes and their mappers per configuration version
    /// (`RealmConfigurationCache.clientScopes`): every change to a scope or to a client's assignments moves
    /// it, in the realm changed only.
    @Test(arguments: StoreBackend.allCases)
    func everyChangeToAClientsScopesMovesTheConfigurationVersion(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let other = try await f.realm("globex")
        let web = try await f.client("web", in: realm)
        let first = try await store.realmVersions(realmId: realm.id)?.configuration
        #expect(first != nil)
        var seen: [Int64] = [-1, first ?? -1]
        let otherBefore = try await store.realmVersions(realmId: other.id)?.configuration
        func moved(_ what: String, _ changes: [StoreChange]) async throws {
            try await store.apply(changes)
            let now = try await store.realmVersions(realmId: realm.id)?.configuration ?? -1
            #expect(!seen.contains(now), "\(what) did not move the configuration version")
            seen.append(now)
        }
        let scope = ClientScope(id: "s-team", realmId: realm.id, name: "team")
        try await moved("a scope made", [.createClientScope(scope)])
        try await moved("assigned to a client", [.assignClientScope(scopeId: scope.id, clientId: web.id, realmId: realm.id, isDefault: true)])
        try await moved("a mapper added to it", [.updateClientScope(id: scope.id, realmId: realm.id) {
            $0.protocolMappers = [ProtocolMapper(id: "m-team", name: "team", protocol: "openid-connect", protocolMapper: "oidc-hardcoded-claim-mapper",
                                                 config: ["claim.name": "team", "claim.value": "red"])]
        }])
        try await moved("moved to optional", [.assignClientScope(scopeId: scope.id, clientId: web.id, realmId: realm.id, isDefault: false)])
        try await moved("unassigned", [.unassignClientScope(scopeId: scope.id, clientId: web.id, realmId: realm.id, isDefault: false)])
        try await moved("assigned again", [.assignClientScope(scopeId: scope.id, clientId: web.id, realmId: realm.id, isDefault: true)])
        try await moved("the scope deleted", [.deleteClientScope(id: scope.id, realmId: realm.id)])
        #expect(try await store.clientScopes(ofClient: web.id, realmId: realm.id).allSatisfy { $0.scope.id != scope.id })
        #expect(try await store.realmVersions(realmId: other.id)?.configuration == otherBefore, "another realm's version stays")
    }

    /// Client scopes: unique names, realm defaults taken by new clients, assignments by name,
    /// role scope mappings, and deletion taking a scope off everything.
    @Test(arguments: StoreBackend.allCases)
    func clientScopesAreAssignedMappedAndDeleted(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let other = try await f.realm("other")
        let profile = ClientScope(id: "s-profile", realmId: realm.id, name: "profile", protocolMappers: [
            ProtocolMapper(id: "m1", name: "username", protocol: "openid-connect", protocolMapper: "oidc-usermodel-attribute-mapper",
                           config: ["user.attribute": "username", "claim.name": "preferred_username"])])
        let audit = ClientScope(id: "s-audit", realmId: realm.id, name: "audit")
        try await store.apply([.createClientScope(profile), .createClientScope(audit),
                               .assignRealmClientScope(scopeId: profile.id, realmId: realm.id, isDefault: true),
                               .assignRealmClientScope(scopeId: audit.id, realmId: realm.id, isDefault: false)])
        await #expect(throws: StoreError.conflict(.clientScopeName)) { try await store.apply([.createClientScope(ClientScope(id: "x", realmId: realm.id, name: "profile"))]) }
        try await store.apply([.createClientScope(ClientScope(id: "o-profile", realmId: other.id, name: "profile"))])
        #expect(try await store.clientScope(named: "profile", realmId: realm.id) == profile)
        #expect(try await store.clientScopes(realmId: realm.id).map(\.name) == ["audit", "profile"])

        // A new client takes the realm's defaults; assignments can be named, moved and removed.
        let app = Client(id: "c-app", realmId: realm.id, clientId: "app", createdAt: f.env.now())
        try await store.apply([.createClient(app)])
        #expect(try await store.clientScopes(ofClient: app.id, realmId: realm.id).map { "\($0.scope.name):\($0.isDefault)" } == ["audit:false", "profile:true"])
        try await store.apply([.setClientScopes(clientId: app.id, realmId: realm.id, defaults: ["audit"], optionals: nil)])
        #expect(try await store.clientScopes(ofClient: app.id, realmId: realm.id).map { "\($0.scope.name):\($0.isDefault)" } == ["audit:true"])
        await #expect(throws: StoreError.self) { try await store.apply([.setClientScopes(clientId: app.id, realmId: realm.id, defaults: ["nope"], optionals: nil)]) }
        await #expect(throws: StoreError.notFound(.clientScope)) {
            try await store.apply([.unassignClientScope(scopeId: profile.id, clientId: app.id, realmId: realm.id, isDefault: true)])
        }
        await #expect(throws: StoreError.notFound(.clientScope)) {
            try await store.apply([.assignClientScope(scopeId: "o-profile", clientId: app.id, realmId: realm.id, isDefault: true)])
        }

        // Role scope mappings of a scope and of a client.
        let ops = try await f.role("ops", in: realm)
        try await store.apply([.addScopeRoles(.clientScope(audit.id), roleIds: [ops.id], realmId: realm.id),
                               .addScopeRoles(.client(app.id), roleIds: [ops.id, ops.id], realmId: realm.id)])
        #expect(try await store.scopeRoles(of: .clientScope(audit.id), realmId: realm.id).map(\.name) == ["ops"])
        #expect(try await store.scopeRoles(of: .client(app.id), realmId: realm.id).map(\.name) == ["ops"])
        try await store.apply([.removeScopeRoles(.client(app.id), roleIds: [ops.id], realmId: realm.id)])
        #expect(try await store.scopeRoles(of: .client(app.id), realmId: realm.id).isEmpty)

        // Updating keeps the identity; deleting takes the scope off the realm and its clients.
        try await store.apply([.updateClientScope(id: audit.id, realmId: realm.id) { $0.name = "audit-log"; $0.id = "forged" }])
        #expect(try await store.clientScope(id: audit.id, realmId: realm.id)?.name == "audit-log")
        try await store.apply([.deleteClientScope(id: audit.id, realmId: realm.id)])
        #expect(try await store.clientScopes(ofClient: app.id, realmId: realm.id).isEmpty)
        #expect(try await store.realmClientScopes(realmId: realm.id).map(\.scope.name) == ["profile"])
        await #expect(throws: StoreError.notFound(.clientScope)) { try await store.apply([.deleteClientScope(id: audit.id, realmId: realm.id)]) }
        #expect(try await store.clientScope(named: "profile", realmId: other.id)?.id == "o-profile")
        // Seeded realms count as having had the built-ins: nothing is added to them.
        #expect(try await store.addBuiltinClientScopes { _, _ in BuiltinClientScopes() } == 0)
    }

    /// Admin events: the realm's newest `limit` kept, Keycloak's filters, expiry; other realms untouched.
    @Test(arguments: StoreBackend.allCases)
    func adminEventsAreCappedFilteredAndExpired(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let acme = try await f.realm("acme")
        let other = try await f.realm("other")
        try await store.recordAdminEvent(AdminEvent(id: "o1", realmId: other.id, time: clock.now, operationType: "CREATE", resourceType: "USER",
                                                    resourcePath: "users/x"), keepingPerRealm: 3)
        let kinds = [("CREATE", "USER", "users/u1"), ("UPDATE", "USER", "users/u1"), ("CREATE", "CLIENT", "clients/c1"),
                     ("DELETE", "USER", "users/u1"), ("CREATE", "REALM_ROLE_MAPPING", "users/u2/role-mappings/realm")]
        for (i, (operation, type, path)) in kinds.enumerated() {
            clock.advance(seconds: 10)
            try await store.recordAdminEvent(AdminEvent(id: "a\(i)", realmId: acme.id, time: clock.now, operationType: operation, resourceType: type,
                                                        resourcePath: path, authRealmId: "master", authUserId: i % 2 == 0 ? "admin" : "ops"),
                                             keepingPerRealm: 3)
        }
        #expect(try await store.adminEvents(realmId: acme.id, matching: AdminEventQuery(), page: .all).map(\.id) == ["a4", "a3", "a2"])
        var users = AdminEventQuery()
        users.resourcePath = "users/*"
        #expect(try await store.adminEvents(realmId: acme.id, matching: users, page: .all).map(\.id) == ["a4", "a3"])
        var deletes = AdminEventQuery()
        deletes.operationTypes = ["DELETE"]
        deletes.authUserId = "ops"
        #expect(try await store.adminEvents(realmId: acme.id, matching: deletes, page: .all).map(\.id) == ["a3"])
        var underscore = AdminEventQuery()
        underscore.resourcePath = "users_*"
        #expect(try await store.adminEvents(realmId: acme.id, matching: underscore, page: .all).isEmpty)
        #expect(try await store.deleteAdminEvents(realmId: acme.id, before: clock.now) == 2)
        #expect(try await store.adminEvents(realmId: acme.id, matching: AdminEventQuery(), page: .all).map(\.id) == ["a4"])
        #expect(try await store.adminEvents(realmId: other.id, matching: AdminEventQuery(), page: .all).map(\.id) == ["o1"])
    }

    @Test(arguments: StoreBackend.allCases)
    func eventsAreFilteredPagedAndExpired(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        for i in 0..<5 {
            try await store.recordEvent(Event(id: "e\(i)", realmId: realm.id, time: clock.now, type: i % 2 == 0 ? "LOGIN" : "LOGIN_ERROR",
                                              clientId: "registry", userId: i < 3 ? "u1" : "u2", error: i % 2 == 0 ? nil : "invalid_user_credentials",
                                              details: ["auth_method": "docker-v2"]))
            clock.advance(seconds: 10)
        }
        let logins = try await store.events(realmId: realm.id, matching: EventQuery(types: ["LOGIN"]), page: Page())
        #expect(logins.map(\.id) == ["e4", "e2", "e0"])
        #expect(logins.first?.details == ["auth_method": "docker-v2"])
        #expect(try await store.events(realmId: realm.id, matching: EventQuery(userId: "u2"), page: Page()).count == 2)
        let start = Timestamp(millisecondsSince1970: 1_764_400_000_000)
        #expect(try await store.events(realmId: realm.id, matching: EventQuery(from: start.adding(seconds: 10), to: start.adding(seconds: 20)), page: Page()).map(\.id) == ["e2", "e1"])
        #expect(try await store.events(realmId: realm.id, matching: EventQuery(), page: Page(first: 1, max: 1)).map(\.id) == ["e3"])
        #expect(try await store.deleteEvents(realmId: realm.id, before: start.adding(seconds: 20)) == 2)
        #expect(try await store.events(realmId: realm.id, matching: EventQuery(), page: Page()).count == 3)
    }

    @Test(arguments: StoreBackend.allCases)
    func aFreshStoreIsReady(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        #expect(await store.isReady())
    }
}

extension IdentityStoreConformanceTests {
    /// Issue 24, item 4: a session started by a login that checked the old password, written
    /// after a reset or a logout, is refused in the write's own transaction.
    @Test(arguments: StoreBackend.allCases)
    func aSessionIsNotWrittenFromALoginAResetOvertook(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let client = try await f.client("app", in: realm)
        let alice = try await f.user("alice", in: realm, password: "old")
        func session(_ id: String) -> Session {
            Session(id: id, realmId: realm.id, userId: alice.id, clientId: client.id, refreshTokenHash: "h-\(id)", scope: "",
                    createdAt: clock.now, lastRefresh: clock.now, expiresAt: clock.now.adding(seconds: 3600))
        }
        let old = try #require(try await store.credentials(userId: alice.id).first)
        let checkedBeforeReset = LoginProof(userId: alice.id, credentialId: old.id, checkedAt: clock.now)
        clock.advance(seconds: 1)
        let new = Credential(id: "c-new", userId: alice.id, secret: Sensitive("new-hash"), createdAt: clock.now)
        try await store.setCredential(new, revokeTokensBefore: clock.now)
        await #expect(throws: StoreError.conflict(.credentialChanged)) { try await store.createSession(session("s1"), proof: checkedBeforeReset) }
        #expect(try await store.session(id: "s1", realmId: realm.id) == nil, "nothing written")

        // The new password's login passes; a logout after its check (notBefore moved) stops it.
        let checkedAfterReset = LoginProof(userId: alice.id, credentialId: new.id, checkedAt: clock.now)
        try await store.createSession(session("s2"), proof: checkedAfterReset)
        #expect(try await store.session(id: "s2", realmId: realm.id) != nil)
        clock.advance(seconds: 1)
        try await store.apply([.updateUser(id: alice.id, realmId: realm.id) { [now = clock.now] in $0.notBefore = now }])
        await #expect(throws: StoreError.conflict(.credentialChanged)) { try await store.createSession(session("s3"), proof: checkedAfterReset) }
    }

    @Test(arguments: StoreBackend.allCases)
    func sessionsAreFoundByTokenHashAndDieWithTheirUser(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let client = try await f.client("app", in: realm)
        let alice = try await f.user("alice", in: realm)
        let session = Session(id: "s1", realmId: realm.id, userId: alice.id, clientId: client.id, refreshTokenHash: "h1", scope: "openid",
                              createdAt: clock.now, lastRefresh: clock.now, expiresAt: clock.now.adding(seconds: 3600))
        try await store.createSession(session)
        #expect(try await store.session(refreshTokenHash: "h1") == session)
        #expect(try await store.session(id: "s1", realmId: realm.id) == session)
        #expect(try await store.session(id: "s1", realmId: "another-realm") == nil)
        clock.advance(seconds: 10)
        try await store.touchSession(id: "s1", at: clock.now, ipAddress: "192.0.2.7")
        #expect(try await store.session(refreshTokenHash: "h1")?.lastRefresh == clock.now)
        #expect(try await store.session(refreshTokenHash: "h1")?.ipAddress == "192.0.2.7")
        try await store.touchSession(id: "s1", at: clock.now.adding(seconds: -5), ipAddress: nil)
        #expect(try await store.session(refreshTokenHash: "h1")?.lastRefresh == clock.now, "a use never moves the last use back")
        #expect(try await store.session(refreshTokenHash: "h1")?.ipAddress == "192.0.2.7")
        try await store.createSession(Session(id: "s2", realmId: realm.id, userId: alice.id, clientId: client.id, refreshTokenHash: "h2", scope: "",
                                              createdAt: clock.now, lastRefresh: clock.now, expiresAt: clock.now.adding(seconds: 1)))
        try await store.createSession(Session(id: "s3", realmId: realm.id, userId: alice.id, clientId: client.id, refreshTokenHash: "h3", scope: "",
                                              createdAt: clock.now, lastRefresh: clock.now, expiresAt: clock.now.adding(seconds: 3600), offline: true))
        // Counted per client: s1 active, s2 unexpired until its second, s3 offline.
        #expect(try await store.sessionCountsByClient(realmId: realm.id, now: clock.now, limit: 10) == [ClientSessionCount(clientId: client.id, active: 2, offline: 1)])
        #expect(try await store.sessionCountsByClient(realmId: realm.id, now: clock.now.adding(seconds: 2), limit: 10).first?.active == 1,
                "an expired session not yet swept is not active")
        #expect(try await store.sessionCountsByClient(realmId: "another-realm", now: clock.now, limit: 10).isEmpty)
        #expect(try await store.deleteExpiredSessions(before: clock.now.adding(seconds: 2)) == 1)
        #expect(try await store.session(refreshTokenHash: "h2") == nil)
        try await store.deleteUser(id: alice.id, realmId: realm.id)
        #expect(try await store.session(refreshTokenHash: "h1") == nil)
    }

    @Test(arguments: StoreBackend.allCases)
    func aRegistryClientsTokensAreListedAcrossOwnersOldestFirst(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let registry = try await f.client("registry", in: realm, protocol: .dockerV2)
        let other = try await f.client("other", in: realm, protocol: .dockerV2)
        let alice = try await f.user("alice", in: realm), bob = try await f.user("bob", in: realm)
        for (index, (owner, client)) in [(alice, registry), (bob, registry), (alice, other), (alice, registry)].enumerated() {
            try await store.createPersonalAccessToken(PersonalAccessToken(id: "t\(index)", realmId: realm.id, userId: owner.id, clientId: client.id,
                                                                          name: "n\(index)", secretHash: "h\(index)", createdAt: clock.now))
            clock.advance(seconds: 1)
        }
        #expect(try await store.personalAccessTokens(clientId: registry.id, realmId: realm.id, userId: nil, page: .all).map(\.id) == ["t0", "t1", "t3"])
        #expect(try await store.personalAccessTokens(clientId: registry.id, realmId: realm.id, userId: alice.id, page: .all).map(\.id) == ["t0", "t3"])
        #expect(try await store.personalAccessTokens(clientId: registry.id, realmId: realm.id, userId: nil, page: Page(first: 1, max: 1)).map(\.id) == ["t1"])
        #expect(try await store.personalAccessTokens(clientId: registry.id, realmId: "another-realm", userId: nil, page: .all).isEmpty)
    }

    @Test(arguments: StoreBackend.allCases)
    func offlineSessionsAreCappedListedRevokedAndSweptByTheirRealmsSettings(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let registry = try await f.client("registry", in: realm)
        let other = try await f.client("other", in: realm)
        let alice = try await f.user("alice", in: realm)
        func session(_ n: Int, offline: Bool = true, client: Client? = nil) -> Session {
            Session(id: "o\(n)", realmId: realm.id, userId: alice.id, clientId: (client ?? registry).id, refreshTokenHash: "oh\(n)", scope: "",
                    createdAt: clock.now, lastRefresh: clock.now, expiresAt: clock.now.adding(seconds: RealmBounds.lifespanSeconds.upperBound),
                    offline: offline, ipAddress: "198.51.100.1")
        }
        // The cap: one more than the limit pushes out the least recently used, and only of that client and kind.
        try await store.createSession(session(1000, client: other))
        try await store.createSession(session(2000, offline: false))
        for n in 0...Session.limitPerUserAndClient {
            try await store.createSession(session(n))
            clock.advance(seconds: 1)
        }
        let listed = try await store.sessions(userId: alice.id, clientId: registry.id, realmId: realm.id, offline: true)
        #expect(listed.count == Session.limitPerUserAndClient)
        #expect(listed.first?.id == "o1", "the least recently used (o0) went")
        #expect(listed.allSatisfy { $0.offline && $0.ipAddress == "198.51.100.1" })
        #expect(try await store.session(id: "o1000", realmId: realm.id) != nil)
        #expect(try await store.session(id: "o2000", realmId: realm.id) != nil)

        // Revoking a client's offline sessions leaves the rest.
        #expect(try await store.deleteSessions(userId: alice.id, clientId: registry.id, realmId: realm.id, offline: true) == Session.limitPerUserAndClient)
        #expect(try await store.sessions(userId: alice.id, clientId: registry.id, realmId: realm.id, offline: true).isEmpty)
        #expect(try await store.session(id: "o1000", realmId: realm.id) != nil)
        #expect(try await store.session(id: "o2000", realmId: realm.id) != nil)

        // The sweep follows the realm's offline settings as they are now.
        try await store.createSession(session(1))
        clock.advance(seconds: 100)
        try await store.touchSession(id: "o1", at: clock.now, ipAddress: nil)
        try await store.updateRealm(id: realm.id) { $0.offlineSessionIdleTimeout = 60 }
        clock.advance(seconds: 61)
        #expect(try await store.deleteExpiredSessions(before: clock.now) == 2, "o1000 (idle since the start) and o1 (idle 61 s) went")
        #expect(try await store.session(id: "o2000", realmId: realm.id) != nil, "an online session is not an offline one")
        try await store.updateRealm(id: realm.id) { $0.offlineSessionIdleTimeout = 3600; $0.offlineSessionMaxLifespanEnabled = true; $0.offlineSessionMaxLifespan = 120 }
        try await store.createSession(session(3))
        clock.advance(seconds: 100)
        try await store.touchSession(id: "o3", at: clock.now, ipAddress: nil)
        #expect(try await store.deleteExpiredSessions(before: clock.now) == 0)
        clock.advance(seconds: 21)
        try await store.touchSession(id: "o3", at: clock.now, ipAddress: nil)
        #expect(try await store.deleteExpiredSessions(before: clock.now) == 1, "used a second ago, but past the maximum lifespan")
    }
}

extension IdentityStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func appliedChangesHappenTogetherOrNotAtAll(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let role = try await f.role("dev", in: realm)
        let group = try await f.group("eng", in: realm)
        let user = User(id: f.env.newID(), realmId: realm.id, username: "zoe", createdAt: f.env.now())
        let credential = Credential(id: f.env.newID(), userId: user.id, secret: Sensitive("$argon2id$x"), createdAt: f.env.now())
        // The last change names a group that does not exist: nothing before it may remain.
        await #expect(throws: StoreError.notFound(.group)) {
            try await store.apply([
                .createUser(UserSeed(user: user)),
                .setCredential(credential, revokeTokensBefore: nil),
                .grantUserRoles(userId: user.id, roleIds: [role.id], realmId: realm.id),
                .addMember(groupId: "missing", userId: user.id, realmId: realm.id),
            ])
        }
        #expect(try await store.user(id: user.id, realmId: realm.id) == nil)
        #expect(try await store.credentials(userId: user.id).isEmpty)

        try await store.apply([
            .createUser(UserSeed(user: user)),
            .setCredential(credential, revokeTokensBefore: nil),
            .grantUserRoles(userId: user.id, roleIds: [role.id], realmId: realm.id),
            .addMember(groupId: group.id, userId: user.id, realmId: realm.id),
        ])
        #expect(try await store.userRoles(userId: user.id, realmId: realm.id).map(\.name) == ["dev"])
        #expect(try await store.groupsOfUser(userId: user.id, realmId: realm.id).map(\.path) == ["/eng"])
        #expect(try await store.credentials(userId: user.id).count == 1)
    }

    /// What a partial import writes: creations and deletions in one transaction that begins by
    /// checking the realm's versions; a plan made before a change writes nothing.
    @Test(arguments: StoreBackend.allCases)
    func changesPlannedFromVersionsApplyOnlyIfNothingMoved(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let dev = try await f.role("dev", in: realm)
        let eng = try await f.group("eng", in: realm)
        let old = try await f.user("old", in: realm)
        let client = try await f.client("app", in: realm)
        let planned = try #require(try await store.realmVersions(realmId: realm.id))
        let ops = Role(id: f.env.newID(), realmId: realm.id, name: "ops")
        let team = Group(id: f.env.newID(), realmId: realm.id, parentId: nil, name: "team")
        let changes: [StoreChange] = [
            .requireVersions(planned),
            .deleteUser(id: old.id, realmId: realm.id), .deleteGroup(id: eng.id, realmId: realm.id),
            .deleteClient(id: client.id, realmId: realm.id),
            .createRole(ops), .addComposites(parentId: ops.id, childIds: [dev.id], realmId: realm.id),
            .createGroup(team), .grantGroupRoles(groupId: team.id, roleIds: [ops.id], realmId: realm.id),
        ]
        // A change in between (a membership) moves the version: the plan writes nothing.
        let other = try await f.user("other", in: realm)
        try await store.addMember(groupId: eng.id, userId: other.id, realmId: realm.id)
        await #expect(throws: StoreError.conflict(.concurrentChange)) { try await store.apply(changes) }
        #expect(try await store.user(id: old.id, realmId: realm.id) != nil)
        #expect(try await store.role(named: "ops", realmId: realm.id, clientId: nil) == nil)
        #expect(try await store.client(id: client.id, realmId: realm.id) != nil)
        // Planned again from the versions as they are now, it goes through whole.
        var fresh = changes
        fresh[0] = .requireVersions(try #require(try await store.realmVersions(realmId: realm.id)))
        try await store.apply(fresh)
        #expect(try await store.user(id: old.id, realmId: realm.id) == nil)
        #expect(try await store.group(id: eng.id, realmId: realm.id) == nil)
        #expect(try await store.client(id: client.id, realmId: realm.id) == nil)
        #expect(try await store.composites(of: ops.id, realmId: realm.id).map(\.id) == [dev.id])
        #expect(try await store.groupRoles(groupId: team.id, realmId: realm.id).map(\.name) == ["ops"])
        // A deletion of what is not there fails the whole list.
        await #expect(throws: StoreError.notFound(.role)) {
            try await store.apply([.createGroup(Group(id: f.env.newID(), realmId: realm.id, parentId: nil, name: "x")),
                                   .deleteRole(id: "missing", realmId: realm.id)])
        }
        #expect(try await store.group(path: "/x", realmId: realm.id) == nil)
        try await store.apply([.deleteRole(id: ops.id, realmId: realm.id)])
        #expect(try await store.role(id: ops.id, realmId: realm.id) == nil)
    }
}

extension IdentityStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func loginFailuresAreKeptPerUserAndDieWithIt(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 3
        policy.quickLoginCheckMilliSeconds = 0
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id) == nil)
        let first = try #require(try await store.recordLoginFailure(userId: user.id, realmId: realm.id, at: f.env.now(), policy: policy, ipAddress: "192.0.2.1"))
        #expect(first.failures.numFailures == 1 && !first.wasLocked && !first.disabledUser)
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id) == first.failures)
        // An unknown user: nothing is written, nil comes back.
        #expect(try await store.recordLoginFailure(userId: "nobody", realmId: realm.id, at: f.env.now(), policy: policy, ipAddress: nil) == nil)
        #expect(try await store.admitLogin(userId: user.id, realmId: realm.id, at: f.env.now()))
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id) == nil)
        for _ in 0..<3 { _ = try await store.recordLoginFailure(userId: user.id, realmId: realm.id, at: f.env.now(), policy: policy, ipAddress: nil) }
        let locked = try #require(try await store.loginFailures(userId: user.id, realmId: realm.id))
        #expect(locked.numFailures == 3 && locked.lockedUntil > f.env.now())
        // Locked: a further failure is not counted, a right password is not admitted, nothing is forgotten.
        #expect(try await store.recordLoginFailure(userId: user.id, realmId: realm.id, at: f.env.now(), policy: policy, ipAddress: nil)?.wasLocked == true)
        #expect(try await store.admitLogin(userId: user.id, realmId: realm.id, at: f.env.now()) == false)
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id) == locked)
        try await store.clearLoginFailures(userId: user.id, realmId: realm.id)
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id) == nil)
        _ = try await store.recordLoginFailure(userId: user.id, realmId: realm.id, at: f.env.now(), policy: policy, ipAddress: nil)
        try await store.deleteUser(id: user.id, realmId: realm.id)
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id) == nil)
    }

    // MARK: Transactions: read-modify-write happens inside the write

    @Test(arguments: StoreBackend.allCases)
    func concurrentFailuresAreAllCounted(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 1_000
        policy.quickLoginCheckMilliSeconds = 0
        let time = f.env.now()
        let fixed = policy
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask { _ = try await store.recordLoginFailure(userId: user.id, realmId: realm.id, at: time, policy: fixed, ipAddress: nil) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id)?.numFailures == 50)
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentFailuresLockAtTheFailureFactorExactly(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 5
        policy.quickLoginCheckMilliSeconds = 0
        let time = f.env.now()
        let fixed = policy
        let outcomes = try await withThrowingTaskGroup(of: LoginFailureOutcome?.self) { group in
            for _ in 0..<50 {
                group.addTask { try await store.recordLoginFailure(userId: user.id, realmId: realm.id, at: time, policy: fixed, ipAddress: nil) }
            }
            return try await group.reduce(into: [LoginFailureOutcome]()) { if let o = $1 { $0.append(o) } }
        }
        // Exactly failureFactor failures were counted; every later one met the lock.
        #expect(outcomes.filter { !$0.wasLocked }.count == 5)
        #expect(outcomes.filter(\.wasLocked).count == 45)
        #expect(try await store.loginFailures(userId: user.id, realmId: realm.id)?.numFailures == 5)
    }

    @Test(arguments: StoreBackend.allCases)
    func aPermanentLockoutKeepsAnAdministratorsConcurrentEdit(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 1
        policy.permanentLockout = true
        // The administrator's edit lands between the login's read of the user and its lockout.
        var edited = user
        edited.firstName = "Alice"
        edited.email = "alice@example.com"
        try await store.updateUser(id: edited.id, realmId: edited.realmId) { [edited] in $0 = edited }
        let outcome = try #require(try await store.recordLoginFailure(userId: user.id, realmId: realm.id, at: f.env.now(), policy: policy, ipAddress: nil))
        #expect(outcome.disabledUser)
        let stored = try #require(try await store.user(id: user.id, realmId: realm.id))
        #expect(!stored.enabled)
        #expect(stored.firstName == "Alice" && stored.email == "alice@example.com")
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentPartialUpdatesOfOneObjectAllSurvive(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let user = try await f.user("alice", in: realm)
        // 40 writers, each setting its own attribute of one user: every one must be there.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    try await store.updateUser(id: user.id, realmId: realm.id) { $0.attributes["k\(i)"] = ["\(i)"] }
                }
            }
            group.addTask { try await store.updateUser(id: user.id, realmId: realm.id) { $0.firstName = "Alice" } }
            group.addTask { try await store.updateRealm(id: realm.id) { $0.displayName = "Acme" } }
            group.addTask { try await store.updateRealm(id: realm.id) { $0.accessTokenLifespan = 120 } }
            try await group.waitForAll()
        }
        let stored = try #require(try await store.user(id: user.id, realmId: realm.id))
        #expect(stored.attributes.count == 40 && stored.firstName == "Alice")
        let storedRealm = try #require(try await store.realm(id: realm.id))
        #expect(storedRealm.displayName == "Acme" && storedRealm.accessTokenLifespan == 120)
        // A change that throws writes nothing; identity cannot be changed by a change.
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await store.updateUser(id: user.id, realmId: realm.id) { $0.lastName = "x"; throw Refused() } }
        let renamed = try await store.updateUser(id: user.id, realmId: realm.id) { $0.id = "other"; $0.username = "ALICIA" }
        #expect(renamed.id == user.id && renamed.username == "alicia")
        #expect(try await store.user(id: user.id, realmId: realm.id)?.lastName == nil)
        await #expect(throws: StoreError.notFound(.user)) { try await store.updateUser(id: "missing", realmId: realm.id) { _ in } }
    }

    /// The methods the other tests do not reach, so that every method of the protocol is
    /// exercised here (a second backend passes this suite unchanged).
    @Test(arguments: StoreBackend.allCases)
    func theRestOfTheProtocol(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store, clock: clock)
        let realm = try await f.realm("acme")
        let app = try await f.client("app", in: realm)
        try await f.client("billing", in: realm)
        #expect(Set(try await store.clients(realmId: realm.id, page: .all).map(\.clientId)).isSuperset(of: ["app", "billing"]))
        #expect(try await store.clients(realmId: realm.id, page: Page(first: 0, max: 1)).count == 1)

        let role = try await f.role("dev", in: realm)
        let user = try await f.user("alice", in: realm, roles: [role])
        let bob = try await f.user("bob", in: realm, roles: [role])
        #expect(Set(try await store.usersWithRole(roleId: role.id, realmId: realm.id, page: .all).map(\.id)) == [user.id, bob.id])
        try await store.revokeUserRoles(userId: user.id, roleIds: [role.id], realmId: realm.id)
        #expect(try await store.userRoles(userId: user.id, realmId: realm.id).isEmpty)
        #expect(try await store.usersWithRole(roleId: role.id, realmId: realm.id, page: .all).map(\.id) == [bob.id])

        let group = try await f.group("eng", in: realm)
        try await store.grantGroupRoles(groupId: group.id, roleIds: [role.id], realmId: realm.id)
        #expect(try await store.groupRoles(groupId: group.id, realmId: realm.id).map(\.id) == [role.id])
        let parentRole = try await f.role("parent", in: realm)
        try await store.addComposites(parentId: parentRole.id, childIds: [role.id], realmId: realm.id)
        #expect(try await store.compositeParents(of: role.id, realmId: realm.id, page: .all).map(\.name) == ["parent"])
        #expect(try await store.compositeParents(of: parentRole.id, realmId: realm.id, page: .all).isEmpty)
        let ops = try await f.group("ops", in: realm)
        try await store.grantGroupRoles(groupId: ops.id, roleIds: [role.id], realmId: realm.id)
        #expect(try await store.groupsWithRole(roleId: role.id, realmId: realm.id, page: .all).map(\.group.name) == ["eng", "ops"])
        #expect(try await store.groupsWithRole(roleId: role.id, realmId: realm.id, page: Page(first: 1, max: 5)).map(\.group.name) == ["ops"])
        await #expect(throws: StoreError.self) { try await store.groupsWithRole(roleId: "no-such-role", realmId: realm.id, page: .all) }
        try await store.revokeGroupRoles(groupId: ops.id, roleIds: [role.id], realmId: realm.id)
        try await store.revokeGroupRoles(groupId: group.id, roleIds: [role.id], realmId: realm.id)
        #expect(try await store.groupRoles(groupId: group.id, realmId: realm.id).isEmpty)

        let credential = Credential(id: f.env.newID(), userId: user.id, secret: Sensitive("$argon2id$x"), createdAt: clock.now)
        try await store.setCredential(credential, revokeTokensBefore: nil)
        await #expect(throws: StoreError.self, "another user's credential is not deleted") {
            try await store.deleteCredential(id: credential.id, userId: bob.id, revokeTokensBefore: nil)
        }
        #expect(try await store.credentials(userId: user.id).count == 1)
        clock.advance(seconds: 1)
        try await store.deleteCredential(id: credential.id, userId: user.id, revokeTokensBefore: clock.now)
        #expect(try await store.credentials(userId: user.id).isEmpty)
        #expect(try await store.user(id: user.id, realmId: realm.id)?.notBefore == clock.now, "what the credential opened dies with it")

        for (id, hash) in [("s1", "h1"), ("s2", "h2"), ("s3", "h3")] {
            try await store.createSession(Session(id: id, realmId: realm.id, userId: user.id, clientId: app.id, refreshTokenHash: hash, scope: "",
                                                  createdAt: clock.now, lastRefresh: clock.now, expiresAt: clock.now.adding(seconds: 60)))
        }
        #expect(try await store.deleteSession(id: "s1", realmId: realm.id))
        #expect(try await store.session(id: "s1", realmId: realm.id) == nil)
        #expect(try await store.deleteSession(id: "s1", realmId: realm.id) == false)
        #expect(try await store.deleteSessions(userId: user.id, realmId: realm.id) == 2)
        #expect(try await store.session(refreshTokenHash: "h2") == nil)

        let docker = Event(id: f.env.newID(), realmId: realm.id, time: clock.now, type: "LOGIN", details: ["auth_method": "docker-v2"])
        let oidc = Event(id: f.env.newID(), realmId: realm.id, time: clock.now, type: "LOGIN", details: ["auth_method": "openid-connect"])
        try await store.recordEvent(docker)
        try await store.recordEvent(oidc)
        clock.advance(seconds: 10)
        #expect(try await store.deleteEvents(realmId: realm.id, before: clock.now, authMethod: "docker-v2") == 1)
        #expect(try await store.events(realmId: realm.id, matching: EventQuery(), page: .all).map(\.id) == [oidc.id])

        // replaceRealm: the same name, another realm, in one transaction; the old one's content is gone.
        let replacement = Realm(id: f.env.newID(), name: "acme", enabled: true, createdAt: clock.now)
        try await store.replaceRealm(RealmSeed(realm: replacement))
        #expect(try await store.realm(named: "acme")?.id == replacement.id)
        #expect(try await store.user(id: user.id, realmId: realm.id) == nil)
        #expect(try await store.realm(id: realm.id) == nil)
    }
}

extension IdentityStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func everyChangeToWhatDecidesRolesMovesTheAuthorizationVersion(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let other = try await f.realm("globex")
        let alice = try await f.user("alice", in: realm)
        let dev = try await f.role("dev", in: realm)
        let admin = try await f.role("admin", in: realm)
        let eng = try await f.group("eng", in: realm)
        let team = try await f.group("team", in: realm)
        var seen: [Int64] = [try await store.authorizationVersion(realmId: realm.id)]
        let otherBefore = try await store.authorizationVersion(realmId: other.id)
        func moved(_ what: String, _ change: () async throws -> Void) async throws {
            try await change()
            let now = try await store.authorizationVersion(realmId: realm.id)
            #expect(!seen.contains(now), "\(what) did not move the version")
            seen.append(now)
        }
        try await moved("a user's role") { try await store.grantUserRoles(userId: alice.id, roleIds: [dev.id], realmId: realm.id) }
        try await moved("revoking it") { try await store.revokeUserRoles(userId: alice.id, roleIds: [dev.id], realmId: realm.id) }
        try await moved("a composite") { try await store.addComposites(parentId: dev.id, childIds: [admin.id], realmId: realm.id) }
        try await moved("removing it") { try await store.removeComposites(parentId: dev.id, childIds: [admin.id], realmId: realm.id) }
        try await moved("a group's role") { try await store.grantGroupRoles(groupId: eng.id, roleIds: [dev.id], realmId: realm.id) }
        try await moved("revoking it") { try await store.revokeGroupRoles(groupId: eng.id, roleIds: [dev.id], realmId: realm.id) }
        try await moved("a membership") { try await store.addMember(groupId: eng.id, userId: alice.id, realmId: realm.id) }
        try await moved("leaving") { try await store.removeMember(groupId: eng.id, userId: alice.id, realmId: realm.id) }
        try await moved("a group move") { try await store.updateGroup(id: eng.id, realmId: realm.id) { $0.parentId = team.id } }
        try await moved("a role's attributes") { try await store.updateRole(id: dev.id, realmId: realm.id) { $0.attributes["docker.grant"] = ["repository:a:pull"] } }
        try await moved("a role deleted") { try await store.deleteRole(id: admin.id, realmId: realm.id) }
        try await moved("a group deleted") { try await store.deleteGroup(id: team.id, realmId: realm.id) }
        #expect(try await store.authorizationVersion(realmId: other.id) == otherBefore, "another realm's version stays")

        // A realm made again under the same id never repeats a version of the old one.
        try await store.replaceRealm(RealmSeed(realm: realm))
        let again = try await store.authorizationVersion(realmId: realm.id)
        #expect(!seen.contains(again) && again > seen.max()!)
    }
}

extension IdentityStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func everyChangeToARealmsSettingsClientsOrKeysMovesItsConfigurationVersion(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let other = try await f.realm("globex")
        let byName = try #require(try await store.realmVersions(realmName: "acme"))
        #expect(byName == (try await store.realmVersions(realmId: realm.id)))
        #expect(try await store.realmVersions(realmName: "nobody") == nil)
        var seen = [byName.configuration]
        let authorization = byName.authorization
        let otherBefore = try #require(try await store.realmVersions(realmId: other.id))
        func moved(_ what: String, _ change: () async throws -> Void) async throws {
            try await change()
            let versions = try await store.realmVersions(realmId: realm.id)
            #expect(versions != nil, "\(what): the realm's versions are gone")
            guard let now = versions else { return }
            #expect(!seen.contains(now.configuration), "\(what) did not move the configuration version")
            seen.append(now.configuration)
        }
        var client: Client?
        try await moved("a realm setting") { try await store.updateRealm(id: realm.id) { $0.dockerV2Enabled = true } }
        try await moved("a new client") { client = try await f.client("registry", in: realm, protocol: .dockerV2) }
        try await moved("a client change") { try await store.updateClient(id: client!.id, realmId: realm.id) { $0.enabled = false } }
        let key = RealmKey(id: "k1", realmId: realm.id, algorithm: .rs256, status: .passive, privateKeyPEM: Sensitive("pem"),
                           certificateDER: [1], libtrustKeyID: "AAAA", thumbprint: "t", createdAt: f.env.now())
        try await moved("a new key") { try await store.addRealmKey(key) }
        try await moved("a key's status") { try await store.updateRealmKey(id: "k1", realmId: realm.id, name: "k", status: .disabled, priority: 1) }
        try await moved("a deleted key") { try await store.deleteRealmKey(id: "k1", realmId: realm.id) }
        try await moved("a deleted client") { try await store.deleteClient(id: client!.id, realmId: realm.id) }
        #expect(try await store.realmVersions(realmId: other.id) == otherBefore, "another realm's versions stay")
        #expect(try await store.realmVersions(realmId: realm.id)?.authorization != nil)
        _ = authorization
        // Made again under the same id: neither version repeats one of the old realm's.
        try await store.replaceRealm(RealmSeed(realm: realm))
        let again = try #require(try await store.realmVersions(realmId: realm.id))
        #expect(again.configuration > seen.max()!)
    }

    /// Browser sessions, their codes (spent once; a second use ends what the first started) and
    /// device authorizations (decided once, spent by one poll), on both engines.
    @Test(arguments: StoreBackend.allCases)
    func browserSessionsCodesAndDevicesFollowTheirRules(backend: StoreBackend) async throws {
        let clock = TestClock()
        let store = try await backend.makeStore(clock: clock)
        let f = Fixtures(store)
        let realm = try await f.realm("acme")
        let alice = try await f.user("alice", in: realm)
        let app = try await f.client("app", in: realm)
        let now = clock.now
        let browser = BrowserSession(id: "b1", realmId: realm.id, userId: alice.id, cookieHash: "cookie-1", authTime: now, lastSeen: now,
                                     expiresAt: now.adding(seconds: 36_000), ipAddress: "10.0.0.1")
        try await store.createBrowserSession(browser, proof: nil, replacing: nil)
        #expect(try await store.browserSession(cookieHash: "cookie-1") == browser)
        let code = AuthorizationCode(codeHash: "code-1", realmId: realm.id, clientId: app.id, userId: alice.id, browserSessionId: browser.id,
                                     redirectUri: "https://app/cb", scope: "openid", nonce: "n", codeChallenge: nil, codeChallengeMethod: nil,
                                     createdAt: now, expiresAt: now.adding(seconds: 60))
        try await store.createAuthorizationCode(code)
        #expect(try await store.authorizationCode(hash: "code-1") == code)
        let first = Session(id: "s1", realmId: realm.id, userId: alice.id, clientId: app.id, refreshTokenHash: "r1", scope: "openid",
                            createdAt: now, lastRefresh: now, expiresAt: now.adding(seconds: 3600), browserSessionId: browser.id)
        #expect(try await store.redeemAuthorizationCode(hash: "code-1", session: first, at: now) == .redeemed)
        #expect(try await store.sessions(browserSessionId: browser.id, realmId: realm.id).map(\.id) == ["s1"])
        var second = first
        second.id = "s2"
        second.refreshTokenHash = "r2"
        #expect(try await store.redeemAuthorizationCode(hash: "code-1", session: second, at: now) == .replayed)
        #expect(try await store.session(id: "s1", realmId: realm.id) == nil)
        #expect(try await store.session(id: "s2", realmId: realm.id) == nil)
        #expect(try await store.redeemAuthorizationCode(hash: "code-1", session: second, at: now) == .unknown)
        #expect(try await store.browserSession(id: browser.id, realmId: realm.id) == nil)

        // A new sign-in in the same browser replaces its session; ending one ends its sessions and codes.
        let replacement = BrowserSession(id: "b2", realmId: realm.id, userId: alice.id, cookieHash: "cookie-2", authTime: now, lastSeen: now,
                                         expiresAt: now.adding(seconds: 36_000))
        try await store.createBrowserSession(replacement, proof: nil, replacing: browser.id)
        #expect(try await store.browserSession(id: browser.id, realmId: realm.id) == nil)
        var code2 = code
        code2.codeHash = "code-2"
        code2.browserSessionId = replacement.id
        try await store.createAuthorizationCode(code2)
        var linked = first
        linked.browserSessionId = replacement.id
        try await store.createSession(linked)
        #expect(try await store.deleteBrowserSession(id: replacement.id, realmId: realm.id))
        #expect(try await store.authorizationCode(hash: "code-2") == nil)
        #expect(try await store.session(id: "s1", realmId: realm.id) == nil)

        // Devices: a decision once, a poll too soon is slow_down, an approval spent by one poll.
        let device = DeviceAuthorization(deviceCodeHash: "d1", userCodeHash: "u1", realmId: realm.id, clientId: app.id, scope: "openid",
                                         createdAt: now, expiresAt: now.adding(seconds: 600), interval: 5)
        #expect(try await store.createDeviceAuthorization(device))
        await #expect(throws: StoreError.self) { _ = try await store.createDeviceAuthorization(DeviceAuthorization(
            deviceCodeHash: "d2", userCodeHash: "u1", realmId: realm.id, clientId: app.id, scope: "", createdAt: now, expiresAt: now, interval: 5)) }
        guard case .pending = try await store.pollDeviceAuthorization(deviceCodeHash: "d1", clientId: app.id, at: now) else { Issue.record("not pending"); return }
        #expect(try await store.pollDeviceAuthorization(deviceCodeHash: "d1", clientId: app.id, at: now.adding(seconds: 1)) == .slowDown)
        #expect(try await store.pollDeviceAuthorization(deviceCodeHash: "d1", clientId: "other", at: now) == .unknown)
        let third = BrowserSession(id: "b3", realmId: realm.id, userId: alice.id, cookieHash: "cookie-3", authTime: now, lastSeen: now,
                                   expiresAt: now.adding(seconds: 36_000))
        try await store.createBrowserSession(third, proof: nil, replacing: nil)
        #expect(try await store.decideDeviceAuthorization(userCodeHash: "u1", approve: true, userId: alice.id, browserSessionId: third.id, at: now))
        #expect(try await !store.decideDeviceAuthorization(userCodeHash: "u1", approve: false, userId: alice.id, browserSessionId: third.id, at: now))
        guard case .approved(let approved) = try await store.pollDeviceAuthorization(deviceCodeHash: "d1", clientId: app.id, at: now.adding(seconds: 30)) else {
            Issue.record("not approved"); return
        }
        #expect(approved.userId == alice.id && approved.browserSessionId == third.id)
        #expect(try await store.pollDeviceAuthorization(deviceCodeHash: "d1", clientId: app.id, at: now.adding(seconds: 60)) == .unknown)

        // The sweep: idle browser sessions (the realm's ssoSessionIdleTimeout) and expired codes go.
        #expect(try await store.deleteExpiredBrowserSessions(before: now.adding(seconds: realm.refreshTokenLifespan + 1)) >= 1)
        #expect(try await store.browserSession(id: third.id, realmId: realm.id) == nil)
    }

    // MARK: What registries report

    @Test(arguments: StoreBackend.allCases)
    func registryEventsAreKeptOnceFilteredAndExpired(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let acme = try await f.realm("acme"), other = try await f.realm("other")
        let t0 = Timestamp(millisecondsSince1970: 1_000_000)
        func event(_ id: String, realm: Realm = acme, at seconds: Int, action: String = "push", actor: String? = "alice", repository: String = "team-a/app",
                   credential: String? = nil) -> RegistryEvent {
            RegistryEvent(id: "\(realm.name)-\(id)", realmId: realm.id, clientId: "registry.acme.io", registryEventId: id, time: t0.adding(seconds: seconds),
                          received: t0.adding(seconds: seconds), action: action, actor: actor, repository: repository, tag: "v1", digest: "sha256:ab",
                          size: 5_000_000_000, sourceAddress: "10.0.0.1:5000", sourceHost: "10.0.0.1", credentialKind: credential, credentialId: credential.map { _ in "tok-1" })
        }
        #expect(try await store.recordRegistryEvents([event("1", at: 0), event("2", at: 10, action: "pull", actor: "bob", repository: "team-b/app"),
                                                      event("3", at: 20, credential: "personal-access-token"), event("1", realm: other, at: 0)]) == 4)
        // The same registry event again (a retried envelope): kept once, the batch's new ones still kept.
        #expect(try await store.recordRegistryEvents([event("1", at: 0), event("4", at: 30, action: "delete")]) == 1)
        let all = try await store.registryEvents(realmId: acme.id, matching: RegistryEventQuery(), page: Page())
        #expect(all.map(\.registryEventId) == ["4", "3", "2", "1"])
        #expect(all.last == event("1", at: 0))
        var q = RegistryEventQuery()
        q.repository = "team-a/*"
        q.actions = ["push", "delete"]
        #expect(try await store.registryEvents(realmId: acme.id, matching: q, page: Page()).map(\.registryEventId) == ["4", "3", "1"])
        q = RegistryEventQuery()
        q.actor = "bob"
        #expect(try await store.registryEvents(realmId: acme.id, matching: q, page: Page()).map(\.registryEventId) == ["2"])
        q = RegistryEventQuery()
        q.credentialKind = "personal-access-token"
        q.credentialId = "tok-1"
        q.from = t0.adding(seconds: 15)
        q.sourceHost = "10.0.0.1"
        #expect(try await store.registryEvents(realmId: acme.id, matching: q, page: Page()).map(\.registryEventId) == ["3"])
        q = RegistryEventQuery()
        q.repository = "team_%"  // LIKE's wildcards are the characters they are
        #expect(try await store.registryEvents(realmId: acme.id, matching: q, page: Page()).isEmpty)
        #expect(try await store.registryEvents(realmId: acme.id, matching: RegistryEventQuery(), page: Page(first: 1, max: 2)).map(\.registryEventId) == ["3", "2"])
        // Older than the cutoff go, then the oldest beyond the limit; the other realm keeps its own.
        #expect(try await store.deleteRegistryEvents(realmId: acme.id, before: t0.adding(seconds: 5), keeping: 2) == 2)
        #expect(try await store.registryEvents(realmId: acme.id, matching: RegistryEventQuery(), page: Page()).map(\.registryEventId) == ["4", "3"])
        #expect(try await store.registryEvents(realmId: other.id, matching: RegistryEventQuery(), page: Page()).count == 1)
    }

    // MARK: Brokered sign-in: mappers and links

    @Test(arguments: StoreBackend.allCases)
    func linksAreKeyedByProviderAndSubjectAndGoWithTheirProviderOrUser(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let acme = try await f.realm("acme"), other = try await f.realm("other")
        let corp = IdentityProvider(id: "idp-1", realmId: acme.id, alias: "corp", providerId: "oidc")
        try await store.apply([.createIdentityProvider(corp)])
        let carol = try await f.user("carol", in: acme), dave = try await f.user("dave", in: acme), eve = try await f.user("eve", in: other)
        let link = FederatedIdentity(realmId: acme.id, providerId: corp.id, userId: carol.id, upstreamUserId: "Sub-1", upstreamUsername: "carol")
        try await store.apply([.linkFederatedIdentity(link)])
        #expect(try await store.linkedUser(providerId: corp.id, upstreamUserId: "Sub-1", realmId: acme.id)?.id == carol.id)
        // Subjects compare exactly (no case folding), and only in their realm.
        #expect(try await store.linkedUser(providerId: corp.id, upstreamUserId: "sub-1", realmId: acme.id) == nil)
        #expect(try await store.linkedUser(providerId: corp.id, upstreamUserId: "Sub-1", realmId: other.id) == nil)
        await #expect(throws: StoreError.conflict(.upstreamAccountLinked)) {
            try await store.apply([.linkFederatedIdentity(FederatedIdentity(realmId: acme.id, providerId: corp.id, userId: dave.id, upstreamUserId: "Sub-1", upstreamUsername: "x"))])
        }
        await #expect(throws: StoreError.conflict(.userAlreadyLinked)) {
            try await store.apply([.linkFederatedIdentity(FederatedIdentity(realmId: acme.id, providerId: corp.id, userId: carol.id, upstreamUserId: "Sub-2", upstreamUsername: "x"))])
        }
        // Another realm's user cannot be linked through this realm.
        await #expect(throws: StoreError.self) {
            try await store.apply([.linkFederatedIdentity(FederatedIdentity(realmId: acme.id, providerId: corp.id, userId: eve.id, upstreamUserId: "Sub-3", upstreamUsername: "x"))])
        }
        #expect(try await store.federatedIdentities(userId: carol.id, realmId: acme.id) == [link])
        #expect(try await store.linkedUsers(providerId: corp.id, realmId: acme.id, limit: 10).map(\.id) == [carol.id])

        // Mappers: unique names per provider, read-modify-write, deleted with the provider.
        let mapper = IdentityProviderMapper(id: "m-1", realmId: acme.id, providerId: corp.id, name: "staff",
                                            mapperType: "oidc-hardcoded-group-idp-mapper", config: ["group": "/staff"])
        try await store.apply([.createIdentityProviderMapper(mapper)])
        await #expect(throws: StoreError.conflict(.identityProviderMapperName)) {
            try await store.apply([.createIdentityProviderMapper(IdentityProviderMapper(id: "m-2", realmId: acme.id, providerId: corp.id, name: "staff", mapperType: "x", config: [:]))])
        }
        try await store.apply([.updateIdentityProviderMapper(id: "m-1", realmId: acme.id) { $0.config["group"] = "/ops"; $0.providerId = "elsewhere" }])
        #expect(try await store.identityProviderMapper(id: "m-1", realmId: acme.id)?.config["group"] == "/ops")
        #expect(try await store.identityProviderMappers(providerId: corp.id, realmId: acme.id).map(\.providerId) == [corp.id])
        #expect(try await store.identityProviderMapper(id: "m-1", realmId: other.id) == nil)

        // A user's deletion takes its link; a provider's, its mappers and links.
        try await store.apply([.linkFederatedIdentity(FederatedIdentity(realmId: acme.id, providerId: corp.id, userId: dave.id, upstreamUserId: "Sub-4", upstreamUsername: "dave"))])
        try await store.apply([.deleteUser(id: dave.id, realmId: acme.id)])
        #expect(try await store.linkedUser(providerId: corp.id, upstreamUserId: "Sub-4", realmId: acme.id) == nil)
        await #expect(throws: StoreError.notFound(.federatedIdentity)) {
            try await store.apply([.unlinkFederatedIdentity(userId: dave.id, providerId: corp.id, realmId: acme.id)])
        }
        try await store.apply([.deleteIdentityProvider(alias: "corp", realmId: acme.id)])
        #expect(try await store.federatedIdentities(userId: carol.id, realmId: acme.id).isEmpty)
        #expect(try await store.identityProviderMappers(realmId: acme.id).isEmpty)
    }

    // MARK: User federation: providers, mappers and the users they imported

    @Test(arguments: StoreBackend.allCases)
    func directoryUsersAreKeptByProviderAndEntryAndGoWithTheirProvider(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let acme = try await f.realm("acme"), other = try await f.realm("other")
        let ldap = StorageComponent(id: "ldap-1", realmId: acme.id, name: "corp", providerId: "ldap",
                                    providerType: StorageComponent.userStorageProviderType,
                                    config: ["connectionUrl": ["ldap://dc1"], "bindCredential": ["s3cret"], "userObjectClasses": ["a", "b"]])
        try await store.apply([.createStorageComponent(ldap)])
        #expect(try await store.storageComponent(id: "ldap-1", realmId: acme.id) == ldap)
        #expect(try await store.storageComponent(id: "ldap-1", realmId: other.id) == nil)
        let mapper = StorageComponent(id: "m-1", realmId: acme.id, parentId: ldap.id, name: "email", providerId: "user-attribute-ldap-mapper",
                                      providerType: StorageComponent.ldapMapperType, config: ["ldap.attribute": ["mail"]])
        try await store.apply([.createStorageComponent(mapper)])
        // A mapper's parent is a provider of its realm: not a mapper, not another realm's.
        for parent in ["m-1", "nowhere"] {
            await #expect(throws: StoreError.notFound(.storageComponent)) {
                try await store.apply([.createStorageComponent(StorageComponent(id: "m-x", realmId: acme.id, parentId: parent, name: "x", providerId: "x", providerType: "x"))])
            }
        }
        await #expect(throws: StoreError.notFound(.storageComponent)) {
            try await store.apply([.createStorageComponent(StorageComponent(id: "m-y", realmId: other.id, parentId: ldap.id, name: "x", providerId: "x", providerType: "x"))])
        }
        #expect(try await store.storageComponents(realmId: acme.id).map(\.id) == ["ldap-1", "m-1"])
        // Read-modify-write; the realm and the parent stay.
        try await store.apply([.updateStorageComponent(id: "m-1", realmId: acme.id) { $0.config["ldap.attribute"] = ["email"]; $0.parentId = nil; $0.realmId = other.id }])
        let changed = try #require(try await store.storageComponent(id: "m-1", realmId: acme.id))
        #expect(changed.parentId == ldap.id && changed.config["ldap.attribute"] == ["email"])
        try await store.apply([.updateStorageComponent(id: "ldap-1", realmId: acme.id) { $0.lastSync = Timestamp(millisecondsSince1970: 42) }])
        #expect(try await store.storageComponent(id: "ldap-1", realmId: acme.id)?.lastSync == Timestamp(millisecondsSince1970: 42))

        // Imported users: one per entry, found by it, their link kept through an admin's update.
        let imported = User(id: "u-1", realmId: acme.id, username: "jo", createdAt: Timestamp(millisecondsSince1970: 1),
                            federationLink: ldap.id, federationId: "Entry-1")
        try await store.apply([.createUser(UserSeed(user: imported))])
        #expect(try await store.directoryUser(providerId: ldap.id, externalId: "Entry-1", realmId: acme.id) == imported)
        #expect(try await store.directoryUser(providerId: ldap.id, externalId: "entry-1", realmId: acme.id) == nil, "ids compare exactly")
        #expect(try await store.directoryUser(providerId: ldap.id, externalId: "Entry-1", realmId: other.id) == nil)
        await #expect(throws: StoreError.conflict(.directoryEntryLinked)) {
            try await store.apply([.createUser(UserSeed(user: User(id: "u-2", realmId: acme.id, username: "jo2", createdAt: Timestamp(millisecondsSince1970: 1),
                                                                   federationLink: ldap.id, federationId: "Entry-1")))])
        }
        // Never a provider of another realm, never a link without an entry id.
        let foreign = StorageComponent(id: "ldap-other", realmId: other.id, name: "theirs", providerId: "ldap",
                                       providerType: StorageComponent.userStorageProviderType)
        try await store.apply([.createStorageComponent(foreign)])
        await #expect(throws: StoreError.self) {
            try await store.apply([.createUser(UserSeed(user: User(id: "u-9", realmId: acme.id, username: "mallory", createdAt: Timestamp(millisecondsSince1970: 1),
                                                                   federationLink: foreign.id, federationId: "Entry-9")))])
        }
        await #expect(throws: StoreError.self) {
            try await store.apply([.createUser(UserSeed(user: User(id: "u-8", realmId: acme.id, username: "nemo", createdAt: Timestamp(millisecondsSince1970: 1),
                                                                   federationLink: ldap.id, federationId: nil)))])
        }
        #expect(try await store.user(id: "u-9", realmId: acme.id) == nil)
        try await store.apply([.deleteStorageComponent(id: foreign.id, realmId: other.id)])
        try await store.apply([.updateUser(id: "u-1", realmId: acme.id) { $0.firstName = "Jo"; $0.federationLink = nil; $0.federationId = "x" }])
        let updated = try #require(try await store.user(id: "u-1", realmId: acme.id))
        #expect(updated.firstName == "Jo" && updated.federationLink == ldap.id && updated.federationId == "Entry-1")
        // A local user linked to an entry; never to an entry another user has.
        let local = try await f.user("sam", in: acme)
        try await store.apply([.linkDirectoryUser(userId: local.id, providerId: ldap.id, externalId: "Entry-2", realmId: acme.id)])
        await #expect(throws: StoreError.conflict(.directoryEntryLinked)) {
            try await store.apply([.linkDirectoryUser(userId: local.id, providerId: ldap.id, externalId: "Entry-1", realmId: acme.id)])
        }
        let stranger = try await f.user("eve", in: other)
        await #expect(throws: StoreError.self) {
            try await store.apply([.linkDirectoryUser(userId: stranger.id, providerId: ldap.id, externalId: "Entry-3", realmId: acme.id)])
        }
        #expect(try await store.directoryUserCount(providerId: ldap.id, realmId: acme.id) == 2)
        let first = try await store.directoryUsers(providerId: ldap.id, realmId: acme.id, after: nil, limit: 1)
        #expect(first.map(\.username) == [min(updated.username, local.username)])
        #expect(try await store.directoryUsers(providerId: ldap.id, realmId: acme.id, after: first[0].username, limit: 10).map(\.username) == [max(updated.username, local.username)])
        #expect(Set(try await store.directoryUsers(providerId: ldap.id, realmId: acme.id, after: nil, limit: 10).map(\.id)) == [updated.id, local.id])

        // Unlinking keeps the users as local ones; removing deletes them; deleting the provider
        // takes its mappers and the users it imported.
        try await store.apply([.unlinkDirectoryUsers(providerId: ldap.id, realmId: acme.id)])
        #expect(try await store.user(id: local.id, realmId: acme.id)?.federationLink == nil)
        #expect(try await store.directoryUserCount(providerId: ldap.id, realmId: acme.id) == 0)
        try await store.apply([.linkDirectoryUser(userId: local.id, providerId: ldap.id, externalId: "Entry-2", realmId: acme.id)])
        try await store.apply([.removeDirectoryUsers(providerId: ldap.id, realmId: acme.id)])
        #expect(try await store.user(id: local.id, realmId: acme.id) == nil)
        #expect(try await store.user(id: "u-1", realmId: acme.id) != nil)
        try await store.apply([.createUser(UserSeed(user: User(id: "u-3", realmId: acme.id, username: "kim", createdAt: Timestamp(millisecondsSince1970: 1),
                                                               federationLink: ldap.id, federationId: "Entry-3")))])
        try await store.apply([.deleteStorageComponent(id: ldap.id, realmId: acme.id)])
        #expect(try await store.user(id: "u-3", realmId: acme.id) == nil)
        #expect(try await store.user(id: "u-1", realmId: acme.id) != nil)
        #expect(try await store.storageComponents(realmId: acme.id).isEmpty)
        await #expect(throws: StoreError.notFound(.storageComponent)) { try await store.apply([.deleteStorageComponent(id: ldap.id, realmId: acme.id)]) }

        // Bounded: providers per realm.
        for i in 0..<StorageComponent.providersPerRealm {
            try await store.apply([.createStorageComponent(StorageComponent(id: "p-\(i)", realmId: other.id, name: "p\(i)", providerId: "ldap",
                                                                            providerType: StorageComponent.userStorageProviderType))])
        }
        await #expect(throws: StoreError.self) {
            try await store.apply([.createStorageComponent(StorageComponent(id: "p-x", realmId: other.id, name: "px", providerId: "ldap",
                                                                            providerType: StorageComponent.userStorageProviderType))])
        }
    }

    // MARK: Identity providers and client assertions

    @Test(arguments: StoreBackend.allCases)
    func identityProvidersAreKeptByAliasAndAssertionsUsedOnce(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let f = Fixtures(store)
        let acme = try await f.realm("acme"), other = try await f.realm("other")
        let github = IdentityProvider(id: "idp-1", realmId: acme.id, alias: "github", providerId: "oidc", displayName: "GitHub",
                                      config: ["issuer": "https://token.actions.example", "clientSecret": "s"])
        try await store.apply([.createIdentityProvider(github)])
        #expect(try await store.identityProvider(alias: "github", realmId: acme.id) == github)
        #expect(try await store.identityProvider(alias: "github", realmId: other.id) == nil)
        await #expect(throws: StoreError.conflict(.identityProviderAlias)) {
            try await store.apply([.createIdentityProvider(IdentityProvider(id: "idp-2", realmId: acme.id, alias: "github", providerId: "oidc"))])
        }
        try await store.apply([.createIdentityProvider(IdentityProvider(id: "idp-3", realmId: other.id, alias: "github", providerId: "oidc"))])
        try await store.apply([.updateIdentityProvider(alias: "github", realmId: acme.id) { $0.alias = "gh"; $0.enabled = false; $0.id = "moved" }])
        let renamed = try #require(try await store.identityProvider(alias: "gh", realmId: acme.id))
        #expect(renamed.id == "idp-1" && !renamed.enabled && renamed.config == github.config)
        #expect(try await store.identityProviders(realmId: acme.id).map(\.alias) == ["gh"])

        // Federated clients found by their attributes (keys with dots), in their realm only.
        var client = try await f.client("ci", in: acme)
        try await store.apply([.updateClient(id: client.id, realmId: acme.id) {
            $0.attributes = ["jwt.credential.issuer": "gh", "jwt.credential.sub": "repo:acme/app:ref:refs/heads/main",
                             "client.authenticator.type": "federated-jwt"]
        }])
        client = try #require(try await store.client(id: client.id, realmId: acme.id))
        #expect(try await store.federatedClients(alias: "gh", subject: "repo:acme/app:ref:refs/heads/main", realmId: acme.id).map(\.id) == [client.id])
        #expect(try await store.federatedClients(alias: "gh", subject: "repo:acme/app:ref:refs/heads/other", realmId: acme.id).isEmpty)
        #expect(try await store.federatedClients(alias: "gh", subject: "repo:acme/app:ref:refs/heads/main", realmId: other.id).isEmpty)
        // A disabled copy, or a client switched back to its secret (its attributes left), does not count.
        let copy = try await f.client("ci-copy", in: acme)
        try await store.apply([.updateClient(id: copy.id, realmId: acme.id) {
            $0.attributes = ["jwt.credential.issuer": "gh", "jwt.credential.sub": "repo:acme/app:ref:refs/heads/main"]
        }])
        #expect(try await store.federatedClients(alias: "gh", subject: "repo:acme/app:ref:refs/heads/main", realmId: acme.id).map(\.id) == [client.id])
        try await store.apply([.updateClient(id: copy.id, realmId: acme.id) {
            $0.attributes["client.authenticator.type"] = "federated-jwt"
            $0.enabled = false
        }])
        #expect(try await store.federatedClients(alias: "gh", subject: "repo:acme/app:ref:refs/heads/main", realmId: acme.id).map(\.id) == [client.id])
        // The registry door asks whether the token endpoint spent an assertion.
        #expect(try await !store.clientAssertionUsed(key: "k9", realmId: acme.id, now: Timestamp(millisecondsSince1970: 1_000_000)))

        // Each assertion once until it expires; then its key is free again.
        let t0 = Timestamp(millisecondsSince1970: 1_000_000)
        #expect(try await store.useClientAssertion(key: "k1", realmId: acme.id, expiresAt: t0.adding(seconds: 60), now: t0))
        #expect(try await !store.useClientAssertion(key: "k1", realmId: acme.id, expiresAt: t0.adding(seconds: 60), now: t0.adding(seconds: 30)))
        #expect(try await store.useClientAssertion(key: "k1", realmId: other.id, expiresAt: t0.adding(seconds: 60), now: t0))
        #expect(try await store.useClientAssertion(key: "k1", realmId: acme.id, expiresAt: t0.adding(seconds: 200), now: t0.adding(seconds: 61)))
        #expect(try await store.deleteExpiredClientAssertions(before: t0.adding(seconds: 100)) == 1)

        try await store.apply([.deleteIdentityProvider(alias: "gh", realmId: acme.id)])
        await #expect(throws: StoreError.notFound(.identityProvider)) { try await store.apply([.deleteIdentityProvider(alias: "gh", realmId: acme.id)]) }
        // A realm's deletion takes its providers along.
        try await store.deleteRealm(id: other.id)
        #expect(try await store.identityProviders(realmId: other.id).isEmpty)
    }
}
