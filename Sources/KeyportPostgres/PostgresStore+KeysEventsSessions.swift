import KeyportModel
import KeyportStore

// MARK: Realm keys

extension PostgresStore {
    public func realmKeys(realmId: String) async throws -> [RealmKey] {
        try await readOne { db in
            try await db.rows("SELECT * FROM realm_keys WHERE realm_id = ? ORDER BY algorithm, priority DESC, created_at DESC", [realmId]).map(Self.key)
        }
    }

    /// A realm's key changes take turns (its row is locked): the count and the "last active key"
    /// rule are checked against what no other node is changing at the same moment.
    static func lockRealmKeys(_ realmId: String, _ db: PGConnection) async throws {
        try await db.execute("SELECT 1 FROM realms WHERE id = ? FOR UPDATE", [realmId])
    }

    public func addRealmKey(_ key: RealmKey) async throws {
        try await write { db in
            try await Self.lockRealmKeys(key.realmId, db)
            let count = try await db.one("SELECT count(*) AS n FROM realm_keys WHERE realm_id = ?", [key.realmId])?.int("n") ?? 0
            guard count < RealmKey.limitPerRealm else { throw StoreError.conflict(.keyLimit) }
            try await Self.insertKey(key, db)
        }
    }

    public func updateRealmKey(id: String, realmId: String, name: String, status: KeyStatus, priority: Int) async throws {
        try await write { db in
            try await Self.lockRealmKeys(realmId, db)
            let before = try await Self.keyAlgorithmAndStatus(id: id, realmId: realmId, db)
            try await db.execute("UPDATE realm_keys SET name = ?, status = ?, priority = ? WHERE id = ? AND realm_id = ?",
                                 [name, status.rawValue, priority, id, realmId])
            if before.status == KeyStatus.active.rawValue { try await Self.requireActiveKey(realmId: realmId, algorithm: before.algorithm, db) }
        }
    }

    public func deleteRealmKey(id: String, realmId: String) async throws {
        try await write { db in
            try await Self.lockRealmKeys(realmId, db)
            let before = try await Self.keyAlgorithmAndStatus(id: id, realmId: realmId, db)
            try await db.execute("DELETE FROM realm_keys WHERE id = ? AND realm_id = ?", [id, realmId])
            if before.status == KeyStatus.active.rawValue { try await Self.requireActiveKey(realmId: realmId, algorithm: before.algorithm, db) }
        }
    }

    static func keyAlgorithmAndStatus(id: String, realmId: String, _ db: PGConnection) async throws -> (algorithm: String, status: String) {
        guard let row = try await db.one("SELECT algorithm, status FROM realm_keys WHERE id = ? AND realm_id = ?", [id, realmId]) else {
            throw StoreError.notFound(.key)
        }
        return (row.string("algorithm"), row.string("status"))
    }

    static func requireActiveKey(realmId: String, algorithm: String, _ db: PGConnection) async throws {
        let active = try await db.one("SELECT count(*) AS n FROM realm_keys WHERE realm_id = ? AND algorithm = ? AND status = 'active'",
                                      [realmId, algorithm])?.int("n") ?? 0
        guard active > 0 else { throw StoreError.conflict(.lastActiveKey) }
    }

