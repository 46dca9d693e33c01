import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
@testable import KeyportServer
import Testing

/// The connection deadlines and the cap, on NIO's embedded channels: time moves by hand.
@Suite("Connection hygiene")
struct ConnectionGuardTests {
    /// On an embedded event loop, used from the test's one task only.
    final class Watched: @unchecked Sendable {
        let channel = EmbeddedChannel()
        var closed = false
        init(_ connections: ConnectionGuard) throws {
            channel.closeFuture.whenComplete { [unowned self] _ in self.closed = true }
            try channel.pipeline.syncOperations.addHandler(connections.makeHandler())
        }
        func read(_ part: HTTPRequestPart) throws { try channel.writeInbound(part) }
        func respond() throws { try channel.writeOutbound(HTTPResponsePart.end(nil)) }
        func advance(seconds: Int64) { channel.embeddedEventLoop.advanceTime(by: .seconds(seconds)) }
    }

    static func makeGuard(max: Int = 100) -> ConnectionGuard {
        ConnectionGuard(maxConnections: max, headerTimeout: .seconds(10), bodyTimeout: .seconds(30), idleTimeout: .seconds(60))
    }

    @Test func aRequestHeadMustArriveInTime() throws {
        let connections = Self.makeGuard()
        let c = try Watched(connections)
        c.advance(seconds: 9)
        #expect(!c.closed)
        c.advance(seconds: 2)
        #expect(c.closed)
        #expect(connections.timedOutCount == 1)
    }

    @Test func aBodyMustArriveInTimeButAnswersMayTakeTheirTime() throws {
        // The whole-body deadline alone (the minimum rate is the next test's).
        let connections = ConnectionGuard(maxConnections: 100, headerTimeout: .seconds(10), bodyTimeout: .seconds(30), idleTimeout: .seconds(60),
                                          minimumBodyRate: 0)
        let slowBody = try Watched(connections)
        try slowBody.read(.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/x")))
        slowBody.advance(seconds: 20)
        #expect(!slowBody.closed)
        slowBody.advance(seconds: 11)
        #expect(slowBody.closed)

        let working = try Watched(connections)
        try working.read(.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/x")))
        try working.read(.end(nil))
        working.advance(seconds: 300)
        #expect(!working.closed)
        // Answered: the next request has the idle timeout to start.
        try working.respond()
        working.advance(seconds: 59)
        #expect(!working.closed)
        working.advance(seconds: 2)
        #expect(working.closed)
    }

    /// The deadlines share one timer that is moved lazily: a keep-alive connection's idle
    /// deadline counts from its last response, not from the first, however many came between,
    /// and a body that starts after a long idle wait gets its own deadline.
    @Test func theIdleDeadlineCountsFromTheLastResponse() throws {
        let connections = Self.makeGuard()
        let c = try Watched(connections)
        for _ in 0..<5 {
            c.advance(seconds: 5)
            try c.read(.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/x")))
            try c.read(.end(nil))
            try c.respond()
        }
        // The header deadline (10 s after opening) and the first idle one (60 s after the
        // first answer, at 65) have passed: neither closed it early.
        c.advance(seconds: 59)
        #expect(!c.closed)
        c.advance(seconds: 2)
        #expect(c.closed, "60 s idle after the last answer")

        let late = try Watched(connections)
        try late.read(.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/x")))
        try late.read(.end(nil))
        try late.respond()
        late.advance(seconds: 50)
        try late.read(.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/x")))
        try late.read(.body(ByteBuffer(repeating: 0x61, count: 40 * 1024)))
        late.advance(seconds: 29)
        #expect(!late.closed, "the body's 30 s count from its head, not from the idle deadline")
        late.advance(seconds: 2)
        #expect(late.closed)
        #expect(connections.timedOutCount == 2)
    }

    @Test func pastTheCapTheOldestHalfSentConnectionMakesRoom() throws {
        let connections = Self.makeGuard(max: 3)
        let busy = try Watched(connections)
        try busy.read(.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/x")))
        try busy.read(.end(nil))
        busy.advance(seconds: 1)
        let slow1 = try Watched(connections)
        busy.advance(seconds: 1)
        let slow2 = try Watched(connections)
        let newcomer = try Watched(connections)
        for c in [busy, slow1, slow2, newcomer] { c.channel.embeddedEventLoop.run() }
        // The oldest connection still without a request head went; the working one stays.
        #expect(slow1.closed && !slow2.closed && !busy.closed && !newcomer.closed)
        #expect(connections.evictedCount == 1)
        #expect(connections.openCount == 3)
    }

    /// Issue 24, item 7: a body trickled at a few bytes a second is closed after the grace, not
    /// after the whole body timeout; a body at a sane rate is not.
    @Test func aTrickledBodyIsClosedAtTheMinimumRate() throws {
        let connections = Self.makeGuard()
        let trickle = try Watched(connections)
        try trickle.read(.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/x")))
        for _ in 0..<3 {
            try trickle.read(.body(ByteBuffer(string: "0123456789")))
            trickle.advance(seconds: 1)
        }
        trickle.advance(seconds: 1)
        #expect(trickle.closed, "10 bytes a second is below 1 KiB/s")
        #expect(connections.timedOutCount == 1)

        let steady = try Watched(connections)
        try steady.read(.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/x")))
        for _ in 0..<10 {
            try steady.read(.body(ByteBuffer(repeating: 0x61, count: 2048)))
            steady.advance(seconds: 1)
        }
        #expect(!steady.closed)
        try steady.read(.end(nil))
        steady.advance(seconds: 100)
        #expect(!steady.closed, "answering has no deadline here")
    }

    /// Issue 24, item 7: past the cap, whatever phase they are in, the connection that made
    /// progress least recently goes — 42 trickled bodies no longer hold a 40-connection cap.
    @Test func pastTheCapTheStalestSenderGoesWhateverItsPhase() throws {
        let connections = ConnectionGuard(maxConnections: 3, headerTimeout: .seconds(10), bodyTimeout: .seconds(30), idleTimeout: .seconds(60),
                                          minimumBodyRate: 0)
        var bodies: [Watched] = []
        for _ in 0..<3 {
            let c = try Watched(connections)
            try c.read(.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/x")))
            bodies.append(c)
        }
        // Each sends a chunk, the first one last: the second is now the stalest.
        try bodies[1].read(.body(ByteBuffer(string: "a")))
        try bodies[2].read(.body(ByteBuffer(string: "a")))
        try bodies[0].read(.body(ByteBuffer(string: "a")))
        let probe = try Watched(connections)
        for c in bodies + [probe] { c.channel.embeddedEventLoop.run() }
        #expect(bodies[1].closed && !bodies[0].closed && !bodies[2].closed && !probe.closed)
        #expect(connections.evictedCount == 1 && connections.openCount == 3)
    }
}
