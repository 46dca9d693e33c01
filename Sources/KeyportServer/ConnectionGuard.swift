import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Connection hygiene against slow or idle clients (slowloris): a request's head must arrive
/// within `headerTimeout` of the connection opening (or of the previous response), its body
/// within `bodyTimeout` of the head and at `minimumBodyRate` at least (after a short grace), the
/// next one within `idleTimeout` of a response; and past `maxConnections` open connections, a
/// new one closes the connection *that made progress least recently* among those still sending
/// (a head or a body) or idle — never one whose request is complete and being answered. So a
/// flood of half-sent heads or trickled bodies cannot keep a health probe or a real client out,
/// and the process stays under its file limit.
///
/// What it costs a keep-alive request is two atomic stores: the deadlines share one timer per
/// connection that is moved lazily (it fires, finds the deadline later, and waits again), and a
/// connection's progress is a counter in its own entry, so neither a timer nor the registry's
/// lock is touched per request (both showed in the warm token path's profile, 7 %).
final class ConnectionGuard: Sendable {
    /// One connection's place in the registry; its marks are written by its event loop without
    /// the registry's lock and read under it when a newcomer needs room.
    fileprivate final class Entry: Sendable {
        let channel: any Channel
        /// When it last made progress (opened, a head, a body chunk, a response), as a counter
        /// shared by all connections: not a clock, so ties cannot happen.
        let lastProgress: Atomic<UInt64>
        /// Its request is complete and being answered: ours to finish, never evicted.
        let handling = Atomic<Bool>(false)

        init(channel: any Channel, progress: UInt64) {
            self.channel = channel
            self.lastProgress = Atomic(progress)
        }
    }

    let maxConnections: Int
    let headerTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// Bytes a second a body must average once `bodyGrace` has passed (a trickled body holds a
    /// connection for its whole timeout otherwise).
    let minimumBodyRate: Int
    let bodyGrace: TimeAmount
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])
    private let events = Atomic<UInt64>(0)
    private let counters = Mutex((timedOut: 0, evicted: 0))

    init(maxConnections: Int, headerTimeout: Duration, bodyTimeout: Duration, idleTimeout: Duration,
         minimumBodyRate: Int = 1024, bodyGrace: Duration = .seconds(3)) {
        self.maxConnections = max(1, maxConnections)
        self.headerTimeout = TimeAmount(headerTimeout)
        self.bodyTimeout = TimeAmount(bodyTimeout)
        self.idleTimeout = TimeAmount(idleTimeout)
        self.minimumBodyRate = max(0, minimumBodyRate)
        self.bodyGrace = TimeAmount(bodyGrace)
    }

    /// The default cap: the process's open-file limit less room for the database, logs and
    /// the registry files (never below 64).
    static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        let soft = Int(clamping: min(limit.rlim_cur, 1_000_000))
        return max(64, min(soft - 128, 100_000))
    }

    func makeHandler() -> ConnectionGuardHandler { ConnectionGuardHandler(guard: self) }

    var openCount: Int { entries.withLock { $0.count } }
    var timedOutCount: Int { counters.withLock { $0.timedOut } }
    var evictedCount: Int { counters.withLock { $0.evicted } }

    /// Registers a connection: its entry, and the connection to close when over the cap (maybe this one).
    fileprivate func opened(_ channel: any Channel) -> (entry: Entry, victim: (any Channel)?) {
        let entry = Entry(channel: channel, progress: nextProgress())
        let victim: (any Channel)? = entries.withLock { byChannel in
            byChannel[ObjectIdentifier(channel)] = entry
            guard byChannel.count > maxConnections else { return nil }
            // The stalest of those not being answered (the newcomer itself is the freshest).
            let stalest = byChannel.values.filter { !$0.handling.load(ordering: .relaxed) }
                .min { $0.lastProgress.load(ordering: .relaxed) < $1.lastProgress.load(ordering: .relaxed) }
            let chosen = stalest?.channel ?? channel
            byChannel[ObjectIdentifier(chosen)] = nil
            return chosen
        }
        if victim != nil { counters.withLock { $0.evicted += 1 } }
        return (entry, victim)
    }

    private func nextProgress() -> UInt64 { events.wrappingAdd(1, ordering: .relaxed).newValue }

    /// The connection moved: received a head or a body chunk (`handling`: its request is now
    /// complete), or sent a response (`handling` false again: idle, waiting for the next).
    fileprivate func progressed(_ entry: Entry, handling: Bool) {
        entry.lastProgress.store(nextProgress(), ordering: .relaxed)
        entry.handling.store(handling, ordering: .relaxed)
    }

    fileprivate func closed(_ channel: any Channel) {
        _ = entries.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    fileprivate func timedOut() { counters.withLock { $0.timedOut += 1 } }
}

