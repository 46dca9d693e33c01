/// A realm: an isolated namespace of users, clients, roles, groups and signing keys.
public struct Realm: Sendable, Equatable, Identifiable {
    public var id: String
    /// The realm's name as it appears in URLs (`/realms/{name}`); unique.
    public var name: String
    public var displayName: String?
    public var enabled: Bool
    /// Seconds an access token (OIDC or docker-v2) stays valid.
    public var accessTokenLifespan: Int
    /// Seconds a refresh token stays valid without use.
    public var refreshTokenLifespan: Int
    public var duplicateEmailsAllowed: Bool
    /// Keyport's per-realm switch for the docker-v2 token protocol; off by default.
    public var dockerV2Enabled: Bool
    public var bruteForce: BruteForcePolicy
    /// Keycloak's policy string, kept as given (e.g. `length(8) and notUsername`).
    public var passwordPolicy: String?
    /// The parameters new password hashes are made with; a login whose stored hash used
    /// other parameters rehashes to these.
    public var passwordHashing: Argon2Parameters
    /// How long events are kept, in seconds; `nil` keeps them until the realm is deleted.
    public var eventsExpiration: Int?
    public var attributes: [String: String]
    public var createdAt: Timestamp

    public init(
        id: String, name: String, displayName: String? = nil, enabled: Bool = false,
        accessTokenLifespan: Int = 300, refreshTokenLifespan: Int = 1800,
        duplicateEmailsAllowed: Bool = false, dockerV2Enabled: Bool = false,
        bruteForce: BruteForcePolicy = .init(), passwordPolicy: String? = nil,
        passwordHashing: Argon2Parameters = .keycloakDefault, eventsExpiration: Int? = nil,
        attributes: [String: String] = [:], createdAt: Timestamp
    ) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.enabled = enabled
        self.accessTokenLifespan = accessTokenLifespan
        self.refreshTokenLifespan = refreshTokenLifespan
        self.duplicateEmailsAllowed = duplicateEmailsAllowed
        self.dockerV2Enabled = dockerV2Enabled
        self.bruteForce = bruteForce
        self.passwordPolicy = passwordPolicy
        self.passwordHashing = passwordHashing
        self.eventsExpiration = eventsExpiration
        self.attributes = attributes
        self.createdAt = createdAt
    }

    /// The name of the composite role every new user of this realm is granted.
    public var defaultRoleName: String { "default-roles-\(name)" }
}

/// Keycloak's brute-force detection settings, with Keycloak's defaults.
public struct BruteForcePolicy: Sendable, Equatable {
    public var enabled = false
    public var failureFactor = 30
    public var waitIncrementSeconds = 60
    public var maxFailureWaitSeconds = 900
    public var quickLoginCheckMilliSeconds = 1000
    public var minimumQuickLoginWaitSeconds = 60
    public var maxDeltaTimeSeconds = 43200
    public var permanentLockout = false
    public init() {}
}

/// Argon2id cost parameters. They travel with every stored hash (PHC string), so a policy
/// change never breaks existing passwords.
public struct Argon2Parameters: Sendable, Hashable, CustomStringConvertible {
    public var memoryKiB: Int
    public var iterations: Int
    public var parallelism: Int
    public var hashLength: Int
    public var saltLength: Int

    public init(memoryKiB: Int, iterations: Int, parallelism: Int, hashLength: Int = 32, saltLength: Int = 16) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
        self.hashLength = hashLength
        self.saltLength = saltLength
    }

    /// Keycloak 25+'s defaults: argon2id v1.3, 7168 KiB, 5 iterations, 1 lane, 32-byte hash, 16-byte salt.
    public static let keycloakDefault = Argon2Parameters(memoryKiB: 7168, iterations: 5, parallelism: 1)

    /// Bounds that keep a policy both meaningful and safe for the server (a realm admin must
    /// not be able to make every login allocate gigabytes).
    public static let memoryRange = 1024...(1024 * 1024)
    public static let iterationsRange = 1...64
    public static let parallelismRange = 1...16

    public var isWithinBounds: Bool {
        Self.memoryRange.contains(memoryKiB) && Self.iterationsRange.contains(iterations)
            && Self.parallelismRange.contains(parallelism) && (16...64).contains(hashLength)
            && (8...64).contains(saltLength) && memoryKiB >= 8 * parallelism
    }

    public var description: String { "argon2id(m=\(memoryKiB),t=\(iterations),p=\(parallelism))" }
}

/// A realm setting with a value that cannot be used; `name` is Keycloak's field name.
public struct InvalidRealmSetting: Error, Equatable, CustomStringConvertible {
    public let name: String
    public let reason: String
    public var description: String { "\(name) \(reason)" }
}

extension BruteForcePolicy {
    /// The policy with the given settings changed (nil leaves one as it is); every count and
    /// duration must be zero or more. The admin API and realm import both go through here.
    public func updating(enabled: Bool? = nil, failureFactor: Int? = nil, waitIncrementSeconds: Int? = nil,
                         maxFailureWaitSeconds: Int? = nil, quickLoginCheckMilliSeconds: Int? = nil,
                         minimumQuickLoginWaitSeconds: Int? = nil, maxDeltaTimeSeconds: Int? = nil,
                         permanentLockout: Bool? = nil) throws(InvalidRealmSetting) -> BruteForcePolicy {
        func checked(_ value: Int?, _ name: String) throws(InvalidRealmSetting) -> Int? {
            guard let value else { return nil }
            guard value >= 0 else { throw InvalidRealmSetting(name: name, reason: "must not be negative") }
            return value
        }
        var p = self
        if let v = enabled { p.enabled = v }
        if let v = try checked(failureFactor, "failureFactor") { p.failureFactor = v }
        if let v = try checked(waitIncrementSeconds, "waitIncrementSeconds") { p.waitIncrementSeconds = v }
        if let v = try checked(maxFailureWaitSeconds, "maxFailureWaitSeconds") { p.maxFailureWaitSeconds = v }
        if let v = try checked(quickLoginCheckMilliSeconds, "quickLoginCheckMilliSeconds") { p.quickLoginCheckMilliSeconds = v }
        if let v = try checked(minimumQuickLoginWaitSeconds, "minimumQuickLoginWaitSeconds") { p.minimumQuickLoginWaitSeconds = v }
        if let v = try checked(maxDeltaTimeSeconds, "maxDeltaTimeSeconds") { p.maxDeltaTimeSeconds = v }
        if let v = permanentLockout { p.permanentLockout = v }
        return p
    }
}

extension Argon2Parameters {
    /// The parameters with the given ones changed (nil leaves one as it is), refused when the
    /// result is outside the bounds a realm may set.
    public func updating(memoryKiB: Int? = nil, iterations: Int? = nil, parallelism: Int? = nil, hashLength: Int? = nil,
                         saltLength: Int? = nil) throws(InvalidRealmSetting) -> Argon2Parameters {
        var p = self
        if let v = memoryKiB { p.memoryKiB = v }
        if let v = iterations { p.iterations = v }
        if let v = parallelism { p.parallelism = v }
        if let v = hashLength { p.hashLength = v }
        if let v = saltLength { p.saltLength = v }
        guard p.isWithinBounds else {
            throw InvalidRealmSetting(name: "passwordHashing", reason: "is out of bounds: memory 1024–1048576 KiB (at least 8 per lane), iterations 1–64, parallelism 1–16, hashLength 16–64, saltLength 8–64")
        }
        return p
    }
}
