import DockerV2Grammar
import KeycloakRepresentations
import KeyportAuth
import KeyportModel
import KeyportStore

/// The one place personal access tokens are made, shown, revoked and checked — for the admin
/// API, the account API and the docker-v2 endpoint alike.
///
/// A token is `kpat_` + 256 random bits, shown once; only its SHA-256 is stored. It is used as
/// the password of its owner on one registry client, never anywhere else (not on the OIDC
/// token endpoint, not on the admin API). What it may do is the intersection of what its owner
/// may do at each request with its own grants, if it has any.
public struct PersonalAccessTokens: Sendable {
    let store: any IdentityStore
    let environment: TimeAndRandomness

    public init(store: any IdentityStore, environment: TimeAndRandomness) {
        self.store = store
        self.environment = environment
    }

    public static let prefix = "kpat_"

    /// A creation request the caller cannot make valid by retrying as is.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    // MARK: Managing

    /// Makes a token for `owner`: the representation with its secret (`token`), shown only now.
    /// `origin`: the door it comes through (a self-service token ends with its owner's password).
    public func create(_ request: PersonalAccessTokenRepresentation, owner: User, realm: Realm,
                       origin: PersonalAccessToken.Origin) async throws -> PersonalAccessTokenRepresentation {
        guard let name = request.name?.trimmingWhitespace(), !name.isEmpty else { throw Invalid(description: "name is required") }
        // Counted in scalars, as the database counts characters (a grapheme may hold many).
        guard name.unicodeScalars.count <= PersonalAccessToken.maxNameLength, name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw Invalid(description: "name must be at most \(PersonalAccessToken.maxNameLength) printable characters")
        }
        guard let clientId = request.client, !clientId.isEmpty else {
            throw Invalid(description: "client is required: the clientId of the registry client the token is for")
        }
        guard clientId.utf8.count <= 255, let client = try await store.client(clientId: clientId, realmId: realm.id),
              client.protocolName == .dockerV2 else {
            throw Invalid(description: "client '\(String(clientId.prefix(80)))' is not a docker-v2 client of realm '\(realm.name)'")
        }
        let now = environment.now()
        var expiresAt: Timestamp?
        if let millis = request.expiresAt {
            let latest = now.adding(seconds: RealmBounds.lifespanSeconds.upperBound)
            guard millis > now.millisecondsSince1970, millis <= latest.millisecondsSince1970 else {
                throw Invalid(description: "expiresAt must be in the future and at most 10 years away (epoch milliseconds)")
            }
            expiresAt = Timestamp(millisecondsSince1970: millis)
        }
        if let max = realm.personalAccessTokenMaxLifespan {
            let cap = now.adding(seconds: max)
            if let e = expiresAt, e > cap {
                throw Invalid(description: "expiresAt is past realm '\(realm.name)''s maximum lifetime of \(max) seconds")
            }
            expiresAt = expiresAt ?? cap
        }
        var grants: [String]?
        if let requested = request.grants {
            guard requested.count <= PersonalAccessToken.maxGrants else {
                throw Invalid(description: "a token may carry at most \(PersonalAccessToken.maxGrants) grants")
            }
            for grant in requested {
                do { _ = try RegistryGrant(parsing: grant) } catch { throw Invalid(description: error.description) }
            }
            grants = requested
        }
        let secret = OpaqueToken.make(prefix: Self.prefix, randomBytes: environment.randomBytes)
        let token = PersonalAccessToken(id: environment.newID(), realmId: realm.id, userId: owner.id, clientId: client.id, name: name,
                                        secretHash: OpaqueToken.hash(secret), grants: grants, expiresAt: expiresAt, createdAt: now,
                                        origin: origin)
        try await store.createPersonalAccessToken(token)
        return PersonalAccessTokenRepresentation(token, clientId: client.clientId, secret: secret)
    }

    public func list(owner: User, realm: Realm) async throws -> [PersonalAccessTokenRepresentation] {
        let tokens = try await store.personalAccessTokens(userId: owner.id, realmId: realm.id)
        var clientIds: [String: String] = [:]
        var result: [PersonalAccessTokenRepresentation] = []
        for token in tokens {
            if clientIds[token.clientId] == nil {
                clientIds[token.clientId] = try await store.client(id: token.clientId, realmId: realm.id)?.clientId ?? ""
            }
            result.append(PersonalAccessTokenRepresentation(token, clientId: clientIds[token.clientId] ?? ""))
        }
        return result
    }

    public func get(id: String, owner: User, realm: Realm) async throws -> PersonalAccessTokenRepresentation {
        guard id.utf8.count <= 255, let token = try await store.personalAccessToken(id: id, userId: owner.id, realmId: realm.id) else {
            throw StoreError.notFound(.personalAccessToken)
        }
        let clientId = try await store.client(id: token.clientId, realmId: realm.id)?.clientId ?? ""
        return PersonalAccessTokenRepresentation(token, clientId: clientId)
    }

    public func revoke(id: String, owner: User, realm: Realm) async throws {
        guard id.utf8.count <= 255 else { throw StoreError.notFound(.personalAccessToken) }
        try await store.deletePersonalAccessToken(id: id, userId: owner.id, realmId: realm.id)
    }

    // MARK: Checking

    /// Why a token was refused. The registry client hears "Invalid username or password." for
    /// each; events keep the reason.
    public enum Failure: String, Error, Equatable, Sendable {
        /// No such token, or another user's, another realm's or another registry's.
        case invalid = "invalid_token"
        case expired = "expired_token"
        case userDisabled = "user_disabled"
    }

    public struct Verified: Sendable {
        public let token: PersonalAccessToken
        public let owner: User
        /// The token's own limits, parsed (`nil`: none beyond its owner's).
        public let grants: [RegistryGrant]?
    }

    /// Checks `secret` presented as the password of `username` to `client`. The username is the
    /// owner's, or — for a service account's token — its client's `clientId`.
    public func verify(secret: String, username: String, realm: Realm, client: Client) async throws -> Result<Verified, PersonalAccessTokenRefusal> {
        guard secret.utf8.count <= OpaqueToken.maxLength, let token = try await store.personalAccessToken(secretHash: OpaqueToken.hash(secret)),
              token.realmId == realm.id, token.clientId == client.id,
              let owner = try await store.user(id: token.userId, realmId: realm.id)
        else { return .failure(PersonalAccessTokenRefusal(reason: .invalid, owner: nil, token: nil)) }
        var names = [owner.username]
        if let accountOf = owner.serviceAccountClientId, let robot = try await store.client(id: accountOf, realmId: realm.id) {
            names.append(robot.clientId)
        }
        guard names.contains(User.normalize(username)) || names.contains(username) else {
            return .failure(PersonalAccessTokenRefusal(reason: .invalid, owner: nil, token: nil))
        }
        if let end = token.end(in: realm), end <= environment.now() {
            return .failure(PersonalAccessTokenRefusal(reason: .expired, owner: owner, token: token))
        }
        guard owner.enabled else { return .failure(PersonalAccessTokenRefusal(reason: .userDisabled, owner: owner, token: token)) }
        var grants: [RegistryGrant]?
        if let texts = token.grants {
            // Checked when the token was made; one that no longer parses allows nothing. A token's
            // grants never change: parsed once per token (a token of 50 grants is used at every pull).
            if let parsed = Self.parsedGrants[token.id] {
                grants = parsed
            } else {
                let parsed = texts.compactMap { try? RegistryGrant(parsing: $0) }
                Self.parsedGrants.set(parsed, for: token.id)
                grants = parsed
            }
        }
        return .success(Verified(token: token, owner: owner, grants: grants))
    }

    /// How recent the password login behind a request must be to make a token for oneself (the
    /// account API, or the admin API acting on its caller): a stolen or long-refreshed access
    /// token must not turn into a credential that outlives it.
    public static let recentLoginSeconds: Int64 = 300

    /// Whether a password login at `authTime` (a token's `auth_time`; nil for a service
    /// account's token) is recent enough to make a token for oneself.
    public static func isRecentLogin(at authTime: Timestamp?, now: Timestamp) -> Bool {
        guard let authTime, authTime <= now else { return false }
        return now.milliseconds(since: authTime) <= recentLoginSeconds * 1000
    }

    /// Tokens' parsed grants by token id (ids are random and a token's grants immutable).
    static let parsedGrants = BoundedCache<String, [RegistryGrant]>(capacity: 10_000)

    /// Records a use, at most once a minute per token unless the address changed: the listing
    /// shows when and where a token was last used without a write per registry request.
    public func recordUse(_ token: PersonalAccessToken, ipAddress: String?) async throws {
        let now = environment.now()
        if let last = token.lastUsedAt, last.adding(seconds: 60) > now, ipAddress == nil || ipAddress == token.lastUsedIp { return }
        try await store.touchPersonalAccessToken(id: token.id, at: now, ipAddress: ipAddress)
    }
}

public struct PersonalAccessTokenRefusal: Error, Sendable {
    public let reason: PersonalAccessTokens.Failure
    /// The owner, when the token was genuine (for the event).
    public let owner: User?
    public let token: PersonalAccessToken?
}

extension String {
    func trimmingWhitespace() -> String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
