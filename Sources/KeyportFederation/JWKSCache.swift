import Foundation
import KeyportModel
import KeyportOutboundHTTP
import Synchronization

/// Identity providers' key sets, fetched from their `jwksUrl` and kept for `freshFor`. A token
/// whose `kid` the kept set lacks (the issuer rotated) fetches again — but at most once per
/// `refetchAfter` per URL, so a stream of junk tokens with made-up `kid`s cannot make Keyport
/// hammer the issuer or hold its own connections. Concurrent requests for one URL share one fetch.
///
/// When a fetch fails, the set fetched before keeps serving the keys it holds (an issuer briefly
/// down does not stop CI) — for at most `staleFor` after it was fetched: a key the issuer rotated
/// out is not trusted for as long as it stays unreachable. A `kid` the kept set lacks while the
/// issuer cannot be read is "unavailable" (try again), not "no such key".
public final class JWKSCache: Sendable {
    let http: OutboundHTTP
    let now: @Sendable () -> Timestamp
    let freshFor: Int64
    let refetchAfter: Int64
    let staleFor: Int64
    /// A key set is at most this long (GitHub's is ~2 KB; Google's ~1 KB).
    public static let maxBytes = 256 * 1024
    /// How many URLs are kept: identity providers are at most 100 a realm, and an admin could
    /// otherwise change URLs to grow this without end.
    public static let maxEntries = 1_000

    struct Entry {
        /// The last set fetched, and when.
        var keys: JSONWebKeySet?
        var fetchedAt: Timestamp
        /// The last attempt, and whether it failed.
        var attemptedAt: Timestamp
        var failed: Bool
        var fetching: Task<Void, Never>?
    }
    let entries = Mutex([String: Entry]())

    public init(http: OutboundHTTP = .shared, now: @escaping @Sendable () -> Timestamp, freshForSeconds: Int = 600, refetchAfterSeconds: Int = 30,
                staleForSeconds: Int = 3600) {
        self.http = http
        self.now = now
        self.freshFor = Int64(freshForSeconds) * 1000
        self.refetchAfter = Int64(refetchAfterSeconds) * 1000
        self.staleFor = Int64(staleForSeconds) * 1000
    }

    public enum Failure: Error, Equatable, Sendable {
        /// The issuer's key set could not be read (unreachable, not 200, too large, not a key set).
        case unavailable
    }

    /// The key for `kid` from the set at `url` (nil: the issuer's current set has no such key).
    /// A fetch it starts counts against `partition`'s outbound slots (the realm asking).
    public func key(url: String, kid: String?, partition: String) async -> Result<VerificationKey?, Failure> {
        enum Step { case answer(Result<VerificationKey?, Failure>), wait(Task<Void, Never>) }
        for _ in 0..<2 {
            let current = now()
            let step: Step = entries.withLock { entries in
                if let entry = entries[url] {
                    if let fetching = entry.fetching { return .wait(fetching) }
                    let age = current.milliseconds(since: entry.fetchedAt)
                    let usable = entry.keys.flatMap { age < staleFor ? $0 : nil }
                    if let keys = usable, age < freshFor, let key = keys.key(kid: kid) { return .answer(.success(key)) }
                    if current.milliseconds(since: entry.attemptedAt) < refetchAfter {
                        // Tried moments ago: answer from what that attempt left.
                        if let key = usable?.key(kid: kid) { return .answer(.success(key)) }
                        return .answer(entry.failed || usable == nil ? .failure(.unavailable) : .success(nil))
                    }
                } else if entries.count >= Self.maxEntries,
                          let oldest = entries.min(by: { $0.value.attemptedAt < $1.value.attemptedAt })?.key {
                    entries[oldest] = nil
                }
                let task = Task { await self.refresh(url, partition: partition) }
                var entry = entries[url] ?? Entry(keys: nil, fetchedAt: current, attemptedAt: current, failed: false)
                entry.fetching = task
                entries[url] = entry
                return .wait(task)
            }
            switch step {
            case .answer(let result): return result
            case .wait(let task): await task.value  // then answer from what it left
            }
        }
        return .failure(.unavailable)
    }

    /// Fetches the set and records the attempt; a failure keeps the set there was. A fetch the
    /// asking realm had no outbound slot for is no attempt at all: the set is shared by every
    /// realm, and one realm out of slots (its own providers hanging) must not mark a shared
    /// issuer (GitHub's keys) as failed for everyone — the next caller, charged to its own realm,
    /// fetches instead.
    func refresh(_ url: String, partition: String) async {
        let outcome = await fetch(url, partition: partition)
        entries.withLock { entries in
            let at = now()
            var entry = entries[url] ?? Entry(keys: nil, fetchedAt: at, attemptedAt: at, failed: false)
            entry.fetching = nil
            switch outcome {
            case .fetched(let keys):
                entry.keys = keys
                entry.fetchedAt = at
                entry.attemptedAt = at
                entry.failed = false
            case .failed:
                entry.attemptedAt = at
                entry.failed = true
            case .noSlot:
                if entry.keys == nil, !entry.failed { entry.attemptedAt = Timestamp(millisecondsSince1970: .min) }
            }
            entries[url] = entry
        }
    }

    enum Outcome { case fetched(JSONWebKeySet), failed, noSlot }

    func fetch(_ url: String, partition: String) async -> Outcome {
        switch await http.get(url: url, maxBody: Self.maxBytes, partition: partition) {
        case .failure(.busy): return .noSlot
        case .success(let answer) where answer.status == 200:
            guard let keys = try? JSONWebKeySet(json: answer.body) else { return .failed }
            return .fetched(keys)
        default: return .failed
        }
    }

    /// Forgets every kept set (tests; an issuer's rotation needs nothing: an unknown `kid` fetches again).
    public func removeAll() { entries.withLock { $0.removeAll() } }
}
