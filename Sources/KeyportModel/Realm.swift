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
    /// Keycloak's `offlineSessionIdleTimeout`: seconds an offline session (a docker-v2 identity
    /// token) stays valid without use; each use slides the window.
    public var offlineSessionIdleTimeout: Int
    /// Keycloak's `offlineSessionMaxLifespanEnabled` and `offlineSessionMaxLifespan`: when
    /// enabled, an offline session ends this many seconds after it started, however often used.
    public var offlineSessionMaxLifespanEnabled: Bool
    public var offlineSessionMaxLifespan: Int
    /// Keyport: the longest a personal access token may live, in seconds (`nil`: no maximum).
    /// It caps the tokens made before it was set, too.
    public var personalAccessTokenMaxLifespan: Int?
    public var duplicateEmailsAllowed: Bool
    /// Keyport's per-realm switch for the docker-v2 token protocol; off by default.
    public var dockerV2Enabled: Bool
    public var bruteForce: BruteForcePolicy
    /// Keycloak's policy string, kept as given (e.g. `length(8) and notUsername`).
    public var passwordPolicy: String?
    /// The parameters new password hashes are made with; a login whose stored hash used
    /// other parameters rehashes to these.
    public var passwordHashing: Argon2Parameters
    /// How long events are kept, in seconds; `nil` keeps them until the realm is deleted
    /// (docker-v2 events excepted: those go after the server's default retention).
    public var eventsExpiration: Int?
    /// Keycloak's `eventsEnabled`: whether login events are stored at all.
    public var eventsEnabled: Bool
    /// Keycloak's `enabledEventTypes`: the event types stored; empty stores every type.
    public var enabledEventTypes: [String]
    /// Keycloak's `adminEventsEnabled`: whether changes made through the admin API are
    /// recorded (who, what, where from); off by default, as in Keycloak.
    public var adminEventsEnabled: Bool
    /// Keycloak's `adminEventsDetailsEnabled`: whether an admin event keeps the request's
    /// representation (secrets redacted).
    public var adminEventsDetailsEnabled: Bool
    /// Keycloak's settings Keyport keeps without using them (themes, registration switches, …),
    /// each as the JSON text of its value, so what a tool set is what it reads back.
    public var keycloakSettings: [String: String]
    /// What a realm file carried that Keyport keeps without running it (SAML clients,
    /// authorization settings, flows, identity providers, …), as JSON text by top-level key:
    /// written back by an export, never served.
    public var keycloakContent: [String: String]
    public var attributes: [String: String]
    public var createdAt: Timestamp
    /// Whether the realm has user storage providers (LDAP): who is unknown here may be known
    /// there. Read with the realm, never written through it.
    public var hasUserFederation = false

    public init(
        id: String, name: String, displayName: String? = nil, enabled: Bool = false,
        accessTokenLifespan: Int = 300, refreshTokenLifespan: Int = 1800,
        offlineSessionIdleTimeout: Int = 2_592_000, offlineSessionMaxLifespanEnabled: Bool = false,
        offlineSessionMaxLifespan: Int = 5_184_000, personalAccessTokenMaxLifespan: Int? = nil,
        duplicateEmailsAllowed: Bool = false, dockerV2Enabled: Bool = false,
        bruteForce: BruteForcePolicy = .init(), passwordPolicy: String? = nil,
        passwordHashing: Argon2Parameters = .keycloakDefault, eventsExpiration: Int? = nil,
        eventsEnabled: Bool = true, enabledEventTypes: [String] = [],
        adminEventsEnabled: Bool = false, adminEventsDetailsEnabled: Bool = false, keycloakSettings: [String: String] = [:],
        keycloakContent: [String: String] = [:], attributes: [String: String] = [:], createdAt: Timestamp
    ) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.enabled = enabled
        self.accessTokenLifespan = accessTokenLifespan
        self.refreshTokenLifespan = refreshTokenLifespan
        self.offlineSessionIdleTimeout = offlineSessionIdleTimeout
        self.offlineSessionMaxLifespanEnabled = offlineSessionMaxLifespanEnabled
        self.offlineSessionMaxLifespan = offlineSessionMaxLifespan
        self.personalAccessTokenMaxLifespan = personalAccessTokenMaxLifespan
        self.duplicateEmailsAllowed = duplicateEmailsAllowed
        self.dockerV2Enabled = dockerV2Enabled
        self.bruteForce = bruteForce
        self.passwordPolicy = passwordPolicy
        self.passwordHashing = passwordHashing
        self.eventsExpiration = eventsExpiration
        self.eventsEnabled = eventsEnabled
        self.enabledEventTypes = enabledEventTypes
        self.adminEventsEnabled = adminEventsEnabled
        self.adminEventsDetailsEnabled = adminEventsDetailsEnabled
        self.keycloakSettings = keycloakSettings
        self.keycloakContent = keycloakContent
        self.attributes = attributes
        self.createdAt = createdAt
    }

    /// The name of the composite role every new user of this realm is granted.
    public var defaultRoleName: String { "default-roles-\(name)" }

    /// When an offline session last used at `lastUse` and started at `start` ends under this
    /// realm's settings as they are now (a changed setting applies to existing sessions too).
    public func offlineSessionEnd(start: Timestamp, lastUse: Timestamp) -> Timestamp {
        let idleEnd = lastUse.adding(seconds: offlineSessionIdleTimeout)
        guard offlineSessionMaxLifespanEnabled else { return idleEnd }
        return Swift.min(idleEnd, start.adding(seconds: offlineSessionMaxLifespan))
    }

    /// One of Keycloak's numeric realm settings that Keyport reads from the kept ones
    /// (`keycloakSettings`, JSON text): its value when it is a whole number, clamped to `bounds`;
    /// `fallback` (Keycloak's default) otherwise.
    public func keptSetting(_ name: String, fallback: Int, bounds: ClosedRange<Int>) -> Int {
        guard let text = keycloakSettings[name], let value = Int(text) else { return fallback }
        return Swift.min(Swift.max(value, bounds.lowerBound), bounds.upperBound)
    }

    /// Keycloak's `ssoSessionMaxLifespan`: the longest a sign-in lasts, however active (ten hours
    /// by default); a browser session and every refresh token it or a password grant starts end by then.
    public var ssoSessionMaxLifespan: Int {
        let value = keptSetting("ssoSessionMaxLifespan", fallback: 36_000, bounds: 0...RealmBounds.lifespanSeconds.upperBound)
        return value > 0 ? max(value, 60) : 36_000
    }

    /// Keycloak's `accessCodeLifespan`: how long an authorization code may wait to be redeemed.
    public var accessCodeLifespan: Int { keptSetting("accessCodeLifespan", fallback: 60, bounds: 1...3600) }
    /// Keycloak's `accessCodeLifespanLogin`: how long a login page may wait for its form.
    public var accessCodeLifespanLogin: Int { keptSetting("accessCodeLifespanLogin", fallback: 1800, bounds: 60...86_400) }

    /// Whether an event of `type` is stored for this realm.
    public func storesEvent(type: String) -> Bool {
        eventsEnabled && (enabledEventTypes.isEmpty || enabledEventTypes.contains(type))
    }
}

