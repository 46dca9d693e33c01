import KeyportModel
import KeyportStore
import Synchronization

/// Records login events off the request path: `record` only enqueues, a background task
/// writes. A slow or failing database therefore never slows or fails a token request; when
/// the queue is full the newest events are kept and the dropped ones counted.
public final class EventRecorder: Sendable {
    private final class Counters: Sendable {
        let state = Mutex((pending: 0, dropped: 0, failed: 0))
        let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])

        func wakeIfIdle() {
            guard state.withLock({ $0.pending == 0 }) else { return }
            let ready = waiters.withLock { w -> [CheckedContinuation<Void, Never>] in defer { w = [] }; return w }
            for waiter in ready { waiter.resume() }
        }
    }

    private let continuation: AsyncStream<Event>.Continuation
    private let counters = Counters()

    public init(store: any IdentityStore, capacity: Int = 10_000, onFailure: @escaping @Sendable (any Error) -> Void = { _ in }) {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(capacity))
        self.continuation = continuation
        let counters = self.counters
        Task.detached {
            for await event in stream {
                do {
                    try await store.recordEvent(event)
                } catch {
                    counters.state.withLock { $0.failed += 1 }
                    onFailure(error)
                }
                counters.state.withLock { $0.pending -= 1 }
                counters.wakeIfIdle()
            }
        }
    }

    public func record(_ event: Event) {
        counters.state.withLock { $0.pending += 1 }
        if case .dropped = continuation.yield(event) {
            counters.state.withLock { $0.pending -= 1; $0.dropped += 1 }
        }
    }

    public var droppedCount: Int { counters.state.withLock { $0.dropped } }

    /// Waits until every event recorded so far is written (tests and shutdown use this).
    public func waitUntilIdle() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            counters.waiters.withLock { $0.append(c) }
            counters.wakeIfIdle()
        }
    }

    deinit { continuation.finish() }
}
