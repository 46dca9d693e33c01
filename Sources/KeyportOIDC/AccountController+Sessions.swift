import DockerV2Grammar
import Hummingbird
import KeycloakRepresentations
import KeyportDockerV2
import KeyportEvents
import KeyportHTTP
import KeyportModel
import KeyportStore
import KeyportTokens

/// The account API's sessions (Keycloak's `/account/sessions`), the identity tokens `docker
/// login` left on machines, and the registries the user may use (both Keyport's). A user sees
/// and ends only its own; every list is bounded by the per-user limits of what it lists.
extension AccountController {
    /// At most this many of a user's online sessions are listed (a user holds at most
    /// `Session.limitPerUserAndClient` per client, `BrowserSession.limitPerUser` browsers).
    static let listLimit = 500

    func addSessionRoutes(to router: Router<KeyportRequestContext>) {
        let sessions = router.group("/realms/{realm}/account/sessions")
        sessions.get { request, context in
            let (realm, user, claims) = try await caller(request, context)
            return try JSONBody.response(try await signInSessions(of: user, realm: realm, current: claims.sid))
        }
        sessions.delete { request, context in
            let (realm, user, claims) = try await caller(request, context)
            // Keycloak's rule: every other session; this one too with `current=true`.
            let current = FormParameters.query(of: request)["current"]
            guard current == nil || current == "true" || current == "false" else { throw OAuthError.invalidRequest("current must be true or false") }
            let ended = try await endAll(of: user, realm: realm, keeping: current == "true" ? nil : claims.sid)
            recordLogout(realm: realm, user: user, claims: claims, count: ended, context: context)
            return Response(status: .noContent)
        }
        sessions.delete("{session}") { request, context in
            let (realm, user, claims) = try await caller(request, context)
            let id = context.pathParameter("session") ?? ""
            guard id.utf8.count <= 255, try await end(sessionId: id, of: user, realm: realm) else {
                throw OAuthError(.notFound, "not_found", "Session not found")
            }
            recordLogout(realm: realm, user: user, claims: claims, count: 1, context: context)
            return Response(status: .noContent)
        }

        let identityTokens = router.group("/realms/{realm}/account/identity-tokens")
        identityTokens.get { request, context in
            let (realm, user, _) = try await caller(request, context)
            let offline = try await store.sessions(realmId: realm.id, userId: user.id, clientId: nil, offline: true, page: Page(first: 0, max: Self.listLimit))
            // Offline sessions of registries only: an OIDC client's offline_access is not a docker login.
            var registries: [String: Client?] = [:]
            var list: [IdentityTokenRepresentation] = []
            for session in offline {
                if registries[session.clientId] == nil {
                    registries[session.clientId] = .some(try await store.client(id: session.clientId, realmId: realm.id).flatMap { $0.protocolName == .dockerV2 ? $0 : nil })
                }
                guard let client = registries[session.clientId] ?? nil else { continue }
                list.append(IdentityTokenRepresentation(session, clientId: client.clientId))
            }
            return try JSONBody.response(list.sorted { ($0.lastUsedAt, $0.id) > ($1.lastUsedAt, $1.id) })
        }
        identityTokens.delete("{session}") { request, context in
            let (realm, user, _) = try await caller(request, context)
            let id = context.pathParameter("session") ?? ""
            guard id.utf8.count <= 255, let session = try await store.session(id: id, realmId: realm.id), session.offline, session.userId == user.id,
                  let client = try await store.client(id: session.clientId, realmId: realm.id), client.protocolName == .dockerV2,
                  try await store.deleteSession(id: session.id, realmId: realm.id) else {
                throw OAuthError(.notFound, "not_found", "Identity token not found")
            }
            events?.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: tokens.environment.now(), type: "REVOKE_GRANT",
                                 clientId: client.clientId, userId: user.id, ipAddress: context.clientAddress, error: nil,
                                 details: ["username": user.username, "revoked_by": user.username, "revoked_sessions": "1"]),
                           in: realm)
            return Response(status: .noContent)
        }

        router.get("/realms/{realm}/account/registries") { request, context in
            let (realm, user, _) = try await caller(request, context)
            return try JSONBody.response(try await registries(of: user, realm: realm))
        }
    }

    /// The user's sign-in sessions: each browser session with the clients it signed in, and each
    /// session a password grant started (no browser), newest first.
    func signInSessions(of user: User, realm: Realm, current: String?) async throws -> [AccountSessionRepresentation] {
        let online = try await store.sessions(realmId: realm.id, userId: user.id, clientId: nil, offline: false, page: Page(first: 0, max: Self.listLimit))
        var names: [String: Client] = [:]
        func client(_ id: String) async throws -> AccountSessionRepresentation.SignedIn? {
            if names[id] == nil { names[id] = try await store.client(id: id, realmId: realm.id) }
            return names[id].map { .init(clientId: $0.clientId, clientName: $0.name ?? $0.clientId) }
        }
        var list: [AccountSessionRepresentation] = []
        for browser in try await store.browserSessions(userId: user.id, realmId: realm.id) {
            var signedIn: [AccountSessionRepresentation.SignedIn] = []
            for session in online where session.browserSessionId == browser.id {
                if let named = try await client(session.clientId), !signedIn.contains(named) { signedIn.append(named) }
            }
            list.append(AccountSessionRepresentation(id: browser.id, ipAddress: browser.ipAddress, started: browser.authTime, lastAccess: browser.lastSeen,
                                                     expires: browser.end(in: realm), clients: signedIn, current: browser.id == current))
        }
        for session in online where session.browserSessionId == nil {
            list.append(AccountSessionRepresentation(id: session.id, ipAddress: session.ipAddress, started: session.createdAt, lastAccess: session.lastRefresh,
                                                     expires: session.expiresAt, clients: [try await client(session.clientId)].compactMap { $0 },
                                                     current: session.id == current))
        }
        return list.sorted { ($0.lastAccess, $0.id) > ($1.lastAccess, $1.id) }
    }

    /// Ends every sign-in session of the user but `keeping` (the caller's `sid`, nil for all):
    /// the browsers' (at most `BrowserSession.limitPerUser`, their back-channel logouts a few at
    /// a time), then the password grants', page by page until none is left. How many ended.
    func endAll(of user: User, realm: Realm, keeping current: String?) async throws -> Int {
        let browsers = try await store.browserSessions(userId: user.id, realmId: realm.id).filter { $0.id != current }
        var ended = 0
        let logout = BackChannelLogout(tokens: tokens)
        for batch in stride(from: 0, to: browsers.count, by: 8).map({ Array(browsers[$0..<min($0 + 8, browsers.count)]) }) {
            ended += try await withThrowingTaskGroup(of: Bool.self) { group in
                for browser in batch { group.addTask { try await logout.end(browser, realm: realm) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        // Sessions of no browser (password grants); a user holds at most 100 per client, so the
        // pages are bounded, and each pass deletes what it read.
        for _ in 0..<100 {
            let page = try await store.sessions(realmId: realm.id, userId: user.id, clientId: nil, offline: false, page: Page(first: 0, max: Self.listLimit))
            let doomed = page.filter { $0.id != current && ($0.browserSessionId == nil || $0.browserSessionId != current) }
            if doomed.isEmpty { break }
            for session in doomed where try await store.deleteSession(id: session.id, realmId: realm.id) { ended += 1 }
        }
        return ended
    }

    /// Keycloak's `LOGOUT`, for sessions the user ended from the account API (a takeover that
    /// signs the owner out leaves a trace).
    func recordLogout(realm: Realm, user: User, claims: AccessTokenClaims, count: Int, context: KeyportRequestContext) {
        guard count > 0 else { return }
        events?.record(Event(id: tokens.environment.newID(), realmId: realm.id, time: tokens.environment.now(), type: "LOGOUT",
                             clientId: claims.azp, userId: user.id, ipAddress: context.clientAddress, error: nil,
                             details: ["username": user.username, "ended_by": "account", "ended_sessions": String(count)]),
                       in: realm)
    }

    /// Ends one of the user's sign-in sessions: a browser's (with back-channel logout to the
    /// clients it signed in) or a password grant's. False when it is not the user's, or gone.
    func end(sessionId id: String, of user: User, realm: Realm) async throws -> Bool {
        if let browser = try await store.browserSession(id: id, realmId: realm.id) {
            guard browser.userId == user.id else { return false }
            return try await BackChannelLogout(tokens: tokens).end(browser, realm: realm)
        }
        guard let session = try await store.session(id: id, realmId: realm.id), !session.offline, session.userId == user.id else { return false }
        return try await store.deleteSession(id: session.id, realmId: realm.id)
    }

    /// The realm's registries (enabled docker-v2 clients) where the user's roles grant something,
    /// or that let every signed-in user do anything; none while the realm's docker-v2 is off.
    func registries(of user: User, realm: Realm) async throws -> [AccountRegistryRepresentation] {
        guard realm.dockerV2Enabled else { return [] }
        // Every client of the realm, a page at a time (a realm holds at most tens of thousands).
        var clients: [Client] = []
        for first in stride(from: 0, to: 50_000, by: 1000) {
            let page = try await store.clients(realmId: realm.id, page: Page(first: first, max: 1000))
            clients += page.filter { $0.protocolName == .dockerV2 && $0.enabled }
            if page.count < 1000 { break }
        }
        guard !clients.isEmpty else { return [] }
        let roles = Dictionary(grouping: try await store.effectiveRoles(userId: user.id, realmId: realm.id).filter { $0.clientId != nil }, by: { $0.clientId! })
        var list: [AccountRegistryRepresentation] = []
        for client in clients {
            let settings = DockerClientSettings(client)
            let grants = (roles[client.id] ?? []).sorted { $0.name < $1.name }
                .flatMap { ($0.attributes[RegistryGrant.attribute] ?? []).prefix(RegistryGrant.maxPerHolder) }
            guard settings.authorization == .allowAll || !grants.isEmpty else { continue }
            list.append(AccountRegistryRepresentation(client: client.clientId, name: client.name, authorization: settings.authorization.rawValue,
                                                      grants: Array(grants.prefix(500)), identityTokens: settings.identityTokens))
        }
        return list
    }
}
