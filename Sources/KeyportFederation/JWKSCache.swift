import Foundation
import KeyportModel
import KeyportOutboundHTTP
import Synchronization

/// Identity providers' key sets, fetched from their `jwksUrl` and kept for `freshFor`. A token
/// whose `kid` the kept set lacks (the issuer rotated) fetches again — but at most once per
/// `refetchAfter` per URL, so a stream of junk tokens with made-up `kid`s cannot make Keyport
/// hammer the issuer or hold its own connections. Concurrent requests for one URL share one fetch.
public final class JWKSCache: Sendable {
    let http: OutboundHTTP
    let now: @Sendable () -> Timestamp
    let freshFor: Int64
    let refetchAfter: Int64
    /// A key set is at most this long (GitHub's is ~2 KB; Google's ~1 KB).
    public static let maxBytes = 256 * 1024
    /// How many URLs are kept: identity providers are at most 100 a realm, and an admin could
    /// otherwise change URLs to grow this without end.
    public static let maxEntries = 1_000

    struct Entry {
        var keys: JSONWebKeySet?
        var fetchedAt: Timestamp
        var fetching: Task<JSONWebKeySet?, Never>?
    }
    let entries = Mutex([String: Entry]())

    public init(http: OutboundHTTP = .shared, now: @escaping @Sendable () -> Timestamp, freshForSeconds: Int = 600, refetchAfterSeconds: Int = 30) {
        self.http = http
        self.now = now
        self.freshFor = Int64(freshForSeconds) * 1000
        self.refetchAfter = Int64(refetchAfterSeconds) * 1000
    }

    public enum Failure: Error, Equatable, Sendable {
        /// The issuer's key set could not be read (unreachable, not 200, too large, not a key set).
        case unavailable
    }

    /// The key for `kid` from the set at `url`: the kept set, a fresh one when it is stale or
    /// lacks the key (within the refetch limit).
    public func key(url: String, kid: String?) async -> Result<VerificationKey?, Failure> {
        let current = now()
        enum Step { case use(JSONWebKeySet), unavailable, wait(Task<JSONWebKeySet?, Never>) }
        let step: Step = entries.withLock { entries in
            if let entry = entries[url] {
                if let fetching = entry.fetching { return .wait(fetching) }
                let age = current.milliseconds(since: entry.fetchedAt)
                if let keys = entry.keys {
                    if age < freshFor, keys.key(kid: kid) != nil { return .use(keys) }
                    // Fetched moments ago and still without that key: the key is not the issuer's.
                    if age < refetchAfter { return .use(keys) }
                } else if age < refetchAfter {
                    return .unavailable
                }
            } else if entries.count >= Self.maxEntries,
                      let oldest = entries.min(by: { $0.value.fetchedAt < $1.value.fetchedAt })?.key {
                entries[oldest] = nil
            }
            let task = Task { await self.refresh(url) }
            entries[url, default: Entry(keys: nil, fetchedAt: current)].fetching = task
            return .wait(task)
        }
        switch step {
        case .use(let keys): return .success(keys.key(kid: kid))
        case .unavailable: return .failure(.unavailable)
        case .wait(let task):
            guard let keys = await task.value else { return .failure(.unavailable) }
            return .success(keys.key(kid: kid))
        }
    }

    /// Fetches the set and keeps it; a failed fetch keeps the set there was (an issuer briefly
    /// down does not stop CI) and answers it, or nil when there was none.
    func refresh(_ url: String) async -> JSONWebKeySet? {
        let fetched = await fetch(url)
        return entries.withLock { entries in
            var entry = entries[url] ?? Entry(keys: nil, fetchedAt: now())
            entry.fetching = nil
            entry.fetchedAt = now()
            if let fetched { entry.keys = fetched }
            entries[url] = entry
            return entry.keys
        }
    }

    func fetch(_ url: String) async -> JSONWebKeySet? {
        guard case .success(let answer) = await http.get(url: url, maxBody: Self.maxBytes), answer.status == 200 else { return nil }
        return try? JSONWebKeySet(json: answer.body)
    }

    /// Forgets every kept set (tests; an administrator's key rotation upstream needs nothing: an
    /// unknown `kid` fetches again).
    public func removeAll() { entries.withLock { $0.removeAll() } }
}
