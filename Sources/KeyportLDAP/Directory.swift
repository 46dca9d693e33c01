import NIOPosix
import Synchronization

/// The threads libldap's blocking calls run on, shared by every directory, and the bounds that
/// keep one slow directory, or one realm's directories, from taking them all: event loops never
/// wait for a directory, and a directory that hangs holds at most its own connections' threads.
public final class DirectoryThreads: Sendable {
    public static let shared = DirectoryThreads(threads: 32, perRealm: 16)

    let pool: NIOThreadPool
    let threads: Int
    let perRealm: Int
    let held = Mutex<(total: Int, perRealm: [String: Int])>((0, [:]))

    public init(threads: Int, perRealm: Int) {
        self.threads = threads
        self.perRealm = perRealm
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    /// Takes a thread's worth of the budget for `realm`, or says no.
    func reserve(realm: String) -> Bool {
        held.withLock { held in
            guard held.total < threads, held.perRealm[realm, default: 0] < perRealm else { return false }
            held.total += 1
            held.perRealm[realm, default: 0] += 1
            return true
        }
    }

    func release(realm: String) {
        held.withLock { held in
            held.total -= 1
            let left = held.perRealm[realm, default: 1] - 1
            held.perRealm[realm] = left > 0 ? left : nil
        }
    }
}

/// One directory as one realm's provider uses it: a small pool of connections bound as the
/// provider's `bindDn` for searches, and a fresh connection for each person's bind. At most
/// `maxConnections` calls run at once; a few more wait their turn and the rest are told `busy`.
public final class Directory: Sendable {
    public let settings: DirectorySettings
    let bindDN: String?
    let bindCredential: String?
    let realm: String
    let maxConnections: Int
    let maxWaiting: Int
    let threads: DirectoryThreads

    struct State {
        var idle: [ConnectionBox] = []
        var busy = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        var closed = false
        /// Lookups of names nobody here has, running or waiting (`reserveNewcomer`).
        var newcomers = 0
    }
    let state = Mutex(State())

    /// `bindDN` nil: searches bind anonymously (Keycloak's "simple" with no DN is refused by most
    /// directories; "none" is anonymous).
    public init(settings: DirectorySettings, bindDN: String?, bindCredential: String?, realm: String,
                maxConnections: Int = 4, threads: DirectoryThreads = .shared) {
        self.settings = settings
        self.bindDN = bindDN
        self.bindCredential = bindCredential
        self.realm = realm
        self.maxConnections = max(1, min(maxConnections, 16))
        self.maxWaiting = self.maxConnections * 8
        self.threads = threads
    }

    /// Closes idle connections; calls under way finish and close theirs.
    public func shutdown() {
        let (idle, waiting) = state.withLock { state in
            state.closed = true
            defer { state.idle = []; state.waiting = [] }
            return (state.idle, state.waiting)
        }
        for box in idle { box.connection = nil }
        // Every caller waiting for a slot is told busy now (each sees `closed`).
        for waiter in waiting { waiter.resume() }
    }

    /// Runs `body` with a connection bound as the provider's service account; the connection
    /// goes back to the pool afterwards unless it broke.
    public func withSession<T: Sendable>(_ body: (DirectorySession) async throws -> T) async throws -> T {
        let box = try await checkOut()
        let session = DirectorySession(directory: self, box: box)
        do {
            let value = try await body(session)
            checkIn(box)
            return value
        } catch {
            checkIn(box)
            throw error
        }
    }

    /// Whether `password` is `dn`'s, by a bind on a connection of its own (never one of the pool's:
    /// a person's bind must not change who the pool's searches run as). Refused before any
    /// connection when the password is empty.
    public func authenticate(dn: String, password: String) async throws(DirectoryError) {
        guard !dn.isEmpty, !password.isEmpty else { throw .invalidCredentials }
        let box = try await checkOut(fresh: true)
        defer { box.connection = nil; checkIn(box) }
        let settings = self.settings
        try await run(box) { (box: ConnectionBox) throws(DirectoryError) in
            let connection = try DirectoryConnection(settings: settings)
            box.connection = connection
            try connection.bind(dn: dn, password: password)
        }
    }

    // MARK: Slots

    /// Takes a place for a lookup of a name nobody here has yet (a first sign-in — or a made-up
    /// name, which anyone can send by the thousand): such lookups, running and waiting, are at
    /// most half the waiting room, so a flood of them leaves the other half to the people already
    /// imported (their binds and refreshes), who wait behind a few searches at worst instead of
    /// being told `busy`.
    public func reserveNewcomer() -> Bool {
        state.withLock { state in
            guard state.newcomers < maxWaiting / 2 else { return false }
            state.newcomers += 1
            return true
        }
    }

