import Foundation
import KeyportModel
import KeyportStore
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The shared store of several Keyport nodes: the same `IdentityStore` contract as
/// `SQLiteStore`, on PostgreSQL, proved by the same conformance suite.
///
/// Every method is one transaction. Where SQLite relies on its single writer, this store takes
/// the lock the rule needs: a read-modify-write reads its row `FOR UPDATE`; counts that bound a
/// write (sessions, tokens, keys) lock the owning row first; the email rule and the group tree take
/// advisory locks. Versions come from one sequence (see `Migrations/postgres`).
public final class PostgresStore: IdentityStore, @unchecked Sendable {
    /// How to reach the database (Keycloak's `--db-url`, `--db-username`, `--db-password`).
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var database: String
        public var username: String
        public var password: String?
        /// `disable`, `prefer`, `require`, `verify-ca` or `verify-full` (libpq's `sslmode`).
        public var tlsMode: String
        /// PEM file of the certificate authorities the server's certificate must chain to (libpq's
        /// `sslrootcert`); nil: the system's.
        public var tlsRootCertificates: String?
        /// A schema to keep Keyport's tables in (Keycloak's `--db-schema`); nil: the user's default.
        public var schema: String?
        public var maximumConnections: Int

        public init(host: String, port: Int = 5432, database: String, username: String, password: String?,
                    tlsMode: String = "prefer", schema: String? = nil, maximumConnections: Int = 20, tlsRootCertificates: String? = nil) {
            self.tlsRootCertificates = tlsRootCertificates
            self.host = host
            self.port = port
            self.database = database
            self.username = username
            self.password = password
            self.tlsMode = tlsMode
            self.schema = schema
            self.maximumConnections = maximumConnections
        }

        /// `postgresql://[user[:password]@]host[:port]/database[?sslmode=…&currentSchema=…]`, as
        /// libpq and JDBC write them; `username`/`password` given apart win over the URL's.
        public init(url: String, username: String? = nil, password: String? = nil, maximumConnections: Int = 20) throws {
            let text = url.hasPrefix("jdbc:") ? String(url.dropFirst(5)) : url
            guard let components = URLComponents(string: text), ["postgresql", "postgres"].contains(components.scheme ?? ""),
                  let host = components.host, !host.isEmpty else {
                throw StoreError.unavailable("the database URL must look like postgresql://host:5432/keyport")
            }
            let database = String(components.path.drop(while: { $0 == "/" }))
            let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
            let mode = query["sslmode"] ?? "prefer"
            guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(mode) else {
                throw StoreError.unavailable("sslmode must be disable, prefer, require, verify-ca or verify-full")
            }
            guard let user = username ?? components.user ?? query["user"], !user.isEmpty else {
                throw StoreError.unavailable("the database user is missing: give --db-username or put it in the URL")
            }
            let schema = query["currentSchema"] ?? query["schema"]
            let rootCertificates = query["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
            if let schema, !schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
                throw StoreError.unavailable("the schema name may hold letters, digits and '_' only")
            }
            self.init(host: host, port: components.port ?? 5432, database: database.isEmpty ? user : database, username: user,
                      password: password ?? components.password ?? query["password"], tlsMode: mode, schema: schema,
                      maximumConnections: maximumConnections)
            tlsRootCertificates = rootCertificates
        }

        /// libpq's `sslmode` as NIO's TLS settings: nil (no TLS), and whether TLS is required.
        var tlsSettings: (configuration: TLSConfiguration, required: Bool)? {
            var config = TLSConfiguration.makeClientConfiguration()
            if let tlsRootCertificates { config.trustRoots = .file(tlsRootCertificates) }
            switch tlsMode {
            case "disable": return nil
            case "require":
                // libpq's `require`: encrypted, the certificate not checked.
                config.certificateVerification = .none
                return (config, true)
            case "verify-ca":
                config.certificateVerification = .noHostnameVerification
                return (config, true)
            case "verify-full":
                // The chain and the host name: what an operator on an untrusted network wants.
                return (config, true)
            default:
                config.certificateVerification = .none
                return (config, false)
            }
        }

