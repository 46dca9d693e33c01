import Hummingbird
import KeyportHTTP
import KeyportStore

/// `/health/live` (the process answers) and `/health/ready` (the database is open and
/// fully migrated), in the shape Keycloak and Quarkus use: `{"status":"UP","checks":[…]}`.
struct HealthController {
    let store: any IdentityStore

    struct Check: ResponseEncodable {
        let name: String
        let status: String
    }

    struct Health: ResponseEncodable {
        let status: String
        let checks: [Check]
    }

    func addRoutes(to router: Router<KeyportRequestContext>) {
        router.get("/health") { _, _ in try await readiness() }
        router.get("/health/live") { _, _ in Health(status: "UP", checks: []) }
        router.get("/health/ready") { _, _ in try await readiness() }
    }

    func readiness() async throws -> EditedResponse<Health> {
        let ready = await store.isReady()
        let status = ready ? "UP" : "DOWN"
        return EditedResponse(status: ready ? .ok : .serviceUnavailable,
                              response: Health(status: status, checks: [Check(name: "database", status: status)]))
    }
}

/// `/metrics` in the Prometheus text format.
struct MetricsController {
    let metrics: KeyportMetrics

    func addRoutes(to router: Router<KeyportRequestContext>) {
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
    }
}
