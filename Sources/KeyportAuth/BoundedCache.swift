import Synchronization

/// A thread-safe dictionary that never holds more than `capacity` entries: past it, the oldest
/// insertion goes (a ring of keys). The token path's caches are built on it, so that no request
/// pattern can grow memory without bound.
public final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public let capacity: Int
    private let state: Mutex<(entries: [Key: Value], order: [Key], head: Int)>

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.state = Mutex(([:], [], 0))
    }

    public subscript(key: Key) -> Value? { state.withLock { $0.entries[key] } }

    public func set(_ value: Value, for key: Key) {
        state.withLock { s in
            if s.entries.updateValue(value, forKey: key) != nil { return }
            if s.order.count < capacity {
                s.order.append(key)
            } else {
                s.entries[s.order[s.head]] = nil
                s.order[s.head] = key
                s.head = (s.head + 1) % capacity
            }
        }
    }

    public func remove(_ key: Key) {
        _ = state.withLock { $0.entries.removeValue(forKey: key) }
    }

    public func removeAll() {
        state.withLock { s in s = ([:], [], 0) }
    }

    /// Drops the entries whose key matches (their ring slots stay until reused).
    public func removeAll(where matches: (Key) -> Bool) {
        state.withLock { s in
            for key in s.entries.keys where matches(key) { s.entries[key] = nil }
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }
}
