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
final class ConnectionGuard: Sendable {
    private struct Entry: Sendable {
        let channel: any Channel
        /// When it last made progress (opened, a head, a body chunk, a response), as a counter
        /// shared by all connections: not a clock, so ties cannot happen.
        var lastProgress: UInt64
        /// Its request is complete and being answered: ours to finish, never evicted.
        var handling: Bool
    }

    let maxConnections: Int
    let headerTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// Bytes a second a body must average once `bodyGrace` has passed (a trickled body holds a
    /// connection for its whole timeout otherwise).
    let minimumBodyRate: Int
    let bodyGrace: TimeAmount
    private let entries = Mutex<(byChannel: [ObjectIdentifier: Entry], events: UInt64)>(([:], 0))
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

    var openCount: Int { entries.withLock { $0.byChannel.count } }
    var timedOutCount: Int { counters.withLock { $0.timedOut } }
    var evictedCount: Int { counters.withLock { $0.evicted } }

    /// Registers a connection; returns the one to close when over the cap (maybe this one).
    fileprivate func opened(_ channel: any Channel) -> (any Channel)? {
        let victim: (any Channel)? = entries.withLock { e in
            e.events += 1
            let id = ObjectIdentifier(channel)
            e.byChannel[id] = Entry(channel: channel, lastProgress: e.events, handling: false)
            guard e.byChannel.count > maxConnections else { return nil }
            // The stalest of those not being answered (the newcomer itself is the freshest).
            let stalest = e.byChannel.values.filter { !$0.handling }.min { $0.lastProgress < $1.lastProgress }
            let chosen = stalest?.channel ?? channel
            e.byChannel[ObjectIdentifier(chosen)] = nil
            return chosen
        }
        if victim != nil { counters.withLock { $0.evicted += 1 } }
        return victim
    }

    /// The connection moved: received a head or a body chunk (`handling`: its request is now
    /// complete), or sent a response (`handling` false again: idle, waiting for the next).
    fileprivate func progressed(_ channel: any Channel, handling: Bool) {
        entries.withLock { e in
            e.events += 1
            let id = ObjectIdentifier(channel)
            guard e.byChannel[id] != nil else { return }
            e.byChannel[id]!.lastProgress = e.events
            e.byChannel[id]!.handling = handling
        }
    }

    fileprivate func closed(_ channel: any Channel) {
        _ = entries.withLock { e in e.byChannel.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    fileprivate func timedOut() { counters.withLock { $0.timedOut += 1 } }
}

/// One connection's side of `ConnectionGuard`: the deadlines, and its place in the registry.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let connections: ConnectionGuard
    private var deadline: Scheduled<Void>?
    private var rateCheck: RepeatedTask?
    private var registered = false
    /// The body being received: when its head came, and its bytes so far.
    private var bodyStarted: NIODeadline?
    private var bodyBytes = 0

    init(guard connections: ConnectionGuard) {
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        registered = true
        if let victim = connections.opened(context.channel) {
            victim.close(promise: nil)
            if victim === context.channel { return }
        }
        arm(context, after: connections.headerTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        if registered { connections.closed(context.channel) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        connections.closed(context.channel)
        registered = false
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            connections.progressed(context.channel, handling: false)
            arm(context, after: connections.bodyTimeout)
            bodyStarted = context.eventLoop.now
            bodyBytes = 0
            watchBodyRate(context)
        case .body(let buffer):
            bodyBytes &+= buffer.readableBytes
            connections.progressed(context.channel, handling: false)
        case .end:
            // The request is in; answering it has no deadline here (the handler's own work).
            disarm()
            connections.progressed(context.channel, handling: true)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // Keep-alive: the next request's head must come in time too; meanwhile this
            // connection may make room for a newcomer when the server is full.
            connections.progressed(context.channel, handling: false)
            arm(context, after: connections.idleTimeout)
        }
        context.write(data, promise: promise)
    }

    /// Once a second while a body comes in: past the grace, fewer than `minimumBodyRate` bytes a
    /// second on average closes the connection.
    private func watchBodyRate(_ context: ChannelHandlerContext) {
        guard connections.minimumBodyRate > 0 else { return }
        let channel = context.channel
        let connections = self.connections
        // The task runs on this channel's event loop, where this handler lives.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        rateCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: connections.bodyGrace, delay: .seconds(1)) { task in
            guard let started = handler.value.bodyStarted else { return task.cancel() }
            let elapsed = channel.eventLoop.now - started
            let seconds = max(1, elapsed.nanoseconds / 1_000_000_000)
            if Int64(handler.value.bodyBytes) < Int64(connections.minimumBodyRate) * seconds {
                task.cancel()
                connections.timedOut()
                channel.close(promise: nil)
            }
        }
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        disarm()
        let channel = context.channel
        let connections = self.connections
        deadline = context.eventLoop.scheduleTask(in: delay) {
            connections.timedOut()
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
        rateCheck?.cancel()
        rateCheck = nil
        bodyStarted = nil
    }
}
