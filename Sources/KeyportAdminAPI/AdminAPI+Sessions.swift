import Hummingbird
import KeyportAuth
import KeycloakRepresentations
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportStore

/// Keycloak's session resources, for the sessions behind docker-v2 identity tokens (offline
/// sessions) and OIDC refresh tokens: list a user's offline sessions of a client, revoke them all
/// (Keycloak's "revoke consent"), or end one. Listing needs `view-users`, ending `manage-users`.
extension AdminAPI {
    func addSessionRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms/{realm}/users/{id}/offline-sessions/{clientUuid}", use: listOfflineSessions)
        // Keycloak's path names the client by its clientId here, not its internal id.
        admin.delete("realms/{realm}/users/{id}/consents/{clientId}", use: revokeConsent)
        admin.delete("realms/{realm}/sessions/{session}", use: deleteSession)
        admin.get("realms/{realm}/users/{id}/sessions", use: listUserSessions)
        admin.get("realms/{realm}/users/{id}/offline-sessions", use: listUserOfflineSessions)
        admin.get("realms/{realm}/users/{id}/consents", use: listConsents)
        admin.get("realms/{realm}/clients/{id}/user-sessions") { request, context in try await listClientSessions(request, context, offline: false) }
        admin.get("realms/{realm}/clients/{id}/offline-sessions") { request, context in try await listClientSessions(request, context, offline: true) }
        admin.get("realms/{realm}/client-session-stats", use: clientSessionStats)
    }

    /// Sessions as Keycloak shows them, each with its user and client by name (looked up once each).
    /// The sessions a browser sign-in started are one user session (the browser's, Keycloak's
    /// model), with every client they signed in.
    func sessionRepresentations(_ sessions: [Session], realm: Realm) async throws -> [UserSessionRepresentation] {
        var users: [String: User] = [:], clients: [String: String] = [:]
        var list: [UserSessionRepresentation] = []
        var browserIndex: [String: Int] = [:]
        for session in sessions {
            if users[session.userId] == nil { users[session.userId] = try await store.user(id: session.userId, realmId: realm.id) }
            if clients[session.clientId] == nil { clients[session.clientId] = try await store.client(id: session.clientId, realmId: realm.id)?.clientId ?? "" }
            guard let user = users[session.userId] else { continue }
            var representation = UserSessionRepresentation(session, user: user, clientId: clients[session.clientId] ?? "")
            if let browser = session.browserSessionId {
                if let index = browserIndex[browser] {
                    list[index].clients[session.clientId] = clients[session.clientId] ?? ""
                    list[index].lastAccess = max(list[index].lastAccess, representation.lastAccess)
                    continue
                }
                representation.id = browser
                browserIndex[browser] = list.count
            }
            list.append(representation)
        }
        return list
    }

    /// Ends a browser session as the server was told to (back-channel logout), or deletes it.
    func endBrowserSession(_ session: BrowserSession, realm: Realm) async throws -> Bool {
        if let end = extensions.endBrowserSession { return try await end(realm, session) }
        return try await store.deleteBrowserSession(id: session.id, realmId: realm.id)
    }

    /// Keycloak's `REVOKE_GRANT`: the user's identity tokens for `client` were revoked by an administrator.
    func recordRevocation(realm: Realm, user: User, client: Client, count: Int, caller: AdminPrincipal, context: KeyportRequestContext) {
        events.record(Event(id: environment.newID(), realmId: realm.id, time: environment.now(), type: "REVOKE_GRANT",
                            clientId: client.clientId, userId: user.id, ipAddress: context.clientAddress, error: nil,
                            details: ["username": user.username, "revoked_by": String(caller.user.username.prefix(255)),
                                      "revoked_sessions": String(count)]),
                      in: realm)
    }
}

// MARK: Handlers

extension AdminAPI {
    func listOfflineSessions(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let client = try await clientInPath(context, realm: realm, parameter: "clientUuid")
        let sessions = try await store.sessions(userId: user.id, clientId: client.id, realmId: realm.id, offline: true)
        return try JSONBody.response(sessions.map { UserSessionRepresentation($0, user: user, clientId: client.clientId) })
    }

