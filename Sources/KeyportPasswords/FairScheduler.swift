import Synchronization

/// Thrown when the password-hashing queues are full: the caller answers 503 with
/// `Retry-After` at once instead of waiting without bound (load shedding).
public struct PasswordHashingOverloaded: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "password hashing is saturated; try again shortly" }
}

/// Admits work to a fixed number of slots, fairly across partitions (a realm's logins, one
/// administrator's imports): waiting work is served by start-time fair queuing on *cost* — each
/// partition's virtual time grows by the cost of what it was served (Argon2 memory × passes), and
/// the partition furthest behind goes next. A flood against one partition waits in that
/// partition's queue while another's job is served after at most one job of each busy
/// partition; and a partition of costly jobs (a realm import at the cost ceiling) gets the same
/// share of hashing *time* as one of cheap logins, not the same number of turns. Each
/// partition's queue and the total are bounded; past a bound, `admit` refuses at once
/// (`PasswordHashingOverloaded`, a 503).
///
/// The queue holds the work itself, not waiting tasks: a slot that finishes takes the next job
/// on its own thread (`next`). Handing the slot to a waiting task instead meant that task had to
/// be scheduled first — behind every request of a flood in Swift's cooperative queue — so under
/// a flood the hashing threads sat idle between hashes (seen: 6 hashes/s instead of 90).
final class FairScheduler: Sendable {
    /// One unit of work; `cancelled` is true when the pool that would run it has shut down.
    typealias Job = @Sendable (_ cancelled: Bool) -> Void

    private struct Waiting {
        var jobs: [(job: Job, cost: Double)] = []
        /// Start tag of the partition's next job: where its share of the hashing time stands.
        var virtualTime: Double
    }

    private struct State {
        var running = 0
        var queues: [String: Waiting] = [:]
        /// Partitions with waiting work, in the order they became busy (ties go to the earliest).
        var order: [String] = []
        /// The start tag of the job served last: a partition that becomes busy starts here, so
        /// an idle spell earns no credit.
        var virtualTime: Double = 0
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

    /// `cost`: what the job takes from the slots (any positive unit, the same for every job).
    func admit(partition: String, cost: Double = 1, _ job: @escaping Job) -> Admission {
        let cost = cost.isFinite ? max(cost, 1e-9) : 1
        return state.withLock { s -> Admission in
            if s.running < slots && s.queued == 0 {
                s.running += 1
                return .runNow
            }
            let waiting = s.queues[partition]?.jobs.count ?? 0
            guard waiting < maxQueuedPerPartition, s.queued < maxQueued else { return .refused }
            if waiting == 0 {
                s.order.append(partition)
                s.queues[partition] = Waiting(virtualTime: s.virtualTime)
            }
            s.queues[partition]!.jobs.append((job, cost))
            s.queued += 1
            return .queued
        }
    }

    /// For a slot that finished its job: the job of the partition furthest behind (the slot stays
    /// taken), or nil when nothing waits (the slot is free).
    func next() -> Job? {
        state.withLock { s -> Job? in
            guard !s.order.isEmpty else {
                s.running -= 1
                return nil
            }
            // At most `maxQueued` partitions wait: a linear pick is bounded.
            var best = 0
            for i in s.order.indices.dropFirst() where s.queues[s.order[i]]!.virtualTime < s.queues[s.order[best]]!.virtualTime {
                best = i
            }
            let partition = s.order[best]
            var waiting = s.queues[partition]!
            let (job, cost) = waiting.jobs.removeFirst()
            s.virtualTime = waiting.virtualTime
            waiting.virtualTime += cost
            s.queued -= 1
            if waiting.jobs.isEmpty {
                s.queues[partition] = nil
                s.order.remove(at: best)
            } else {
                s.queues[partition] = waiting
            }
            return job
        }
    }

    /// Work waiting, for tests and metrics.
    var queuedCount: Int { state.withLock { $0.queued } }
}
