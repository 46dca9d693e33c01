@testable import KeyportAuth
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportStore
import Synchronization
import Testing

@Suite("Password authentication")
struct AuthenticatorTests {
    /// Counts the Argon2 computations each login costs.
    final class HashCounter: Sendable {
        private let count = Mutex(0)
        func tick() { count.withLock { $0 += 1 } }
        func take() -> Int { count.withLock { let c = $0; $0 = 0; return c } }
    }

    struct World {
        let store: any IdentityStore
        let realm: Realm
        let hasher: PasswordHasher
        let counter: HashCounter
        let authenticator: PasswordAuthenticator
        let fixtures: Fixtures
    }

    func world(policy: Argon2Parameters = Argon2Parameters(memoryKiB: 1024, iterations: 1, parallelism: 1)) async throws -> World {
        let store = try await StoreBackend.sqlite.makeStore()
        let counter = HashCounter()
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes, observe: { _ in counter.tick() })
        let f = Fixtures(store)
        var realm = try await f.realm("acme")
        realm.passwordHashing = policy
        try await store.updateRealm(id: realm.id) { [realm] in $0 = realm }
        return World(store: store, realm: realm, hasher: hasher, counter: counter,
                     authenticator: PasswordAuthenticator(store: store, hasher: hasher, now: { TimeAndRandomness.live.now() }), fixtures: f)
    }

    func addUser(_ w: World, _ name: String, password: String, parameters: Argon2Parameters? = nil, enabled: Bool = true,
                 email: String? = nil, requiredActions: [String] = []) async throws -> User {
        let hash = try await w.hasher.hash(Sensitive(password), parameters: parameters ?? w.realm.passwordHashing)
        var user = try await w.fixtures.user(name, in: w.realm, email: email, password: hash.revealed)
        user.enabled = enabled
        user.requiredActions = requiredActions
        try await w.store.updateUser(id: user.id, realmId: user.realmId) { [user] in $0 = user }
        _ = w.counter.take()
        return user
    }

    @Test func theRightPasswordAuthenticatesCaseInsensitively() async throws {
        let w = try await world()
        let alice = try await addUser(w, "alice", password: "pw", email: "alice@acme.io")
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "Alice", password: Sensitive("pw")) == .authenticated(alice))
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "ALICE@acme.io", password: Sensitive("pw")) == .authenticated(alice))
    }

    /// Unknown user, wrong password, disabled user: each costs exactly one hash, so timing
    /// cannot tell them apart; only the (private) reason differs.
    @Test func everyFailureCostsOneHash() async throws {
        let w = try await world()
        let bob = try await addUser(w, "bob", password: "pw")
        let carol = try await addUser(w, "carol", password: "pw", enabled: false)
        let noPassword = try await w.fixtures.user("dave", in: w.realm)

        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "nobody", password: Sensitive("pw")) == .failed(.userNotFound, user: nil))
        #expect(w.counter.take() == 1)
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "bob", password: Sensitive("wrong")) == .failed(.invalidCredentials, user: bob))
        #expect(w.counter.take() == 1)
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "carol", password: Sensitive("pw")) == .failed(.userDisabled, user: carol))
        #expect(w.counter.take() == 1)
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "dave", password: Sensitive("pw")) == .failed(.invalidCredentials, user: noPassword))
        #expect(w.counter.take() == 1)
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "", password: Sensitive("pw")) == .failed(.userNotFound, user: nil))
        #expect(w.counter.take() == 1)
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: String(repeating: "x", count: 10_000), password: Sensitive("pw")) == .failed(.userNotFound, user: nil))
        #expect(w.counter.take() == 1)

        // A robot's wrong secret costs the same (issue 24: it answered ten times faster, telling
        // a clientId from a username), and the right one costs nothing.
        var robot = Client(id: "robot-id", realmId: w.realm.id, clientId: "robot", createdAt: w.realm.createdAt)
        robot.publicClient = false
        robot.serviceAccountsEnabled = true
        robot.secret = Sensitive("robot-secret")
        try await w.store.apply([.createClient(robot)])
        let account = User(id: "robot-user", realmId: w.realm.id, username: "service-account-robot", createdAt: w.realm.createdAt,
                           serviceAccountClientId: robot.id)
        try await w.store.createUser(UserSeed(user: account))
        #expect(try await w.authenticator.authenticate(realm: w.realm, serviceAccountOf: robot, secret: Sensitive("wrong")) == .failed(.invalidCredentials, user: account))
        #expect(w.counter.take() == 1)
        #expect(try await w.authenticator.authenticate(realm: w.realm, serviceAccountOf: robot, secret: Sensitive("robot-secret")) == .authenticated(account))
        #expect(w.counter.take() == 0)
    }

    @Test func requiredActionsBlockALoginWithTheRightPassword() async throws {
        let w = try await world()
        let erin = try await addUser(w, "erin", password: "pw", requiredActions: ["UPDATE_PASSWORD"])
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "erin", password: Sensitive("pw")) == .failed(.accountNotFullySetUp, user: erin))
    }

    @Test func aLoginRehashesToTheRealmsPolicy() async throws {
        let w = try await world()
        let old = Argon2Parameters(memoryKiB: 2048, iterations: 2, parallelism: 1)
        let frank = try await addUser(w, "frank", password: "pw", parameters: old)
        #expect(try await w.store.credentials(userId: frank.id).first?.secret.revealed.hasPrefix("$argon2id$v=19$m=2048,t=2,p=1$") == true)
        // A wrong password changes nothing.
        _ = try await w.authenticator.authenticate(realm: w.realm, username: "frank", password: Sensitive("nope"))
        #expect(try await w.store.credentials(userId: frank.id).first?.secret.revealed.hasPrefix("$argon2id$v=19$m=2048,t=2,p=1$") == true)
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "frank", password: Sensitive("pw")) == .authenticated(frank))
        let stored = try #require(try await w.store.credentials(userId: frank.id).first?.secret.revealed)
        #expect(stored.hasPrefix("$argon2id$v=19$m=1024,t=1,p=1$"))
        // And the new hash still opens the door.
        #expect(try await w.authenticator.authenticate(realm: w.realm, username: "frank", password: Sensitive("pw")) == .authenticated(frank))
    }
}

