import ArgumentParser
import Foundation
import KeyportModel
import KeyportPasswords
import KeyportSQLite
import KeyportStore

/// Programs that print figures. Speed is measured here, never asserted in the test suite.
@main
struct KeyportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyport-bench",
        abstract: "Keyport benchmarks: each prints what it measured.",
        subcommands: [StoreWrites.self, EffectiveRoles.self, PasswordHashing.self, Argon2Rate.self, HashingFairness.self])
}

/// Creates users one transaction at a time, printing `committed <username>` after each
/// commit. The crash test kills this mid-stream and then checks every printed user exists.
struct StoreWrites: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store-writes", abstract: "Sequential user creations, one transaction each.")

    @Option var db: String
    @Option var count = 1000

    func run() async throws {
        let env = TimeAndRandomness.live
        let store = try SQLiteStore.open(path: db, now: { env.now().millisecondsSince1970 })
        let realm = Realm(id: env.newID(), name: "bench-\(env.newID().prefix(8))", enabled: true, createdAt: env.now())
        try await store.createRealm(RealmSeed(realm: realm))
        let out = FileHandle.standardOutput
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<count {
            let user = User(id: env.newID(), realmId: realm.id, username: "user\(i)", email: "user\(i)@bench.test", createdAt: env.now())
            let credential = Credential(id: env.newID(), userId: user.id, secret: Sensitive("$argon2id$bench"), createdAt: env.now())
            try await store.createUser(UserSeed(user: user, credentials: [credential]))
            out.write(Data("committed \(realm.name) \(user.username)\n".utf8))
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        FileHandle.standardError.write(Data(String(format: "store-writes: %d users in %.2f s = %.0f writes/s\n", count, seconds, Double(count) / seconds).utf8))
    }
}

/// Effective-role resolution on a realm of realistic size.
struct EffectiveRoles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "effective-roles", abstract: "Effective roles of random users in a large realm.")

    @Option var db: String
    @Option var users = 100_000
    @Option var roles = 3_000
    @Option var groups = 300
    @Option var samples = 2_000

    func run() async throws {
        let env = TimeAndRandomness.live
        let store = try SQLiteStore.open(path: db, now: { env.now().millisecondsSince1970 })
        let now = env.now()
        let realm = Realm(id: env.newID(), name: "big-\(env.newID().prefix(8))", enabled: true, createdAt: now)
        var seed = RealmSeed(realm: realm)
        let client = Client(id: env.newID(), realmId: realm.id, clientId: "registry", protocolName: .dockerV2, createdAt: now)
        seed.clients = [client]
        var rng = SystemRandomNumberGenerator()
        for i in 0..<roles {
            seed.roles.append(Role(id: env.newID(), realmId: realm.id, clientId: i % 2 == 0 ? client.id : nil, name: "role\(i)",
                                   attributes: ["docker.grant": ["repository:team\(i)/*:pull,push"]]))
        }
        // Composites: each role contains up to three later roles (a DAG several levels deep), plus one cycle.
        for i in 0..<roles {
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let j = Int.random(in: i..<roles, using: &rng)
                if j != i { seed.composites.append((seed.roles[i].id, seed.roles[j].id)) }
            }
        }
        seed.composites.append((seed.roles[roles - 1].id, seed.roles[0].id))
        // Groups: a tree five levels deep.
        for i in 0..<groups {
            let parent = i < 5 ? nil : seed.groups[Int.random(in: max(0, i - 50)..<i, using: &rng)].id
            seed.groups.append(Group(id: env.newID(), realmId: realm.id, parentId: parent, name: "group\(i)"))
            for _ in 0..<3 { seed.groupRoles.append((seed.groups[i].id, seed.roles[Int.random(in: 0..<roles, using: &rng)].id)) }
        }
        for i in 0..<users {
            let user = User(id: env.newID(), realmId: realm.id, username: "user\(i)", createdAt: now)
            let roleIds = (0..<3).map { _ in seed.roles[Int.random(in: 0..<roles, using: &rng)].id }
            let groupIds = (0..<2).map { _ in seed.groups[Int.random(in: 0..<groups, using: &rng)].id }
            seed.users.append(UserSeed(user: user, roleIds: Array(Set(roleIds)), groupIds: Array(Set(groupIds))))
        }
        let clock = ContinuousClock()
        let seedStart = clock.now
        try await store.createRealm(seed)
        print("seeded \(users) users, \(roles) roles, \(seed.composites.count) composite edges, \(groups) groups in \(clock.now - seedStart)")

        var timings: [Double] = []
        var totalRoles = 0
        for _ in 0..<samples {
            let user = seed.users[Int.random(in: 0..<users, using: &rng)].user
            let start = clock.now
            totalRoles += try await store.effectiveRoles(userId: user.id, realmId: realm.id).count
            let d = clock.now - start
            timings.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
        }
        timings.sort()
        print(String(format: "effective roles over %d users: p50 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.1f roles per user",
                     samples, timings[samples / 2], timings[samples * 99 / 100], timings.last ?? 0, Double(totalRoles) / Double(samples)))
    }
}

