/// A user's run of failed logins, for brute-force detection.
public struct LoginFailures: Sendable, Equatable {
    public var userId: String
    public var realmId: String
    public var numFailures: Int
    public var lastFailure: Timestamp
    /// Logins are refused until then (whatever the password).
    public var lockedUntil: Timestamp
    public var lastIPAddress: String?

    public init(userId: String, realmId: String, numFailures: Int = 0, lastFailure: Timestamp = .init(millisecondsSince1970: 0),
                lockedUntil: Timestamp = .init(millisecondsSince1970: 0), lastIPAddress: String? = nil) {
        self.userId = userId
        self.realmId = realmId
        self.numFailures = numFailures
        self.lastFailure = lastFailure
        self.lockedUntil = lockedUntil
        self.lastIPAddress = lastIPAddress
    }

    /// Keycloak's rule: failures older than `maxDeltaTimeSeconds` are forgotten; a failure
    /// within `quickLoginCheckMilliSeconds` of the last locks for `minimumQuickLoginWaitSeconds`;
    /// every `failureFactor` failures lock for `waitIncrementSeconds` more, up to
    /// `maxFailureWaitSeconds`.
    public func recordingFailure(at now: Timestamp, policy: BruteForcePolicy, ipAddress: String?) -> LoginFailures {
        var next = self
        let sinceLast = now.milliseconds(since: lastFailure)
        let maxDelta = Int64(policy.maxDeltaTimeSeconds).multipliedReportingOverflow(by: 1000)
        if numFailures > 0 && !maxDelta.overflow && sinceLast > maxDelta.partialValue { next.numFailures = 0 }
        next.numFailures = next.numFailures < Int.max ? next.numFailures + 1 : Int.max
        // Never backwards: another node may have committed a failure stamped by a clock ahead of ours.
        next.lastFailure = max(now, lastFailure)
        next.lastIPAddress = ipAddress
        var wait = 0
        // As Keycloak (`deltaTime > 0`): a failure at the same instant, or one that seems to
        // precede the last (clocks of two nodes), is no "quick" retry.
        if numFailures > 0 && sinceLast > 0 && sinceLast < Int64(policy.quickLoginCheckMilliSeconds) { wait = policy.minimumQuickLoginWaitSeconds }
        if policy.failureFactor > 0 {
            let times = next.numFailures / policy.failureFactor
            if times > 0 {
                let (increment, overflow) = policy.waitIncrementSeconds.multipliedReportingOverflow(by: times)
                wait = max(wait, min(overflow ? Int.max : increment, policy.maxFailureWaitSeconds))
            }
        }
        if wait > 0 { next.lockedUntil = now.adding(seconds: wait) }
        return next
    }

    /// Whether the failure count calls for a permanent lockout (the user is disabled).
    public func reachesPermanentLockout(_ policy: BruteForcePolicy) -> Bool {
        policy.permanentLockout && policy.failureFactor > 0 && numFailures >= policy.failureFactor
    }
}
