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
    /// Right passwords seen recently (keyed digests, never passwords): a hit skips Argon2.
    let verified: VerifiedCredentialCache
    /// The realms' directories (LDAP): asked for realms that have some, for the users they imported
    /// and for names nobody here has.
    let directories: (any UserDirectories)?
    /// One directory password check per person at a time (`DirectoryBindGate`).
    let directoryBinds = DirectoryBindGate()

    public init(store: any IdentityStore, hasher: PasswordHasher, now: @escaping @Sendable () -> Timestamp,
                verified: VerifiedCredentialCache = .off, directories: (any UserDirectories)? = nil,
                onRehashFailure: @escaping @Sendable (any Error) -> Void = { _ in }) {
        self.store = store
        self.hasher = hasher
        self.now = now
        self.verified = verified
        self.directories = directories
        self.onRehashFailure = onRehashFailure
    }

    public func authenticate(realm: Realm, username: String, password: Sensitive, ipAddress: String? = nil) async throws -> LoginOutcome {
        try await authenticateProving(realm: realm, username: username, password: password, ipAddress: ipAddress).outcome
    }

    /// `authenticate`, with what a session started from this login must find unchanged when it is
    /// written (`LoginProof`): a reset or a logout that lands between the check and the write
    /// must not leave a session made from the old password behind.
    public func authenticateProving(realm: Realm, username: String, password: Sensitive, ipAddress: String? = nil) async throws
        -> (outcome: LoginOutcome, proof: LoginProof?) {
        // Taken before the credential is read: anything that moves `notBefore` after it is later.
        let checkedAt = now()
        var proof: LoginProof?
        let outcome = try await authenticate(realm: realm, username: username, password: password, ipAddress: ipAddress) { user, credential in
            proof = LoginProof(userId: user.id, credentialId: credential?.id, checkedAt: checkedAt)
        }
        // A right password proves something even when required actions remain: the browser's
        // update-password page stands on it.
        switch outcome {
        case .authenticated, .failed(.accountNotFullySetUp, _): return (outcome, proof)
        case .failed: return (outcome, nil)
        }
    }

    private func authenticate(realm: Realm, username: String, password: Sensitive, ipAddress: String?,
                              checked: (User, Credential?) -> Void) async throws -> LoginOutcome {
        // Hashing waits in this realm's queue: a flood against one realm cannot hold every thread.
        let partition = realm.id
        // The unknown user takes the same steps as a known one with a wrong password (the same
        // reads, one hash, the same bookkeeping transaction), so the time of the answer does not
        // tell them apart (LoginTimingTests counts the statements).
        var (found, credential) = try await lookUp(realm: realm, username: username)
        // A realm with directories: a name nobody here has may be a directory's person (imported
        // now), and a user a directory imported signs in with the directory's password.
        if realm.hasUserFederation, let directories {
            if found == nil, !username.isEmpty, username.utf8.count <= 255 {
                found = try await directories.importUser(named: username, realm: realm)
                credential = nil
            }
            if let user = found, user.federationLink != nil {
                return try await authenticate(user, through: directories, realm: realm, username: username, password: password,
                                              ipAddress: ipAddress, checked: checked)
            }
        }
        guard let user = found, let credential else {
            try await hasher.burn(policy: realm.passwordHashing, partition: partition)
            let locked = await countFailure(userId: found?.id ?? "", realm: realm, ipAddress: ipAddress)
            guard let found else { return .failed(.userNotFound, user: nil) }
            return .failed(locked ? .userTemporarilyLocked : .invalidCredentials, user: found)
        }
        // A right password that fully succeeded recently against this very stored hash, under this
        // policy: no Argon2 (VerifiedCredentialCache).
        let slot = verified.isOn ? verified.slot(realmId: realm.id, username: username, password: password) : nil
        checked(user, credential)
        let fromCache = slot.map { verified.hit($0, userId: user.id, stored: credential.secret, policy: realm.passwordHashing, now: now()) } ?? false
        let verdict = fromCache
            ? PasswordCheck.match(rehashed: nil)
            : try await hasher.verify(password, against: credential.secret, policy: realm.passwordHashing, partition: partition)
        let outcome = try await settle(verdict, user: user, credential: credential, realm: realm, ipAddress: ipAddress)
        if let slot {
            switch outcome {
            case .authenticated where !fromCache:
                // Only a full success is remembered, and only when the stored hash is already in the
                // realm's policy (else it was just replaced): a right password of a locked or
                // disabled account is never fast, so timing cannot confirm a guess behind a lockout.
                if case .match(nil) = verdict {
                    verified.remember(slot, userId: user.id, stored: credential.secret, policy: realm.passwordHashing, now: now(),
                                      lifespan: realm.accessTokenLifespan)
                }
            case .failed where fromCache:
                // Locked or disabled since: pay what a computed check would have cost, and forget.
                verified.forget(slot)
                try await hasher.burn(policy: realm.passwordHashing, partition: partition)
            default:
                break
            }
        }
        return outcome
    }

    /// A directory's user: Keyport's own lockout decided before the directory is asked (guesses at
    /// the registry never reach the directory's bad-password count, nor lock anyone out company-wide),
    /// then the password checked by a bind as the person's entry — or a right one remembered
    /// (`VerifiedCredentialCache`, against the entry and the user's version) — and what the directory
    /// says about the user brought in. A wrong password counts as a local one does.
    private func authenticate(_ user: User, through directories: any UserDirectories, realm: Realm, username: String, password: Sensitive,
                              ipAddress: String?, checked: (User, Credential?) -> Void) async throws -> LoginOutcome {
        let policy = Self.directoryLockout(realm.bruteForce)
        guard !password.revealed.isEmpty else {
            // An empty password is never sent: an unauthenticated bind "succeeds" on many directories.
            let locked = await countFailure(userId: user.id, realm: realm, policy: policy, ipAddress: ipAddress)
            return .failed(locked ? .userTemporarilyLocked : .invalidCredentials, user: user)
        }
        // A user disabled here (by an administrator, a permanent lockout) costs the directory nothing.
        guard user.enabled else { return .failed(.userDisabled, user: user) }
        let slot = verified.isOn ? verified.slot(realmId: realm.id, username: username, password: password) : nil
        // Locked, or a right password remembered — which counts only while no wrong one is pending
        // (it must not forget failures the directory still counts: only a bind that succeeds resets
        // the directory's), and then clears nothing. Nil: the directory must be asked.
        func answerWithoutDirectory() async throws -> LoginOutcome? {
            let failures = try await store.loginFailures(userId: user.id, realmId: realm.id)
            if let failures, failures.lockedUntil > now() { return .failed(.userTemporarilyLocked, user: user) }
            checked(user, nil)
            guard let slot, (failures?.numFailures ?? 0) == 0,
                  verified.hit(slot, userId: user.id, stored: Self.directoryStamp(user), policy: realm.passwordHashing, now: now()) else { return nil }
            return try await settle(.match(rehashed: nil), user: user, credential: nil, realm: realm, ipAddress: ipAddress, admit: false)
        }
        // A remembered password needs no turn (a fleet sharing one account is not queued).
        if let answer = try await answerWithoutDirectory() { return answer }
        // From here to the failure's count, this person's only check on this node: wrong passwords
        // sent at once find the lockout the one before left instead of all reaching the directory;
        // and the check before may have proved this very password right.
        let turn = "\(realm.id)\u{0}\(user.id)"
        guard await directoryBinds.enter(turn) else {
            throw UserDirectoryUnavailable(provider: user.federationLink ?? "")  // too many checks of one person waiting
        }
        defer { directoryBinds.leave(turn) }
        if let answer = try await answerWithoutDirectory() { return answer }
        switch try await directories.verify(user, password: password, realm: realm) {
        case .gone:
            return .failed(.userNotFound, user: user)
        case .mismatch:
            let locked = await countFailure(userId: user.id, realm: realm, policy: policy, ipAddress: ipAddress)
            return .failed(locked ? .userTemporarilyLocked : .invalidCredentials, user: user)
        case .match(let current):
            // Failures counted under the directory's lockout are forgotten by a right password
            // (the realm's own rules do it in `settle` when it counts them).
            if !realm.bruteForce.enabled, try await !store.admitLogin(userId: current.id, realmId: realm.id, at: now()) {
                return .failed(.userTemporarilyLocked, user: current)
            }
            let outcome = try await settle(.match(rehashed: nil), user: current, credential: nil, realm: realm, ipAddress: ipAddress)
            if let slot, case .authenticated(let done) = outcome, done.id == user.id {
                verified.remember(slot, userId: done.id, stored: Self.directoryStamp(done), policy: realm.passwordHashing, now: now(),
                                  lifespan: realm.accessTokenLifespan)
            }
            return outcome
        }
    }

    /// A directory's user acting with a token that stands for an earlier sign-in (a personal access
    /// token, a docker identity token, an OIDC refresh token): the user as the directory leaves it
    /// now — names, groups, roles and Active Directory's disabled bit brought up to date as at a
    /// sign-in — or nil when the entry is gone or disabled, so someone who left loses the registry
    /// with their tokens too. Asked again at most once per credential-cache window for the same
    /// token and the same user (remembered like a right password, against `directoryStamp`); any
    /// other user is returned as is, at no cost. `token`: the presented secret (only its keyed
    /// digest is kept).
    public func directoryStanding(of user: User, realm: Realm, token: Sensitive) async throws -> User? {
        guard user.federationLink != nil, realm.hasUserFederation, let directories else { return user }
        let slot = verified.isOn ? verified.slot(realmId: realm.id, username: "\u{0}token\u{0}" + user.id, password: token) : nil
        if let slot, verified.hit(slot, userId: user.id, stored: Self.directoryStamp(user), policy: realm.passwordHashing, now: now()) {
            return user
        }
        guard case .match(let current) = try await directories.standing(of: user, realm: realm), current.enabled else { return nil }
        if let slot {
            verified.remember(slot, userId: current.id, stored: Self.directoryStamp(current), policy: realm.passwordHashing, now: now(),
                              lifespan: realm.accessTokenLifespan)
        }
        return current
    }

    /// The lockout a directory's users always have, whatever the realm's: its own rules when it
    /// has them, but never more than `directoryFailureFactor` wrong passwords before a wait of at
    /// least `directoryWaitSeconds`, and then one try per wait — every wrong one is a bind the
    /// directory counts, and enough of them lock the person out of everything the directory serves.
    /// Active Directory's lockout threshold is often 5 (CIS's advice: 5 or fewer) over a
    /// 15-minute window: from Keyport it sees at most 3 wrong binds in a row, then one per 16
    /// minutes — never 5 in any window of 15 minutes (on one node: `DirectoryBindGate`).
    static let directoryFailureFactor = 3
    /// 15 minutes and a margin (a directory forgets a bad password 15 minutes after the last one).
    static let directoryWaitSeconds = 960
    /// Failures are remembered at least this long (the realm's may be shorter: a guess a minute
    /// must not start the count again each time).
    static let directoryFailureMemorySeconds = 43_200
    static func directoryLockout(_ realm: BruteForcePolicy) -> BruteForcePolicy {
        var policy = realm.enabled ? realm : BruteForcePolicy()
        policy.enabled = true
        // A permanent lockout (the user disabled) comes only after as many failures as the realm
        // itself allows: the directory's smaller count makes a wait, never a disabled account.
        if !realm.enabled || realm.failureFactor < 1 || realm.failureFactor > directoryFailureFactor { policy.permanentLockout = false }
        policy.failureFactor = min(max(policy.failureFactor, 1), directoryFailureFactor)
        policy.waitIncrementSeconds = max(policy.waitIncrementSeconds, directoryWaitSeconds)
        policy.maxFailureWaitSeconds = max(policy.maxFailureWaitSeconds, directoryWaitSeconds)
        policy.maxDeltaTimeSeconds = max(policy.maxDeltaTimeSeconds, directoryFailureMemorySeconds)
        return policy
    }

    /// What a remembered right password of a directory's user was checked against, in place of a
    /// stored hash: the entry and the user as the directory last left it — a sync or an admin that
    /// changes, disables or logs the user out makes the next request ask the directory again.
    static func directoryStamp(_ user: User) -> Sensitive {
        var text = "directory\u{0}\(user.federationLink ?? "")\u{0}\(user.federationId ?? "")\u{0}\(user.notBefore.millisecondsSince1970)\u{0}\(user.enabled)"
        text += "\u{0}\(user.username)\u{0}\(user.email ?? "")\u{0}\(user.firstName ?? "")\u{0}\(user.lastName ?? "")"
        for key in user.attributes.keys.sorted() { text += "\u{0}\(key)=\(user.attributes[key]?.joined(separator: "\u{1}") ?? "")" }
        return Sensitive(text)
    }

    /// What a computed or remembered verdict means, with the brute-force bookkeeping and the
    /// checks that come after a right password.
    /// `admit` false: a right password answered from memory for a directory's person with no
    /// failure pending — the lockout was read already, and nothing is cleared (a failure counted
    /// at the same moment stays counted).
    private func settle(_ verdict: PasswordCheck, user: User, credential: Credential?, realm: Realm, ipAddress: String?,
                        admit: Bool = true) async throws -> LoginOutcome {
        switch verdict {
        case .mismatch:
            let locked = await countFailure(userId: user.id, realm: realm, ipAddress: ipAddress)
            return .failed(locked ? .userTemporarilyLocked : .invalidCredentials, user: user)
        case .match(let rehashed):
            // Decided after the hash, in one transaction with the failures counted so far: a burst
            // of concurrent guesses cannot slip a right one past a lockout its own failures caused.
            if admit, realm.bruteForce.enabled, try await !store.admitLogin(userId: user.id, realmId: realm.id, at: now()) {
                return .failed(.userTemporarilyLocked, user: user)
            }
            if let rehashed, let credential {
                do {
                    _ = try await store.replaceCredentialSecret(id: credential.id, expected: credential.secret, with: rehashed)
                } catch {
                    onRehashFailure(error)
                }
            }
        }
        // With brute-force protection on, a concurrent permanent lockout may have disabled the
        // user during the hash: read it again (only then — token requests are the hot path).
        let current = realm.bruteForce.enabled ? try await store.user(id: user.id, realmId: realm.id) : user
        guard let current, current.enabled else { return .failed(.userDisabled, user: user) }
        guard current.requiredActions.isEmpty else { return .failed(.accountNotFullySetUp, user: current) }
        return .authenticated(current)
    }

    /// Whether `client` can log in as its service account with its secret (Keycloak's model for
    /// machines): a confidential OIDC client with `serviceAccountsEnabled` and a secret.
    public static func hasServiceAccountLogin(_ client: Client) -> Bool {
        client.protocolName == .openIDConnect && !client.publicClient && client.serviceAccountsEnabled && client.secret != nil
    }

    /// A client's secret presented for its service account (`docker login -u <clientId> -p <secret>`),
    /// compared in constant time. A wrong one costs what a wrong password costs (one Argon2 of the
    /// realm's policy, burnt), so the time of the answer does not tell a robot's clientId from a
    /// username; and wrong secrets never lock the robot out — a 192-bit secret cannot be guessed,
    /// and counting failures would let anyone stop a realm's CI with a handful of requests
    /// (Keycloak does not apply brute-force detection to client secrets either). An administrator
    /// may still lock a robot by hand; a lock that exists is honoured.
    public func authenticate(realm: Realm, serviceAccountOf client: Client, secret: Sensitive, ipAddress: String? = nil) async throws -> LoginOutcome {
        guard Self.hasServiceAccountLogin(client),
              let user = try await store.serviceAccountUser(clientId: client.id, realmId: realm.id)
        else {
            try await hasher.burn(policy: realm.passwordHashing, partition: realm.id)
            return .failed(.userNotFound, user: nil)
        }
        guard let expected = client.secret, constantTimeEquals(Array(expected.revealed.utf8), Array(secret.revealed.utf8)) else {
            try await hasher.burn(policy: realm.passwordHashing, partition: realm.id)
            return .failed(.invalidCredentials, user: user)
        }
        if realm.bruteForce.enabled, try await !store.admitLogin(userId: user.id, realmId: realm.id, at: now()) {
            return .failed(.userTemporarilyLocked, user: user)
        }
        let current = realm.bruteForce.enabled ? try await store.user(id: user.id, realmId: realm.id) : user
        guard let current, current.enabled, client.enabled else { return .failed(.userDisabled, user: user) }
        return .authenticated(current)
    }

    /// Counts a failed password (when the realm has brute-force protection); `true` when the
    /// user was locked already. A permanent lockout disables the user in the same transaction.
    private func countFailure(userId: String, realm: Realm, policy: BruteForcePolicy? = nil, ipAddress: String?) async -> Bool {
        let policy = policy ?? realm.bruteForce
        guard policy.enabled else { return false }
        do {
            let outcome = try await store.recordLoginFailure(userId: userId, realmId: realm.id, at: now(), policy: policy, ipAddress: ipAddress)
            return outcome?.wasLocked ?? false
        } catch {
            onRehashFailure(error)
            return false
        }
    }

    /// By username, or by email when that names exactly one user (Keycloak's default), with the
    /// user's password credential. One statement by username; by email, the same statements
    /// whether or not the address names a user.
    private func lookUp(realm: Realm, username: String) async throws -> (User?, Credential?) {
        guard !username.isEmpty, username.utf8.count <= 255 else { return (nil, nil) }
        if let found = try await store.userWithPassword(username: username, realmId: realm.id) { return (found.user, found.password) }
        guard username.utf8.contains(UInt8(ascii: "@")) else { return (nil, nil) }
        let byEmail = try await store.user(email: username, realmId: realm.id)
        let user = byEmail.count == 1 ? byEmail[0] : nil
        let password = try await store.credentials(userId: user?.id ?? "").first(where: { $0.type == Credential.password })
        return (user, password)
    }
}
