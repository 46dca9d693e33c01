import KeyportAuth
import KeyportEvents
import Prometheus
import Synchronization

/// Keyport's Prometheus metrics, in one registry that `/metrics` serves. Injected rather
/// than global so that every in-process test application has its own.
public final class KeyportMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The request metrics by route, method and status, looked up once: the registry builds and
    /// hashes the label set at each lookup, a few percent of every request. Bounded (routes are
    /// templates, methods and statuses few); past the bound, the registry is asked each time.
    private let requestMetrics = Mutex<[RequestLabels: (Counter, DurationHistogram)]>([:])
    static let maxRequestLabelSets = 2_000

    struct RequestLabels: Hashable { let route: String; let method: String; let status: Int }
    /// The suppressed-event counters by reason, made once (a repeated registry pull is one of
    /// these per request).
    private let suppressedByReason: [String: Counter]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var suppressed: [String: Counter] = [:]
        for reason in EventRecorder.Suppression.allCases {
            suppressed[reason.rawValue] = Self.eventsSuppressed(reason.rawValue, in: registry)
        }
        self.suppressedByReason = suppressed
        // Present from the first scrape, so dashboards see zeros rather than gaps.
        _ = passwordHashDuration
        for kind in ["oidc", "docker-v2"] { _ = tokensIssued(kind: kind) }
    }

    /// Login events not stored, by reason: a flood shows here instead of in the database.
    public func eventsSuppressed(_ reason: String) -> Counter {
        suppressedByReason[reason] ?? Self.eventsSuppressed(reason, in: registry)
    }

    private static func eventsSuppressed(_ reason: String, in registry: PrometheusCollectorRegistry) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "keyport", metricName: "events_suppressed", unitName: "total",
                                               helpText: "Login events not stored, by reason (realm settings, rate of failures, no credentials)"),
                             labels: [("reason", reason)])
    }

    public func eventSuppressed(_ reason: String) { eventsSuppressed(reason).increment() }

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestLabels(route: route, method: method, status: status)
        let (counter, histogram) = requestMetrics.withLock { $0[key] } ?? {
            let made = (registry.makeCounter(descriptor: .init(namespace: "keyport", metricName: "http_requests", unitName: "total",
                                                               helpText: "HTTP requests by route, method and status"),
                                             labels: [("route", route), ("method", method), ("status", String(status))]),
                        registry.makeDurationHistogram(descriptor: .init(namespace: "keyport", metricName: "http_request_duration", unitName: "seconds",
                                                                         helpText: "HTTP request latency by route and method"),
                                                       labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets))
            requestMetrics.withLock { if $0.count < Self.maxRequestLabelSets { $0[key] = made } }
            return made
        }()
        counter.increment()
        histogram.record(duration)
    }

    public var passwordHashDuration: DurationHistogram {
        registry.makeDurationHistogram(descriptor: .init(namespace: "keyport", metricName: "password_hash_duration", unitName: "seconds",
                                                         helpText: "Time of each Argon2 password hash (its count is the number of hashes)"),
                                       buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                 .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1)])
    }

    public func tokensIssued(kind: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "keyport", metricName: "tokens_issued", unitName: "total",
                                               helpText: "Tokens issued by protocol"), labels: [("protocol", kind)])
    }

    public func exposition() -> String { registry.emitToString() }
}