    public func releaseNewcomer() {
        state.withLock { $0.newcomers -= 1 }
    }

    /// A connection slot: an idle pooled connection when there is one (unless `fresh`), else an
    /// empty box the first call fills. Waits while `maxConnections` are busy, up to `maxWaiting`.
    func checkOut(fresh: Bool = false) async throws(DirectoryError) -> ConnectionBox {
        enum Next { case ready(ConnectionBox), wait, busy }
        while true {
            let next: Next = state.withLock { state in
                guard !state.closed else { return .busy }
                if state.busy < maxConnections {
                    state.busy += 1
                    if !fresh, let box = state.idle.popLast() { return .ready(box) }
                    return .ready(ConnectionBox(pooled: !fresh))
                }
                return state.waiting.count < maxWaiting ? .wait : .busy
            }
            switch next {
            case .ready(let box): return box
            case .busy: throw .busy
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state in
                        // A slot freed between the check and here: go round again at once.
                        if state.busy < maxConnections || state.closed { return true }
                        state.waiting.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    func checkIn(_ box: ConnectionBox) {
        // Decided before the box is shared again: once it is idle another caller may take it, so
        // the connection is dropped here, while it is still only ours, or kept and never touched.
        let open = box.pooled && box.connection?.isOpen == true
        if !open { box.connection = nil }
        let (waiter, dropped): (CheckedContinuation<Void, Never>?, Bool) = state.withLock { state in
            state.busy -= 1
            let keep = open && !state.closed && state.idle.count < maxConnections
            if keep { state.idle.append(box) }
            return (state.waiting.isEmpty ? nil : state.waiting.removeFirst(), !keep && open)
        }
        if dropped { box.connection = nil }
        waiter?.resume()
    }

    /// Runs one blocking call on the directory threads, within the realm's and the server's budget.
    func run<T: Sendable>(_ box: ConnectionBox, _ call: @escaping @Sendable (ConnectionBox) throws(DirectoryError) -> T) async throws(DirectoryError) -> T {
        guard threads.reserve(realm: realm) else { throw .busy }
        defer { threads.release(realm: realm) }
        do {
            return try await threads.pool.runIfActive { try call(box) }
        } catch let error as DirectoryError {
            throw error
        } catch {
            throw .unavailable("The directory threads are stopped")
        }
    }

    /// The pooled connection in `box`, opened and bound as the service account if it is not.
    func ready(_ box: ConnectionBox) throws(DirectoryError) -> DirectoryConnection {
        if let connection = box.connection, connection.isOpen { return connection }
        let connection = try DirectoryConnection(settings: settings)
        if let bindDN, !bindDN.isEmpty {
            do { try connection.bind(dn: bindDN, password: bindCredential ?? "") } catch .invalidCredentials {
                throw .refused(code: 49, message: "The directory refused the provider's bind DN and credential")
            }
        }
        box.connection = connection
        return connection
    }
}

/// A connection slot. Its connection is touched only by the one call running on it at a time.
final class ConnectionBox: @unchecked Sendable {
    var connection: DirectoryConnection?
    let pooled: Bool

    init(pooled: Bool) { self.pooled = pooled }
}

/// A checked-out connection bound as the provider's service account.
public struct DirectorySession: Sendable {
    let directory: Directory
    let box: ConnectionBox

    /// One search, or one page of it (see `DirectoryConnection.search`). A pooled connection the
    /// directory dropped while idle is opened again once.
    public func search(base: String, scope: SearchScope, filter: String, attributes: [String], pageSize: Int? = nil,
                       cookie: [UInt8] = [], limits: SearchLimits = .standard) async throws(DirectoryError) -> (entries: [DirectoryEntry], cookie: [UInt8]) {
        let directory = self.directory
        let call: @Sendable (ConnectionBox) throws(DirectoryError) -> (entries: [DirectoryEntry], cookie: [UInt8]) = { (box: ConnectionBox) throws(DirectoryError) in
            let wasReused = box.connection?.isOpen == true
            do throws(DirectoryError) {
                return try directory.ready(box).search(base: base, scope: scope, filter: filter, attributes: attributes,
                                                        pageSize: pageSize, cookie: cookie, limits: limits)
            } catch {
                // Only a connection the directory dropped while idle; a timeout is not tried twice.
                guard case .unavailable = error, wasReused, cookie.isEmpty, box.connection?.droppedByDirectory == true else { throw error }
                box.connection = nil
                return try directory.ready(box).search(base: base, scope: scope, filter: filter, attributes: attributes,
                                                        pageSize: pageSize, cookie: cookie, limits: limits)
            }
        }
        return try await directory.run(box, call)
    }
}
