import Synchronization

/// The server's public base URL (`--hostname`), from which issuers and realm URLs derive.
/// When it is derived from the port and the port is chosen by the system (`--http-port 0`),
/// it is only known once the server is bound, hence a box rather than a constant.
public final class PublicBaseURL: Sendable {
    private let current: Mutex<String>

    public init(_ value: String) { current = Mutex(value) }

    public var value: String { current.withLock { $0 } }

    public func set(_ value: String) { current.withLock { $0 = value } }
}