    static func insertKey(_ k: RealmKey, _ db: PGConnection) async throws {
        try await db.execute("""
            INSERT INTO realm_keys (id, realm_id, name, algorithm, status, private_key_pem, certificate_der, libtrust_key_id, thumbprint, priority, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [k.id, k.realmId, k.name, k.algorithm.rawValue, k.status.rawValue, k.privateKeyPEM.revealed, k.certificateDER,
                  k.libtrustKeyID, k.thumbprint, k.priority, k.createdAt.millisecondsSince1970])
    }

    static func key(_ row: PGRow) -> RealmKey {
        RealmKey(id: row.string("id"), realmId: row.string("realm_id"), name: row.string("name"),
                 algorithm: SigningAlgorithm(rawValue: row.string("algorithm")) ?? .rs256,
                 status: KeyStatus(rawValue: row.string("status")) ?? .disabled, privateKeyPEM: Sensitive(row.string("private_key_pem")),
                 certificateDER: row.bytes("certificate_der"), libtrustKeyID: row.string("libtrust_key_id"),
                 thumbprint: row.string("thumbprint"), priority: row.int("priority"), createdAt: row.timestamp("created_at"))
    }
}

// MARK: Events

extension PostgresStore {
    public func recordEvent(_ e: Event) async throws {
        try await recordEvents([e])
    }

    public func recordEvents(_ events: [Event], keepingPerRealm limit: Int) async throws {
        guard !events.isEmpty else { return }
        try await write { db in
            for e in events {
                try await db.execute("""
                    INSERT INTO events (id, realm_id, time, type, client_id, user_id, ip_address, error, details)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [e.id, e.realmId, e.time.millisecondsSince1970, e.type, e.clientId, e.userId, e.ipAddress, e.error,
                          JSONColumn.encode(e.details)])
            }
            guard limit < Int.max else { return }
            // The oldest go first once a realm holds more than `limit` (by time alone: the realm's
            // time index is walked, never sorted).
            for realmId in Set(events.map(\.realmId)).sorted() {
                try await db.execute("""
                    DELETE FROM events WHERE id IN (
                      SELECT id FROM events WHERE realm_id = ? ORDER BY time DESC OFFSET ?)
                    """, [realmId, max(0, limit)])
            }
        }
    }

    public func events(realmId: String, matching q: EventQuery, page: Page) async throws -> [Event] {
        var clauses = ["realm_id = ?"]
        var arguments: [(any Sendable)?] = [realmId]
        if !q.types.isEmpty {
            clauses.append("type IN (\(SQLText.placeholders(q.types.count)))")
            arguments += q.types.map { $0 }
        }
        if let user = q.userId { clauses.append("user_id = ?"); arguments.append(user) }
        if let client = q.clientId { clauses.append("client_id = ?"); arguments.append(client) }
        if let from = q.from { clauses.append("time >= ?"); arguments.append(from.millisecondsSince1970) }
        if let to = q.to { clauses.append("time <= ?"); arguments.append(to.millisecondsSince1970) }
        let sql = "SELECT * FROM events WHERE \(clauses.joined(separator: " AND ")) ORDER BY time DESC, id COLLATE \"C\" LIMIT ? OFFSET ?"
        let finalArguments = arguments + [page.max, page.first]
        return try await readOne { db in
            try await db.rows(sql, finalArguments).map { row in
                Event(id: row.string("id"), realmId: row.string("realm_id"), time: row.timestamp("time"), type: row.string("type"),
                      clientId: row.optionalString("client_id"), userId: row.optionalString("user_id"), ipAddress: row.optionalString("ip_address"),
                      error: row.optionalString("error"), details: JSONColumn.decode([String: String].self, row.optionalString("details"), default: [:]))
            }
        }
    }

    public func deleteEvents(realmId: String, before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            try await db.execute("DELETE FROM events WHERE realm_id = ? AND time < ? RETURNING 1", [realmId, cutoff.millisecondsSince1970])
        }
    }

    public func deleteEvents(realmId: String, before cutoff: Timestamp, authMethod: String) async throws -> Int {
        try await write { db in
            try await db.execute("DELETE FROM events WHERE realm_id = ? AND time < ? AND (details::json ->> 'auth_method') = ? RETURNING 1",
                                 [realmId, cutoff.millisecondsSince1970, authMethod])
        }
    }
}

// MARK: Sessions