/// Wrong passwords of a directory's person sent at once: the lockout is read before each bind and
/// counted after it, so each check must wait for the one before — else all of them reach the
/// directory before the first is counted. A directory that answers only when the test says so
/// holds each bind open; at most three ever reach it.
@Suite("Directory password checks, one at a time")
struct DirectoryBindGateTests {
    /// Every check says "wrong password" once allowed to answer; counts the checks that reached it.
    final class HeldDirectory: UserDirectories {
        let state = Mutex<(calls: Int, permits: Int, held: [CheckedContinuation<Void, Never>])>((0, 0, []))
        func importUser(named username: String, realm: Realm) async throws -> User? { nil }
        func standing(of user: User, realm: Realm) async throws -> DirectoryVerdict { .match(user) }
        func verify(_ user: User, password: Sensitive, realm: Realm) async throws -> DirectoryVerdict {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state in
                    state.calls += 1
                    guard state.permits == 0 else { state.permits -= 1; return true }
                    state.held.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
            return .mismatch
        }
        var calls: Int { state.withLock { $0.calls } }
        /// Lets one check answer: a held one, or the next to come.
        func release() {
            let held: CheckedContinuation<Void, Never>? = state.withLock { state in
                if state.held.isEmpty { state.permits += 1; return nil }
                return state.held.removeFirst()
            }
            held?.resume()
        }
    }

