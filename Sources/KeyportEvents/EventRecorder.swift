import KeyportModel
import KeyportStore
import Synchronization

/// Records login events off the request path: `record` only enqueues, a background task
/// writes what has queued up in batches (one transaction for up to `batchSize` events). A slow
/// or failing database therefore never slows or fails a token request; when the queue is full
/// the newest events are kept and the dropped ones counted (`queue_full` in `/metrics`).
///
/// Events cannot be turned into a weapon against the disk: a realm's `eventsEnabled` and
/// `enabledEventTypes` are honoured, each detail is capped, and failed logins are stored at
/// most `failuresPerMinute` per realm (a token bucket) — the rest are only counted
/// (`onSuppressed`, which `/metrics` shows). Requests without credentials are never stored.
/// Successes are bounded too: the same request of a user on a client (type and requested
/// access) at most `successesPerMinute` (a registry client asks for a token at every pull),
/// and any at most `successesPerMinutePerUser`; the ones skipped are counted into the next one
/// of their kind stored (`repeated`). And a realm never holds more than `maxPerRealm` events: each
/// batch drops a realm's oldest past that, in its own transaction.
public final class EventRecorder: Sendable {
    /// Why an event was not stored.
    public enum Suppression: String, Sendable, CaseIterable {
        case disabled, rateLimited = "rate_limited", unauthenticated
        /// The write queue was full: the oldest waiting event was dropped.
        case queueFull = "queue_full"
        /// A docker-v2 token given without credentials under a client's anonymous grants.
        case anonymous
        /// A success past `successesPerMinute` for its user, client and type (counted into the next one stored).
        case repeated
    }

    public static let maxDetailLength = 1024
    public static let maxDetails = 16

    /// A token bucket: `perMinute` at once, refilled at that rate; `skipped` counts what it
    /// refused since it last granted (reported with the next success of its kind).
    private struct Bucket {
        var tokens: Double
        var updated: Timestamp
        var skipped = 0