/// The range of every number a realm setting may hold. Checked once, here, for the admin API
/// and realm import alike, so that no stored value can make arithmetic on it trap or reach
/// absurd times (a lockout until the year 300 million, a retention no clock can subtract).
public enum RealmBounds {
    static let year = 365 * 24 * 3600
    public static let lifespanSeconds = 1...(10 * year)
    /// Keycloak's realm settings kept without use (`Realm.keycloakSettings`): at most this much JSON text in all.
    public static let keptSettingsBytes = 16_384
    public static let eventsExpirationSeconds = 1...(10 * year)
    public static let failureFactor = 0...100_000
    public static let waitSeconds = 0...year
    public static let quickLoginCheckMilliseconds = 0...(24 * 3600 * 1000)
    public static let maxDeltaTimeSeconds = 0...year
    public static let enabledEventTypes = 0...100
    /// `default-roles-{name}` must fit a role name (255): the longest realm name that allows it.
    public static let realmNameLength = 1...(255 - "default-roles-".utf8.count)

    /// `value` when it lies in `range`, else a refusal naming the field and the range.
    public static func check(_ value: Int?, _ name: String, _ range: ClosedRange<Int>, unit: String = "") throws(InvalidRealmSetting) -> Int? {
        guard let value else { return nil }
        guard range.contains(value) else {
            throw InvalidRealmSetting(name: name, reason: "must be between \(range.lowerBound) and \(range.upperBound)\(unit)")
        }
        return value
    }
}

