import Foundation
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportStore
import KeyportTokens
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// OpenID Connect Back-Channel Logout 1.0: when a browser session ends, every client it signed
/// in that registered `backchannel.logout.url` gets a logout token (a JWT the realm signs, naming
/// the user and the session), so that its own session of the person ends too.
///
/// Bounded as everything else a request can start: at most `maxClients` deliveries per logout,
/// `maxInFlight` at once on the whole server and 4 to one destination (beyond that a delivery is
/// skipped: a relying party that never answers cannot starve the others), each within 5 seconds
/// in all, and nothing read back but the status line. Deliveries are not retried.
public struct BackChannelLogout: Sendable {
    let tokens: TokenService
    let sender: LogoutTokenSender
    static let maxClients = 50
    static let eventName = "http://schemas.openid.net/event/backchannel-logout"

    public init(tokens: TokenService, sender: LogoutTokenSender = .shared) {
        self.tokens = tokens
        self.sender = sender
    }

    /// Ends `session` with everything it signed in, and tells those clients: the one way a
    /// browser session ends on purpose (the person's logout, an administrator's). `false` when it
    /// was gone already.
    @discardableResult
    public func end(_ session: BrowserSession, realm: Realm) async throws -> Bool {
        let store = tokens.store
        // The clients it signed in are read before they go with it.
        var signedIn: [Client] = []
        for clientId in Set(try await store.sessions(browserSessionId: session.id, realmId: realm.id).map(\.clientId)) {
            if let client = try await store.client(id: clientId, realmId: realm.id) { signedIn.append(client) }
        }
        guard try await store.deleteBrowserSession(id: session.id, realmId: realm.id) else { return false }
        await notify(realm: realm, session: session, signedIn: signedIn)
        return true
    }

    /// The logout token for `client`: OIDC Back-Channel Logout §2.4.
    func token(realm: Realm, client: Client, userId: String, sessionId: String) async throws -> String {
        let now = tokens.environment.now().secondsSince1970
        var claims: [String: JSONValue] = [
            "iss": .string(tokens.issuer(for: realm)), "aud": .string(client.clientId), "sub": .string(userId), "iat": .number(Double(now)),
            "exp": .number(Double(now + 120)), "jti": .string(tokens.environment.newID()), "typ": "Logout",
            "events": .object([Self.eventName: .object([:])]),
        ]
        if client.attributes["backchannel.logout.session.required"] != "false" { claims["sid"] = .string(sessionId) }
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        guard let signer = keys.signer(for: .rs256) else { throw TokenServiceError.noActiveKey(realm.name) }
        return try JWS.sign(JSONValue.object(claims), with: signer.signer, kid: signer.key.id)
    }

    /// Tells the clients `signedIn` (those with a `backchannel.logout.url`) that `session` ended;
    /// returns the clientIds that confirmed (2xx).
    @discardableResult
    func notify(realm: Realm, session: BrowserSession, signedIn: [Client]) async -> [String] {
        let targets = signedIn.filter { !($0.attributes["backchannel.logout.url"] ?? "").isEmpty }.prefix(Self.maxClients)
        guard !targets.isEmpty else { return [] }
        return await withTaskGroup(of: String?.self) { group in
            for client in targets {
                group.addTask {
                    guard let url = client.attributes["backchannel.logout.url"],
                          let token = try? await token(realm: realm, client: client, userId: session.userId, sessionId: session.id)
                    else { return nil }
                    let status = await sender.post(url: url, form: "logout_token=\(token)")
                    return (200..<300).contains(status ?? 0) ? client.clientId : nil
                }
            }
            var confirmed: [String] = []
            for await result in group { if let result { confirmed.append(result) } }
            return confirmed.sorted()
        }
    }
}

/// A minimal HTTP/1.1 client for one form POST (back-channel logout): a fresh connection, TLS
/// for https (the system's trust roots), `Connection: close`, the status line read, a deadline.
public final class LogoutTokenSender: Sendable {
    public static let shared = LogoutTokenSender()
    let group: any EventLoopGroup
    /// Deliveries under way, in all and per destination (host and port).
    let inFlight = Mutex((total: 0, perDestination: [String: Int]()))
    let maxInFlight: Int
    /// One relying party that never answers holds at most this many of the server's slots.
    let maxPerDestination: Int
    /// The whole delivery — connection, request, status line — within this.
    let timeout: TimeAmount

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxInFlight: Int = 64, maxPerDestination: Int = 4,
                timeout: TimeAmount = .seconds(5)) {
        self.group = group
        self.maxInFlight = maxInFlight
        self.maxPerDestination = maxPerDestination
        self.timeout = timeout
    }

    /// The response's status, or nil (refused URL, too many at once, no answer in time).
    public func post(url: String, form: String) async -> Int? {
        guard url.utf8.count <= 2048, let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        let destination = "\(host.lowercased()):\(port)"
        let admitted = inFlight.withLock { state in
            guard state.total < maxInFlight, state.perDestination[destination, default: 0] < maxPerDestination else { return false }
            state.total += 1
            state.perDestination[destination, default: 0] += 1
            return true
        }
        guard admitted else { return nil }
        defer {
            inFlight.withLock { state in
                state.total -= 1
                let left = state.perDestination[destination, default: 1] - 1
                state.perDestination[destination] = left > 0 ? left : nil
            }
        }
        var target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?" + query }
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        do {
            return try await send(host: bareHost, port: port, tls: scheme == "https", hostHeader: hostHeader, target: target, body: form)
        } catch {
            return nil
        }
    }

    func send(host: String, port: Int, tls: Bool, hostHeader: String, target: String, body: String) async throws -> Int {
        let deadline = NIODeadline.now() + timeout
        let sslContext = tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                }
            }
        let channel = try await bootstrap.connect(host: host, port: port).get()
        // The reader and its promise belong to the connection that won (never to an attempt
        // Happy Eyeballs abandoned), and exist only once there is a channel to complete them.
        let promise = channel.eventLoop.makePromise(of: Int.self)
        do {
            try await channel.eventLoop.submit { try channel.pipeline.syncOperations.addHandler(StatusReader(promise: promise)) }.get()
        } catch {
            promise.fail(error)
            channel.close(promise: nil)
            throw error
        }
        // Past the deadline the connection closes, and the reader fails the promise.
        let closing = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: hostHeader)
        headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "User-Agent", value: "Keyport")
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            closing.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    /// Reads the status line and completes; the body is never kept.
    final class StatusReader: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Int>
        var completed = false

        init(promise: EventLoopPromise<Int>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data), !completed {
                completed = true
                promise.succeed(Int(head.status.code))
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if !completed {
                completed = true
                promise.fail(error)
            }
            context.close(promise: nil)
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
