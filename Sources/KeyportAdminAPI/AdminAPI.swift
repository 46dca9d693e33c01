import KeycloakRepresentations
import Foundation
import Hummingbird
import KeyportAccessTokens
import KeyportAuth
import KeyportEvents
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportProvisioning
import KeyportTokens
import KeyportPasswords
import KeyportRealmExchange
import KeyportStore

/// Keycloak's admin REST API (the subset Keyport models), at `/admin/realms/…`.
///
/// Conventions clients depend on: create answers `201` with a `Location` whose last segment
/// is the new id (a role's name for roles) and no body; updates, deletes and mappings answer
/// `204`; lists are arrays paged by `first`/`max`; each request is one transaction.
public struct AdminAPI: Sendable {
    let store: any IdentityStore
    let verifier: AccessTokenVerifier
    let keyRing: RealmKeyRing
    /// Public base URL, for `Location` headers.
    let issuer: RealmIssuer
    let hasher: PasswordHasher
    let provisioner: RealmProvisioner
    let environment: TimeAndRandomness
    let version: String
    let extensions: AdminExtensions
    /// Clients and users from their representations: the same rules and defaults as import.
    let provisioning: Provisioning
    /// The server's password-cost ceiling: realm settings and stored hashes stay under it.
    let ceiling: PasswordCostCeiling
    /// Login events the admin API causes (an administrator revoking identity tokens).
    let events: EventRecorder
    /// Realms from full representations (`POST /admin/realms`) and partial imports: the realm
    /// file importer, with the same provisioning, and a bound on plain-text passwords per request.
    let importer: RealmImporter
    /// The most plain-text passwords one admin request may ask to hash.
    static let plainPasswordsPerRequest = 200

    public init(store: any IdentityStore, verifier: AccessTokenVerifier, keyRing: RealmKeyRing, issuer: RealmIssuer,
                hasher: PasswordHasher, provisioner: RealmProvisioner, events: EventRecorder,
                environment: TimeAndRandomness, version: String, extensions: AdminExtensions = AdminExtensions(),
                provisioning: Provisioning? = nil, ceiling: PasswordCostCeiling = .default) {
        self.provisioning = provisioning ?? Provisioning(randomBytes: environment.randomBytes)
        self.ceiling = ceiling
        self.events = events
        self.store = store
        self.verifier = verifier
        self.keyRing = keyRing
        self.issuer = issuer
        self.hasher = hasher
        self.provisioner = provisioner
        self.environment = environment
        self.version = version
        self.extensions = extensions
        self.importer = RealmImporter(store: store, provisioner: provisioner, ceiling: ceiling, provisioning: self.provisioning,
                                      hasher: hasher, plainPasswordLimit: Self.plainPasswordsPerRequest)
    }

    public func addRoutes(to router: Router<KeyportRequestContext>) {
        // Every admin route needs a verified bearer token: the middleware checks it once and
        // hands the caller to the handlers in the request context.
        // Every failure gets its status in one place (AdminErrorMiddleware, outermost), so a
        // handler never wraps its calls.
        let admin = router.group("/admin")
            .add(middleware: AdminErrorMiddleware())
            .add(middleware: AdminAuthenticationMiddleware(verifier: verifier))
            .add(middleware: AdminAuditMiddleware(store: store, environment: environment))
        admin.get("serverinfo") { _, context in try await serverInfo(context) }
        addRealmRoutes(admin)
        addUserRoutes(admin)
        addClientRoutes(admin)
        addRoleRoutes(admin)
        addGroupRoutes(admin)
        addEventRoutes(admin)
        addKeyRoutes(admin)
        addComponentRoutes(admin)
        addUserStorageRoutes(admin)
        addClientScopeRoutes(admin)
        addIdentityProviderRoutes(admin)
        addBrokeringRoutes(admin)
        addSessionRoutes(admin)
        addPersonalAccessTokenRoutes(admin)
    }

    // MARK: Helpers shared by the resources

    /// `201 Created` with the `Location` of the new resource and an empty body.
    func created(_ request: Request, _ id: String) -> Response {
        var path = request.uri.path
        while path.hasSuffix("/") { path.removeLast() }
        let escaped = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
        return Response(status: .created, headers: [.location: "\(issuer.baseURL)\(path)/\(escaped)"])
    }

    var noContent: Response { Response(status: .noContent) }

    func page(_ request: Request, defaultMax: Int = 100) throws -> Page { try Self.page(request, defaultMax: defaultMax) }
    func date(_ text: String?, endOfDay: Bool) throws -> Timestamp? { try Self.date(text, endOfDay: endOfDay) }

    /// Keycloak's `first` and `max` (`max=-1`: as many as allowed), at most 10,000 per answer.
    public static func page(_ request: Request, defaultMax: Int = 100) throws -> Page {
        let query = FormParameters.query(of: request)
        func number(_ name: String, _ fallback: Int) throws -> Int {
            guard let text = query[name], !text.isEmpty else { return fallback }
            guard let n = Int(text), n >= -1 else { throw AdminError.badRequest("Query parameter '\(name)' must be a non-negative integer") }
            return n
        }
        let first = try number("first", 0)
        var max = try number("max", defaultMax)
        if max < 0 { max = 10_000 }
        return Page(first: first, max: min(max, 10_000))
    }

    func bool(_ request: Request, _ name: String) throws -> Bool? {
        let query = FormParameters.query(of: request)
        guard let text = query[name], !text.isEmpty else { return nil }
        guard let value = parseBoolean(text) else { throw AdminError.badRequest("Query parameter '\(name)' must be true or false") }
        return value
    }

    /// Runs provisioning, answering a broken rule with 400 (`Validate.rule`).
    func provision<T>(_ body: () throws -> T) throws -> T { try Validate.rule(body) }

