/// A browser's single sign-on session (Keycloak's user session): what the session cookie stands
/// for. While it lives, every client of the realm signs the browser in without the form. Only a
/// SHA-256 of the cookie is stored. The refresh-token sessions of the clients it signed in
/// (`Session.browserSessionId`) and its pending authorization codes end with it.
public struct BrowserSession: Sendable, Equatable, Identifiable {
    public var id: String
    public var realmId: String
    public var userId: String
    public var cookieHash: String
    /// When the user presented its password: the `auth_time` of every token it leads to.
    public var authTime: Timestamp
    public var lastSeen: Timestamp
    /// The hard end (the realm's `ssoSessionMaxLifespan` from `authTime`).
    public var expiresAt: Timestamp
    public var ipAddress: String?

    /// How many browser sessions one user may hold: past it the least recently seen goes.
    public static let limitPerUser = 100

    public init(id: String, realmId: String, userId: String, cookieHash: String, authTime: Timestamp, lastSeen: Timestamp,
                expiresAt: Timestamp, ipAddress: String? = nil) {
        self.id = id
        self.realmId = realmId
        self.userId = userId
        self.cookieHash = cookieHash
        self.authTime = authTime
        self.lastSeen = lastSeen
        self.expiresAt = expiresAt
        self.ipAddress = ipAddress.map { String($0.prefix(64)) }
    }

    /// When it ends under its realm's settings as they are now: idle (`ssoSessionIdleTimeout`)
    /// or its hard end, whichever comes first.
    public func end(in realm: Realm) -> Timestamp {
        min(expiresAt, lastSeen.adding(seconds: realm.refreshTokenLifespan))
    }
}

/// An authorization code (RFC 6749 §4.1): single-use, short-lived, bound to its client, its
/// redirect URI, its PKCE challenge and the browser session that approved it. Only a SHA-256 of
/// the code is stored.
public struct AuthorizationCode: Sendable, Equatable {
    public var codeHash: String
    public var realmId: String
    /// The client's internal id (`Client.id`).
    public var clientId: String
    public var userId: String
    public var browserSessionId: String
    public var redirectUri: String
    /// The scope the request asked for, as sent.
    public var scope: String
    public var nonce: String?
    public var codeChallenge: String?
    public var codeChallengeMethod: String?
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    /// The refresh-token session its redemption started (nil until redeemed): a second use of
    /// the code ends it (RFC 6749 §4.1.2: a replayed code revokes what the first use issued).
    public var redeemedSessionId: String?

    /// How many unredeemed codes one browser session may hold: past it the oldest go.
    public static let limitPerBrowserSession = 20

    public init(codeHash: String, realmId: String, clientId: String, userId: String, browserSessionId: String, redirectUri: String,
                scope: String, nonce: String?, codeChallenge: String?, codeChallengeMethod: String?, createdAt: Timestamp,
                expiresAt: Timestamp, redeemedSessionId: String? = nil) {
        self.codeHash = codeHash
        self.realmId = realmId
        self.clientId = clientId
        self.userId = userId
        self.browserSessionId = browserSessionId
        self.redirectUri = redirectUri
        self.scope = scope
        self.nonce = nonce
        self.codeChallenge = codeChallenge
        self.codeChallengeMethod = codeChallengeMethod
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.redeemedSessionId = redeemedSessionId
    }
}

/// What redeeming an authorization code found (`BrowserSessionStore.redeemAuthorizationCode`).
public enum CodeRedemption: Sendable, Equatable {
    /// The code was live: it is now spent, and the session was written.
    case redeemed
    /// No such code, or it expired (it is gone now).
    case unknown
    /// Spent before: the session its first use started is ended.
    case replayed
}

/// A device's pending sign-in (OAuth 2.0 Device Authorization Grant, RFC 8628): the device polls
/// with its device code while a person, in a browser, enters the user code and approves or denies.
/// Only SHA-256s of both codes are stored.
public struct DeviceAuthorization: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, approved, denied }

    public var deviceCodeHash: String
    public var userCodeHash: String
    public var realmId: String
    /// The client's internal id (`Client.id`).
    public var clientId: String
    public var scope: String
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    /// Seconds the device must wait between polls (raised by 5 at each `slow_down`).
    public var interval: Int
    public var lastPolledAt: Timestamp?
    public var status: Status
    /// Who approved it, through which browser session.
    public var userId: String?
    public var browserSessionId: String?

    /// How many device sign-ins a realm may have waiting: anyone holding a public client's id can
    /// start one, and none may fill the disk.
    public static let limitPerRealm = 10_000
    /// …and of one client: one client's flood does not stop the realm's other devices.
    public static let limitPerClient = 1_000

    public init(deviceCodeHash: String, userCodeHash: String, realmId: String, clientId: String, scope: String, createdAt: Timestamp,
                expiresAt: Timestamp, interval: Int, lastPolledAt: Timestamp? = nil, status: Status = .pending, userId: String? = nil,
                browserSessionId: String? = nil) {
        self.deviceCodeHash = deviceCodeHash
        self.userCodeHash = userCodeHash
        self.realmId = realmId
        self.clientId = clientId
        self.scope = scope
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.interval = interval
        self.lastPolledAt = lastPolledAt
        self.status = status
        self.userId = userId
        self.browserSessionId = browserSessionId
    }
}

/// What a device's poll found (`BrowserSessionStore.pollDeviceAuthorization`).
public enum DevicePoll: Sendable, Equatable {
    case unknown
    case expired
    /// Polled before its interval: the interval grows by five seconds (RFC 8628 §3.5).
    case slowDown
    case pending(DeviceAuthorization)
    case denied
    /// Approved: the authorization is spent (removed) by this poll, and only this one.
    case approved(DeviceAuthorization)
}