        var clientConfiguration: PostgresClient.Configuration {
            let tls: PostgresClient.Configuration.TLS
            if let settings = tlsSettings {
                tls = settings.required ? .require(settings.configuration) : .prefer(settings.configuration)
            } else {
                tls = .disable
            }
            var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password,
                                                             database: database, tls: tls)
            configuration.options.maximumConnections = max(2, maximumConnections)
            if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
            return configuration
        }
    }

    let client: PostgresClient
    let logger: Logger
    private let runTask: Task<Void, Never>
    let migrations: [Migration]

    /// Connects, creates the schema if asked for, and applies pending migrations (one node at a
    /// time: the others wait on an advisory lock, then find nothing left to do).
    public static func open(_ configuration: Configuration, now: @escaping @Sendable () -> Int64,
                            logger: Logger = Logger(label: "keyport.postgres")) async throws -> PostgresStore {
        // The pool's own chatter (a lease queued before `run` starts) is not an operator's business;
        // its failures reach the callers as errors, and from there the log and a 503.
        var background = logger
        background.logLevel = .error
        try await probe(configuration, logger: background)
        let store = PostgresStore(client: PostgresClient(configuration: configuration.clientConfiguration, backgroundLogger: background), logger: logger)
        do {
            try await store.migrate(schema: configuration.schema, now: now)
        } catch {
            store.close()
            throw error
        }
        return store
    }

    /// One connection before the pool starts, to say at once what the pool would only retry for
    /// 30 seconds and call "unreachable": the server refused the credentials, or there is no such
    /// database. Anything else (the server not up yet) is left to the pool's retries.
    static func probe(_ configuration: Configuration, logger: Logger) async throws {
        let tls: PostgresConnection.Configuration.TLS
        if let settings = configuration.tlsSettings {
            let context = try NIOSSLContext(configuration: settings.configuration)
            tls = settings.required ? .require(context) : .prefer(context)
        } else {
            tls = .disable
        }
        var connection = PostgresConnection.Configuration(host: configuration.host, port: configuration.port, username: configuration.username,
                                                          password: configuration.password, database: configuration.database, tls: tls)
        connection.options.connectTimeout = .seconds(10)
        do {
            let opened = try await PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.next(), configuration: connection,
                                                              id: 0, logger: logger)
            try? await opened.close()
        } catch let error as PSQLError {
            guard let state = error.serverInfo?[.sqlState] else { return }
            if state.hasPrefix("28") {
                throw StoreError.unavailable("the database refused user '\(configuration.username)': authentication failed (check --db-username and --db-password)")
            }
            if state == "3D000" { throw StoreError.unavailable("the database '\(configuration.database)' does not exist") }
        } catch {
            // Not reachable yet: the pool keeps trying and reports it.
        }
    }

    init(client: PostgresClient, logger: Logger, migrations: [Migration] = PostgresStore.shippedMigrations) {
        self.client = client
        self.logger = logger
        self.migrations = migrations
        runTask = Task { await client.run() }
    }

    deinit { runTask.cancel() }

    /// Closes every connection: later calls fail as `StoreError.unavailable`.
    public func close() { runTask.cancel() }

    /// Readiness answers within two seconds: a load balancer's probe must not hang on a database
    /// that is down.
    public func isReady() async -> Bool {
        (try? await withConnection(wait: .seconds(2), deadline: .seconds(2)) { [self] db in try await isUpToDate(db) }) ?? false
    }

    // MARK: Running statements

    /// How long a request waits for a connection before the database counts as unreachable
    /// (the pool keeps retrying behind it): a 503 now rather than a request held for ever.
    static let connectionWait: Duration = .seconds(30)
    /// How long the work on a leased connection may take (a transaction's statements, a
    /// migration's excepted): a database that stops answering (a hung primary, a partition) must
    /// not hold a request for as long as it is gone. Past it the connection is closed — never
    /// handed to another request — and the caller gets `unavailable` (a 503).
    static let queryDeadline: Duration = .seconds(15)

    @discardableResult
    func withConnection<T: Sendable>(wait: Duration = PostgresStore.connectionWait, deadline: Duration = PostgresStore.queryDeadline,
                                     _ body: @escaping @Sendable (PGConnection) async throws -> T) async throws -> T {
        do {
            return try await withConnectionOnce(wait: wait, deadline: deadline, body)
        } catch let error as StaleConnection {
            // A connection another request closed at its deadline can come back from the pool
            // before the pool has seen it close: its first statement fails before reaching the
            // server (nothing ran), so the work goes once more, on another connection.
            _ = error
            return try await withConnectionOnce(wait: wait, deadline: deadline, body)
        }
    }

    /// A connection this process closed, handed out again; nothing was sent on it.
    private struct StaleConnection: Error {}

    private func withConnectionOnce<T: Sendable>(wait: Duration, deadline: Duration,
                                                 _ body: @escaping @Sendable (PGConnection) async throws -> T) async throws -> T {
        let leased = LeaseFlag()
        let client = self.client, logger = self.logger
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        // Closed already (by another request's deadline) when handed out: say so, untouched.
                        if connection.isClosed { throw StaleConnection() }
                        leased.set(connection)
                        // Done with it before it goes back to the pool: the deadline can no longer close it.
                        defer { leased.finish() }
                        do {
                            return try await body(PGConnection(connection: connection, logger: logger))
                        } catch let error as PSQLError where error.code == .clientClosedConnection && !leased.closedHere {
                            // This process closes a leased connection only at its lessee's deadline
                            // (not this call's: `closedHere`): it was closed before this lease.
                            throw StaleConnection()
                        }
                    }
                }
                group.addTask {
                    let clock = ContinuousClock()
                    let start = clock.now
                    // First the wait for a connection, then the deadline from the lease on.
                    while true {
                        let (connection, since) = leased.state
                        if let connection, let since {
                            let remaining = since.advanced(by: deadline) - clock.now
                            if remaining <= .zero {
                                // Closing fails the statement in flight; the pool replaces the connection.
                                // Only while this call still holds it: once returned, it may be another's.
                                if leased.closeHere() { connection.close().whenComplete { _ in } }
                                throw StoreError.unavailable("the database did not answer within \(deadline)")
                            }
                            try await Task.sleep(for: min(remaining, .milliseconds(500)))
                        } else {
                            if clock.now - start >= wait {
                                throw StoreError.unavailable("the database is unreachable: no connection within \(wait) (check --db-url, the credentials and TLS)")
                            }
                            try await Task.sleep(for: min(wait - (clock.now - start), .milliseconds(100)))
                        }
                    }
                }
                while let result = try await group.next() {
                    if let value = result {
                        group.cancelAll()
                        return value
                    }
                }
                throw StoreError.unavailable("the database is unreachable")
            }
        } catch {
            throw PGErrors.translate(error)
        }
    }

    /// One transaction: committed when `body` returns, rolled back when it throws.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (PGConnection) async throws -> T) async throws -> T {
        try await withConnection { db in try await db.transaction("BEGIN", body) }
    }

    /// Several reads that must agree: one snapshot.
    func read<T: Sendable>(_ body: @escaping @Sendable (PGConnection) async throws -> T) async throws -> T {
        try await withConnection { db in try await db.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body) }
    }

    /// One statement: atomic by itself, no transaction around it.
    func readOne<T: Sendable>(_ body: @escaping @Sendable (PGConnection) async throws -> T) async throws -> T {
        try await withConnection(body)
    }
}

/// Whether a connection was handed over yet (read by the wait's timer, set by the lease).
/// The connection a `withConnection` call leased, and when (its deadline counts from there).
private final class LeaseFlag: Sendable {
    private let value = Mutex<(PostgresConnection?, ContinuousClock.Instant?)>((nil, nil))
    /// (closed by this call's deadline, finished with it)
    private let ending = Mutex((closed: false, finished: false))
    func set(_ connection: PostgresConnection) { value.withLock { $0 = (connection, ContinuousClock().now) } }
    var state: (PostgresConnection?, ContinuousClock.Instant?) { value.withLock { $0 } }
    /// The deadline takes the connection to close it — unless the call finished with it first
    /// (it may be back in the pool, leased by another call). True when it is this call's to close.
    func closeHere() -> Bool {
        ending.withLock { state in
            guard !state.finished else { return false }
            state.closed = true
            return true
        }
    }
    func finish() { ending.withLock { $0.finished = true } }
    /// This call's deadline closed the connection (its failure is the deadline's, not a stale connection's).
    var closedHere: Bool { ending.withLock { $0.closed } }
}