extension PostgresStore {
    public func createSession(_ s: Session, proof: LoginProof?) async throws {
        try await write { db in
            // The user's row is locked: concurrent logins on several nodes count against one cap,
            // and a password reset (which locks it too) is either before this or after it.
            let user = try await db.one("SELECT not_before FROM users WHERE id = ? AND realm_id = ? FOR UPDATE", [s.userId, s.realmId])
            if let proof {
                let kept = try await db.one("SELECT 1 AS x FROM credentials WHERE id = ? AND user_id = ?", [proof.credentialId, proof.userId]) != nil
                guard kept, let notBefore = user?.optionalInt64("not_before"), notBefore <= proof.checkedAt.millisecondsSince1970 else {
                    throw StoreError.conflict(.credentialChanged)
                }
            }
            try await db.execute("""
                INSERT INTO sessions (id, realm_id, user_id, client_id, refresh_token_hash, scope, created_at, last_refresh, expires_at,
                  offline, ip_address)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [s.id, s.realmId, s.userId, s.clientId, s.refreshTokenHash, s.scope, s.createdAt.millisecondsSince1970,
                      s.lastRefresh.millisecondsSince1970, s.expiresAt.millisecondsSince1970, s.offline, s.ipAddress])
            try await db.execute("""
                DELETE FROM sessions WHERE id IN (
                  SELECT id FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?
                  ORDER BY last_refresh DESC, created_at DESC, id COLLATE "C" DESC OFFSET ?)
                """, [s.userId, s.clientId, s.offline, s.realmId, Session.limitPerUserAndClient])
        }
    }

    public func session(refreshTokenHash: String) async throws -> Session? {
        try await readOne { db in try await db.one("SELECT * FROM sessions WHERE refresh_token_hash = ?", [refreshTokenHash]).map(Self.session) }
    }

    public func session(id: String, realmId: String) async throws -> Session? {
        try await readOne { db in try await db.one("SELECT * FROM sessions WHERE id = ? AND realm_id = ?", [id, realmId]).map(Self.session) }
    }

    public func sessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> [Session] {
        try await readOne { db in
            try await db.rows("""
                SELECT * FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ?
                ORDER BY created_at, id COLLATE "C" LIMIT ?
                """, [userId, clientId, offline, realmId, Session.limitPerUserAndClient]).map(Self.session)
        }
    }

    static func session(_ row: PGRow) -> Session {
        Session(id: row.string("id"), realmId: row.string("realm_id"), userId: row.string("user_id"), clientId: row.string("client_id"),
                refreshTokenHash: row.string("refresh_token_hash"), scope: row.string("scope"), createdAt: row.timestamp("created_at"),
                lastRefresh: row.timestamp("last_refresh"), expiresAt: row.timestamp("expires_at"),
                offline: row.bool("offline"), ipAddress: row.optionalString("ip_address"))
    }

    public func touchSession(id: String, at time: Timestamp, ipAddress: String?) async throws {
        try await write { db in
            try await db.execute("UPDATE sessions SET last_refresh = GREATEST(last_refresh, ?), ip_address = coalesce(?, ip_address) WHERE id = ?",
                                 [time.millisecondsSince1970, ipAddress.map { String($0.prefix(64)) }, id])
        }
    }

    public func deleteSession(id: String, realmId: String) async throws -> Bool {
        try await write { db in try await db.execute("DELETE FROM sessions WHERE id = ? AND realm_id = ? RETURNING 1", [id, realmId]) == 1 }
    }

    public func deleteSessions(userId: String, realmId: String) async throws -> Int {
        try await write { db in try await db.execute("DELETE FROM sessions WHERE user_id = ? AND realm_id = ? RETURNING 1", [userId, realmId]) }
    }

    public func deleteSessions(userId: String, clientId: String, realmId: String, offline: Bool) async throws -> Int {
        try await write { db in
            try await db.execute("DELETE FROM sessions WHERE user_id = ? AND client_id = ? AND offline = ? AND realm_id = ? RETURNING 1",
                                 [userId, clientId, offline, realmId])
        }
    }

    public func deleteExpiredSessions(before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            let now = cutoff.millisecondsSince1970
            var count = try await db.execute("DELETE FROM sessions WHERE expires_at < ? RETURNING 1", [now])
            count += try await db.execute("""
                DELETE FROM sessions WHERE offline AND id IN (
                  SELECT s.id FROM sessions s JOIN realms r ON r.id = s.realm_id
                  WHERE s.offline AND (s.last_refresh + r.offline_session_idle_timeout * 1000 < ?
                    OR (r.offline_session_max_lifespan_enabled AND s.created_at + r.offline_session_max_lifespan * 1000 < ?)))
                RETURNING 1
                """, [now, now])
            return count
        }
    }
}

// MARK: Brute-force detection

extension PostgresStore {
    public func loginFailures(userId: String, realmId: String) async throws -> LoginFailures? {
        try await readOne { db in try await Self.loginFailures(userId: userId, realmId: realmId, db) }
    }

    static func loginFailures(userId: String, realmId: String, _ db: PGConnection) async throws -> LoginFailures? {
        try await db.one("SELECT * FROM login_failures WHERE user_id = ? AND realm_id = ?", [userId, realmId]).map { row in
            LoginFailures(userId: row.string("user_id"), realmId: row.string("realm_id"), numFailures: row.int("num_failures"),
                          lastFailure: row.timestamp("last_failure"), lockedUntil: row.timestamp("locked_until"), lastIPAddress: row.optionalString("last_ip"))
        }
    }

    public func recordLoginFailure(userId: String, realmId: String, at time: Timestamp, policy: BruteForcePolicy,
                                   ipAddress: String?) async throws -> LoginFailureOutcome? {
        try await write { db in
            // The user's row is locked first: failures on several nodes at once are each counted.
            let enabled = try await db.one("SELECT enabled FROM users WHERE id = ? AND realm_id = ? FOR UPDATE", [userId, realmId])?.bool("enabled")
            let previous = try await Self.loginFailures(userId: userId, realmId: realmId, db)
            guard let enabled else { return nil }
            let current = previous ?? LoginFailures(userId: userId, realmId: realmId)
            if current.lockedUntil > time { return LoginFailureOutcome(failures: current, wasLocked: true, disabledUser: false) }
            let next = current.recordingFailure(at: time, policy: policy, ipAddress: ipAddress)
            try await db.execute("""
                INSERT INTO login_failures (user_id, realm_id, num_failures, last_failure, locked_until, last_ip) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET num_failures = excluded.num_failures, last_failure = excluded.last_failure,
                  locked_until = excluded.locked_until, last_ip = excluded.last_ip
                """, [userId, realmId, next.numFailures, next.lastFailure.millisecondsSince1970, next.lockedUntil.millisecondsSince1970, next.lastIPAddress])
            var disabled = false
            if enabled && next.reachesPermanentLockout(policy) {
                try await db.execute("UPDATE users SET enabled = FALSE, not_before = GREATEST(not_before, ?) WHERE id = ? AND realm_id = ?",
                                     [time.millisecondsSince1970, userId, realmId])
                try await db.execute("DELETE FROM sessions WHERE user_id = ? AND realm_id = ?", [userId, realmId])
                disabled = true
            }
            return LoginFailureOutcome(failures: next, wasLocked: false, disabledUser: disabled)
        }
    }

    public func admitLogin(userId: String, realmId: String, at time: Timestamp) async throws -> Bool {
        try await write { db in
            try await db.execute("SELECT 1 FROM users WHERE id = ? AND realm_id = ? FOR UPDATE", [userId, realmId])
            if let failures = try await Self.loginFailures(userId: userId, realmId: realmId, db), failures.lockedUntil > time { return false }
            try await db.execute("DELETE FROM login_failures WHERE user_id = ? AND realm_id = ?", [userId, realmId])
            return true
        }
    }

    public func clearLoginFailures(userId: String, realmId: String) async throws {
        try await write { db in try await db.execute("DELETE FROM login_failures WHERE user_id = ? AND realm_id = ?", [userId, realmId]) }
    }
}

// MARK: Personal access tokens

extension PostgresStore {
    public func createPersonalAccessToken(_ t: PersonalAccessToken) async throws {
        try await write { db in
            try await db.execute("SELECT 1 FROM users WHERE id = ? AND realm_id = ? FOR UPDATE", [t.userId, t.realmId])
            let held = try await db.one("SELECT count(*) AS n FROM personal_access_tokens WHERE user_id = ? AND realm_id = ?", [t.userId, t.realmId])?.int("n") ?? 0
            guard held < PersonalAccessToken.limitPerUser else { throw StoreError.conflict(.tokenLimit) }
            try await db.execute("""
                INSERT INTO personal_access_tokens (id, realm_id, user_id, client_id, name, secret_hash, grants, expires_at, created_at,
                  last_used_at, last_used_ip, origin)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [t.id, t.realmId, t.userId, t.clientId, t.name, t.secretHash, t.grants.map(JSONColumn.encode),
                      t.expiresAt?.millisecondsSince1970, t.createdAt.millisecondsSince1970, t.lastUsedAt?.millisecondsSince1970, t.lastUsedIp,
                      t.origin.rawValue])
        }
    }