/// One connection's side of `ConnectionGuard`: the deadlines, and its place in the registry.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the connection is waiting for.
    private enum Phase {
        /// A request's head, by `deadline` (the header timeout after opening, the idle one after a response).
        case head(deadline: NIODeadline)
        /// The rest of a request whose head came at `since`.
        case body(since: NIODeadline)
        /// Nothing: its request is complete and being answered (no deadline here), or it is closed.
        case answering
    }

    private let connections: ConnectionGuard
    private var entry: ConnectionGuard.Entry?
    private var phase = Phase.answering
    /// The body's bytes so far.
    private var bodyBytes = 0
    /// The one timer, and when it fires: moved earlier when a deadline needs it, never later
    /// (a timer that fires early finds the deadline ahead and waits again).
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?
    /// Which timer is current: one cancelled in the same event-loop pass may still run, and
    /// must not take the place of the one that replaced it.
    private var timerGeneration: UInt64 = 0

    init(guard connections: ConnectionGuard) {
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let (entry, victim) = connections.opened(context.channel)
        self.entry = entry
        if let victim {
            victim.close(promise: nil)
            if victim === context.channel { return }
        }
        phase = .head(deadline: context.eventLoop.now + connections.headerTimeout)
        schedule(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            progressed(handling: false)
            phase = .body(since: context.eventLoop.now)
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes &+= buffer.readableBytes
            progressed(handling: false)
        case .end:
            // The request is in; answering it has no deadline here (the handler's own work).
            phase = .answering
            progressed(handling: true)
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // A body still coming after this read: its deadlines need the timer. A request that came
        // whole (head and end in one read, as most do) never touches it.
        if case .body = phase { schedule(context) }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // Keep-alive: the next request's head must come in time too; meanwhile this
            // connection may make room for a newcomer when the server is full.
            progressed(handling: false)
            phase = .head(deadline: context.eventLoop.now + connections.idleTimeout)
            schedule(context)
        }
        context.write(data, promise: promise)
    }

    private func progressed(handling: Bool) {
        if let entry { connections.progressed(entry, handling: handling) }
    }

    /// When the phase next needs a look: its deadline, or (a body) the next rate check — once
    /// a second after the grace, fewer than `minimumBodyRate` bytes a second on average closes
    /// the connection (a trickled body holds it for its whole timeout otherwise).
    private func nextCheck(now: NIODeadline) -> NIODeadline? {
        switch phase {
        case .head(let deadline):
            return deadline
        case .body(let since):
            let timeout = since + connections.bodyTimeout
            guard connections.minimumBodyRate > 0 else { return timeout }
            let firstCheck = since + connections.bodyGrace
            guard now >= firstCheck else { return min(firstCheck, timeout) }
            let secondsPast = (now - firstCheck).nanoseconds / 1_000_000_000
            return min(firstCheck + .seconds(secondsPast + 1), timeout)
        case .answering:
            return nil
        }
    }

    /// Whether the phase is past what it allows at `now`.
    private func isOverdue(now: NIODeadline) -> Bool {
        switch phase {
        case .head(let deadline):
            return now >= deadline
        case .body(let since):
            if now >= since + connections.bodyTimeout { return true }
            guard connections.minimumBodyRate > 0, now >= since + connections.bodyGrace else { return false }
            let seconds = max(1, (now - since).nanoseconds / 1_000_000_000)
            return Int64(bodyBytes) < Int64(connections.minimumBodyRate) * seconds
        case .answering:
            return false
        }
    }

    /// Makes the timer fire no later than the phase's next check.
    private func schedule(_ context: ChannelHandlerContext) {
        guard let want = nextCheck(now: context.eventLoop.now) else { return }
        if let firesAt = timerFiresAt, firesAt <= want { return }
        timer?.cancel()
        timerFiresAt = want
        timerGeneration &+= 1
        let generation = timerGeneration
        // The task runs on this channel's event loop, where this handler lives.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: want) {
            handler.value.fired(loopBoundContext.value, generation: generation)
        }
    }

    private func fired(_ context: ChannelHandlerContext, generation: UInt64) {
        guard generation == timerGeneration else { return }
        timer = nil
        timerFiresAt = nil
        if isOverdue(now: context.eventLoop.now) {
            phase = .answering
            connections.timedOut()
            context.channel.close(promise: nil)
            return
        }
        schedule(context)
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        timerFiresAt = nil
        timerGeneration &+= 1
        phase = .answering
        if let entry {
            connections.closed(entry.channel)
            self.entry = nil
        }
    }
}
