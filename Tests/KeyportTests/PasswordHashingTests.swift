import Foundation
@testable import KeyportPasswords
import KeyportModel
import Testing

@Suite("Argon2id password hashing")
struct PasswordHashingTests {
    struct KnownAnswer: Sendable, CustomTestStringConvertible {
        let password: String
        let salt: String
        let variant: PasswordHash.Variant
        let version: Int
        let iterations: Int
        let memoryKiB: Int
        let parallelism: Int
        let hex: String
        var testDescription: String { "\(variant) t=\(iterations) m=\(memoryKiB) p=\(parallelism) v=\(version)" }
    }

    /// Printed by Debian's reference `argon2` command, e.g.
    /// `echo -n password | argon2 somesalt -id -t 2 -k 65536 -p 1 -l 32 -r`.
    static let knownAnswers: [KnownAnswer] = [
        .init(password: "password", salt: "somesalt", variant: .argon2id, version: 0x13, iterations: 2, memoryKiB: 65536, parallelism: 1,
              hex: "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"),
        // Keycloak's defaults.
        .init(password: "correct horse battery staple", salt: "keyportsalt16byt", variant: .argon2id, version: 0x13, iterations: 5, memoryKiB: 7168,
              parallelism: 1, hex: "465aee9546b94c96c8a3d3a8dc05111a1cb4a87d80c04ff86665b5c5b70fb2b6"),
        .init(password: "password", salt: "somesalt", variant: .argon2i, version: 0x13, iterations: 3, memoryKiB: 4096, parallelism: 2,
              hex: "66d90f88ce6cde0b2fb45f65039392c15eb7fb636bdc4e17"),
        .init(password: "password", salt: "somesalt", variant: .argon2d, version: 0x10, iterations: 3, memoryKiB: 4096, parallelism: 2,
              hex: "ca3f6283e132484c5ec83c164a7733d010b8a381d4e7a29a"),
    ]

    @Test(arguments: knownAnswers)
    func matchesTheReferenceImplementation(_ answer: KnownAnswer) throws {
        let bytes = try Argon2.hash(password: answer.password, salt: Array(answer.salt.utf8), variant: answer.variant, version: answer.version,
                                    memoryKiB: answer.memoryKiB, iterations: answer.iterations, parallelism: answer.parallelism,
                                    length: answer.hex.count / 2)
        #expect(bytes.map { String(format: "%02x", $0) }.joined() == answer.hex)
    }

    /// The reference command's own PHC output verifies with Keyport (UTF-8 password, Keycloak parameters).
    @Test func verifiesAPHCStringFromTheReferenceCommand() async throws {
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        let phc = Sensitive("$argon2id$v=19$m=7168,t=5,p=1$c2FsdHNhbHRzYWx0c2FsdA$o8d6IOMJJNqB6KoAl8cFVymqhwfJNhKQu/yfmAidf3I")
        #expect(try await hasher.verify(Sensitive("pässwörd"), against: phc, policy: .keycloakDefault) == .match(rehashed: nil))
        #expect(try await hasher.verify(Sensitive("passwörd"), against: phc, policy: .keycloakDefault) == .mismatch)
    }

    /// When the Debian `argon2` command is installed, cross-check a fresh random input with it.
    @Test func agreesWithTheArgon2CommandOnRandomInput() throws {
        guard let argon2 = ["/usr/bin/argon2", "/usr/local/bin/argon2"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            Issue.record("the reference argon2 command is not installed (Debian package argon2); the setup script installs it")
            return
        }
        let password = UUID().uuidString
        let salt = String(UUID().uuidString.prefix(16))
        let run = try Spawn.output(argon2, [salt, "-id", "-t", "5", "-k", "7168", "-p", "1", "-l", "32", "-r"], input: Data(password.utf8))
        let expected = run.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let ours = try Argon2.hash(password: password, salt: Array(salt.utf8), variant: .argon2id, version: 0x13, memoryKiB: 7168,
                                   iterations: 5, parallelism: 1, length: 32)
        #expect(ours.map { String(format: "%02x", $0) }.joined() == expected)
    }

