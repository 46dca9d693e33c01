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
/// realm. Each partition's queue and the total are bounded; past a bound, `admit` refuses
/// at once (`PasswordHashingOverloaded`, a 503).
///
/// The queue holds the work itself, not waiting tasks: a slot that finishes takes the next job
/// on its own thread (`next`). Handing the slot to a waiting task instead meant that task had to
/// be scheduled first — behind every request of a flood in Swift's cooperative queue — so under
/// a flood the hashing threads sat idle between hashes (seen: 6 hashes/s instead of 90).
final class FairScheduler: Sendable {
    /// One unit of work; `cancelled` is true when the pool that would run it has shut down.
    typealias Job = @Sendable (_ cancelled: Bool) -> Void

    private struct State {
        var running = 0
        var queues: [String: [Job]] = [:]
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

    enum Admission: Equatable {
        /// A slot is the caller's: run the job on a hashing thread, then keep taking `next()`.
        case runNow
        /// Queued: a slot that finishes will run it.
        case queued
        /// The queues are full.
        case refused
    }

    func admit(partition: String, _ job: @escaping Job) -> Admission {
        state.withLock { s -> Admission in
            if s.running < slots && s.queued == 0 {
                s.running += 1
                return .runNow
            }
            let waiting = s.queues[partition]?.count ?? 0
            guard waiting < maxQueuedPerPartition, s.queued < maxQueued else { return .refused }
            if waiting == 0 { s.order.append(partition) }
            s.queues[partition, default: []].append(job)
            s.queued += 1
            return .queued
        }
    }

    /// For a slot that finished its job: the next partition's job in turn (the slot stays
    /// taken), or nil when nothing waits (the slot is free).
    func next() -> Job? {
        state.withLock { s -> Job? in
            guard !s.order.isEmpty else {
                s.running -= 1
                return nil
            }
            if s.cursor >= s.order.count { s.cursor = 0 }
            let partition = s.order[s.cursor]
            let job = s.queues[partition]!.removeFirst()
            s.queued -= 1
            if s.queues[partition]!.isEmpty {
                s.queues[partition] = nil
                s.order.remove(at: s.cursor)
            } else {
                s.cursor += 1
            }
            return job
        }
    }

    /// Work waiting, for tests and metrics.
    var queuedCount: Int { state.withLock { $0.queued } }
}