    func revokeConsent(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, user) = try await userInPath(request, context, .manageUsers)
        let clientId = context.pathParameter("clientId") ?? ""
        guard clientId.utf8.count <= 255, let client = try await store.client(clientId: clientId, realmId: realm.id) else {
            throw AdminError.notFound("Client not found")
        }
        let revoked = try await store.deleteSessions(userId: user.id, clientId: client.id, realmId: realm.id, offline: true)
        guard revoked > 0 else { throw AdminError.notFound("Consent nor offline token not found") }
        recordRevocation(realm: realm, user: user, client: client, count: revoked, caller: caller, context: context)
        return noContent
    }

    func deleteSession(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageUsers)
        let offline = try bool(request, "isOffline") ?? false
        let id = context.pathParameter("session") ?? ""
        guard id.utf8.count <= 255 else { throw AdminError.notFound("Session not found") }
        // A browser's session (Keycloak's user session): it ends with everything it signed in.
        if !offline, let browser = try await store.browserSession(id: id, realmId: realm.id) {
            if let owner = try await store.user(id: browser.userId, realmId: realm.id) { try await requireMayActOn(owner, caller: caller, realm: realm) }
            guard try await endBrowserSession(browser, realm: realm) else { throw AdminError.notFound("Session not found") }
            return noContent
        }
        guard let session = try await store.session(id: id, realmId: realm.id), session.offline == offline else {
            throw AdminError.notFound("Session not found")
        }
        if let owner = try await store.user(id: session.userId, realmId: realm.id) {
            try await requireMayActOn(owner, caller: caller, realm: realm)
        }
        // Gone already (a concurrent revocation) is the same answer as never there.
        guard try await store.deleteSession(id: session.id, realmId: realm.id) else {
            throw AdminError.notFound("Session not found")
        }
        if offline, let user = try await store.user(id: session.userId, realmId: realm.id),
           let client = try await store.client(id: session.clientId, realmId: realm.id) {
            recordRevocation(realm: realm, user: user, client: client, count: 1, caller: caller, context: context)
        }
        return noContent
    }

    /// `GET users/{id}/sessions`: the user's online sessions (refresh tokens), paged.
    func listUserSessions(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let page = try page(request)
        let sessions = try await store.sessions(realmId: realm.id, userId: user.id, clientId: nil, offline: false, page: page)
        var list = try await sessionRepresentations(sessions, realm: realm)
        // A browser signed in that has not yet been used by any client is a session too.
        if page.first == 0 {
            for browser in try await store.browserSessions(userId: user.id, realmId: realm.id) where !list.contains(where: { $0.id == browser.id }) {
                list.append(UserSessionRepresentation(browser, user: user))
            }
        }
        return try JSONBody.response(list)
    }

    /// `GET users/{id}/offline-sessions`: the user's offline sessions (identity tokens) with every client, paged.
    func listUserOfflineSessions(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let sessions = try await store.sessions(realmId: realm.id, userId: user.id, clientId: nil, offline: true, page: try page(request))
        return try JSONBody.response(try await sessionRepresentations(sessions, realm: realm))
    }

    /// `GET users/{id}/consents`: Keycloak lists, per client, what the user granted it; Keyport
    /// has no consent screen, so what remains is Keycloak's other entry, the offline tokens.
    func listConsents(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let sessions = try await store.sessions(realmId: realm.id, userId: user.id, clientId: nil, offline: true, page: Page(first: 0, max: 10_000))
        var byClient: [String: (first: Timestamp, last: Timestamp)] = [:]
        for session in sessions {
            let seen = byClient[session.clientId]
            byClient[session.clientId] = (min(seen?.first ?? session.createdAt, session.createdAt), max(seen?.last ?? session.lastRefresh, session.lastRefresh))
        }
        var consents: [JSONValue] = []
        for (clientId, times) in byClient.sorted(by: { $0.key < $1.key }) {
            guard let client = try await store.client(id: clientId, realmId: realm.id) else { continue }
            consents.append(["clientId": .string(client.clientId), "grantedClientScopes": [],
                             "createdDate": .number(Double(times.first.millisecondsSince1970)),
                             "lastUpdatedDate": .number(Double(times.last.millisecondsSince1970)),
                             "additionalGrants": [["client": "Offline Token", "key": "Offline Token"]]])
        }
        return try JSONBody.response(JSONValue.array(consents))
    }

    /// `GET clients/{id}/user-sessions` and `…/offline-sessions`: the client's sessions, paged;
    /// they name users, so the caller needs view-users as well as view-clients.
    func listClientSessions(_ request: Request, _ context: KeyportRequestContext, offline: Bool) async throws -> Response {
        let (caller, realm, client) = try await clientInPath(request, context, .viewClients)
        guard caller.may(.viewUsers, in: realm) else { throw AdminError.forbidden }
        let sessions = try await store.sessions(realmId: realm.id, userId: nil, clientId: client.id, offline: offline, page: try page(request))
        return try JSONBody.response(try await sessionRepresentations(sessions, realm: realm))
    }

    /// Keycloak's client session statistics: per client with any session, its active and offline
    /// session counts, as strings (Keycloak's shape). Needs `view-realm`, as in Keycloak.
    func clientSessionStats(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewRealm)
        let counts = try await store.sessionCountsByClient(realmId: realm.id, now: environment.now(), limit: Self.clientSessionStatsLimit)
        var stats: [[String: String]] = []
        for count in counts where count.active > 0 || count.offline > 0 {
            guard let client = try await store.client(id: count.clientId, realmId: realm.id) else { continue }
            stats.append(["id": client.id, "clientId": client.clientId, "active": String(count.active), "offline": String(count.offline)])
        }
        return try JSONBody.response(stats)
    }

    /// The statistics name at most this many clients, so the answer stays bounded however many hold sessions.
    static let clientSessionStatsLimit = 10_000
}