    public func personalAccessToken(secretHash: String) async throws -> PersonalAccessToken? {
        try await readOne { db in try await db.one("SELECT * FROM personal_access_tokens WHERE secret_hash = ?", [secretHash]).map(Self.personalAccessToken) }
    }

    public func personalAccessToken(id: String, userId: String, realmId: String) async throws -> PersonalAccessToken? {
        try await readOne { db in
            try await db.one("SELECT * FROM personal_access_tokens WHERE id = ? AND user_id = ? AND realm_id = ?", [id, userId, realmId])
                .map(Self.personalAccessToken)
        }
    }

    public func personalAccessTokens(userId: String, realmId: String) async throws -> [PersonalAccessToken] {
        try await readOne { db in
            try await db.rows("SELECT * FROM personal_access_tokens WHERE user_id = ? AND realm_id = ? ORDER BY created_at, id COLLATE \"C\" LIMIT ?",
                              [userId, realmId, PersonalAccessToken.limitPerUser]).map(Self.personalAccessToken)
        }
    }

    public func touchPersonalAccessToken(id: String, at time: Timestamp, ipAddress: String?) async throws {
        try await write { db in
            try await db.execute("""
                UPDATE personal_access_tokens SET last_used_at = GREATEST(coalesce(last_used_at, 0), ?), last_used_ip = coalesce(?, last_used_ip)
                WHERE id = ?
                """, [time.millisecondsSince1970, ipAddress.map { String($0.prefix(64)) }, id])
        }
    }

