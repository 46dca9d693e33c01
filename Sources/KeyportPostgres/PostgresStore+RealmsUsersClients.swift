import KeyportModel
import KeyportStore

// MARK: Realms

extension PostgresStore {
    public func createRealm(_ seed: RealmSeed) async throws {
        try await write { db in try await Self.insertSeed(seed, db) }
    }

    public func replaceRealm(_ seed: RealmSeed) async throws {
        try await write { db in
            try await db.execute("DELETE FROM realms WHERE name = ? OR id = ?", [seed.realm.name, seed.realm.id])
            try await Self.insertSeed(seed, db)
        }
    }

    static func insertSeed(_ seed: RealmSeed, _ db: PGConnection) async throws {
        try await insertRealm(seed.realm, db)
        for key in seed.keys { try await insertKey(key, db) }
        for client in seed.clients { try await insertClient(client, db) }
        for role in seed.roles { try await insertRole(role, db) }
        for (parent, child) in seed.composites {
            try await db.execute("INSERT INTO role_composites (realm_id, parent_role_id, child_role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                 [seed.realm.id, parent, child])
        }
        for group in seed.groups { try await insertGroup(group, db) }
        for (groupId, roleId) in seed.groupRoles {
            try await db.execute("INSERT INTO group_roles (realm_id, group_id, role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                 [seed.realm.id, groupId, roleId])
        }
        for user in seed.users { try await insertUser(user, db) }
    }

    public func realm(id: String) async throws -> Realm? {
        try await readOne { db in try await db.one("SELECT * FROM realms WHERE id = ?", [id]).map(Self.realm) }
    }

    public func realm(named name: String) async throws -> Realm? {
        try await readOne { db in try await db.one("SELECT * FROM realms WHERE name = ?", [name]).map(Self.realm) }
    }

    public func realms() async throws -> [Realm] {
        try await readOne { db in try await db.rows("SELECT * FROM realms ORDER BY name").map(Self.realm) }
    }

    public func updateRealm(id: String, _ change: @escaping @Sendable (inout Realm) throws -> Void) async throws -> Realm {
        try await write { db in
            guard var realm = try await db.one("SELECT * FROM realms WHERE id = ? FOR UPDATE", [id]).map(Self.realm) else {
                throw StoreError.notFound(.realm)
            }
            try change(&realm)
            realm.id = id
            let changed = try await db.execute("""
                UPDATE realms SET name = ?, display_name = ?, enabled = ?, access_token_lifespan = ?, refresh_token_lifespan = ?,
                  duplicate_emails_allowed = ?, docker_v2_enabled = ?, brute_force_protected = ?, failure_factor = ?,
                  wait_increment_seconds = ?, max_failure_wait_seconds = ?, quick_login_check_milliseconds = ?,
                  minimum_quick_login_wait_seconds = ?, max_delta_time_seconds = ?, permanent_lockout = ?, password_policy = ?,
                  argon2_memory_kib = ?, argon2_iterations = ?, argon2_parallelism = ?, argon2_hash_length = ?, argon2_salt_length = ?,
                  events_expiration_seconds = ?, attributes = ?, events_enabled = ?, enabled_event_types = ?,
                  offline_session_idle_timeout = ?, offline_session_max_lifespan_enabled = ?, offline_session_max_lifespan = ?,
                  personal_access_token_max_lifespan = ?
                WHERE id = ? RETURNING 1
                """, Self.realmArguments(realm) + [realm.id])
            guard changed == 1 else { throw StoreError.notFound(.realm) }
            return realm
        }
    }

    public func deleteRealm(id: String) async throws {
        try await write { db in
            guard try await db.execute("DELETE FROM realms WHERE id = ? RETURNING 1", [id]) == 1 else { throw StoreError.notFound(.realm) }
        }
    }

    static func realmArguments(_ r: Realm) -> [(any Sendable)?] {
        let b = r.bruteForce, p = r.passwordHashing
        return [
            r.name, r.displayName, r.enabled, r.accessTokenLifespan, r.refreshTokenLifespan,
            r.duplicateEmailsAllowed, r.dockerV2Enabled, b.enabled, b.failureFactor,
            b.waitIncrementSeconds, b.maxFailureWaitSeconds, b.quickLoginCheckMilliSeconds,
            b.minimumQuickLoginWaitSeconds, b.maxDeltaTimeSeconds, b.permanentLockout, r.passwordPolicy,
            p.memoryKiB, p.iterations, p.parallelism, p.hashLength, p.saltLength,
            r.eventsExpiration, JSONColumn.encode(r.attributes), r.eventsEnabled, JSONColumn.encode(r.enabledEventTypes),
            r.offlineSessionIdleTimeout, r.offlineSessionMaxLifespanEnabled, r.offlineSessionMaxLifespan,
            r.personalAccessTokenMaxLifespan,
        ]
    }

    static func insertRealm(_ realm: Realm, _ db: PGConnection) async throws {
        try await db.execute("""
            INSERT INTO realms (name, display_name, enabled, access_token_lifespan, refresh_token_lifespan,
              duplicate_emails_allowed, docker_v2_enabled, brute_force_protected, failure_factor,
              wait_increment_seconds, max_failure_wait_seconds, quick_login_check_milliseconds,
              minimum_quick_login_wait_seconds, max_delta_time_seconds, permanent_lockout, password_policy,
              argon2_memory_kib, argon2_iterations, argon2_parallelism, argon2_hash_length, argon2_salt_length,
              events_expiration_seconds, attributes, events_enabled, enabled_event_types,
              offline_session_idle_timeout, offline_session_max_lifespan_enabled, offline_session_max_lifespan,
              personal_access_token_max_lifespan, id, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, realmArguments(realm) + [realm.id, realm.createdAt.millisecondsSince1970])
    }

    static func realm(_ row: PGRow) -> Realm {
        var brute = BruteForcePolicy()
        brute.enabled = row.bool("brute_force_protected")
        brute.failureFactor = row.int("failure_factor")
        brute.waitIncrementSeconds = row.int("wait_increment_seconds")
        brute.maxFailureWaitSeconds = row.int("max_failure_wait_seconds")
        brute.quickLoginCheckMilliSeconds = row.int("quick_login_check_milliseconds")
        brute.minimumQuickLoginWaitSeconds = row.int("minimum_quick_login_wait_seconds")
        brute.maxDeltaTimeSeconds = row.int("max_delta_time_seconds")
        brute.permanentLockout = row.bool("permanent_lockout")
        return Realm(
            id: row.string("id"), name: row.string("name"), displayName: row.optionalString("display_name"), enabled: row.bool("enabled"),
            accessTokenLifespan: row.int("access_token_lifespan"), refreshTokenLifespan: row.int("refresh_token_lifespan"),
            offlineSessionIdleTimeout: row.int("offline_session_idle_timeout"),
            offlineSessionMaxLifespanEnabled: row.bool("offline_session_max_lifespan_enabled"),
            offlineSessionMaxLifespan: row.int("offline_session_max_lifespan"),
            personalAccessTokenMaxLifespan: row.optionalInt("personal_access_token_max_lifespan"),
            duplicateEmailsAllowed: row.bool("duplicate_emails_allowed"), dockerV2Enabled: row.bool("docker_v2_enabled"),
            bruteForce: brute, passwordPolicy: row.optionalString("password_policy"),
            passwordHashing: Argon2Parameters(
                memoryKiB: row.int("argon2_memory_kib"), iterations: row.int("argon2_iterations"), parallelism: row.int("argon2_parallelism"),
                hashLength: row.int("argon2_hash_length"), saltLength: row.int("argon2_salt_length")),
            eventsExpiration: row.optionalInt("events_expiration_seconds"),
            eventsEnabled: row.bool("events_enabled"),
            enabledEventTypes: JSONColumn.decode([String].self, row.optionalString("enabled_event_types"), default: []),
            attributes: JSONColumn.decode([String: String].self, row.optionalString("attributes"), default: [:]),
            createdAt: row.timestamp("created_at"))
    }
}

// MARK: Users and credentials

extension PostgresStore {
    public func createUser(_ seed: UserSeed) async throws {
        try await write { db in try await Self.insertUser(seed, db) }
    }

    public func user(id: String, realmId: String) async throws -> User? {
        try await readOne { db in try await db.one("SELECT * FROM users WHERE id = ? AND realm_id = ?", [id, realmId]).map(Self.user) }
    }

    public func user(username: String, realmId: String) async throws -> User? {
        let name = User.normalize(username)
        return try await readOne { db in try await db.one("SELECT * FROM users WHERE realm_id = ? AND username = ?", [realmId, name]).map(Self.user) }
    }

    public func serviceAccountUser(clientId: String, realmId: String) async throws -> User? {
        try await readOne { db in
            try await db.one("SELECT * FROM users WHERE service_account_client_id = ? AND realm_id = ?", [clientId, realmId]).map(Self.user)
        }
    }

    public func userWithPassword(username: String, realmId: String) async throws -> UserWithPassword? {
        let name = User.normalize(username)
        return try await readOne { db in
            try await db.one(UserWithPassword.select, [realmId, name]).map { row in
                UserWithPassword(user: Self.user(row), password: row.optionalString("password_id").map { id in
                    Credential(id: id, userId: row.string("id"), type: Credential.password, secret: Sensitive(row.string("password_secret")),
                               createdAt: row.timestamp("password_created_at"), userLabel: row.optionalString("password_user_label"))
                })
            }
        }
    }

    public func user(email: String, realmId: String) async throws -> [User] {
        let address = User.normalize(email)
        return try await readOne { db in
            try await db.rows("SELECT * FROM users WHERE realm_id = ? AND email = ? ORDER BY username", [realmId, address]).map(Self.user)
        }
    }

    public func users(realmId: String, matching query: UserQuery, page: Page) async throws -> [User] {
        let (clause, arguments) = Self.userFilter(realmId: realmId, query)
        return try await readOne { db in
            try await db.rows("SELECT * FROM users WHERE \(clause) ORDER BY username LIMIT ? OFFSET ?", arguments + [page.max, page.first]).map(Self.user)
        }
    }

    public func countUsers(realmId: String, matching query: UserQuery) async throws -> Int {
        let (clause, arguments) = Self.userFilter(realmId: realmId, query)
        return try await readOne { db in try await db.one("SELECT count(*) AS n FROM users WHERE \(clause)", arguments)?.int("n") ?? 0 }
    }

    public func updateUser(id: String, realmId: String, _ change: @escaping @Sendable (inout User) throws -> Void) async throws -> User {
        try await write { db in try await Self.updateUser(id: id, realmId: realmId, change, db) }
    }

    static func updateUser(id: String, realmId: String, _ change: (inout User) throws -> Void, _ db: PGConnection) async throws -> User {
        guard var user = try await db.one("SELECT * FROM users WHERE id = ? AND realm_id = ? FOR UPDATE", [id, realmId]).map(Self.user) else {
            throw StoreError.notFound(.user)
        }
        try change(&user)
        user.id = id
        user.realmId = realmId
        user.username = User.normalize(user.username)
        user.email = user.email.map(User.normalize)
        try await db.execute("""
            UPDATE users SET username = ?, email = ?, email_verified = ?, first_name = ?, last_name = ?, enabled = ?,
              not_before = ?, attributes = ?, required_actions = ?
            WHERE id = ? AND realm_id = ?
            """, [user.username, user.email, user.emailVerified, user.firstName, user.lastName, user.enabled,
                  user.notBefore.millisecondsSince1970, JSONColumn.encode(user.attributes), JSONColumn.encode(user.requiredActions),
                  user.id, user.realmId])
        return user
    }

    public func deleteUser(id: String, realmId: String) async throws {
        try await write { db in try await Self.deleteUser(id: id, realmId: realmId, db) }
    }

    static func deleteUser(id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.execute("DELETE FROM users WHERE id = ? AND realm_id = ? RETURNING 1", [id, realmId]) == 1 else {
            throw StoreError.notFound(.user)
        }
    }

    public func credentials(userId: String) async throws -> [Credential] {
        try await readOne { db in try await db.rows("SELECT * FROM credentials WHERE user_id = ? ORDER BY created_at", [userId]).map(Self.credential) }
    }

    public func setCredential(_ credential: Credential, revokeTokensBefore: Timestamp?) async throws {
        try await write { db in try await Self.setCredential(credential, revokeTokensBefore: revokeTokensBefore, db) }
    }

    static func setCredential(_ credential: Credential, revokeTokensBefore: Timestamp?, _ db: PGConnection) async throws {
        // The user's row is locked: two password changes at once end with one credential.
        guard try await db.one("SELECT 1 AS x FROM users WHERE id = ? FOR UPDATE", [credential.userId]) != nil else {
            throw StoreError.notFound(.user)
        }
        try await db.execute("DELETE FROM credentials WHERE user_id = ? AND type = ?", [credential.userId, credential.type])
        try await insertCredential(credential, db)
        if let revokeTokensBefore {
            try await db.execute("UPDATE users SET not_before = GREATEST(not_before, ?) WHERE id = ?",
                                 [revokeTokensBefore.millisecondsSince1970, credential.userId])
            // A new password ends the tokens the old one made through self-service.
            if credential.type == Credential.password {
                try await db.execute("DELETE FROM personal_access_tokens WHERE user_id = ? AND origin = 'account'", [credential.userId])
            }
        }
    }

    public func replaceCredentialSecret(id: String, expected: Sensitive, with new: Sensitive) async throws -> Bool {
        try await write { db in
            try await db.execute("UPDATE credentials SET secret = ? WHERE id = ? AND secret = ? RETURNING 1", [new.revealed, id, expected.revealed]) == 1
        }
    }

    public func deleteCredential(id: String, userId: String, revokeTokensBefore: Timestamp?) async throws {
        try await write { db in
            guard try await db.execute("DELETE FROM credentials WHERE id = ? AND user_id = ? RETURNING 1", [id, userId]) == 1 else {
                throw StoreError.notFound(.credential)
            }
            if let revokeTokensBefore {
                try await db.execute("UPDATE users SET not_before = GREATEST(not_before, ?) WHERE id = ?", [revokeTokensBefore.millisecondsSince1970, userId])
            }
        }
    }

    static func insertUser(_ seed: UserSeed, _ db: PGConnection) async throws {
        let u = seed.user
        try await db.execute("""
            INSERT INTO users (id, realm_id, username, email, email_verified, first_name, last_name, enabled, created_at,
              not_before, attributes, required_actions, service_account_client_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [u.id, u.realmId, u.username, u.email, u.emailVerified, u.firstName, u.lastName, u.enabled,
                  u.createdAt.millisecondsSince1970, u.notBefore.millisecondsSince1970,
                  JSONColumn.encode(u.attributes), JSONColumn.encode(u.requiredActions), u.serviceAccountClientId])
        for credential in seed.credentials { try await insertCredential(credential, db) }
        for roleId in seed.roleIds {
            try await db.execute("INSERT INTO user_roles (realm_id, user_id, role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [u.realmId, u.id, roleId])
        }
        for groupId in seed.groupIds {
            try await db.execute("INSERT INTO group_members (realm_id, group_id, user_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [u.realmId, groupId, u.id])
        }
    }

    static func insertCredential(_ c: Credential, _ db: PGConnection) async throws {
        try await db.execute("INSERT INTO credentials (id, user_id, type, secret, user_label, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             [c.id, c.userId, c.type, c.secret.revealed, c.userLabel, c.createdAt.millisecondsSince1970])
    }

    /// Keycloak's matching, as `SQLiteStore.userFilter` (whose LIKE ignores ASCII case: ILIKE here).
    static func userFilter(realmId: String, _ q: UserQuery) -> (String, [(any Sendable)?]) {
        var clauses = ["realm_id = ?"]
        var arguments: [(any Sendable)?] = [realmId]
        func match(_ column: String, _ value: String?, normalize: Bool) {
            guard let value, !value.isEmpty else { return }
            let v = normalize ? User.normalize(value) : value
            if q.exact {
                clauses.append(normalize ? "\(column) = ?" : "lower(\(column)) = lower(?)")
                arguments.append(v)
            } else {
                clauses.append("\(column) ILIKE ? ESCAPE '\\'")
                arguments.append("%\(SQLText.escapeLike(v))%")
            }
        }
        match("username", q.username, normalize: true)
        match("email", q.email, normalize: true)
        match("first_name", q.firstName, normalize: false)
        match("last_name", q.lastName, normalize: false)
        if let search = q.search?.trimmingCharacters(in: .whitespaces), !search.isEmpty, search != "*" {
            let pattern = "%\(SQLText.escapeLike(search.replacingOccurrences(of: "*", with: "")))%"
            clauses.append("(username ILIKE ? ESCAPE '\\' OR email ILIKE ? ESCAPE '\\' OR first_name ILIKE ? ESCAPE '\\' OR last_name ILIKE ? ESCAPE '\\')")
            arguments += [pattern, pattern, pattern, pattern]
        }
        if !q.includeServiceAccounts { clauses.append("service_account_client_id IS NULL") }
        if let enabled = q.enabled {
            clauses.append("enabled = ?")
            arguments.append(enabled)
        }
        return (clauses.joined(separator: " AND "), arguments)
    }

    static func user(_ row: PGRow) -> User {
        User(
            id: row.string("id"), realmId: row.string("realm_id"), username: row.string("username"), email: row.optionalString("email"),
            emailVerified: row.bool("email_verified"), firstName: row.optionalString("first_name"), lastName: row.optionalString("last_name"),
            enabled: row.bool("enabled"), createdAt: row.timestamp("created_at"),
            attributes: JSONColumn.decode([String: [String]].self, row.optionalString("attributes"), default: [:]),
            requiredActions: JSONColumn.decode([String].self, row.optionalString("required_actions"), default: []),
            notBefore: row.timestamp("not_before"), serviceAccountClientId: row.optionalString("service_account_client_id"))
    }

    static func credential(_ row: PGRow) -> Credential {
        Credential(id: row.string("id"), userId: row.string("user_id"), type: row.string("type"), secret: Sensitive(row.string("secret")),
                   createdAt: row.timestamp("created_at"), userLabel: row.optionalString("user_label"))
    }
}

// MARK: Clients

extension PostgresStore {
    public func createClient(_ client: Client, roles: [Role]) async throws {
        try await write { db in
            try await Self.insertClient(client, db)
            for role in roles { try await Self.insertRole(role, db) }
        }
    }

    public func client(id: String, realmId: String) async throws -> Client? {
        try await readOne { db in try await db.one("SELECT * FROM clients WHERE id = ? AND realm_id = ?", [id, realmId]).map(Self.client) }
    }

    public func client(clientId: String, realmId: String) async throws -> Client? {
        try await readOne { db in try await db.one("SELECT * FROM clients WHERE client_id = ? AND realm_id = ?", [clientId, realmId]).map(Self.client) }
    }

    public func clients(realmId: String, page: Page) async throws -> [Client] {
        try await readOne { db in
            try await db.rows("SELECT * FROM clients WHERE realm_id = ? ORDER BY client_id LIMIT ? OFFSET ?", [realmId, page.max, page.first]).map(Self.client)
        }
    }

    public func updateClient(id: String, realmId: String, _ change: @escaping @Sendable (inout Client) throws -> Void) async throws -> Client {
        try await write { db in try await Self.updateClient(id: id, realmId: realmId, change, db) }
    }

    static func updateClient(id: String, realmId: String, _ change: (inout Client) throws -> Void, _ db: PGConnection) async throws -> Client {
        guard var c = try await db.one("SELECT * FROM clients WHERE id = ? AND realm_id = ? FOR UPDATE", [id, realmId]).map(Self.client) else {
            throw StoreError.notFound(.client)
        }
        try change(&c)
        c.id = id
        c.realmId = realmId
        try await db.execute("""
            UPDATE clients SET client_id = ?, name = ?, description = ?, enabled = ?, protocol = ?, public_client = ?, secret = ?,
              direct_access_grants_enabled = ?, service_accounts_enabled = ?, standard_flow_enabled = ?, redirect_uris = ?,
              attributes = ?, protocol_mappers = ?
            WHERE id = ? AND realm_id = ?
            """, [c.clientId, c.name, c.description, c.enabled, c.protocolName.rawValue, c.publicClient, c.secret?.revealed,
                  c.directAccessGrantsEnabled, c.serviceAccountsEnabled, c.standardFlowEnabled, JSONColumn.encode(c.redirectUris),
                  JSONColumn.encode(c.attributes), JSONColumn.encode(c.protocolMappers), c.id, c.realmId])
        return c
    }

    public func deleteClient(id: String, realmId: String) async throws {
        try await write { db in try await Self.deleteClient(id: id, realmId: realmId, db) }
    }

    static func deleteClient(id: String, realmId: String, _ db: PGConnection) async throws {
        guard try await db.execute("DELETE FROM clients WHERE id = ? AND realm_id = ? RETURNING 1", [id, realmId]) == 1 else {
            throw StoreError.notFound(.client)
        }
    }

    static func insertClient(_ c: Client, _ db: PGConnection) async throws {
        try await db.execute("""
            INSERT INTO clients (id, realm_id, client_id, name, description, enabled, protocol, public_client, secret,
              direct_access_grants_enabled, service_accounts_enabled, standard_flow_enabled, redirect_uris, attributes,
              protocol_mappers, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [c.id, c.realmId, c.clientId, c.name, c.description, c.enabled, c.protocolName.rawValue, c.publicClient,
                  c.secret?.revealed, c.directAccessGrantsEnabled, c.serviceAccountsEnabled, c.standardFlowEnabled,
                  JSONColumn.encode(c.redirectUris), JSONColumn.encode(c.attributes), JSONColumn.encode(c.protocolMappers),
                  c.createdAt.millisecondsSince1970])
    }

    static func client(_ row: PGRow) -> Client {
        Client(
            id: row.string("id"), realmId: row.string("realm_id"), clientId: row.string("client_id"), name: row.optionalString("name"),
            description: row.optionalString("description"), enabled: row.bool("enabled"),
            protocolName: ClientProtocol(rawValue: row.string("protocol")) ?? .openIDConnect,
            publicClient: row.bool("public_client"), secret: row.optionalString("secret").map(Sensitive.init),
            directAccessGrantsEnabled: row.bool("direct_access_grants_enabled"),
            serviceAccountsEnabled: row.bool("service_accounts_enabled"), standardFlowEnabled: row.bool("standard_flow_enabled"),
            redirectUris: JSONColumn.decode([String].self, row.optionalString("redirect_uris"), default: []),
            attributes: JSONColumn.decode([String: String].self, row.optionalString("attributes"), default: [:]),
            protocolMappers: JSONColumn.decode([ProtocolMapper].self, row.optionalString("protocol_mappers"), default: []),
            createdAt: row.timestamp("created_at"))
    }
}
