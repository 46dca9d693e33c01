import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
@testable import KeyportServer
import Testing

/// The connection deadlines and the cap, on NIO's embedded channels: time moves by hand.
@Suite("Connection hygiene")
struct ConnectionGuardTests {
    final class Watched {
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
        let connections = Self.makeGuard()
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

    @Test func pastTheCapTheOldestHalfSentConnectionMakesRoom() throws {
        let connections = Self.makeGuard(max: 3)
        let busy = try Watched(connections)
        try busy.read(.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/x")))
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
}