extension Realm {
    /// The realm with every number brought into its bounds (and the Argon2 cost under the
    /// server's ceiling), and the names of the fields that had to change. A database written
    /// before the bounds existed starts with these values instead of failing.
    public func clampedToBounds(ceiling: PasswordCostCeiling) -> (realm: Realm, clamped: [String]) {
        var r = self
        var changed: [String] = []
        func clamp(_ value: inout Int, _ range: ClosedRange<Int>, _ name: String) {
            let c = Swift.min(Swift.max(value, range.lowerBound), range.upperBound)
            if c != value { value = c; changed.append(name) }
        }
        clamp(&r.accessTokenLifespan, RealmBounds.lifespanSeconds, "accessTokenLifespan")
        clamp(&r.refreshTokenLifespan, RealmBounds.lifespanSeconds, "ssoSessionIdleTimeout")
        clamp(&r.offlineSessionIdleTimeout, RealmBounds.lifespanSeconds, "offlineSessionIdleTimeout")
        clamp(&r.offlineSessionMaxLifespan, RealmBounds.lifespanSeconds, "offlineSessionMaxLifespan")
        if var m = r.personalAccessTokenMaxLifespan {
            clamp(&m, RealmBounds.lifespanSeconds, "personalAccessTokenMaxLifespan")
            r.personalAccessTokenMaxLifespan = m
        }
        if var e = r.eventsExpiration { clamp(&e, RealmBounds.eventsExpirationSeconds, "eventsExpiration"); r.eventsExpiration = e }
        clamp(&r.bruteForce.failureFactor, RealmBounds.failureFactor, "failureFactor")
        clamp(&r.bruteForce.waitIncrementSeconds, RealmBounds.waitSeconds, "waitIncrementSeconds")
        clamp(&r.bruteForce.maxFailureWaitSeconds, RealmBounds.waitSeconds, "maxFailureWaitSeconds")
        clamp(&r.bruteForce.quickLoginCheckMilliSeconds, RealmBounds.quickLoginCheckMilliseconds, "quickLoginCheckMilliSeconds")
        clamp(&r.bruteForce.minimumQuickLoginWaitSeconds, RealmBounds.waitSeconds, "minimumQuickLoginWaitSeconds")
        clamp(&r.bruteForce.maxDeltaTimeSeconds, RealmBounds.maxDeltaTimeSeconds, "maxDeltaTimeSeconds")
        let hashing = ceiling.clamp(r.passwordHashing)
        if hashing != r.passwordHashing { r.passwordHashing = hashing; changed.append("passwordHashing") }
        return (r, changed)
    }

    /// Checks the settings a caller can change, as `updating` does field by field.
    public func checkBounds() throws(InvalidRealmSetting) {
        _ = try RealmBounds.check(accessTokenLifespan, "accessTokenLifespan", RealmBounds.lifespanSeconds, unit: " seconds")
        _ = try RealmBounds.check(refreshTokenLifespan, "ssoSessionIdleTimeout", RealmBounds.lifespanSeconds, unit: " seconds")
        _ = try RealmBounds.check(offlineSessionIdleTimeout, "offlineSessionIdleTimeout", RealmBounds.lifespanSeconds, unit: " seconds")
        _ = try RealmBounds.check(offlineSessionMaxLifespan, "offlineSessionMaxLifespan", RealmBounds.lifespanSeconds, unit: " seconds")
        _ = try RealmBounds.check(personalAccessTokenMaxLifespan, "personalAccessTokenMaxLifespan", RealmBounds.lifespanSeconds, unit: " seconds")
        _ = try RealmBounds.check(eventsExpiration, "eventsExpiration", RealmBounds.eventsExpirationSeconds, unit: " seconds")
        guard RealmBounds.enabledEventTypes.contains(enabledEventTypes.count) else {
            throw InvalidRealmSetting(name: "enabledEventTypes", reason: "may list at most \(RealmBounds.enabledEventTypes.upperBound) types")
        }
        for type in enabledEventTypes where type.isEmpty || type.utf8.count > 64 || !type.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }) {
            throw InvalidRealmSetting(name: "enabledEventTypes", reason: "holds '\(String(type.prefix(64)))', which is not an event type (upper-case letters, digits and '_')")
        }
    }
}

