import Foundation
import KeyportBuildInfo
import KeyportConsole
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import KeyportAdminAPI
import KeyportAuth
import KeyportDockerV2
import KeyportEvents
import KeyportFederation
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportOIDC
import KeyportProvisioning
import KeyportTokens
import KeyportUserFederation
import KeyportPasswords
import KeyportRealmExchange
import KeyportSQLite
import KeyportStore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The composition root: opens and migrates the store, provisions the master realm on the
/// first start, and builds the Hummingbird application. `main` and the tests both use it,
/// so what is tested is what runs.
public struct KeyportServer: Sendable {
    public typealias App = Application<RelativePathResponder<RouterResponder<KeyportRequestContext>>>

    public let services: KeyportServices
    public let bootstrap: BootstrapOutcome
    public let application: App

    public static func make(
        configuration: KeyportConfiguration,
        environment: TimeAndRandomness = .live,
        logger: Logger = Logger(label: "keyport"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> KeyportServer {
        try configuration.validate()
        let tls = try configuration.tlsEnabled ? makeTLSConfiguration(configuration) : nil

        let store = try await configuration.store.open(now: { environment.now().millisecondsSince1970 })
        let metrics = KeyportMetrics()
        let hashDuration = metrics.passwordHashDuration
        let ceiling = configuration.passwordCostCeiling
        let hasher = PasswordHasher(randomBytes: environment.randomBytes, observe: { hashDuration.record($0) }, ceiling: ceiling)
        try await clampRealmSettings(store: store, ceiling: ceiling, logger: logger)
        try await giveConsoleClientsTheirPages(store: store, logger: logger)
        let verifiedCredentials = VerifiedCredentialCache(seconds: configuration.credentialCacheSeconds)
        // Realms' LDAP providers, asked at sign-in for the people they hold.
        let directories = DirectoryUsers(store: store, newID: environment.newID, now: environment.now)
        let authenticator = PasswordAuthenticator(store: store, hasher: hasher, now: environment.now,
                                                  verified: verifiedCredentials, directories: directories,
                                                  onRehashFailure: { error in
            logger.warning("could not store a login's bookkeeping (rehash or failure count)", metadata: ["error": "\(error)"])
        })
        let provisioner = RealmProvisioner(environment: environment)
        // Realms made before client scopes existed get Keycloak's built-in ones, once (migration 0021).
        let catalog = BuiltinClientScopeCatalog(newID: environment.newID)
        let upgraded = try await store.addBuiltinClientScopes { realmId, offline in catalog.scopes(realmId: realmId, offlineAccessRoleId: offline) }
        if upgraded > 0 { logger.notice("gave realms made before client scopes Keycloak's built-in ones", metadata: ["realms": "\(upgraded)"]) }

        let bootstrap = try await MasterRealmBootstrap(store: store, provisioner: provisioner, hasher: hasher, environment: environment)
            .run(username: configuration.bootstrapAdminUsername, password: configuration.bootstrapAdminPassword, mode: configuration.mode)

        if configuration.importRealms {
            try await importRealms(from: configuration.importDirectory, store: store, provisioner: provisioner, ceiling: ceiling, hasher: hasher, logger: logger)
        }

        let keyRing = RealmKeyRing(store: store)
        let oidcTokensIssued = metrics.tokensIssued(kind: "oidc")
        let publicURL = PublicBaseURL(configuration.publicBaseURL)
        let realmIssuer = RealmIssuer(base: { publicURL.value })
        // One view of realms, clients, keys and client scopes for every door (cleared together by an admin).
        let realmConfiguration = RealmConfigurationCache(store: store)
        let tokens = TokenService(store: store, keyRing: keyRing, environment: environment, issuer: realmIssuer, realms: realmConfiguration,
                                  onIssued: { oidcTokensIssued.increment() })
        let events = EventRecorder(store: store, now: environment.now, maxPerRealm: configuration.eventsMaxPerRealm, onSuppressed: { metrics.eventSuppressed($0.rawValue) }, onFailure: { error in
            logger.warning("could not record an event", metadata: ["error": "\(error)"])
        })

        let router = Router(context: KeyportRequestContext.self)
        router.add(middleware: ObservabilityMiddleware(metrics: metrics, randomBytes: environment.randomBytes, proxyHeaders: configuration.proxyHeaders,
                                                      accessLog: configuration.httpAccessLog, strictTransportSecurity: tls != nil,
                                                      trustedProxies: configuration.trustedProxies))
        let routeTable = RouteTable()
        router.add(middleware: MethodNotAllowedMiddleware(table: routeTable))
        HealthController(store: store).addRoutes(to: router)
        MetricsController(metrics: metrics).addRoutes(to: router)
        // One cache of identity providers' keys for both doors that accept federated JWTs.
        let federation = FederatedJWTVerifier(keys: JWKSCache(now: environment.now))
        OIDCController(store: store, tokens: tokens, authenticator: authenticator, events: events, hasher: hasher, federation: federation)
            .addRoutes(to: router)
        AccountController(store: store, tokens: tokens, events: events).addRoutes(to: router)
        let dockerTokensIssued = metrics.tokensIssued(kind: "docker-v2")
        let registryAuthorizer = RegistryAuthorizer(store: store, onInvalidGrant: { message in
            logger.warning("ignoring a docker.grant that does not parse", metadata: ["grant": "\(message)"])
        })
        let dockerV2 = DockerV2Controller(
            store: store, authenticator: authenticator, authorizer: registryAuthorizer,
            issuer: RegistryTokenIssuer(keyRing: keyRing, environment: environment), events: events, environment: environment,
            realmIssuer: realmIssuer, federation: federation, configuration: realmConfiguration, onIssued: { dockerTokensIssued.increment() }
        )
        dockerV2.addRoutes(to: router)
        dockerV2.notifications().addRoutes(to: router)
        let installation = RegistryInstallation(keyRing: keyRing, issuer: realmIssuer)
        var adminExtensions = dockerV2AdminExtensions(installation: installation, authorizer: registryAuthorizer, store: store, now: environment.now)
        adminExtensions.clientActions[RegistryEventsAdmin.secretAction] = { request, _, realm, client in
            try await RegistryEventsAdmin.secret(request: request, realm: realm, client: client, store: store, environment: environment, realmIssuer: realmIssuer)
        }
        adminExtensions.realmRecordQueries[RegistryEventsAdmin.eventsQuery] = { request, realm in
            try await RegistryEventsAdmin.events(request: request, realm: realm, store: store)
        }
        adminExtensions.syncUserStorage = { realm, provider, changedOnly in
            try await directories.sync(providerId: provider.id, realm: realm, changedSince: changedOnly ? provider.lastSync : nil).json
        }
        adminExtensions.syncStorageMapper = { realm, mapper in try await directories.syncGroups(mapperId: mapper.id, realm: realm)?.json }
        // An administrator ending a browser session tells the clients it signed in, as a logout does.
        adminExtensions.endBrowserSession = { realm, session in try await BackChannelLogout(tokens: tokens).end(session, realm: realm) }
        adminExtensions.clearCache = { cache, realm, everyRealm in
            switch (cache, everyRealm) {
            case (.realm, true):
                dockerV2.removeCached(.realm)
                registryAuthorizer.removeAll()
            case (.realm, false):
                dockerV2.removeCached(.realm, realm: realm.name)
                registryAuthorizer.removeAll(realmId: realm.id)
            case (.user, true):
                registryAuthorizer.removeAll()
                // Remembered passwords are keyed by digests that do not name their realm: only
                // a server administrator clears them (for everyone).
                verifiedCredentials.removeAll()
            case (.user, false):
                registryAuthorizer.removeAll(realmId: realm.id)
            case (.keys, true):
                dockerV2.removeCached(.keys)
                keyRing.removeAll()
            case (.keys, false):
                dockerV2.removeCached(.keys, realm: realm.name)
                keyRing.remove(keyIds: try await store.realmKeys(realmId: realm.id).map(\.id))
            }
        }
        AdminAPI(store: store, verifier: tokens.verifier, keyRing: keyRing, issuer: realmIssuer, hasher: hasher, provisioner: provisioner, events: events,
                 environment: environment, version: KeyportBuildInfo.version,
                 extensions: adminExtensions,
                 provisioning: dockerV2Provisioning(randomBytes: environment.randomBytes), ceiling: ceiling
        ).addRoutes(to: router)

        ConsoleController(store: store, issuer: realmIssuer, version: KeyportBuildInfo.version).addRoutes(to: router)

        routeTable.set(router.routes.map { ($0.method.rawValue, $0.path.description) })

        var backgroundServices: [any Service] = [PasswordHasherService(hasher: hasher), EventRetentionService(store: store, environment: environment, dockerEventsRetention: configuration.dockerEventsRetention, logger: logger)]
        if configuration.periodicDirectorySync { backgroundServices.append(DirectorySyncService(directories: directories, logger: logger)) }
        if let directory = configuration.dockerCertsDirectory {
            let writer = RegistryCertificateWriter(directory: directory, store: store, installation: installation, interval: .seconds(15), logger: logger)
            // Written before the server answers, so a registry started once Keyport is healthy finds them.
            do { try await writer.syncOnce() } catch { throw ConfigurationError("cannot write to --docker-certs-dir \(directory): \(error.localizedDescription)") }
            backgroundServices.append(writer)
        }
        let connections = ConnectionGuard(
            maxConnections: configuration.httpMaxConnections ?? ConnectionGuard.defaultMaxConnections(),
            headerTimeout: configuration.httpHeaderTimeout, bodyTimeout: configuration.httpBodyTimeout,
            idleTimeout: configuration.httpIdleTimeout)
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [connections.makeHandler()],
                                               idleTimeout: TimeAmount(configuration.httpIdleTimeout))
        let server: HTTPServerBuilder = if let tls { try .tls(.http1(configuration: http1), tlsConfiguration: tls) } else { .http1(configuration: http1) }
        let application = Application(
            responder: RelativePathResponder(prefix: configuration.httpRelativePath, inner: router.buildResponder()),
            server: server,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "Keyport"),
            services: backgroundServices,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.httpPort
                if configuration.hostnameIsDerived {
                    publicURL.set("\(configuration.tlsEnabled ? "https" : "http")://localhost:\(port)\(configuration.httpRelativePath)")
                }
                await onServerRunning(port)
            },
            logger: logger)
        let services = KeyportServices(
            publicURL: publicURL, configuration: configuration, environment: environment, store: store, hasher: hasher, authenticator: authenticator,
            provisioner: provisioner, tokens: tokens, events: events, metrics: metrics, logger: logger, directories: directories,
            routes: router.routes.map { ($0.method.rawValue, $0.path.description) })
        return KeyportServer(services: services, bootstrap: bootstrap, application: application)
    }

    /// Keycloak's `--import-realm`: every `*.json` in the folder, in name order; a realm that
    /// exists is left as it is. A file that does not import stops the start with its reason.
    static func importRealms(from directory: String, store: any IdentityStore, provisioner: RealmProvisioner,
                             ceiling: PasswordCostCeiling, hasher: PasswordHasher, logger: Logger) async throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        let importer = realmImporter(store: store, provisioner: provisioner, ceiling: ceiling, hasher: hasher)
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError("cannot read \(path)") }
            do {
                let prepared = try await importer.prepare(data)
                if !prepared.skipped.isEmpty {
                    logger.warning("skipping fields Keyport does not model", metadata: ["file": "\(file)", "fields": "\(prepared.skipped.joined(separator: ","))"])
                }
                switch try await importer.write(prepared.seed, override: false) {
                case .imported(let realm, let users, _, _, _):
                    logger.notice("imported realm", metadata: ["file": "\(file)", "realm": "\(realm)", "users": "\(users)"])
                    for notice in prepared.notices { logger.notice("import: \(notice)", metadata: ["file": "\(file)"]) }
                case .skippedExisting(let realm):
                    logger.info("realm exists, import skipped", metadata: ["file": "\(file)", "realm": "\(realm)"])
                }
            } catch let error as RealmImporter.Failure {
                throw ConfigurationError("cannot import \(path): \(error.description)")
            }
        }
    }

    /// `keyport bootstrap-admin user`, offline against the database (a running server on the
    /// same file sees the new user at its next login: nothing about users is cached by name).
    public static func addTemporaryAdministrator(store location: StoreLocation, username: String, password: Sensitive?,
                                                 ceiling: PasswordCostCeiling = .default,
                                                 environment: TimeAndRandomness = .live) async throws -> BootstrapOutcome {
        let store = try await location.open(now: { environment.now().millisecondsSince1970 })
        let hasher = PasswordHasher(threads: 1, randomBytes: environment.randomBytes, ceiling: ceiling)
        let bootstrap = MasterRealmBootstrap(store: store, provisioner: RealmProvisioner(environment: environment),
                                             hasher: hasher, environment: environment)
        do {
            let outcome = try await bootstrap.addTemporaryAdministrator(username: username, password: password)
            try await hasher.shutdown()
            return outcome
        } catch {
            try? await hasher.shutdown()
            throw error
        }
    }

    /// The realm importer with the protocols' client checks, exactly those the admin API runs
    /// (`keyport import` and `--import-realm` both use this).
    public static func realmImporter(store: any IdentityStore, provisioner: RealmProvisioner,
                                     ceiling: PasswordCostCeiling = .default, hasher: PasswordHasher? = nil) -> RealmImporter {
        RealmImporter(store: store, provisioner: provisioner, ceiling: ceiling,
                      provisioning: dockerV2Provisioning(randomBytes: provisioner.environment.randomBytes), hasher: hasher)
    }

    /// A database written before the bounds existed (or under a higher ceiling) may hold values
    /// the server now refuses: start with them brought into range, and say which, rather than
    /// trap on them later or refuse to start.
    static func clampRealmSettings(store: any IdentityStore, ceiling: PasswordCostCeiling, logger: Logger) async throws {
        for realm in try await store.realms() {
            let fields = realm.clampedToBounds(ceiling: ceiling).clamped
            guard !fields.isEmpty else { continue }
            logger.warning("realm settings out of range were clamped", metadata: ["realm": "\(realm.name)", "fields": "\(fields.joined(separator: ","))"])
            try await store.updateRealm(id: realm.id) { $0 = $0.clampedToBounds(ceiling: ceiling).realm }
        }
    }

    /// Realms made before the consoles existed: their `security-admin-console` and
    /// `account-console` clients get the consoles' redirect URIs and logout setting, once (only
    /// while a client has no redirect URI, so an administrator's own choice stays).
    static func giveConsoleClientsTheirPages(store: any IdentityStore, logger: Logger) async throws {
        for realm in try await store.realms() {
            for clientId in [BuiltInRoles.securityAdminConsoleClient, BuiltInRoles.accountConsoleClient] {
                guard let console = try await store.client(clientId: clientId, realmId: realm.id), console.redirectUris.isEmpty else { continue }
                _ = try await store.updateClient(id: console.id, realmId: realm.id) { client in
                    guard client.redirectUris.isEmpty else { return }
                    client.redirectUris = RealmProvisioner.consoleRedirectUris(clientId, realm: realm.name)
                    for (name, value) in RealmProvisioner.consoleAttributes where client.attributes[name] == nil { client.attributes[name] = value }
                }
                logger.notice("a console's client may now sign in at its pages", metadata: ["realm": "\(realm.name)", "client": "\(clientId)"])
            }
        }
    }

    static func makeTLSConfiguration(_ configuration: KeyportConfiguration) throws -> TLSConfiguration {
        guard let certificateFile = configuration.httpsCertificateFile, let keyFile = configuration.httpsCertificateKeyFile else {
            throw ConfigurationError("--https-certificate-file and --https-certificate-key-file go together: give both or neither")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ConfigurationError("cannot read a PEM certificate from --https-certificate-file \(certificateFile)")
        }
        guard !chain.isEmpty else { throw ConfigurationError("--https-certificate-file \(certificateFile) holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ConfigurationError("cannot read a PEM private key from --https-certificate-key-file \(keyFile)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // TLS 1.2 at least (1.0 and 1.1 are deprecated, RFC 8996), and with 1.2 only
        // forward-secret AEAD suites (no static RSA, no CBC); TLS 1.3's suites are all of that kind.
        tls.minimumTLSVersion = configuration.httpsProtocols.contains(.tlsv12) ? .tlsv12 : .tlsv13
        tls.maximumTLSVersion = configuration.httpsProtocols.contains(.tlsv13) ? .tlsv13 : .tlsv12
        tls.cipherSuiteValues = configuration.httpsCipherSuites.map(\.cipher)
        return tls
    }
}

/// Stops the password hashing threads once the server has finished its in-flight requests.
struct PasswordHasherService: Service {
    let hasher: PasswordHasher

    func run() async throws {
        try? await gracefulShutdown()
        try await hasher.shutdown()
    }
}

extension HTTPSCipherSuite {
    var cipher: NIOTLSCipher {
        switch self {
        case .ecdheECDSAAES128GCM: .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        case .ecdheRSAAES128GCM: .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        case .ecdheECDSAAES256GCM: .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        case .ecdheRSAAES256GCM: .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        case .ecdheECDSAChaCha20: .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        case .ecdheRSAChaCha20: .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
    }
}

extension DirectorySyncResult {
    /// Keycloak's `SynchronizationResult` as its admin API answers it.
    var json: JSONValue {
        ["ignored": .bool(ignored), "added": .number(Double(added)), "updated": .number(Double(updated)),
         "removed": .number(Double(removed)), "failed": .number(Double(failed)), "status": .string(status)]
    }
}
