import GRDB
import Synchronization

/// Read-only connections of the store's own, used on the calling thread for the single-statement
/// lookups of a token request.
///
/// GRDB's async read hops through two dispatch queues and back — three thread switches for a
/// lookup that takes microseconds, the largest item of a warm token request's profile. Blocking
/// on the pool's readers instead is not safe on Linux: Swift's tasks and GRDB's reader queues
/// share libdispatch's threads, so tasks blocked on a busy pool can starve the very blocks that
/// would free it (seen: a deadlock within seconds). These connections belong to nobody else and
/// are only ever taken with a try: a caller that finds none free reads through the pool as
/// before, so no thread ever waits here.
final class HotReaders: Sendable {
    private let connections: [DatabaseQueue]
    private let free: Mutex<[Int]>
    private let closed = Atomic<Bool>(false)

    /// `count` connections (the store opens one per core, at most eight), on `path` with
    /// `configuration` (so `prepareDatabase` — tracing in tests — applies to them too), read-only.
    init(path: String, configuration: Configuration, count: Int) throws {
        var readonly = configuration
        readonly.readonly = true
        readonly.label = (configuration.label ?? "keyport") + ".hot"
        connections = try (0..<max(1, count)).map { _ in try DatabaseQueue(path: path, configuration: readonly) }
        free = Mutex(Array(connections.indices))
    }

    /// Runs `body` on a free connection, on this thread; nil when none is free (or after `close`).
    func read<T>(_ body: (Database) throws -> T) throws -> T? {
        guard !closed.load(ordering: .acquiring), let index = free.withLock({ $0.popLast() }) else { return nil }
        defer { free.withLock { $0.append(index) } }
        return try connections[index].unsafeRead(body)
    }

    func close() throws {
        closed.store(true, ordering: .releasing)
        for connection in connections { try connection.close() }
    }
}
