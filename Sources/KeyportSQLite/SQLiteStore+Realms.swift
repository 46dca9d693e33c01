import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createRealm(_ seed: RealmSeed) async throws {
        try await write { db in try Self.insertSeed(seed, db) }
    }

    public func replaceRealm(_ seed: RealmSeed) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM realms WHERE name = ? OR id = ?", arguments: [seed.realm.name, seed.realm.id])
            try Self.insertSeed(seed, db)
        }
    }

    static func insertSeed(_ seed: RealmSeed, _ db: Database) throws {
        try Self.insertRealm(seed.realm, db)
        for key in seed.keys { try Self.insertKey(key, db) }
        for client in seed.clients { try Self.insertClient(client, db) }
        for role in seed.roles { try Self.insertRole(role, db) }
        for (parent, child) in seed.composites {
            try db.execute(sql: "INSERT OR IGNORE INTO role_composites (realm_id, parent_role_id, child_role_id) VALUES (?, ?, ?)",
                           arguments: [seed.realm.id, parent, child])
        }
        for group in seed.groups { try Self.insertGroup(group, db) }
        for (groupId, roleId) in seed.groupRoles {
            try db.execute(sql: "INSERT OR IGNORE INTO group_roles (realm_id, group_id, role_id) VALUES (?, ?, ?)",
                           arguments: [seed.realm.id, groupId, roleId])
        }
        for user in seed.users { try Self.insertUser(user, db) }
    }

    public func realm(id: String) async throws -> Realm? {
        try await readOne { db in try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM realms WHERE id = ?"), arguments: [id]).map(Self.realm) }
    }

    public func realm(named name: String) async throws -> Realm? {
        try await readOne { db in try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM realms WHERE name = ?"), arguments: [name]).map(Self.realm) }
    }

    public func realms() async throws -> [Realm] {
        try await read { db in try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM realms ORDER BY name")).map(Self.realm) }
    }

    public func updateRealm(id: String, _ change: @escaping @Sendable (inout Realm) throws -> Void) async throws -> Realm {
        try await write { db in
            guard var realm = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM realms WHERE id = ?"), arguments: [id]).map(Self.realm) else {
                throw StoreError.notFound(.realm)
            }
            try change(&realm)
            realm.id = id
            try db.execute(sql: """
                UPDATE realms SET name = ?, display_name = ?, enabled = ?, access_token_lifespan = ?, refresh_token_lifespan = ?,
                  duplicate_emails_allowed = ?, docker_v2_enabled = ?, brute_force_protected = ?, failure_factor = ?,
                  wait_increment_seconds = ?, max_failure_wait_seconds = ?, quick_login_check_milliseconds = ?,
                  minimum_quick_login_wait_seconds = ?, max_delta_time_seconds = ?, permanent_lockout = ?, password_policy = ?,
                  argon2_memory_kib = ?, argon2_iterations = ?, argon2_parallelism = ?, argon2_hash_length = ?, argon2_salt_length = ?,
                  events_expiration_seconds = ?, attributes = ?, events_enabled = ?, enabled_event_types = ?,
                  offline_session_idle_timeout = ?, offline_session_max_lifespan_enabled = ?, offline_session_max_lifespan = ?,
                  personal_access_token_max_lifespan = ?
                WHERE id = ?
                """, arguments: Self.realmArguments(realm) + [realm.id])
            guard db.changesCount == 1 else { throw StoreError.notFound(.realm) }
            return realm
        }
    }

    public func deleteRealm(id: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM realms WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw StoreError.notFound(.realm) }
        }
    }

    // MARK: Rows

    static func realmArguments(_ r: Realm) -> StatementArguments {
        let b = r.bruteForce, p = r.passwordHashing
        let values: [(any DatabaseValueConvertible)?] = [
            r.name, r.displayName, r.enabled, r.accessTokenLifespan, r.refreshTokenLifespan,
            r.duplicateEmailsAllowed, r.dockerV2Enabled, b.enabled, b.failureFactor,
            b.waitIncrementSeconds, b.maxFailureWaitSeconds, b.quickLoginCheckMilliSeconds,
            b.minimumQuickLoginWaitSeconds, b.maxDeltaTimeSeconds, b.permanentLockout, r.passwordPolicy,
            p.memoryKiB, p.iterations, p.parallelism, p.hashLength, p.saltLength,
            r.eventsExpiration, JSONColumn.encode(r.attributes), r.eventsEnabled, JSONColumn.encode(r.enabledEventTypes),
            r.offlineSessionIdleTimeout, r.offlineSessionMaxLifespanEnabled, r.offlineSessionMaxLifespan,
            r.personalAccessTokenMaxLifespan,
        ]
        return StatementArguments(values)
    }

    static func insertRealm(_ realm: Realm, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO realms (name, display_name, enabled, access_token_lifespan, refresh_token_lifespan,
              duplicate_emails_allowed, docker_v2_enabled, brute_force_protected, failure_factor,
              wait_increment_seconds, max_failure_wait_seconds, quick_login_check_milliseconds,
              minimum_quick_login_wait_seconds, max_delta_time_seconds, permanent_lockout, password_policy,
              argon2_memory_kib, argon2_iterations, argon2_parallelism, argon2_hash_length, argon2_salt_length,
              events_expiration_seconds, attributes, events_enabled, enabled_event_types,
              offline_session_idle_timeout, offline_session_max_lifespan_enabled, offline_session_max_lifespan,
              personal_access_token_max_lifespan, id, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: realmArguments(realm) + [realm.id, realm.createdAt.millisecondsSince1970])
    }

    static func realm(_ row: Row) -> Realm {
        var brute = BruteForcePolicy()
        brute.enabled = row.bool("brute_force_protected")
        brute.failureFactor = row["failure_factor"]
        brute.waitIncrementSeconds = row["wait_increment_seconds"]
        brute.maxFailureWaitSeconds = row["max_failure_wait_seconds"]
        brute.quickLoginCheckMilliSeconds = row["quick_login_check_milliseconds"]
        brute.minimumQuickLoginWaitSeconds = row["minimum_quick_login_wait_seconds"]
        brute.maxDeltaTimeSeconds = row["max_delta_time_seconds"]
        brute.permanentLockout = row.bool("permanent_lockout")
        return Realm(
            id: row["id"], name: row["name"], displayName: row["display_name"], enabled: row.bool("enabled"),
            accessTokenLifespan: row["access_token_lifespan"], refreshTokenLifespan: row["refresh_token_lifespan"],
            offlineSessionIdleTimeout: row["offline_session_idle_timeout"],
            offlineSessionMaxLifespanEnabled: row.bool("offline_session_max_lifespan_enabled"),
            offlineSessionMaxLifespan: row["offline_session_max_lifespan"],
            personalAccessTokenMaxLifespan: row["personal_access_token_max_lifespan"],
            duplicateEmailsAllowed: row.bool("duplicate_emails_allowed"), dockerV2Enabled: row.bool("docker_v2_enabled"),
            bruteForce: brute, passwordPolicy: row["password_policy"],
            passwordHashing: Argon2Parameters(
                memoryKiB: row["argon2_memory_kib"], iterations: row["argon2_iterations"], parallelism: row["argon2_parallelism"],
                hashLength: row["argon2_hash_length"], saltLength: row["argon2_salt_length"]),
            eventsExpiration: row["events_expiration_seconds"],
            eventsEnabled: row.bool("events_enabled"),
            enabledEventTypes: JSONColumn.decode([String].self, row["enabled_event_types"], default: []),
            attributes: JSONColumn.decode([String: String].self, row["attributes"], default: [:]),
            createdAt: row.timestamp("created_at"))
    }
}
