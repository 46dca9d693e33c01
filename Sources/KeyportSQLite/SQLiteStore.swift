import Foundation
import GRDB
import KeyportModel
import KeyportStore

/// The embedded store: one SQLite file in WAL mode, foreign keys on, a busy timeout, and a
/// pool of readers beside the single writer.
///
/// Each `IdentityStore` method runs as one transaction. Constraint failures come back as
/// `StoreError`s with Keycloak's wording; GRDB's types never leave this module.
public struct SQLiteStore: IdentityStore {
    let writer: any DatabaseWriter
    let runner: MigrationRunner
    /// Connections for the hot single-statement lookups (nil for a `DatabaseQueue`, in tests).
    let hot: HotReaders?

    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    public static func open(path: String, migrations: MigrationRunner = MigrationRunner(), now: @escaping @Sendable () -> Int64) throws -> SQLiteStore {
        let pool = try openPool(path: path)
        let migrating = SQLiteStore(writer: pool, runner: migrations, hot: nil)
        try migrating.migrate(now: now)
        return try SQLiteStore(writer: pool, runner: migrations, hot: hotReaders(for: pool))
    }

    static func openPool(path: String) throws -> DatabasePool {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError.unavailable("cannot create the database folder \(directory.path): \(error.localizedDescription)")
        }
        // The file holds private keys and password hashes: owner-only from the first byte.
        let oldMask = umask(0o077)
        defer { umask(oldMask) }
        do {
            return try DatabasePool(path: path, configuration: configuration())
        } catch let error as DatabaseError {
            throw StoreError.unavailable("cannot open the database \(path): \(error.message ?? "\(error.resultCode)")")
        }
    }

    /// Wraps an already-open database (tests use this with a temporary file) and migrates it.
    public init(writer: any DatabaseWriter, migrations: MigrationRunner = MigrationRunner(), now: @escaping @Sendable () -> Int64) throws {
        try SQLiteStore(writer: writer, runner: migrations, hot: nil).migrate(now: now)
        self.init(writer: writer, runner: migrations, hot: try (writer as? DatabasePool).map(Self.hotReaders))
    }

    init(writer: any DatabaseWriter, runner: MigrationRunner, hot: HotReaders?) {
        self.writer = writer
        self.runner = runner
        self.hot = hot
    }

    static func hotReaders(for pool: DatabasePool) throws -> HotReaders {
        do {
            // One per core, the width of Swift's pool, but a container on a large host sees the host's
            // cores: past eight, a lookup finding none free reads through the pool.
            return try HotReaders(path: pool.path, configuration: pool.configuration, count: min(8, ProcessInfo.processInfo.activeProcessorCount))
        } catch let error as DatabaseError {
            throw StoreError.unavailable("cannot open the database \(pool.path): \(error.message ?? "\(error.resultCode)")")
        }
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.maximumReaderCount = max(2, ProcessInfo.processInfo.activeProcessorCount * 2)
        config.label = "keyport"
        config.prepareDatabase { db in
            // WAL with NORMAL sync keeps every committed transaction across a process crash
            // (kill -9); only an OS crash or power loss may lose the last commits.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        return config
    }

    @discardableResult
    func migrate(now: @escaping @Sendable () -> Int64) throws -> [Migration] {
        do {
            return try runner.migrate(writer, now: now)
        } catch let error as MigrationError {
            throw StoreError.unavailable(error.description)
        } catch let error as DatabaseError {
            throw StoreError.unavailable("cannot migrate the database: \(error.message ?? "\(error.resultCode)")")
        }
    }

    public func isReady() async -> Bool {
        (try? await writer.read { db in try runner.isUpToDate(db) }) ?? false
    }

    /// Closes the database: every later call fails as `StoreError.unavailable` (what an outage
    /// looks like to the layers above; tests use it to prove they answer 503).
    public func close() throws {
        try hot?.close()
        if let pool = writer as? DatabasePool { try pool.close() } else if let queue = writer as? DatabaseQueue { try queue.close() }
    }

    /// `PRAGMA integrity_check`'s verdict: `["ok"]` when the file is sound.
    public func integrityCheck() throws -> [String] {
        try writer.read { db in try String.fetchAll(try db.cachedStatement(sql: "PRAGMA integrity_check")) }
    }

    // MARK: Running statements

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await writer.read(body) } catch { throw Self.translate(error) }
    }

    /// A read of exactly one statement, without the BEGIN/COMMIT around it: a single SELECT is
    /// atomic in SQLite on its own, and the hot lookups of a token request (realm, client, user,
    /// credential, keys, versions) each are one. Run on this thread by a free `HotReaders`
    /// connection when there is one (no thread switch), else through the pool's readers.
    func readOne<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            if let hot, let value = try hot.read(body) { return value }
            return try await writer.unsafeRead(body)
        } catch {
            throw Self.translate(error)
        }
    }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await writer.write(body) } catch { throw Self.translate(error) }
    }

    /// Turns a database error into what it means for the caller. SQLite's message text is
    /// read here and nowhere else: above this module a conflict is a `StoreConflict` case.
    static func translate(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        let message = error.message ?? ""
        if let range = message.range(of: "keyport.conflict: ") {
            // Raised by the schema's triggers (0002_create_users.sql).
            let text = message[range.upperBound...]
            return StoreError.conflict(text.contains("sharing an email") ? .emailsShared : text.contains("same email") ? .email : .other)
        }
        if let range = message.range(of: "keyport.invalid: ") {
            // Raised by the schema's triggers (0028_create_user_federation.sql).
            return StoreError.invalid(String(message[range.upperBound...]))
        }
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            return StoreError.conflict(conflict(message))
        case .SQLITE_CONSTRAINT_FOREIGNKEY:
            return StoreError.invalid("a referenced realm, user, client, role or group does not exist in this realm")
        case .SQLITE_CONSTRAINT_CHECK, .SQLITE_CONSTRAINT_NOTNULL:
            // SQLite's text names tables and columns: not for a client's eyes.
            return StoreError.invalid("a value is out of range or missing")
        default:
            return StoreError.unavailable("database error: \(message.isEmpty ? "\(error.resultCode)" : message)")
        }
    }

    /// Which uniqueness rule SQLite's constraint message names.
    static func conflict(_ sqliteMessage: String) -> StoreConflict {
        let table: [(String, StoreConflict)] = [
            ("realms.name", .realmName),
            ("users.realm_id, users.username", .username),
            ("clients.realm_id, clients.client_id", .clientId),
            ("roles.realm_id, roles.name", .roleName),
            ("roles.client_id, roles.name", .roleName),
            ("realm_groups.realm_id, realm_groups.name", .topLevelGroupName),
            ("realm_groups.parent_id, realm_groups.name", .siblingGroupName),
            ("credentials.user_id, credentials.type", .credentialType),
            ("personal_access_tokens.user_id, personal_access_tokens.name", .tokenName),
            ("client_scopes.realm_id, client_scopes.name", .clientScopeName),
            ("identity_providers.realm_id, identity_providers.alias", .identityProviderAlias),
            ("identity_provider_mappers.identity_provider_id, identity_provider_mappers.name", .identityProviderMapperName),
            ("federated_identities.user_id, federated_identities.identity_provider_id", .userAlreadyLinked),
            ("federated_identities.identity_provider_id, federated_identities.upstream_user_id", .upstreamAccountLinked),
            ("users.federation_link, users.federation_id", .directoryEntryLinked),
        ]
        for (columns, rule) in table where sqliteMessage.contains(columns) { return rule }
        return .other
    }
}

extension SQLiteStore {
    /// What `keyport migrate` reports: the migrations applied by this call and how many the schema has.
    public static func migrateDatabase(path: String, now: @escaping @Sendable () -> Int64) throws -> (applied: [Migration], total: Int) {
        let store = SQLiteStore(writer: try openPool(path: path), runner: MigrationRunner(), hot: nil)
        return (try store.migrate(now: now), store.runner.migrations.count)
    }
}
