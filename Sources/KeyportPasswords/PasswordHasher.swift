import KeyportModel
import NIOCore
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
public final class PasswordHasher: Sendable {
    private let pool: NIOThreadPool
    private let randomBytes: @Sendable (Int) -> [UInt8]
    /// Told how long each hash took (for metrics), never what was hashed.
    private let observe: @Sendable (Duration) -> Void
    private let dummySalt: [UInt8]

    public init(threads: Int = System.coreCount, randomBytes: @escaping @Sendable (Int) -> [UInt8],
                observe: @escaping @Sendable (Duration) -> Void = { _ in }) {
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.pool.start()
        self.randomBytes = randomBytes
        self.observe = observe
        self.dummySalt = randomBytes(16)
    }

    public func shutdown() async throws {
        try await pool.shutdownGracefully()
    }

    /// A new PHC string for `password` under `parameters`, with a fresh random salt.
    public func hash(_ password: Sensitive, parameters: Argon2Parameters) async throws -> Sensitive {
        let salt = randomBytes(parameters.saltLength)
        let digest = try await run {
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
    public func verify(_ password: Sensitive, against stored: Sensitive, policy: Argon2Parameters) async throws -> PasswordCheck {
        if let legacy = PBKDF2Hash(stored: stored.revealed) {
            let computed = try await run { try legacy.derive(password.revealed) }
            guard constantTimeEquals(computed, legacy.hash) else { return .mismatch }
            return .match(rehashed: try await hash(password, parameters: policy))
        }
        guard let parsed = PasswordHash(phc: stored.revealed) else {
            try await burn(policy: policy)
            return .mismatch
        }
        let computed = try await run {
            try Argon2.hash(password: password.revealed, salt: parsed.salt, variant: parsed.variant, version: parsed.version,
                            memoryKiB: parsed.memoryKiB, iterations: parsed.iterations, parallelism: parsed.parallelism,
                            length: parsed.hash.count)
        }
        guard constantTimeEquals(computed, parsed.hash) else { return .mismatch }
        if parsed.matches(policy) { return .match(rehashed: nil) }
        return .match(rehashed: try await hash(password, parameters: policy))
    }

    /// Spends what checking one password under `policy` costs, for a user that does not
    /// exist or cannot log in: the answer's timing then says nothing about which it was.
    public func burn(policy: Argon2Parameters) async throws {
        let salt = Array(dummySalt.prefix(policy.saltLength)) + randomBytes(max(0, policy.saltLength - dummySalt.count))
        _ = try await run {
            try Argon2.hash(password: "keyport-timing-equalizer", salt: salt, variant: .argon2id, version: 0x13,
                            memoryKiB: policy.memoryKiB, iterations: policy.iterations, parallelism: policy.parallelism,
                            length: policy.hashLength)
        }
    }

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let observe = self.observe
        return try await pool.runIfActive {
            let clock = ContinuousClock()
            let start = clock.now
            defer { observe(clock.now - start) }
            return try work()
        }
    }
}