    @Test func hashesAreStoredAsPHCStringsWithKeycloaksDefaults() async throws {
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        let phc = try await hasher.hash(Sensitive("s3cret"), parameters: .keycloakDefault)
        #expect(phc.revealed.hasPrefix("$argon2id$v=19$m=7168,t=5,p=1$"))
        let parsed = try #require(PasswordHash(phc: phc.revealed))
        #expect(parsed.salt.count == 16)
        #expect(parsed.hash.count == 32)
        #expect(parsed.phcString == phc.revealed)
        // A second hash of the same password has another salt.
        #expect(try await hasher.hash(Sensitive("s3cret"), parameters: .keycloakDefault) != phc)
    }

    @Test func verifyingRehashesOnlyWhenTheParametersDifferFromThePolicy() async throws {
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        let old = Argon2Parameters(memoryKiB: 4096, iterations: 3, parallelism: 1)
        let stored = try await hasher.hash(Sensitive("pw"), parameters: old)
        #expect(try await hasher.verify(Sensitive("pw"), against: stored, policy: old) == .match(rehashed: nil))
        #expect(try await hasher.verify(Sensitive("nope"), against: stored, policy: .keycloakDefault) == .mismatch)
        guard case .match(let rehashed?) = try await hasher.verify(Sensitive("pw"), against: stored, policy: .keycloakDefault) else {
            Issue.record("a right password under old parameters must be rehashed")
            return
        }
        #expect(rehashed.revealed.hasPrefix("$argon2id$v=19$m=7168,t=5,p=1$"))
        #expect(try await hasher.verify(Sensitive("pw"), against: rehashed, policy: .keycloakDefault) == .match(rehashed: nil))
    }

    @Test(arguments: [
        "", "plain", "$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$", "$argon2id$v=19$m=7168,t=5$c2FsdHNhbHRzYWx0$aGFzaGhhc2g",
        "$argon2x$v=19$m=7168,t=5,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g", "$argon2id$v=42$m=7168,t=5,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g",
        "$argon2id$v=19$m=99999999,t=5,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g", "$argon2id$v=19$m=7168,t=5,p=1$c2Fs!HNhbHRzYWx0$aGFzaGhhc2g",
    ])
    func aStoredValueThatIsNotAHashNeverMatches(stored: String) async throws {
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        #expect(try await hasher.verify(Sensitive(""), against: Sensitive(stored), policy: .keycloakDefault) == .mismatch)
        #expect(try await hasher.verify(Sensitive("plain"), against: Sensitive(stored), policy: .keycloakDefault) == .mismatch)
    }

    @Test func secretsNeverPrint() {
        let secret = Sensitive("hunter2")
        #expect("\(secret)" == "***")
        #expect(String(describing: secret) == "***")
        #expect(String(reflecting: secret) == "***")
        #expect(!"\([secret])".contains("hunter2"))
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
    }

    @Test func theHashingPoolIsBoundedToItsThreadCount() async throws {
        // Two threads, eight concurrent hashes: never more than two run at once, whatever the timing.
        let tracker = ConcurrencyTracker()
        let hasher = PasswordHasher(threads: 2, randomBytes: TimeAndRandomness.live.randomBytes)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await hasher.run {
                        tracker.enter()
                        defer { tracker.leave() }
                        _ = try Argon2.hash(password: "pw", salt: Array("saltsaltsalt".utf8), variant: .argon2id, version: 0x13,
                                            memoryKiB: 7168, iterations: 5, parallelism: 1, length: 32)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(tracker.completed == 8)
        #expect((1...2).contains(tracker.maximum))
        try await hasher.shutdown()
    }
}

import Synchronization
final class ConcurrencyTracker: Sendable {
    private let state = Mutex((active: 0, maximum: 0, completed: 0))
    func enter() { state.withLock { $0.active += 1; $0.maximum = max($0.maximum, $0.active) } }
    func leave() { state.withLock { $0.active -= 1; $0.completed += 1 } }
    var completed: Int { state.withLock { $0.completed } }
    var maximum: Int { state.withLock { $0.maximum } }
}
