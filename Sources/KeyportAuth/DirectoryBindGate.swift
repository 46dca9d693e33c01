import Synchronization

/// One password check of a directory's person at a time, per person, on this node: the lockout
/// is read before a bind and counted after it, so without this, wrong passwords sent at once would
/// all reach the directory before the first is counted — and a handful sent together would lock
/// the person out of everything the directory serves. Requests for a person whose check is under
/// way wait their turn (a `docker push` asks for several tokens at once), then find the lockout
/// or the remembered right password the check before them left; past `maxWaiting` they are told
/// the directory is busy.
public final class DirectoryBindGate: Sendable {
    public static let maxWaiting = 16

    private struct State {
        var busy: Set<String> = []
        var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Waits for `key`'s turn; false (at once) when too many already wait for it.
    func enter(_ key: String) async -> Bool {
        enum Next { case go, wait, refuse }
        let next: Next = state.withLock { state in
            if state.busy.insert(key).inserted { return .go }
            return state.waiting[key, default: []].count < Self.maxWaiting ? .wait : .refuse
        }
        switch next {
        case .go: return true
        case .refuse: return false
        case .wait:
            await withCheckedContinuation { continuation in
                let now = state.withLock { state in
                    // Freed between the check and here: ours at once.
                    if state.busy.insert(key).inserted { return true }
                    state.waiting[key, default: []].append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
            return true
        }
    }

    /// Ends `key`'s turn: the next waiter's (it stays busy), or nobody's.
    func leave(_ key: String) {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard var queue = state.waiting[key], !queue.isEmpty else {
                state.busy.remove(key)
                state.waiting[key] = nil
                return nil
            }
            let first = queue.removeFirst()
            state.waiting[key] = queue.isEmpty ? nil : queue
            return first
        }
        next?.resume()
    }

    /// Checks waiting their turn, for all people.
    var waitingCount: Int { state.withLock { $0.waiting.values.reduce(0) { $0 + $1.count } } }
}
