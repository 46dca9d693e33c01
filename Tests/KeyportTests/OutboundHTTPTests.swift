import Foundation
import Hummingbird
import HummingbirdTesting
@testable import KeyportFederation
import KeyportModel
@testable import KeyportOutboundHTTP
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The server's own HTTP client: bodies bounded, redirects not followed, and slots bounded in
/// all, per destination and per realm — one realm's URLs at hosts that never answer cannot take
/// every slot from the others.
@Suite("Outbound HTTP")
struct OutboundHTTPTests {
    @Test func answersAreBoundedAndRedirectsNotFollowed() async throws {
        let router = Router()
        router.get("/small") { _, _ in "{\"keys\":[]}" }
        router.get("/large") { _, _ in String(repeating: "x", count: 300_000) }
        router.get("/moved") { _, _ in Response(status: .found, headers: [.location: "http://169.254.169.254/latest/meta-data/"]) }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            // A deadline far beyond what a loaded test machine needs: this test is about limits.
            let http = OutboundHTTP(timeout: .seconds(60))
            let small = try await http.get(url: "\(base)/small", maxBody: 1024, partition: "r").get()
            #expect(small.status == 200 && String(decoding: small.body, as: UTF8.self) == "{\"keys\":[]}")
            #expect(await http.get(url: "\(base)/large", maxBody: 256 * 1024, partition: "r") == .failure(.tooLarge))
            let moved = try await http.get(url: "\(base)/moved", maxBody: 1024, partition: "r").get()
            #expect(moved.status == 302, "answered as it is, never followed")
            #expect(await http.get(url: "file:///etc/passwd", maxBody: 1024, partition: "r") == .failure(.refusedURL))
            #expect(await http.get(url: "http://user:pw@", maxBody: 1024, partition: "r") == .failure(.refusedURL))
        }
    }

    @Test func oneRealmCannotTakeEverySlot() async throws {
        let listener = HangingListener()
        defer { listener.close() }
        let port = listener.port

        // No call here ends by its deadline: a loaded machine can starve this task for longer
        // than any deadline, and a hanging call that gave up early would free its slot before the
        // checks. The calls end when the listener closes (the kernel resets its backlog).
        let http = OutboundHTTP(maxInFlight: 64, maxPerDestination: 64, maxPerPartition: 3, timeout: .seconds(600))
        let hanging = (0..<3).map { i in
            Task { await http.get(url: "http://127.0.0.1:\(port)/\(i)", maxBody: 1024, partition: "greedy") }
        }
        while http.inFlight.withLock({ $0.perPartition["greedy"] ?? 0 }) < 3 { await Task.yield() }
        #expect(await http.get(url: "http://127.0.0.1:\(port)/more", maxBody: 1024, partition: "greedy") == .failure(.busy))
        // Another realm still gets a slot while the greedy one holds all of its own.
        let other = Task { await http.get(url: "http://127.0.0.1:\(port)/other", maxBody: 1024, partition: "other") }
        while http.inFlight.withLock({ $0.perPartition["other"] ?? 0 }) < 1 { await Task.yield() }
        #expect(http.inFlight.withLock { $0.perPartition["greedy"] } == 3)
        listener.close()
        #expect(await other.value == .failure(.unreachable))
        for task in hanging { #expect(await task.value == .failure(.unreachable)) }
        #expect(http.inFlight.withLock { $0.total } == 0)
    }

    /// A realm out of slots cannot mark a shared issuer's keys as failed for the others.
    @Test func aRealmOutOfSlotsDoesNotFailASharedIssuerForOthers() async throws {
        let listener = HangingListener()
        defer { listener.close() }
        let port = listener.port
        let ci = CIIssuer()
        try await ci.serve { jwksUrl in
            // The hanging call never ends by its deadline (see oneRealmCannotTakeEverySlot).
            let http = OutboundHTTP(maxInFlight: 64, maxPerDestination: 64, maxPerPartition: 1, timeout: .seconds(600))
            let cache = JWKSCache(http: http, now: { Timestamp(millisecondsSince1970: 1_000_000) })
            let hanging = Task { await http.get(url: "http://127.0.0.1:\(port)/", maxBody: 1024, partition: "greedy") }
            while http.inFlight.withLock({ $0.perPartition["greedy"] ?? 0 }) < 1 { await Task.yield() }
            let greedy = await cache.key(url: jwksUrl, kid: "rsa-1", partition: "greedy")
            #expect({ if case .failure(.unavailable) = greedy { true } else { false } }())
            let other = await cache.key(url: jwksUrl, kid: "rsa-1", partition: "other")
            let found: VerificationKey?? = try? other.get()
            #expect(found??.kid == "rsa-1", "fetched for the other realm at once, not marked failed")
            listener.close()
            #expect(await hanging.value == .failure(.unreachable))
        }
    }

}

/// A listener on a free loopback port that never accepts: connections open (the kernel's
/// backlog) and hang until it closes, which resets them.
final class HangingListener: Sendable {
    let fd: Int32
    let port: Int
    let closed = Mutex(false)

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        listen(fd, 128)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first { _ = Glibc.close(fd) }
    }
}

/// 127.0.0.1 at `port` (0: any free port).
func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return address
}