    public func deletePersonalAccessToken(id: String, userId: String, realmId: String) async throws {
        try await write { db in
            guard try await db.execute("DELETE FROM personal_access_tokens WHERE id = ? AND user_id = ? AND realm_id = ? RETURNING 1",
                                       [id, userId, realmId]) == 1 else {
                throw StoreError.notFound(.personalAccessToken)
            }
        }
    }

    static func personalAccessToken(_ row: PGRow) -> PersonalAccessToken {
        PersonalAccessToken(
            id: row.string("id"), realmId: row.string("realm_id"), userId: row.string("user_id"), clientId: row.string("client_id"),
            name: row.string("name"), secretHash: row.string("secret_hash"),
            grants: row.optionalString("grants").map { JSONColumn.decode([String].self, $0, default: []) },
            expiresAt: row.optionalInt64("expires_at").map(Timestamp.init(millisecondsSince1970:)), createdAt: row.timestamp("created_at"),
            lastUsedAt: row.optionalInt64("last_used_at").map(Timestamp.init(millisecondsSince1970:)), lastUsedIp: row.optionalString("last_used_ip"),
            origin: PersonalAccessToken.Origin(rawValue: row.string("origin")) ?? .account)
    }
}

// MARK: Several changes, one transaction

extension PostgresStore {
    public func apply(_ changes: [StoreChange]) async throws {
        try await write { db in
            for change in changes { try await Self.apply(change, db) }
        }
    }

    static func apply(_ change: StoreChange, _ db: PGConnection) async throws {
        switch change {
        case .createUser(let seed): try await insertUser(seed, db)
        case .updateUser(let id, let realmId, let change): _ = try await updateUser(id: id, realmId: realmId, change, db)
        case .setCredential(let credential, let revoke): try await setCredential(credential, revokeTokensBefore: revoke, db)
        case .createClient(let client): try await insertClient(client, db)
        case .updateClient(let id, let realmId, let change): _ = try await updateClient(id: id, realmId: realmId, change, db)
        case .grantUserRoles(let userId, let roleIds, let realmId): try await grantUserRoles(userId: userId, roleIds: roleIds, realmId: realmId, db)
        case .addMember(let groupId, let userId, let realmId): try await addMember(groupId: groupId, userId: userId, realmId: realmId, db)
        case .deleteSessions(let userId, let realmId):
            try await db.execute("DELETE FROM sessions WHERE user_id = ? AND realm_id = ?", [userId, realmId])
        case .deletePersonalAccessTokens(let userId, let realmId):
            try await db.execute("DELETE FROM personal_access_tokens WHERE user_id = ? AND realm_id = ?", [userId, realmId])
        case .requireVersions(let versions): try await requireVersions(versions, db)
        case .createRole(let role): try await insertRole(role, db)
        case .addComposites(let parentId, let childIds, let realmId): try await addComposites(parentId: parentId, childIds: childIds, realmId: realmId, db)
        case .createGroup(let group):
            if let parentId = group.parentId { try await requireGroup(parentId, realmId: group.realmId, db) }
            try await insertGroup(group, db)
        case .grantGroupRoles(let groupId, let roleIds, let realmId): try await grantGroupRoles(groupId: groupId, roleIds: roleIds, realmId: realmId, db)
        case .deleteUser(let id, let realmId): try await deleteUser(id: id, realmId: realmId, db)
        case .deleteClient(let id, let realmId): try await deleteClient(id: id, realmId: realmId, db)
        case .deleteRole(let id, let realmId): try await deleteRole(id: id, realmId: realmId, db)
        case .deleteGroup(let id, let realmId): try await deleteGroup(id: id, realmId: realmId, db)
        }
    }
}
