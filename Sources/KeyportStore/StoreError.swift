/// What a store operation can fail with, in terms the layers above can turn into answers.
/// Nothing here knows about HTTP; nothing here carries a secret.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The thing named does not exist (in that realm).
    case notFound(StoreEntity)
    /// A uniqueness rule would break: `message` says which, in Keycloak's words.
    case conflict(String)
    /// The request breaks a rule of the model (a cycle, a cross-realm reference, …).
    case invalid(String)
    /// The database could not be opened, migrated or written for a reason that is not the caller's.
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let entity): "\(entity.rawValue) not found"
        case .conflict(let message), .invalid(let message), .unavailable(let message): message
        }
    }
}

public enum StoreEntity: String, Sendable {
    case realm = "Realm"
    case user = "User"
    case client = "Client"
    case role = "Role"
    case group = "Group"
    case key = "Key"
    case credential = "Credential"
}
