import KeyportModel
import NIOCore
import Synchronization
import NIOPosix

/// What checking a password found.
public enum PasswordCheck: Sendable, Equatable {
    case mismatch
    /// The password is right. `rehashed` is a new hash in the realm's current policy when the
    /// stored one was made with other parameters (or another algorithm): store it.
    case match(rehashed: Sensitive?)
}

/// Hashes and checks passwords with Argon2id, off the event loop, on a thread pool bounded
/// to the core count. The bound is what keeps memory flat and the server responsive under a
/// flood of logins: excess requests wait for a thread instead of each allocating 7 MiB.
///
/// Two more bounds keep one tenant from hurting another: work waits in a queue per
/// partition (the realm), served round-robin and bounded (past it: `PasswordHashingOverloaded`,
/// a 503), and no computation exceeds the operator's `PasswordCostCeiling`, whatever a realm's
/// policy or a stored hash asks for.
public final class PasswordHasher: Sendable {
    private let pool: NIOThreadPool
    private let scheduler: FairScheduler
    public let ceiling: PasswordCostCeiling
    private let randomBytes: @Sendable (Int) -> [UInt8]
    /// Told how long each hash took (for metrics), never what was hashed.
    private let observe: @Sendable (Duration) -> Void
    private let dummySalt: [UInt8]

    public init(threads: Int = System.coreCount, randomBytes: @escaping @Sendable (Int) -> [UInt8],
                observe: @escaping @Sendable (Duration) -> Void = { _ in }, ceiling: PasswordCostCeiling = .default,
                maxQueuedPerRealm: Int = 64, maxQueued: Int = 1024) {
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.scheduler = FairScheduler(slots: max(1, threads), maxQueuedPerPartition: maxQueuedPerRealm, maxQueued: maxQueued)
        self.ceiling = ceiling
        self.pool.start()
        self.randomBytes = randomBytes
        self.observe = observe
        self.dummySalt = randomBytes(16)
    }

    public func shutdown() async throws {
        try await pool.shutdownGracefully()
    }

    /// A new PHC string for `password` under `parameters`, with a fresh random salt.
    public func hash(_ password: Sensitive, parameters requested: Argon2Parameters, partition: String = "") async throws -> Sensitive {
        let parameters = ceiling.clamp(requested)
        let salt = randomBytes(parameters.saltLength)
        let digest = try await run(partition: partition, cost: Self.cost(parameters.memoryKiB, parameters.iterations)) {
            try Argon2.hash(password: password.revealed, salt: salt, variant: .argon2id, version: 0x13,
                            memoryKiB: parameters.memoryKiB, iterations: parameters.iterations,
                            parallelism: parameters.parallelism, length: parameters.hashLength)
        }
        let phc = PasswordHash(memoryKiB: parameters.memoryKiB, iterations: parameters.iterations,
                               parallelism: parameters.parallelism, salt: salt, hash: digest)
        return Sensitive(phc.phcString)
    }

    /// Checks `password` against a stored hash. A stored value that does not parse is a
    /// mismatch (after paying the same cost as a real check, so it reveals nothing).
    /// A stored hash costing more than the ceiling is never computed: it is a mismatch at the
    /// policy's cost (the user's administrator must reset that password).
    public func verify(_ password: Sensitive, against stored: Sensitive, policy: Argon2Parameters, partition: String = "") async throws -> PasswordCheck {
        if let legacy = PBKDF2Hash(stored: stored.revealed), legacy.iterations <= ceiling.pbkdf2Iterations {
            // PBKDF2's cost in the same unit, roughly: 1,300,000 iterations take about what 32 MiB × 3 passes do.
            let computed = try await run(partition: partition, cost: Double(legacy.iterations) / 13) { try legacy.derive(password.revealed) }
            guard constantTimeEquals(computed, legacy.hash) else { return .mismatch }
            return .match(rehashed: try await hash(password, parameters: policy, partition: partition))
        }
        guard let parsed = PasswordHash(phc: stored.revealed),
              ceiling.admits(memoryKiB: parsed.memoryKiB, iterations: parsed.iterations, parallelism: parsed.parallelism)
        else {
            try await burn(policy: policy, partition: partition)
            return .mismatch
        }
        let computed = try await run(partition: partition, cost: Self.cost(parsed.memoryKiB, parsed.iterations)) {
            try Argon2.hash(password: password.revealed, salt: parsed.salt, variant: parsed.variant, version: parsed.version,
                            memoryKiB: parsed.memoryKiB, iterations: parsed.iterations, parallelism: parsed.parallelism,
                            length: parsed.hash.count)
        }
        guard constantTimeEquals(computed, parsed.hash) else { return .mismatch }
        if parsed.matches(ceiling.clamp(policy)) { return .match(rehashed: nil) }
        return .match(rehashed: try await hash(password, parameters: policy, partition: partition))
    }

    /// Spends what checking one password under `policy` costs, for a user that does not
    /// exist or cannot log in: the answer's timing then says nothing about which it was.
    public func burn(policy requested: Argon2Parameters, partition: String = "") async throws {
        let policy = ceiling.clamp(requested)
        let salt = Array(dummySalt.prefix(policy.saltLength)) + randomBytes(max(0, policy.saltLength - dummySalt.count))
        _ = try await run(partition: partition, cost: Self.cost(policy.memoryKiB, policy.iterations)) {
            try Argon2.hash(password: "keyport-timing-equalizer", salt: salt, variant: .argon2id, version: 0x13,
                            memoryKiB: policy.memoryKiB, iterations: policy.iterations, parallelism: policy.parallelism,
                            length: policy.hashLength)
        }
    }

    /// What one Argon2 computation takes from the hashing threads, for fair sharing: memory × passes.
    static func cost(_ memoryKiB: Int, _ iterations: Int) -> Double { Double(max(1, memoryKiB)) * Double(max(1, iterations)) }

    /// Runs `work` on a hashing thread once `partition`'s turn comes (see `FairScheduler`);
    /// `cost` is charged to the partition's share.
    func run<T: Sendable>(partition: String = "", cost: Double = 1, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let observe = self.observe
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job: FairScheduler.Job = { cancelled in
                guard !cancelled else { return continuation.resume(throwing: PasswordHashingOverloaded()) }
                let clock = ContinuousClock()
                let start = clock.now
                let result = Result { try work() }
                observe(clock.now - start)
                continuation.resume(with: result)
            }
            switch scheduler.admit(partition: partition, cost: cost, job) {
            case .runNow:
                pool.submit { [scheduler] state in
                    // This slot's thread runs its job, then whatever waits, in turn, until none does.
                    var next: FairScheduler.Job? = job
                    while let current = next {
                        current(state != .active)
                        next = scheduler.next()
                    }
                }
            case .queued:
                break
            case .refused:
                continuation.resume(throwing: PasswordHashingOverloaded())
            }
        }
    }
}
