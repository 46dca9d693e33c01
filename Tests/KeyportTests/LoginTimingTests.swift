import Foundation
import GRDB
import KeyportAuth
import KeyportModel
import KeyportPasswords
import KeyportSQLite
import KeyportStore
import Synchronization
import Testing

/// With brute-force protection on, a wrong password for a known user and any password for an
/// unknown one must do the same work: the attacker's stopwatch then cannot tell them apart.
/// Timing is noisy; the work is countable — every statement the database runs.
@Suite("Login timing does not reveal which users exist")
struct LoginTimingTests {
    final class StatementLog: Sendable {
        let statements = Mutex<[String]>([])
        func reset() { statements.withLock { $0 = [] } }
        /// The statements' shapes: their first words, in order (the values differ, not the work).
        var shapes: [String] { statements.withLock { $0.map { String($0.prefix(24)) } } }
    }

    @Test func aKnownAndAnUnknownUserCostTheSameStatementsAndOneHashEach() async throws {
        let log = StatementLog()
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            db.trace { event in
                if case .statement(let statement) = event { log.statements.withLock { $0.append(statement.sql) } }
            }
        }
        let path = temporaryDirectory().appendingPathComponent("keyport.db").path
        let store = try SQLiteStore(writer: try DatabasePool(path: path, configuration: config), now: { 0 })
        let f = Fixtures(store)
        var realm = Realm(id: f.env.newID(), name: "acme", enabled: true, createdAt: f.env.now())
        realm.bruteForce.enabled = true
        realm.bruteForce.quickLoginCheckMilliSeconds = 0
        realm.passwordHashing = Argon2Parameters(memoryKiB: 1024, iterations: 1, parallelism: 1)
        try await store.createRealm(RealmSeed(realm: realm))
        let hashes = Mutex(0)
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes, observe: { _ in hashes.withLock { $0 += 1 } })
        let stored = try await hasher.hash(Sensitive("Right-pw-1"), parameters: realm.passwordHashing)
        try await f.user("alice", in: realm, password: stored.revealed)
        let authenticator = PasswordAuthenticator(store: store, hasher: hasher, now: f.env.now)

        hashes.withLock { $0 = 0 }
        log.reset()
        _ = try await authenticator.authenticate(realm: realm, username: "alice", password: Sensitive("wrong"))
        let known = log.shapes
        let knownHashes = hashes.withLock { $0 }

        hashes.withLock { $0 = 0 }
        log.reset()
        _ = try await authenticator.authenticate(realm: realm, username: "mallory", password: Sensitive("wrong"))
        let unknown = log.shapes
        let unknownHashes = hashes.withLock { $0 }

        #expect(knownHashes == 1 && unknownHashes == 1)
        // The same reads and the same transaction, statement for statement; the known user's
        // transaction also writes its failure count (one page, inside the same commit).
        #expect(known.filter { !$0.hasPrefix("INSERT INTO login_failur") } == unknown, "known: \(known)\nunknown: \(unknown)")
        try await hasher.shutdown()
    }
}
