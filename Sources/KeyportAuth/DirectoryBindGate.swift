import Synchronization

/// One password check of a directory's person at a time, per person, on this node: the lockout
/// is read before a bind and counted after it, so without this, wrong passwords sent at once would
/// all reach the directory before the first is counted — and a handful sent together would lock
/// the person out of everything the directory serves. Requests for a person whose check is under
/// way wait their turn, then find the lockout or the remembered right password the check before
/// them left; past `maxWaiting` they are told the directory is busy. A remembered right password
/// with no failure pending is answered without a turn (a fleet sharing one account is not queued).
public final class DirectoryBindGate: Sendable {
    public static let maxWaiting = 16

    private struct State {
        var busy: Set<String> = []
        var waiting: [String: [CheckedContinuation<Bool, Never>]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Waits for `key`'s turn; false (at once) when too many already wait for it.
    func enter(_ key: String) async -> Bool {
        if state.withLock({ $0.busy.insert(key).inserted }) { return true }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            // Decided in one lock: freed meanwhile (ours at once), room to wait, or none.
            let answer: Bool? = state.withLock { state in
                if state.busy.insert(key).inserted { return true }
                guard state.waiting[key, default: []].count < Self.maxWaiting else { return false }
                state.waiting[key, default: []].append(continuation)
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Ends `key`'s turn: the next waiter's (it stays busy), or nobody's.
    func leave(_ key: String) {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            guard var queue = state.waiting[key], !queue.isEmpty else {
                state.busy.remove(key)
                state.waiting[key] = nil
                return nil
            }
            let first = queue.removeFirst()
            state.waiting[key] = queue.isEmpty ? nil : queue
            return first
        }
        next?.resume(returning: true)
    }

    /// Checks waiting their turn, for all people.
    var waitingCount: Int { state.withLock { $0.waiting.values.reduce(0) { $0 + $1.count } } }
}