struct PasswordHashing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "password-hash", abstract: "Argon2id hashes with Keycloak's defaults.")

    @Option var count = 50

    func run() async throws {
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        let clock = ContinuousClock()
        _ = try await hasher.hash(Sensitive("warm-up"), parameters: .keycloakDefault)
        var timings: [Double] = []
        for i in 0..<count {
            let start = clock.now
            _ = try await hasher.hash(Sensitive("password\(i)"), parameters: .keycloakDefault)
            let d = clock.now - start
            timings.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
        }
        timings.sort()
        print(String(format: "argon2id m=7168 t=5 p=1 (one thread): median %.1f ms, min %.1f ms, max %.1f ms over %d hashes",
                     timings[count / 2], timings.first ?? 0, timings.last ?? 0, count))
        try await hasher.shutdown()
    }
}

/// The raw Argon2id rate of this machine's cores (one hashing thread per core, Keycloak's
/// defaults): what the token benchmark's cold figure is a ratio to.
struct Argon2Rate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "argon2-rate", abstract: "Argon2id hashes per second on every core.")

    @Option var seconds = 5.0

    func run() async throws {
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let hasher = PasswordHasher(threads: threads, randomBytes: TimeAndRandomness.live.randomBytes, maxQueuedPerRealm: 4096, maxQueued: 4096)
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(seconds * 1000))
        let start = clock.now
        let done = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<(threads * 2) {
                group.addTask {
                    var n = 0
                    while clock.now < end {
                        _ = try await hasher.hash(Sensitive("password\(worker)-\(n)"), parameters: .keycloakDefault)
                        n += 1
                    }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "argon2_rate %.1f hashes/s on %d cores", Double(done) / secs, threads))
        try await hasher.shutdown()
    }
}

/// One realm floods the hashing pool; how long does another realm's login wait? Side by side in
/// one run: realm B's hash latency idle, then while realm A keeps its queue full.
struct HashingFairness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hashing-fairness",
                                                    abstract: "Another realm's hash latency, idle and while one realm floods the pool.")

    @Option var samples = 40
    @Option(help: "Concurrent logins realm A keeps in flight") var flood = 200

    func run() async throws {
        let hasher = PasswordHasher(randomBytes: TimeAndRandomness.live.randomBytes)
        let clock = ContinuousClock()
        func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
        func latencies(partition: String = "B") async throws -> [Double] {
            var out: [Double] = []
            var i = 0
            while out.count < samples {
                i += 1
                let start = clock.now
                do {
                    _ = try await hasher.hash(Sensitive("b\(i)"), parameters: .keycloakDefault, partition: partition)
                    out.append(ms(clock.now - start))
                } catch is PasswordHashingOverloaded {
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            return out.sorted()
        }
        _ = try await hasher.hash(Sensitive("warm-up"), parameters: .keycloakDefault, partition: "B")
        let idle = try await latencies()
        let stop = ManagedAtomicFlag()
        let counts = ShedCounter()
        let flooders = (0..<flood).map { i in
            Task {
                while !stop.isSet {
                    do { _ = try await hasher.hash(Sensitive("a\(i)"), parameters: .keycloakDefault, partition: "A"); counts.served() }
                    catch is PasswordHashingOverloaded { counts.shed(); try? await Task.sleep(for: .milliseconds(5)) }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let loaded = try await latencies()
        // For comparison, the same logins waiting in A's queue: what one shared FIFO queue gives.
        let shared = try await latencies(partition: "A")
        stop.set()
        for f in flooders { _ = await f.result }
        func p(_ list: [Double], _ q: Double) -> Double { list[min(list.count - 1, Int(Double(list.count) * q))] }
        print(String(format: "realm B hash latency, idle:            p50 %.1f ms, p99 %.1f ms (%d samples)", p(idle, 0.5), p(idle, 0.99), samples))
        print(String(format: "realm B hash latency, A flooding (%d): p50 %.1f ms, p99 %.1f ms; factor p50 %.1fx", flood, p(loaded, 0.5), p(loaded, 0.99), p(loaded, 0.5) / p(idle, 0.5)))
        print(String(format: "same login in A's queue (one FIFO):     p50 %.1f ms, p99 %.1f ms; factor p50 %.1fx", p(shared, 0.5), p(shared, 0.99), p(shared, 0.5) / p(idle, 0.5)))
        print("realm A: \(counts.servedCount) hashes served, \(counts.shedCount) requests shed (503) meanwhile")
        try await hasher.shutdown()
    }
}

import Synchronization

final class ManagedAtomicFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

final class ShedCounter: Sendable {
    private let counts = Mutex((served: 0, shed: 0))
    func served() { counts.withLock { $0.served += 1 } }
    func shed() { counts.withLock { $0.shed += 1 } }
    var servedCount: Int { counts.withLock { $0.served } }
    var shedCount: Int { counts.withLock { $0.shed } }
}
