import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The server's one HTTP client for calls it makes itself (back-channel logout, an identity
/// provider's JWKS): a fresh connection, TLS for https (the system's trust roots, the host name
/// checked), `Connection: close`, a deadline for the whole exchange, at most `maxBody` bytes read
/// back, and a bounded number of calls at once: in all, to one destination, and for one partition
/// (a realm: one realm's administrators, pointing URLs at hosts that never answer, hold at most
/// `maxPerPartition` of the server's slots and never starve the other realms). Redirects are not
/// followed: a URL an administrator set is the only place a request goes.
public final class OutboundHTTP: Sendable {
    public static let shared = OutboundHTTP()
    let group: any EventLoopGroup
    /// Calls under way, in all, per destination (host and port) and per partition.
    let inFlight = Mutex((total: 0, perDestination: [String: Int](), perPartition: [String: Int]()))
    let maxInFlight: Int
    /// One destination that never answers holds at most this many of the server's slots.
    let maxPerDestination: Int
    /// One partition (a realm) holds at most this many.
    let maxPerPartition: Int
    /// The whole call — connection, request, answer — within this.
    let timeout: TimeAmount

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxInFlight: Int = 64, maxPerDestination: Int = 4,
                maxPerPartition: Int = 16, timeout: TimeAmount = .seconds(5)) {
        self.group = group
        self.maxInFlight = maxInFlight
        self.maxPerDestination = maxPerDestination
        self.maxPerPartition = maxPerPartition
        self.timeout = timeout
    }

    public struct Answer: Sendable, Equatable {
        public let status: Int
        /// Empty when the call asked for none (`maxBody` 0).
        public let body: [UInt8]
    }

    public enum Failure: Error, Equatable, Sendable {
        /// Not an absolute http(s) URL of at most 2,048 bytes.
        case refusedURL
        /// Too many calls at once (in all, or to that destination).
        case busy
        /// The answer's body is longer than the caller allows.
        case tooLarge
        /// No connection, no answer in time, or not HTTP.
        case unreachable
    }

    /// A form POST; only the status is read back.
    public func post(url: String, form: String, partition: String) async -> Int? {
        try? await call(method: .POST, url: url, body: form, maxBody: 0, partition: partition).get().status
    }

    /// A GET whose answer's body is read, up to `maxBody` bytes. `authorization`: the header's
    /// value (a bearer token), when the call needs one.
    public func get(url: String, accept: String = "application/json", authorization: String? = nil, maxBody: Int,
                    partition: String) async -> Result<Answer, Failure> {
        await call(method: .GET, url: url, body: nil, accept: accept, authorization: authorization, maxBody: maxBody, partition: partition)
    }

    /// A form POST whose answer's body is read, up to `maxBody` bytes (an OAuth token request).
    public func post(url: String, form: String, authorization: String?, maxBody: Int, partition: String) async -> Result<Answer, Failure> {
        await call(method: .POST, url: url, body: form, accept: "application/json", authorization: authorization, maxBody: maxBody, partition: partition)
    }

    func call(method: HTTPMethod, url: String, body: String?, accept: String? = nil, authorization: String? = nil, maxBody: Int,
              partition: String) async -> Result<Answer, Failure> {
        guard url.utf8.count <= 2048, let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return .failure(.refusedURL) }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        let destination = "\(host.lowercased()):\(port)"
        let admitted = inFlight.withLock { state in
            guard state.total < maxInFlight, state.perDestination[destination, default: 0] < maxPerDestination,
                  state.perPartition[partition, default: 0] < maxPerPartition
            else { return false }
            state.total += 1
            state.perDestination[destination, default: 0] += 1
            state.perPartition[partition, default: 0] += 1
            return true
        }
        guard admitted else { return .failure(.busy) }
        defer {
            inFlight.withLock { state in
                state.total -= 1
                let left = state.perDestination[destination, default: 1] - 1
                state.perDestination[destination] = left > 0 ? left : nil
                let partitionLeft = state.perPartition[partition, default: 1] - 1
                state.perPartition[partition] = partitionLeft > 0 ? partitionLeft : nil
            }
        }
        var target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?" + query }
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: hostHeader)
        if let body {
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
        }
        if let accept { headers.add(name: "Accept", value: accept) }
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        headers.add(name: "Connection", value: "close")
        headers.add(name: "User-Agent", value: "Keyport")
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)
        do {
            return .success(try await send(host: bareHost, port: port, tls: scheme == "https", head: head, body: body, maxBody: maxBody))
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(.unreachable)
        }
    }

    func send(host: String, port: Int, tls: Bool, head: HTTPRequestHead, body: String?, maxBody: Int) async throws -> Answer {
        let deadline = NIODeadline.now() + timeout
        let sslContext = tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let isAddress = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." })
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: isAddress ? nil : host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                }
            }
        let channel = try await bootstrap.connect(host: host, port: port).get()
        // The reader and its promise belong to the connection that won (never to an attempt
        // Happy Eyeballs abandoned), and exist only once there is a channel to complete them.
        let promise = channel.eventLoop.makePromise(of: Answer.self)
        let reader: NIOLoopBound<AnswerReader>
        do {
            reader = try await channel.eventLoop.submit {
                let reader = AnswerReader(promise: promise, maxBody: maxBody)
                try channel.pipeline.syncOperations.addHandler(reader)
                // A connection reset between the connect and this line has already said it is
                // inactive and will never say so to the reader: without this the call would wait
                // for its deadline, holding its slot.
                if !channel.isActive { reader.expire() }
                return NIOLoopBound(reader, eventLoop: channel.eventLoop)
            }.get()
        } catch {
            promise.fail(error)
            channel.close(promise: nil)
            throw error
        }
        // Past the deadline the reader fails the promise (a body cut off by the close is never
        // taken for a whole one), and the connection closes.
        let closing = channel.eventLoop.scheduleTask(deadline: deadline) {
            reader.value.expire()
            channel.close(promise: nil)
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            closing.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    /// Reads the status and at most `maxBody` bytes of the body; with `maxBody` 0 it completes at
    /// the status line and never reads the body.
    final class AnswerReader: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Answer>
        let maxBody: Int
        var status: Int?
        var body: [UInt8] = []
        var completed = false

        init(promise: EventLoopPromise<Answer>, maxBody: Int) {
            self.promise = promise
            self.maxBody = maxBody
        }

        func finish(_ result: Result<Answer, any Error>, context: ChannelHandlerContext) {
            guard !completed else { return }
            completed = true
            promise.completeWith(result)
            context.close(promise: nil)
        }

        /// The deadline passed, or the connection was gone before the reader was there: whatever arrived is not the whole answer.
        func expire() {
            guard !completed else { return }
            completed = true
            promise.fail(Failure.unreachable)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
                if maxBody == 0 { finish(.success(Answer(status: Int(head.status.code), body: [])), context: context) }
            case .body(let buffer):
                guard !completed else { return }
                guard body.count + buffer.readableBytes <= maxBody else { return finish(.failure(Failure.tooLarge), context: context) }
                body += buffer.readableBytesView
            case .end:
                if let status { finish(.success(Answer(status: status, body: body)), context: context) }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(.failure(error), context: context)
        }

        func channelInactive(context: ChannelHandlerContext) {
            if !completed {
                completed = true
                promise.fail(ChannelError.eof)
            }
            context.fireChannelInactive()
        }
    }
}