/// The most a password check may cost on this server, whatever a realm asks for or a stored
/// hash says: the operator's ceiling (`--password-hashing-max-memory`, `--password-hashing-max-iterations`).
/// One tenant must not be able to make every login of every realm slow.
public struct PasswordCostCeiling: Sendable, Equatable {
    public var memoryKiB: Int
    public var iterations: Int
    public var parallelism: Int
    /// For hashes carried over from Keycloak (PBKDF2); OWASP's figure for HMAC-SHA1.
    public var pbkdf2Iterations: Int

    public init(memoryKiB: Int = 32_768, iterations: Int = 16, parallelism: Int = 4, pbkdf2Iterations: Int = 1_300_000) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
        self.pbkdf2Iterations = pbkdf2Iterations
    }

    /// About 4.5× Keycloak's memory and 3× its iterations.
    public static let `default` = PasswordCostCeiling()

    public func admits(memoryKiB m: Int, iterations t: Int, parallelism p: Int) -> Bool {
        m <= memoryKiB && t <= iterations && p <= parallelism
    }

    public func admits(_ p: Argon2Parameters) -> Bool { admits(memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism) }

    public func clamp(_ p: Argon2Parameters) -> Argon2Parameters {
        var c = p
        c.memoryKiB = Swift.max(Argon2Parameters.memoryRange.lowerBound, Swift.min(c.memoryKiB, memoryKiB))
        c.iterations = Swift.max(1, Swift.min(c.iterations, iterations))
        c.parallelism = Swift.max(1, Swift.min(c.parallelism, parallelism))
        if c.memoryKiB < 8 * c.parallelism { c.parallelism = Swift.max(1, c.memoryKiB / 8) }
        return c
    }
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
    /// duration must lie in `RealmBounds`. The admin API and realm import both go through here.
    public func updating(enabled: Bool? = nil, failureFactor: Int? = nil, waitIncrementSeconds: Int? = nil,
                         maxFailureWaitSeconds: Int? = nil, quickLoginCheckMilliSeconds: Int? = nil,
                         minimumQuickLoginWaitSeconds: Int? = nil, maxDeltaTimeSeconds: Int? = nil,
                         permanentLockout: Bool? = nil) throws(InvalidRealmSetting) -> BruteForcePolicy {
        func checked(_ value: Int?, _ name: String, _ range: ClosedRange<Int>) throws(InvalidRealmSetting) -> Int? {
            try RealmBounds.check(value, name, range)
        }
        var p = self
        if let v = enabled { p.enabled = v }
        if let v = try checked(failureFactor, "failureFactor", RealmBounds.failureFactor) { p.failureFactor = v }
        if let v = try checked(waitIncrementSeconds, "waitIncrementSeconds", RealmBounds.waitSeconds) { p.waitIncrementSeconds = v }
        if let v = try checked(maxFailureWaitSeconds, "maxFailureWaitSeconds", RealmBounds.waitSeconds) { p.maxFailureWaitSeconds = v }
        if let v = try checked(quickLoginCheckMilliSeconds, "quickLoginCheckMilliSeconds", RealmBounds.quickLoginCheckMilliseconds) { p.quickLoginCheckMilliSeconds = v }
        if let v = try checked(minimumQuickLoginWaitSeconds, "minimumQuickLoginWaitSeconds", RealmBounds.waitSeconds) { p.minimumQuickLoginWaitSeconds = v }
        if let v = try checked(maxDeltaTimeSeconds, "maxDeltaTimeSeconds", RealmBounds.maxDeltaTimeSeconds) { p.maxDeltaTimeSeconds = v }
        if let v = permanentLockout { p.permanentLockout = v }
        return p
    }
}

