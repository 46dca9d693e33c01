// The floor the benchmark compares Keyport with: a bare Hummingbird 2 app answering
// `/health/live` with the same JSON, nothing else (no logging, ids or metrics).
import Hummingbird

struct Health: ResponseEncodable {
    let status: String
    let checks: [String]
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8099
let router = Router()
router.get("/health/live") { _, _ in Health(status: "UP", checks: []) }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
