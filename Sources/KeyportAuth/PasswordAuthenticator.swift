import KeyportModel
import KeyportPasswords
import KeyportStore

/// Why a login failed. For events and logs only: every caller answers the client the same
/// way for all of them, so nobody learns which usernames exist.
public enum LoginFailure: String, Sendable, Equatable {
    case userNotFound = "user_not_found"
    case invalidCredentials = "invalid_user_credentials"
    case userDisabled = "user_disabled"
    /// Brute-force detection has locked the user for a while (Keycloak's event error).
    case userTemporarilyLocked = "user_temporarily_disabled"
    /// Required actions (e.g. `UPDATE_PASSWORD`) remain: Keycloak's "Account is not fully set up".
    case accountNotFullySetUp = "resolve_required_actions"
}

public enum LoginOutcome: Sendable, Equatable {
    case authenticated(User)
    case failed(LoginFailure, user: User?)
}

/// The one place where a password is checked against a realm.
///
/// Every path costs one Argon2 computation under the realm's policy (a missing user burns
/// an equal one), and whether the user is disabled or locked out is decided only after the
/// hash, so the time of an answer does not tell a known user from an unknown one. A right
/// password stored under other parameters is rehashed to the realm's policy. When the realm
/// has brute-force protection on, failures are counted here and lock the user out
/// (Keycloak's rules, see `LoginFailures`).
public struct PasswordAuthenticator: Sendable {
    let store: any IdentityStore
    let hasher: PasswordHasher
    let now: @Sendable () -> Timestamp
    /// Told when a rehash or a failure count could not be stored; the answer is unchanged.
    let onRehashFailure: @Sendable (any Error) -> Void

    public init(store: any IdentityStore, hasher: PasswordHasher, now: @escaping @Sendable () -> Timestamp,
                onRehashFailure: @escaping @Sendable (any Error) -> Void = { _ in }) {
        self.store = store
        self.hasher = hasher
        self.now = now
        self.onRehashFailure = onRehashFailure
    }

    public func authenticate(realm: Realm, username: String, password: Sensitive, ipAddress: String? = nil) async throws -> LoginOutcome {
        guard let user = try await lookUp(realm: realm, username: username) else {
            try await hasher.burn(policy: realm.passwordHashing)
            return .failed(.userNotFound, user: nil)
        }
        guard let credential = try await store.credentials(userId: user.id).first(where: { $0.type == Credential.password }) else {
            try await hasher.burn(policy: realm.passwordHashing)
            return .failed(.invalidCredentials, user: user)
        }
        let policy = realm.bruteForce
        let failures = policy.enabled ? try await store.loginFailures(userId: user.id, realmId: realm.id) : nil
        let time = now()
        let verdict = try await hasher.verify(password, against: credential.secret, policy: realm.passwordHashing)
        if let failures, failures.lockedUntil > time { return .failed(.userTemporarilyLocked, user: user) }
        switch verdict {
        case .mismatch:
            if policy.enabled { await countFailure(user: user, realm: realm, previous: failures, at: time, ipAddress: ipAddress) }
            return .failed(.invalidCredentials, user: user)
        case .match(let rehashed):
            if failures != nil {
                do { try await store.clearLoginFailures(userId: user.id, realmId: realm.id) } catch { onRehashFailure(error) }
            }
            if let rehashed {
                do {
                    _ = try await store.replaceCredentialSecret(id: credential.id, expected: credential.secret, with: rehashed)
                } catch {
                    onRehashFailure(error)
                }
            }
        }
        guard user.enabled else { return .failed(.userDisabled, user: user) }
        guard user.requiredActions.isEmpty else { return .failed(.accountNotFullySetUp, user: user) }
        return .authenticated(user)
    }

    /// Counts a failed password; a permanent lockout disables the user.
    private func countFailure(user: User, realm: Realm, previous: LoginFailures?, at time: Timestamp, ipAddress: String?) async {
        let next = (previous ?? LoginFailures(userId: user.id, realmId: realm.id)).recordingFailure(at: time, policy: realm.bruteForce, ipAddress: ipAddress)
        do {
            try await store.saveLoginFailures(next)
            if next.reachesPermanentLockout(realm.bruteForce) && user.enabled {
                var disabled = user
                disabled.enabled = false
                disabled.notBefore = time
                try await store.apply([.updateUser(disabled), .deleteSessions(userId: user.id, realmId: realm.id)])
            }
        } catch {
            onRehashFailure(error)
        }
    }

    /// By username, or by email when that names exactly one user (Keycloak's default).
    private func lookUp(realm: Realm, username: String) async throws -> User? {
        guard !username.isEmpty, username.utf8.count <= 255 else { return nil }
        if let user = try await store.user(username: username, realmId: realm.id) { return user }
        guard username.contains("@") else { return nil }
        let byEmail = try await store.user(email: username, realmId: realm.id)
        return byEmail.count == 1 ? byEmail[0] : nil
    }
}
