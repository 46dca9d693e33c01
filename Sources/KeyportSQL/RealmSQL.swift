import KeyportModel
import KeyportStore

/// Realms: one column list for the insert, the update and the decoder.
public struct RealmSQL: Sendable {
    /// Every column but the identity (`id`, `created_at`), in the order of `settings(_:)`.
    static let settingColumns = [
        "name", "display_name", "enabled", "access_token_lifespan", "refresh_token_lifespan",
        "duplicate_emails_allowed", "docker_v2_enabled", "brute_force_protected", "failure_factor",
        "wait_increment_seconds", "max_failure_wait_seconds", "quick_login_check_milliseconds",
        "minimum_quick_login_wait_seconds", "max_delta_time_seconds", "permanent_lockout", "password_policy",
        "argon2_memory_kib", "argon2_iterations", "argon2_parallelism", "argon2_hash_length", "argon2_salt_length",
        "events_expiration_seconds", "attributes", "events_enabled", "enabled_event_types",
        "offline_session_idle_timeout", "offline_session_max_lifespan_enabled", "offline_session_max_lifespan",
        "personal_access_token_max_lifespan", "admin_events_enabled", "admin_events_details_enabled",
        "keycloak_settings", "keycloak_content",
    ]
    /// A realm row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(settingColumns + ["id", "created_at"])

    let dialect: SQLDialect
    private let select: String
    private let updateText: String
    private let selectById: String
    private let selectByName: String

    public init(_ dialect: SQLDialect) {
        self.dialect = dialect
        // With whether the realm has directories to ask at sign-in (its configuration version
        // moves with them: migration 0029), read wherever a realm is.
        select = "SELECT \(Self.columns.list()), EXISTS (SELECT 1 FROM storage_components c WHERE c.realm_id = realms.id AND c.parent_id IS NULL) AS has_user_federation FROM realms"
        selectById = "\(select) WHERE id = ?"
        selectByName = "\(select) WHERE name = ?"
        updateText = "UPDATE realms SET \(Self.settingColumns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?\(dialect.countingChanges)"
    }

    public func byId(_ id: String) -> SQLStatement { SQLStatement(sql: selectById, values: [.text(id)]) }
    public func byIdForUpdate(_ id: String) -> SQLStatement { SQLStatement("\(select) WHERE id = ?\(dialect.forUpdate)", [id]) }
    public func byName(_ name: String) -> SQLStatement { SQLStatement(sql: selectByName, values: [.text(name)]) }
    public var all: SQLStatement { SQLStatement("\(select) ORDER BY name") }
    /// The realm's row locked (PostgreSQL): changes to what a realm bounds (its keys) take turns.
    public func lock(_ id: String) -> SQLStatement? {
        dialect.forUpdate.isEmpty ? nil : SQLStatement("SELECT 1 AS x FROM realms WHERE id = ? FOR UPDATE", [id])
    }

    public func insert(_ realm: Realm) -> SQLStatement {
        SQLStatement(sql: "INSERT INTO realms (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))",
                     values: Self.settings(realm) + [.text(realm.id), realm.createdAt.sqlValue], cacheable: true)
    }

    /// Every setting; never the id or the creation time. Counts the changed row.
    public func update(_ realm: Realm) -> SQLStatement {
        SQLStatement(sql: updateText, values: Self.settings(realm) + [.text(realm.id)], cacheable: true)
    }

    public func delete(_ id: String) -> SQLStatement {
        SQLStatement("DELETE FROM realms WHERE id = ?\(dialect.countingChanges)", [id])
    }
    /// Before a realm replaces another of its name or id.
    public func deleteNamed(_ name: String, orId id: String) -> SQLStatement {
        SQLStatement("DELETE FROM realms WHERE name = ? OR id = ?", [name, id])
    }

    static func settings(_ r: Realm) -> [SQLValue] {
        let b = r.bruteForce, p = r.passwordHashing
        let values: [any SQLBindable] = [
            r.name, r.displayName, r.enabled, r.accessTokenLifespan, r.refreshTokenLifespan,
            r.duplicateEmailsAllowed, r.dockerV2Enabled, b.enabled, b.failureFactor,
            b.waitIncrementSeconds, b.maxFailureWaitSeconds, b.quickLoginCheckMilliSeconds,
            b.minimumQuickLoginWaitSeconds, b.maxDeltaTimeSeconds, b.permanentLockout, r.passwordPolicy,
            p.memoryKiB, p.iterations, p.parallelism, p.hashLength, p.saltLength,
            r.eventsExpiration, JSONColumn.encode(r.attributes), r.eventsEnabled, JSONColumn.encode(r.enabledEventTypes),
            r.offlineSessionIdleTimeout, r.offlineSessionMaxLifespanEnabled, r.offlineSessionMaxLifespan,
            r.personalAccessTokenMaxLifespan, r.adminEventsEnabled, r.adminEventsDetailsEnabled,
            JSONColumn.encode(r.keycloakSettings), JSONColumn.encode(r.keycloakContent),
        ]
        return values.map(\.sqlValue)
    }

    public static func decode(_ row: some SQLRow) -> Realm {
        var brute = BruteForcePolicy()
        brute.enabled = row.bool(7)
        brute.failureFactor = row.int(8)
        brute.waitIncrementSeconds = row.int(9)
        brute.maxFailureWaitSeconds = row.int(10)
        brute.quickLoginCheckMilliSeconds = row.int(11)
        brute.minimumQuickLoginWaitSeconds = row.int(12)
        brute.maxDeltaTimeSeconds = row.int(13)
        brute.permanentLockout = row.bool(14)
        var realm = Realm(
            id: row.string(33), name: row.string(0), displayName: row.text(1), enabled: row.bool(2),
            accessTokenLifespan: row.int(3), refreshTokenLifespan: row.int(4),
            offlineSessionIdleTimeout: row.int(25), offlineSessionMaxLifespanEnabled: row.bool(26), offlineSessionMaxLifespan: row.int(27),
            personalAccessTokenMaxLifespan: row.optionalInt(28),
            duplicateEmailsAllowed: row.bool(5), dockerV2Enabled: row.bool(6),
            bruteForce: brute, passwordPolicy: row.text(15),
            passwordHashing: Argon2Parameters(memoryKiB: row.int(16), iterations: row.int(17), parallelism: row.int(18),
                                              hashLength: row.int(19), saltLength: row.int(20)),
            eventsExpiration: row.optionalInt(21), eventsEnabled: row.bool(23), enabledEventTypes: row.json(24, default: []),
            adminEventsEnabled: row.bool(29), adminEventsDetailsEnabled: row.bool(30), keycloakSettings: row.json(31, default: [:]),
            keycloakContent: row.json(32, default: [:]), attributes: row.json(22, default: [:]), createdAt: row.timestamp(34))
        realm.hasUserFederation = row.bool(35)
        return realm
    }
}
