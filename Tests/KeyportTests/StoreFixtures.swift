import KeyportModel
import KeyportStore

/// Small builders so each conformance test states only what it is about.
struct Fixtures {
    let store: any IdentityStore
    let env: TimeAndRandomness

    init(_ store: any IdentityStore, clock: TestClock = TestClock()) {
        self.store = store
        self.env = testEnvironment(clock: clock)
    }

    @discardableResult
    func realm(_ name: String, duplicateEmails: Bool = false) async throws -> Realm {
        let realm = Realm(id: env.newID(), name: name, enabled: true, duplicateEmailsAllowed: duplicateEmails, createdAt: env.now())
        try await store.createRealm(RealmSeed(realm: realm))
        return realm
    }

    @discardableResult
    func user(_ name: String, in realm: Realm, email: String? = nil, roles: [Role] = [], groups: [Group] = [], password: String? = nil) async throws -> User {
        let user = User(id: env.newID(), realmId: realm.id, username: name, email: email, createdAt: env.now())
        let credentials = password.map { [Credential(id: env.newID(), userId: user.id, secret: Sensitive($0), createdAt: env.now())] } ?? []
        try await store.createUser(UserSeed(user: user, credentials: credentials, roleIds: roles.map(\.id), groupIds: groups.map(\.id)))
        return user
    }

    @discardableResult
    func client(_ clientId: String, in realm: Realm, protocol proto: ClientProtocol = .openIDConnect) async throws -> Client {
        let client = Client(id: env.newID(), realmId: realm.id, clientId: clientId, protocolName: proto, createdAt: env.now())
        try await store.createClient(client, roles: [])
        return client
    }

    @discardableResult
    func role(_ name: String, in realm: Realm, client: Client? = nil, attributes: [String: [String]] = [:]) async throws -> Role {
        let role = Role(id: env.newID(), realmId: realm.id, clientId: client?.id, name: name, attributes: attributes)
        try await store.createRole(role)
        return role
    }

    @discardableResult
    func group(_ name: String, in realm: Realm, parent: Group? = nil) async throws -> Group {
        let group = Group(id: env.newID(), realmId: realm.id, parentId: parent?.id, name: name)
        try await store.createGroup(group)
        return group
    }
}
