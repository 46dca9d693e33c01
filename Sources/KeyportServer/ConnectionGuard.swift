import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Connection hygiene against slow or idle clients (slowloris): a request's head must arrive
/// within `headerTimeout` of the connection opening (or of the previous response), its body
/// within `bodyTimeout` of the head, the next one within `idleTimeout` of a response; and past `maxConnections` open connections, a new one
/// closes the *oldest connection still waiting for a request head* — so a flood of half-sent
/// requests cannot keep a health probe or a real client out, and the process stays under its
/// file limit.
final class ConnectionGuard: Sendable {
    private struct Entry: Sendable {
        let channel: any Channel
        /// Order of arrival (a counter, not a clock: ties cannot happen).
        let opened: UInt64
        var waitingForHead: Bool
    }

    let maxConnections: Int
    let headerTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let idleTimeout: TimeAmount
    private let entries = Mutex<(byChannel: [ObjectIdentifier: Entry], arrivals: UInt64)>(([:], 0))
    private let counters = Mutex((timedOut: 0, evicted: 0))

    init(maxConnections: Int, headerTimeout: Duration, bodyTimeout: Duration, idleTimeout: Duration) {
        self.maxConnections = max(1, maxConnections)
        self.headerTimeout = TimeAmount(headerTimeout)
        self.bodyTimeout = TimeAmount(bodyTimeout)
        self.idleTimeout = TimeAmount(idleTimeout)
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
            e.arrivals += 1
            e.byChannel[ObjectIdentifier(channel)] = Entry(channel: channel, opened: e.arrivals, waitingForHead: true)
            guard e.byChannel.count > maxConnections else { return nil }
            let oldest = e.byChannel.values.filter(\.waitingForHead).min { $0.opened < $1.opened }
            let chosen = oldest?.channel ?? channel
            e.byChannel[ObjectIdentifier(chosen)] = nil
            return chosen
        }
        if victim != nil { counters.withLock { $0.evicted += 1 } }
        return victim
    }

    fileprivate func setWaitingForHead(_ channel: any Channel, _ waiting: Bool) {
        entries.withLock { e in e.byChannel[ObjectIdentifier(channel)]?.waitingForHead = waiting }
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
    private var registered = false

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
            connections.setWaitingForHead(context.channel, false)
            arm(context, after: connections.bodyTimeout)
        case .body:
            break
        case .end:
            // The request is in; answering it has no deadline here (the handler's own work).
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // Keep-alive: the next request's head must come in time too; meanwhile this
            // connection is the first to go when the server is full.
            connections.setWaitingForHead(context.channel, true)
            arm(context, after: connections.idleTimeout)
        }
        context.write(data, promise: promise)
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
    }
}
