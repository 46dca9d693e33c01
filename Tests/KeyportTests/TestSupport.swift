import Foundation
import KeyportModel
import KeyportPostgres
import KeyportSQLite
import KeyportStore
import Synchronization

/// A clock tests move by hand: expiry is tested without sleeping.
final class TestClock: Sendable {
    private let current: Mutex<Int64>
    init(_ start: Int64 = 1_764_400_000_000) { current = Mutex(start) }
    var now: Timestamp { Timestamp(millisecondsSince1970: current.withLock { $0 }) }
    func advance(seconds: Int) { current.withLock { $0 += Int64(seconds) * 1000 } }
}

/// Deterministic bytes for reproducible ids; real randomness where a test needs uniqueness
/// across processes.
func testEnvironment(clock: TestClock = TestClock()) -> TimeAndRandomness {
    TimeAndRandomness(now: { clock.now }, randomBytes: TimeAndRandomness.live.randomBytes)
}

/// A fresh folder under the system temp directory, removed by the caller when it likes.
func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("keyport-test-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The backends the store conformance suite runs against. A PostgreSQL store joins this
/// list and must pass every test unchanged.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// The PostgreSQL server the suite runs against: `scripts/test` starts a throwaway cluster
    /// (scripts/postgres-throwaway) and sets this; without it only SQLite runs.
    static let postgresURL = ProcessInfo.processInfo.environment["KEYPORT_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// Every backend this run can reach.
    static var allCases: [StoreBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    func makeStore(clock: TestClock = TestClock()) async throws -> any IdentityStore {
        switch self {
        case .sqlite:
            // A real file in WAL mode, as production runs, not an in-memory stand-in.
            let path = temporaryDirectory().appendingPathComponent("keyport.db").path
            return try SQLiteStore.open(path: path, now: { clock.now.millisecondsSince1970 })
        case .postgres:
            // A schema of its own per store: tests run in parallel on one server.
            let url = try #require(Self.postgresURL, "KEYPORT_TEST_POSTGRES_URL is not set")
            var configuration = try PostgresStore.Configuration(url: url, maximumConnections: 2)
            // TLS is tested end to end (test_several_nodes.py); here each store's handshakes would only cost time.
            configuration.tlsMode = "disable"
            configuration.schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            return try await PostgresStore.open(configuration, now: { clock.now.millisecondsSince1970 })
        }
    }
}

/// Where the repository and its neighbours are, from this file's location.
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Test vectors copied into the repository (Tests/Vectors/README.md): the repo stands alone.
    static let vectors = repository.appendingPathComponent("Tests/Vectors")

    /// A product built beside the test bundle (`.build/debug/keyport`, …).
    static func builtProduct(_ name: String) -> URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = repository.appendingPathComponent(".build/debug/\(name)")
        return FileManager.default.isExecutableFile(atPath: fallback.path) ? fallback : nil
    }
}
import Testing
