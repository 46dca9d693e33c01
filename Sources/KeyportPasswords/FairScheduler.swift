import Synchronization

/// Thrown when the password-hashing queues are full: the caller answers 503 with
/// `Retry-After` at once instead of waiting without bound (load shedding).
public struct PasswordHashingOverloaded: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "password hashing is saturated; try again shortly" }
}

/// Admits work to a fixed number of slots, fairly across partitions (realms): waiting work
/// is served round-robin by partition, so a flood of logins against one realm waits in that
/// realm's queue while another realm's login is served after at most one turn per busy
/// realm. Each partition's queue and the total are bounded; past a bound, `acquire` throws
/// `PasswordHashingOverloaded` immediately.
final class FairScheduler: Sendable {
    private struct State {
        var running = 0
        var queues: [String: [CheckedContinuation<Void, any Error>]] = [:]
        /// Partitions with waiting work, in round-robin order; `cursor` is the next to serve.
        var order: [String] = []
        var cursor = 0
        var queued = 0
    }

    let slots: Int
    let maxQueuedPerPartition: Int
    let maxQueued: Int
    private let state = Mutex(State())

    init(slots: Int, maxQueuedPerPartition: Int, maxQueued: Int) {
        self.slots = max(1, slots)
        self.maxQueuedPerPartition = max(0, maxQueuedPerPartition)
        self.maxQueued = max(0, maxQueued)
    }

    private enum Admission { case run, wait, refuse }

    /// Waits for a slot (or throws when the queues are full). Pair with `release()`.
    func acquire(partition: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let admission = state.withLock { s -> Admission in
                if s.running < slots && s.queued == 0 {
                    s.running += 1
                    return .run
                }
                let waiting = s.queues[partition]?.count ?? 0
                guard waiting < maxQueuedPerPartition, s.queued < maxQueued else { return .refuse }
                if waiting == 0 { s.order.append(partition) }
                s.queues[partition, default: []].append(continuation)
                s.queued += 1
                return .wait
            }
            switch admission {
            case .run: continuation.resume()
            case .refuse: continuation.resume(throwing: PasswordHashingOverloaded())
            case .wait: break
            }
        }
    }

    /// Hands the slot to the next partition in turn, or frees it.
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            guard !s.order.isEmpty else {
                s.running -= 1
                return nil
            }
            if s.cursor >= s.order.count { s.cursor = 0 }
            let partition = s.order[s.cursor]
            let waiter = s.queues[partition]!.removeFirst()
            s.queued -= 1
            if s.queues[partition]!.isEmpty {
                s.queues[partition] = nil
                s.order.remove(at: s.cursor)
            } else {
                s.cursor += 1
            }
            return waiter
        }
        next?.resume()
    }

    /// Work waiting, for tests and metrics.
    var queuedCount: Int { state.withLock { $0.queued } }
}
