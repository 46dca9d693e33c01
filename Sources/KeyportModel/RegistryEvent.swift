/// What a registry reported doing with a token Keyport issued (distribution's notification
/// events: push, pull, delete, mount). The registry's word, kept as it said it — except the
/// credential, which Keyport infers from its own token events (`credentialKind`, `credentialId`).
public struct RegistryEvent: Sendable, Equatable, Identifiable {
    /// A realm keeps at most this many (the oldest go first, at each retention pass).
    public static let limitPerRealm = 1_000_000
    /// The actions a registry reports.
    public static let actions: Set<String> = ["push", "pull", "delete", "mount"]

    public var id: String
    public var realmId: String
    /// The registry client's clientId (its `service`).
    public var clientId: String
    /// The registry's own id of the event: a retried envelope is kept once.
    public var registryEventId: String
    /// When the registry says it happened (kept within a week before `received` and a minute after).
    public var time: Timestamp
    public var received: Timestamp
    public var action: String
    /// The token's subject as the registry saw it: a username, or empty for anonymous access.
    public var actor: String?
    public var repository: String?
    public var tag: String?
    public var digest: String?
    public var mediaType: String?
    public var size: Int64?
    /// A mount's source repository.
    public var fromRepository: String?
    /// The client's address as the registry saw it (`request.addr`, host and port).
    public var sourceAddress: String?
    /// Its host alone: what the address filter and the credential inference match.
    public var sourceHost: String?
    public var requestId: String?
    public var userAgent: String?
    /// Inferred: `password`, `personal-access-token`, `identity-token`, `client-secret`.
    public var credentialKind: String?
    /// Inferred: the personal access token's or identity token's id.
    public var credentialId: String?

    public init(id: String, realmId: String, clientId: String, registryEventId: String, time: Timestamp, received: Timestamp, action: String,
                actor: String? = nil, repository: String? = nil, tag: String? = nil, digest: String? = nil, mediaType: String? = nil,
                size: Int64? = nil, fromRepository: String? = nil, sourceAddress: String? = nil, sourceHost: String? = nil, requestId: String? = nil,
                userAgent: String? = nil, credentialKind: String? = nil, credentialId: String? = nil) {
        self.id = id
        self.realmId = realmId
        self.clientId = clientId
        self.registryEventId = registryEventId
        self.time = time
        self.received = received
        self.action = action
        self.actor = actor
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.mediaType = mediaType
        self.size = size
        self.fromRepository = fromRepository
        self.sourceAddress = sourceAddress
        self.sourceHost = sourceHost
        self.requestId = requestId
        self.userAgent = userAgent
        self.credentialKind = credentialKind
        self.credentialId = credentialId
    }
}