    /// Says every password is right, at once; counts the checks that reached it.
    final class AgreeingDirectory: UserDirectories {
        let calls = Mutex(0)
        func importUser(named username: String, realm: Realm) async throws -> User? { nil }
        func standing(of user: User, realm: Realm) async throws -> DirectoryVerdict { .match(user) }
        func verify(_ user: User, password: Sensitive, realm: Realm) async throws -> DirectoryVerdict {
            calls.withLock { $0 += 1 }
            return .match(user)
        }
    }

    /// A realm with a directory and alice, a person it imported.
    func directoryRealm() async throws -> (any IdentityStore, Realm, User) {
        let store = try await StoreBackend.sqlite.makeStore()
        var stored = try await Fixtures(store).realm("acme")
        stored.hasUserFederation = true
        let provider = StorageComponent(id: "ldap-1", realmId: stored.id, name: "corp", providerId: "ldap",
                                        providerType: StorageComponent.userStorageProviderType, config: [:])
        try await store.apply([.createStorageComponent(provider)])
        let alice = User(id: "alice-id", realmId: stored.id, username: "alice", enabled: true, createdAt: Timestamp(millisecondsSince1970: 0),
                         federationLink: provider.id, federationId: "entry-1")
        try await store.apply([.createUser(Provisioning.newUserSeed(alice, defaultRoleId: nil))])
        return (store, stored, alice)
    }

    /// A remembered right password with no failure pending needs no turn: a fleet of jobs sharing
    /// one directory account is answered while another check of that person is under way.
    @Test(.timeLimit(.minutes(1))) func aRememberedPasswordWaitsForNoTurn() async throws {
        let (store, realm, alice) = try await directoryRealm()
        let directory = AgreeingDirectory()
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        let authenticator = PasswordAuthenticator(store: store, hasher: hasher, now: { Timestamp(millisecondsSince1970: 1_800_000_000_000) },
                                                  verified: VerifiedCredentialCache(seconds: 120), directories: directory)
        #expect(try await authenticator.authenticate(realm: realm, username: "alice", password: Sensitive("right")) == .authenticated(alice))
        let turn = "\(realm.id)\u{0}\(alice.id)"
        #expect(await authenticator.directoryBinds.enter(turn))
        try await withThrowingTaskGroup(of: LoginOutcome.self) { group in
            for _ in 0..<(DirectoryBindGate.maxWaiting + 8) {
                group.addTask { try await authenticator.authenticate(realm: realm, username: "alice", password: Sensitive("right")) }
            }
            for try await outcome in group { #expect(outcome == .authenticated(alice)) }
        }
        authenticator.directoryBinds.leave(turn)
        #expect(directory.calls.withLock { $0 } == 1)
    }

    @Test func wrongPasswordsAtOnceReachTheDirectoryThreeTimesAtMost() async throws {
        let (store, realm, alice) = try await directoryRealm()
        let directory = HeldDirectory()
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        let authenticator = PasswordAuthenticator(store: store, hasher: hasher, now: { Timestamp(millisecondsSince1970: 1_800_000_000_000) },
                                                  directories: directory)
        try await withThrowingTaskGroup(of: LoginOutcome.self) { group in
            for n in 0..<12 {
                group.addTask { try await authenticator.authenticate(realm: realm, username: "alice", password: Sensitive("wrong-\(n)")) }
            }
            // Every request either at the directory or waiting its turn before it answers anyone.
            var spins = 0
            while directory.calls + authenticator.directoryBinds.waitingCount < 12, spins < 1_000_000 {
                spins += 1
                await Task.yield()
            }
            try #require(directory.calls >= 1, "the directory was never asked")
            for _ in 0..<12 {
                directory.release()
                if case .authenticated = try await group.next() { Issue.record("a wrong password passed") }
            }
        }
        #expect(directory.calls == 3)
        #expect(try await store.loginFailures(userId: alice.id, realmId: realm.id)?.numFailures == 3)
        #expect(authenticator.directoryBinds.waitingCount == 0)
    }
}