extension Argon2Parameters {
    /// The parameters with the given ones changed (nil leaves one as it is), refused when the
    /// result is outside the bounds a realm may set.
    public func updating(memoryKiB: Int? = nil, iterations: Int? = nil, parallelism: Int? = nil, hashLength: Int? = nil,
                         saltLength: Int? = nil, ceiling: PasswordCostCeiling = .default) throws(InvalidRealmSetting) -> Argon2Parameters {
        var p = self
        if let v = memoryKiB { p.memoryKiB = v }
        if let v = iterations { p.iterations = v }
        if let v = parallelism { p.parallelism = v }
        if let v = hashLength { p.hashLength = v }
        if let v = saltLength { p.saltLength = v }
        guard p.isWithinBounds else {
            throw InvalidRealmSetting(name: "passwordHashing", reason: "is out of bounds: memory 1024–1048576 KiB (at least 8 per lane), iterations 1–64, parallelism 1–16, hashLength 16–64, saltLength 8–64")
        }
        guard ceiling.admits(p) else {
            throw InvalidRealmSetting(name: "passwordHashing", reason: "exceeds this server's ceiling: memory at most \(ceiling.memoryKiB) KiB, iterations at most \(ceiling.iterations), parallelism at most \(ceiling.parallelism)")
        }
        return p
    }
}

/// A change to a realm's settings, as the admin API's `PUT` or a realm file carries it (`nil`
/// leaves a setting as it is). `Realm.apply` is the one place such a change is checked and
/// merged, so the admin API and realm import accept and refuse exactly the same values.
public struct RealmSettingsChange: Sendable, Equatable {
    public var displayName: String??
    public var enabled: Bool?
    public var accessTokenLifespan: Int?
    public var refreshTokenLifespan: Int?
    public var offlineSessionIdleTimeout: Int?
    public var offlineSessionMaxLifespanEnabled: Bool?
    public var offlineSessionMaxLifespan: Int?
    /// Seconds; 0 removes the maximum.
    public var personalAccessTokenMaxLifespan: Int?
    public var duplicateEmailsAllowed: Bool?
    public var dockerV2Enabled: Bool?
    public var bruteForceProtected: Bool?
    public var failureFactor: Int?
    public var waitIncrementSeconds: Int?
    public var maxFailureWaitSeconds: Int?
    public var quickLoginCheckMilliSeconds: Int?
    public var minimumQuickLoginWaitSeconds: Int?
    public var maxDeltaTimeSeconds: Int?
    public var permanentLockout: Bool?
    /// Seconds; 0 turns expiry off (Keycloak's meaning).
    public var eventsExpiration: Int?
    public var eventsEnabled: Bool?
    public var enabledEventTypes: [String]?
    public var adminEventsEnabled: Bool?
    public var adminEventsDetailsEnabled: Bool?
    /// Kept settings given: each replaces the one of its name.
    public var keycloakSettings: [String: String]?
    public var hashingMemoryKiB: Int?
    public var hashingIterations: Int?
    public var hashingParallelism: Int?
    public var hashingHashLength: Int?
    public var hashingSaltLength: Int?
    /// Keycloak's fields Keyport checks here and keeps among the realm's kept settings
    /// (`ssoSessionMaxLifespan`, read by `Realm.ssoSessionMaxLifespan`) or does not keep (a
    /// realm's `notBefore` is per user here): refused out of range, as every number is.
    public var ssoSessionMaxLifespan: Int?
    public var notBefore: Int?

    public init() {}
}

