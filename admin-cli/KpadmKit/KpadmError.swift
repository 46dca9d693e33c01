/// How kpadm ends: 0 on success, 1 when the server refused or could not be reached (its
/// message shown), 2 on a usage error.
public enum KpadmError: Error, Equatable, CustomStringConvertible {
    case usage(String)
    case refused(status: Int, message: String)
    case failure(String)

    public var exitCode: Int32 {
        switch self {
        case .usage: 2
        case .refused, .failure: 1
        }
    }

    public var description: String {
        switch self {
        case .usage(let message): message
        case .refused(let status, let message): "the server refused (HTTP \(status)): \(message)"
        case .failure(let message): message
        }
    }
}