    /// The body as `T`. Keycloak's representations (and lists of them) are first checked
    /// against Keycloak's fields: an unknown one is a 400 in Keycloak's words, as Keycloak does.
    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: KeyportRequestContext) async throws -> T {
        try await decodeKeepingBody(type, request, context).value
    }

    /// As `decode`, with the body read (for a handler that also looks at the raw JSON).
    func decodeKeepingBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: KeyportRequestContext) async throws -> (value: T, body: ByteBuffer) {
        do {
            let body = try await BodyReader.read(request, context: context)
            try requireKnownFields(T.self, in: body)
            return (try JSONBody.decode(type, from: body), body)
        } catch let error as BadInput {
            throw AdminError.badInput(error)
        }
    }

    /// Refuses a body with a field Keycloak's representation `T` (or its items) does not have.
    func requireKnownFields<T>(_ type: T.Type, in body: ByteBuffer) throws {
        guard let shape = (T.self as? any KeycloakShaped.Type)?.keycloakShape ?? (T.self as? any KeycloakShapedList.Type)?.elementShape,
              let json = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))
        else { return }
        for item in T.self is any KeycloakShapedList.Type ? json.arrayItems : [json] {
            if let message = shape.unrecognizedField(in: item) { throw AdminError.unrecognizedField(message) }
        }
    }

    func serverInfo(_ context: KeyportRequestContext) async throws -> Response {
        // Keycloak answers administrators only: a plain user's token learns nothing here.
        let caller = try await principal(context)
        guard caller.isMasterAdmin || caller.mayCreateRealms || !caller.managementRoles.isEmpty else { throw AdminError.forbidden }
        let info: JSONValue = [
            "systemInfo": ["version": .string(version), "serverTime": .string(ISO8601DateFormatter().string(from: Date())), "uptime": "",
                           "javaVersion": "n/a (Keyport is written in Swift)"],
            "profileInfo": ["name": "community", "disabledFeatures": [], "previewFeatures": [], "experimentalFeatures": []],
            "providers": ["docker-v2": ["providers": ["docker-v2": [:]]]],
            "passwordPolicies": .array(["length", "maxLength", "digits", "lowerCase", "upperCase", "specialChars", "notUsername", "notEmail",
                                         "hashIterations", "hashAlgorithm", "passwordHistory"].map { ["id": .string($0)] }),
        ]
        return try JSONBody.response(info)
    }
}

/// What protocol modules add to the admin API without it knowing them: installation files and
/// read-only client queries (their checks and defaults come through `Provisioning`).
public struct AdminExtensions: Sendable {
    public typealias InstallationProvider = @Sendable (_ realm: Realm, _ client: Client) async throws -> Response

    /// `clients/{id}/installation/providers/{providerId}` by provider id.
    public var installationProviders: [String: InstallationProvider]
    public typealias ClientQuery = @Sendable (_ request: Request, _ realm: Realm, _ client: Client) async throws -> Response
    /// Read-only questions about a client, at `GET clients/{id}/{name}` (view-clients and view-users).
    public var clientQueries: [String: ClientQuery]

    public typealias ClientAction = @Sendable (_ request: Request, _ context: KeyportRequestContext, _ realm: Realm, _ client: Client) async throws -> Response
    /// Changes a protocol module makes to a client, at `POST` and `DELETE clients/{id}/{name}`
    /// (manage-clients, on a client the caller may configure).
    public var clientActions: [String: ClientAction] = [:]

    public typealias RealmRecordQuery = @Sendable (_ request: Request, _ realm: Realm) async throws -> Response
    /// Records of what happened in a realm, at `GET realms/{realm}/{name}` (view-events).
    public var realmRecordQueries: [String: RealmRecordQuery] = [:]

    public typealias BrowserSessionEnder = @Sendable (_ realm: Realm, _ session: BrowserSession) async throws -> Bool
    /// Ends a browser session an administrator ends (`DELETE sessions/{id}`, `users/{id}/logout`),
    /// telling the clients it signed in (back-channel logout); without it the session is deleted.
    public var endBrowserSession: BrowserSessionEnder?

    /// Empties this node's caches of one kind (`clear-realm-cache`, `clear-user-cache`,
    /// `clear-keys-cache`): what they hold of `realm`, or — `everyRealm`, for a server
    /// administrator — all of it.
    public typealias CacheClearer = @Sendable (_ cache: ServerCache, _ realm: Realm, _ everyRealm: Bool) async throws -> Void
    public var clearCache: CacheClearer?

    /// Syncs an LDAP provider's people (`user-storage/{id}/sync`): everyone, or those changed since
    /// its last sync (`changedOnly`); answers Keycloak's `SynchronizationResult`.
    public typealias UserStorageSync = @Sendable (_ realm: Realm, _ provider: StorageComponent, _ changedOnly: Bool) async throws -> JSONValue
    public var syncUserStorage: UserStorageSync?
    /// Syncs a group mapper's directory groups into groups (`user-storage/{id}/mappers/{mapperId}/sync`,
    /// `fedToKeycloak`); answers Keycloak's `SynchronizationResult`, or nil when the mapper is not
    /// a group mapper of an enabled provider.
    public typealias StorageMapperSync = @Sendable (_ realm: Realm, _ mapper: StorageComponent) async throws -> JSONValue?
    public var syncStorageMapper: StorageMapperSync?

    public init(installationProviders: [String: InstallationProvider] = [:], clientQueries: [String: ClientQuery] = [:],
                endBrowserSession: BrowserSessionEnder? = nil, clearCache: CacheClearer? = nil) {
        self.installationProviders = installationProviders
        self.clientQueries = clientQueries
        self.endBrowserSession = endBrowserSession
        self.clearCache = clearCache
    }
}