extension Realm {
    /// Merges `change`, refusing (with the field's name) any value outside `RealmBounds` or
    /// above the server's password-cost ceiling.
    public mutating func apply(_ change: RealmSettingsChange, ceiling: PasswordCostCeiling) throws(InvalidRealmSetting) {
        var r = self
        if let v = change.displayName { r.displayName = v }
        if let v = change.enabled { r.enabled = v }
        _ = try RealmBounds.check(change.ssoSessionMaxLifespan, "ssoSessionMaxLifespan", 0...RealmBounds.lifespanSeconds.upperBound, unit: " seconds")
        _ = try RealmBounds.check(change.notBefore, "notBefore", 0...Int(Int32.max), unit: " (epoch seconds)")
        if let v = try RealmBounds.check(change.accessTokenLifespan, "accessTokenLifespan", RealmBounds.lifespanSeconds, unit: " seconds") {
            r.accessTokenLifespan = v
        }
        if let v = try RealmBounds.check(change.refreshTokenLifespan, "ssoSessionIdleTimeout", RealmBounds.lifespanSeconds, unit: " seconds") {
            r.refreshTokenLifespan = v
        }
        if let v = try RealmBounds.check(change.offlineSessionIdleTimeout, "offlineSessionIdleTimeout", RealmBounds.lifespanSeconds, unit: " seconds") {
            r.offlineSessionIdleTimeout = v
        }
        if let v = change.offlineSessionMaxLifespanEnabled { r.offlineSessionMaxLifespanEnabled = v }
        if let v = try RealmBounds.check(change.offlineSessionMaxLifespan, "offlineSessionMaxLifespan", RealmBounds.lifespanSeconds, unit: " seconds") {
            r.offlineSessionMaxLifespan = v
        }
        if let v = change.personalAccessTokenMaxLifespan {
            r.personalAccessTokenMaxLifespan = v == 0
                ? nil : try RealmBounds.check(v, "personalAccessTokenMaxLifespan", RealmBounds.lifespanSeconds, unit: " seconds (or 0: no maximum)")
        }
        if let v = change.duplicateEmailsAllowed { r.duplicateEmailsAllowed = v }
        if let v = change.dockerV2Enabled { r.dockerV2Enabled = v }
        r.bruteForce = try r.bruteForce.updating(
            enabled: change.bruteForceProtected, failureFactor: change.failureFactor, waitIncrementSeconds: change.waitIncrementSeconds,
            maxFailureWaitSeconds: change.maxFailureWaitSeconds, quickLoginCheckMilliSeconds: change.quickLoginCheckMilliSeconds,
            minimumQuickLoginWaitSeconds: change.minimumQuickLoginWaitSeconds, maxDeltaTimeSeconds: change.maxDeltaTimeSeconds,
            permanentLockout: change.permanentLockout)
        if let v = change.eventsExpiration {
            r.eventsExpiration = v == 0 ? nil : try RealmBounds.check(v, "eventsExpiration", RealmBounds.eventsExpirationSeconds, unit: " seconds (or 0: never)")
        }
        if let v = change.eventsEnabled { r.eventsEnabled = v }
        if let v = change.enabledEventTypes { r.enabledEventTypes = v }
        if let v = change.adminEventsEnabled { r.adminEventsEnabled = v }
        if let v = change.adminEventsDetailsEnabled { r.adminEventsDetailsEnabled = v }
        if let v = change.keycloakSettings {
            r.keycloakSettings.merge(v) { $1 }
            // The bound holds for what the realm keeps in all, not per request.
            var total = 0
            for key in r.keycloakSettings.keys.sorted() {
                total += key.utf8.count + (r.keycloakSettings[key]?.utf8.count ?? 0)
                if total > RealmBounds.keptSettingsBytes { r.keycloakSettings[key] = nil }
            }
        }
        if change.hashingMemoryKiB != nil || change.hashingIterations != nil || change.hashingParallelism != nil
            || change.hashingHashLength != nil || change.hashingSaltLength != nil {
            r.passwordHashing = try r.passwordHashing.updating(
                memoryKiB: change.hashingMemoryKiB, iterations: change.hashingIterations, parallelism: change.hashingParallelism,
                hashLength: change.hashingHashLength, saltLength: change.hashingSaltLength, ceiling: ceiling)
        }
        try r.checkBounds()
        self = r
    }
}