        static func refilled(_ bucket: Bucket?, perMinute: Int, at time: Timestamp) -> Bucket {
            let capacity = Double(perMinute)
            var bucket = bucket ?? Bucket(tokens: capacity, updated: time)
            let elapsed = Double(max(0, time.milliseconds(since: bucket.updated))) / 60_000
            bucket.tokens = min(capacity, bucket.tokens + elapsed * capacity)
            bucket.updated = time
            return bucket
        }
    }
    private final class Counters: Sendable {
        let state = Mutex((pending: 0, dropped: 0, failed: 0, enqueued: 0, settled: 0, nextWaiter: 0))
        /// Events waiting to be written, oldest first.
        let queue = Mutex<[Event]>([])
        let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])
        /// Waiting for the events queued before them (`mark`) to be written or dropped.
        let markWaiters = Mutex<[(id: Int, mark: Int, continuation: CheckedContinuation<Void, Never>)]>([])

        func wakeSettled() {
            let settled = state.withLock { $0.settled }
            let ready = markWaiters.withLock { w -> [CheckedContinuation<Void, Never>] in
                let done = w.filter { $0.mark <= settled }.map(\.continuation)
                w.removeAll { $0.mark <= settled }
                return done
            }
            for waiter in ready { waiter.resume() }
        }

        /// Resumes waiter `id` if it is still waiting: whoever takes it off the list resumes it, once.
        func expire(_ id: Int) {
            let found = markWaiters.withLock { w -> CheckedContinuation<Void, Never>? in
                guard let index = w.firstIndex(where: { $0.id == id }) else { return nil }
                return w.remove(at: index).continuation
            }
            found?.resume()
        }

        func wakeIfIdle() {
            guard state.withLock({ $0.pending == 0 }) else { return }
            let ready = waiters.withLock { w -> [CheckedContinuation<Void, Never>] in defer { w = [] }; return w }
            for waiter in ready { waiter.resume() }
        }
    }

    /// Wakes the writer when events are queued (`counters.queue`).
    private let capacity: Int
    private let signal: AsyncStream<Void>.Continuation
    private let counters = Counters()
    public static let batchSize = 256
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Per user, client and type: the bucket, and the successes skipped since one was stored.
    private let successBuckets = Mutex<[String: Bucket]>([:])
    /// Keys of `successBuckets` kept at most; past that the map starts again (the per-realm
    /// cap still holds whatever is let through).
    static let maxSuccessKeys = 50_000
    private let successesPerMinute: Int
    private let successesPerMinutePerUser: Int
    private let maxPerRealm: Int
    private let now: @Sendable () -> Timestamp
    private let failuresPerMinute: Int
    private let onSuppressed: @Sendable (Suppression) -> Void

    /// Events one realm keeps at most, by default (`--events-max-per-realm`).
    public static let defaultMaxPerRealm = 200_000

    public init(store: any IdentityStore, capacity: Int = 10_000, now: @escaping @Sendable () -> Timestamp,
                failuresPerMinute: Int = 60, successesPerMinute: Int = 10, successesPerMinutePerUser: Int = 600,
                maxPerRealm: Int = defaultMaxPerRealm,
                onSuppressed: @escaping @Sendable (Suppression) -> Void = { _ in },
                onFailure: @escaping @Sendable (any Error) -> Void = { _ in }) {
        self.now = now
        self.failuresPerMinute = max(1, failuresPerMinute)
        self.successesPerMinute = max(1, successesPerMinute)
        self.successesPerMinutePerUser = max(1, successesPerMinutePerUser)
        self.maxPerRealm = max(1, maxPerRealm)
        let maxPerRealm = self.maxPerRealm
        self.onSuppressed = onSuppressed
        self.capacity = max(1, capacity)
        let (wakes, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.signal = signal
        let counters = self.counters
        Task.detached {
            for await _ in wakes {
                while true {
                    let batch = counters.queue.withLock { q -> [Event] in
                        let n = min(q.count, Self.batchSize)
                        defer { q.removeFirst(n) }
                        return Array(q.prefix(n))
                    }
                    if batch.isEmpty { break }
                    do {
                        try await store.recordEvents(batch, keepingPerRealm: maxPerRealm)
                    } catch {
                        // One bad row (its realm deleted meanwhile) must not lose the others.
                        for event in batch {
                            do { try await store.recordEvent(event) } catch {
                                counters.state.withLock { $0.failed += 1 }
                                onFailure(error)
                            }
                        }
                    }
                    counters.state.withLock { $0.pending -= batch.count; $0.settled &+= batch.count }
                    counters.wakeIfIdle()
                    counters.wakeSettled()
                }
            }
        }
    }

    /// Stores `event` unless `realm` says not to, or it is a failure past the realm's rate.
    public func record(_ event: Event, in realm: Realm) {
        guard realm.storesEvent(type: event.type) else { return onSuppressed(.disabled) }
        if event.error != nil && !takeFailureToken(realmId: realm.id) { return onSuppressed(.rateLimited) }
        // A repeat is decided before the details are capped: most of a registry's pulls are one.
        let skipped = event.error == nil ? takeSuccessToken(event) : 0
        guard let skipped else { return onSuppressed(.repeated) }
        var capped = event
        capped.details = Self.cap(event.details)
        if skipped > 0 { capped.details["repeated"] = String(skipped) }
        capped.ipAddress = event.ipAddress.map { String($0.prefix(64)) }
        capped.error = event.error.map { String($0.prefix(255)) }
        enqueue(capped)
    }

    /// Counts a request that is not worth a row (say, one without credentials).
    public func suppress(_ reason: Suppression) { onSuppressed(reason) }

    static func cap(_ details: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in details.sorted(by: { $0.key < $1.key }).prefix(maxDetails) {
            out[String(key.prefix(64))] = capValue(value)
        }
        return out
    }

    /// A detail's value within `maxDetailLength` bytes, saying how long it was when cut.
    static func capValue(_ value: String) -> String {
        guard value.utf8.count > maxDetailLength else { return value }
        var cut = value.prefix(maxDetailLength - 32)
        while cut.utf8.count > maxDetailLength - 32 { cut = cut.dropLast() }
        return "\(cut)… (\(value.utf8.count) bytes)"
    }

    /// Token buckets for successes: one per realm, user, client, type and requested access (the
    /// same request again: `successesPerMinute`), one per realm, user and client (any request:
    /// `successesPerMinutePerUser`). `nil` when this one is skipped, else how many of its kind
    /// were skipped before it.
    private func takeSuccessToken(_ event: Event) -> Int? {
        let time = now()
        let general = "\(event.realmId)\u{0}\(event.userId ?? "")\u{0}\(event.clientId ?? "")"
        // The credential and address too: a password login must not be skipped as a repeat of a
        // personal access token's (the registry's audit trail infers the credential from these).
        let credential = event.details["token_id"] ?? event.details["identity_token_id"] ?? event.details["credential_type"] ?? ""
        // Capped as the stored details are (a key per request held until the next minute).
        let requested = event.details["requested_access"].map(Self.capValue) ?? ""
        let specific = "\(general)\u{0}\(event.type)\u{0}\(requested)\u{0}\(String(credential.prefix(Self.maxDetailLength)))\u{0}\(String((event.ipAddress ?? "").prefix(64)))"
        return successBuckets.withLock { b in
            if b.count >= Self.maxSuccessKeys - 1 && (b[specific] == nil || b[general] == nil) { b.removeAll(keepingCapacity: true) }
            var one = Bucket.refilled(b[specific], perMinute: successesPerMinute, at: time)
            var all = Bucket.refilled(b[general], perMinute: successesPerMinutePerUser, at: time)
            defer { b[specific] = one; b[general] = all }
            guard one.tokens >= 1, all.tokens >= 1 else {
                one.skipped += 1
                return nil
            }
            one.tokens -= 1
            all.tokens -= 1
            let skipped = one.skipped
            one.skipped = 0
            return skipped
        }
    }

    /// A token bucket per realm: `failuresPerMinute` at once, refilled at that rate.
    private func takeFailureToken(realmId: String) -> Bool {
        let time = now()
        return buckets.withLock { b in
            var bucket = Bucket.refilled(b[realmId], perMinute: failuresPerMinute, at: time)
            let granted = bucket.tokens >= 1
            if granted { bucket.tokens -= 1 }
            b[realmId] = bucket
            return granted
        }
    }

    func enqueue(_ event: Event) {
        // Counted before it is queued: the writer may take it at once.
        counters.state.withLock { $0.pending += 1; $0.enqueued &+= 1 }
        let droppedOldest = counters.queue.withLock { q -> Bool in
            q.append(event)
            guard q.count > capacity else { return false }
            q.removeFirst()
            return true
        }
        if droppedOldest {
            counters.state.withLock { $0.pending -= 1; $0.dropped += 1; $0.settled &+= 1 }
            counters.wakeSettled()
            onSuppressed(.queueFull)
        }
        signal.yield(())
    }

    public var droppedCount: Int { counters.state.withLock { $0.dropped } }

    /// Waits until every event recorded so far is written (tests and shutdown use this).
    public func waitUntilIdle() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            counters.waiters.withLock { $0.append(c) }
            counters.wakeIfIdle()
        }
    }

    /// Waits until the events recorded before this call are written (or dropped), or `timeout`
    /// passes, whichever comes first: a reader of what was just recorded (the registry
    /// notifications' credential inference) is never held by a busy or slow database.
    public func waitUntilWritten(timeout: Duration) async {
        let (mark, id) = counters.state.withLock { s -> (Int, Int) in
            s.nextWaiter &+= 1
            return (s.enqueued, s.nextWaiter)
        }
        let counters = self.counters
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            counters.markWaiters.withLock { $0.append((id, mark, c)) }
            counters.wakeSettled()
            Task {
                try? await Task.sleep(for: timeout)
                counters.expire(id)
            }
        }
    }

    deinit { signal.finish() }
}
