import DockerV2Grammar
import KeyportJSON
import KeyportProvisioning
import KeyportRealmExchange
import Hummingbird
import KeyportAdminAPI
import KeyportAuth
import KeyportDockerV2
import KeyportHTTP
import KeyportModel
import KeyportStore

/// The docker-v2 protocol's checks and defaults for a client, for every door a client comes
/// through (the admin API and realm import share one `Provisioning`).
func dockerV2Provisioning(randomBytes: @escaping @Sendable (Int) -> [UInt8]) -> Provisioning {
    Provisioning(randomBytes: randomBytes, prepareClient: { client in
        do { try DockerClientSettings.prepare(&client) } catch let error as DockerClientSettings.Invalid { throw BadInput(error.description) }
    }, validateRoleAttributes: { attributes in
        do { try RegistryGrant.validate(attributes: attributes) } catch let error as RegistryGrant.Failure { throw BadInput(error.description) }
    })
}

/// What the docker-v2 protocol adds to the admin API: its installation files and the
/// "what would this user get" question.
func dockerV2AdminExtensions(installation: RegistryInstallation, authorizer: RegistryAuthorizer, store: any IdentityStore,
                              now: @escaping @Sendable () -> Timestamp) -> AdminExtensions {
    var providers: [String: AdminExtensions.InstallationProvider] = [:]
    for provider in RegistryInstallation.providers {
        providers[provider] = { realm, client in
            guard let file = try await installation.file(provider: provider, realm: realm, client: client) else {
                throw AdminError.badRequest("The \(provider) installation is for docker-v2 clients; \(client.clientId) is \(client.protocolName.rawValue)")
            }
            return Response(status: .ok, headers: [.contentType: file.contentType], body: .init(byteBuffer: ByteBuffer(string: file.body)))
        }
    }
    let access: AdminExtensions.ClientQuery = { request, realm, client in
        try await dockerV2Access(request: request, realm: realm, client: client, authorizer: authorizer, store: store, now: now())
    }
    let tokens: AdminExtensions.ClientQuery = { request, realm, client in
        try await dockerV2Tokens(request: request, realm: realm, client: client, store: store)
    }
    let matrix: AdminExtensions.ClientQuery = { request, realm, client in
        try await dockerV2Matrix(request: request, realm: realm, client: client, store: store)
    }
    let grantCheck: AdminExtensions.ClientQuery = { request, _, client in try dockerV2GrantCheck(request: request, client: client) }
    return AdminExtensions(
        installationProviders: providers,
        clientQueries: ["docker-v2-access": access, "docker-v2-tokens": tokens, "docker-v2-matrix": matrix, "docker-v2-grant-check": grantCheck])
}

/// `GET clients/{id}/docker-v2-access?username=U&scope=S…`: what `U` would be granted,
/// with the roles and grants behind it, without issuing a token (`kpadm docker access`, the
/// console's access tester): why a login would be refused (`refusals`), for each requested
/// resource the grants that allowed each action and the role carrying each (`decisions`), and
/// how the user holds each of those roles (`roleSources`).
func dockerV2Access(request: Request, realm: Realm, client: Client, authorizer: RegistryAuthorizer, store: any IdentityStore,
                    now: Timestamp) async throws -> Response {
    guard client.protocolName == .dockerV2 else { throw AdminError.badRequest("\(client.clientId) is not a docker-v2 client") }
    let query = FormParameters.query(of: request)
    guard let username = query["username"], !username.isEmpty else { throw AdminError.badRequest("Query parameter 'username' is required") }
    guard let user = try await store.user(username: username, realmId: realm.id) else { throw AdminError.notFound("User not found") }
    let requested: [ResourceScope]
    do { requested = try ScopeParser.parse(query.all("scope")) } catch { throw AdminError.badRequest(error.description) }
    let decision: RegistryAuthorizer.Decision
    do { decision = try await authorizer.decide(realm: realm, client: client, user: user, requested: requested) } catch let error as RegistryAuthorizer.TooMuchToMatch {
        throw AdminError.badRequest("The scopes ask for more matching than one token request may do (cost \(error.cost))")
    }
    let settings = DockerClientSettings(client)
    let refusals = try await loginRefusals(user: user, realm: realm, client: client, store: store, now: now)

    // Which grant (and which role carrying it) allows which requested action: the decision's
    // budget was checked above, and this matches the same pairs once more.
    var carried: [(grant: CompiledGrant, role: String?)] = []
    var clientRoles: [Role] = []
    if settings.authorization == .roles {
        clientRoles = try await store.effectiveRoles(userId: user.id, realmId: realm.id).filter { $0.clientId == client.id }
        for role in clientRoles {
            for text in (role.attributes[RegistryGrant.attribute] ?? []).prefix(RegistryGrant.maxPerHolder) {
                if let grant = try? RegistryGrant(parsing: text) { carried.append((grant.compiled(username: user.username), role.name)) }
            }
        }
    }
    carried += settings.anonymousGrants.map { ($0.compiled(username: user.username), nil) }
    var decisions: [JSONValue] = []
    for resource in requested {
        var reasons: [JSONValue] = []
        if settings.authorization == .allowAll {
            reasons.append(["grant": "allow-all", "role": .null, "actions": .array(resource.actions.map { .string($0) })])
        } else {
            for (grant, role) in carried {
                guard let allowed = RegistryAuthorizer.intersect([resource], grants: [grant]).access.first, !allowed.actions.isEmpty else { continue }
                reasons.append(["grant": .string(grant.grant.description), "role": role.map { .string($0) } ?? "(anonymous grants)",
                                "actions": .array(allowed.actions.map { .string($0) })])
            }
        }
        let granted = decision.access.first { $0.type == resource.type && $0.name == resource.name }?.actions ?? []
        decisions.append(["type": .string(resource.type), "name": .string(resource.name),
                          "requested": .array(resource.actions.map { .string($0) }), "granted": .array(granted.map { .string($0) }),
                          "because": .array(reasons)])
    }
    var sources: [String: JSONValue] = [:]
    if !clientRoles.isEmpty {
        let answer = try await RoleSources(store: store).of(user: user, realm: realm)
        for role in clientRoles { sources[role.name] = .array((answer.sources[role.id] ?? []).map { .string($0) }) }
    }
    let body: JSONValue = [
        "username": .string(user.username), "service": .string(client.clientId),
        "authorization": .string(settings.authorization.rawValue),
        "canLogIn": .bool(refusals.isEmpty), "refusals": .array(refusals.map { .string($0) }),
        "roles": .array(decision.roles.map { .string($0) }), "grants": .array(decision.grants.map { .string($0) }),
        "matchedGrants": .array(decision.matched.map { .string($0) }),
        "requested": try JSONValue.from(requested), "access": try JSONValue.from(decision.access),
        "decisions": .array(decisions), "roleSources": .object(sources),
    ]
    return try JSONBody.response(body)
}

/// Why `user` could not log in to `client`'s registry with a password now, in words an
/// administrator can act on; empty when it could.
func loginRefusals(user: User, realm: Realm, client: Client, store: any IdentityStore, now: Timestamp) async throws -> [String] {
    var refusals: [String] = []
    if !realm.enabled { refusals.append("realm \(realm.name) is disabled") }
    if !realm.dockerV2Enabled { refusals.append("docker-v2 is off for realm \(realm.name) (kpadm docker enable -r \(realm.name))") }
    if !client.enabled { refusals.append("client \(client.clientId) is disabled") }
    if !user.enabled { refusals.append("user \(user.username) is disabled") }
    if realm.bruteForce.enabled, let failures = try await store.loginFailures(userId: user.id, realmId: realm.id), failures.lockedUntil > now {
        refusals.append("user \(user.username) is locked for \(failures.lockedUntil.secondsSince1970 - now.secondsSince1970) more seconds after \(failures.numFailures) failed logins (attack-detection/brute-force/users/{id} clears it)")
    }
    if !user.requiredActions.isEmpty {
        refusals.append("user \(user.username) must first complete \(user.requiredActions.joined(separator: ", ")): password logins are refused until then")
    }
    return refusals
}

/// `GET clients/{id}/docker-v2-tokens?kind=personal-access-token|identity-token&username=U&first&max`:
/// the registry client's credentials across its users, oldest first — personal access tokens
/// (name, grants, expiry, last use) or the sessions behind identity tokens (start, last use,
/// end) — each with its owner, so one can be revoked (`DELETE users/{owner}/personal-access-tokens/{id}`,
/// `DELETE sessions/{id}?isOffline=true`). Never a secret. View-clients and view-users.
func dockerV2Tokens(request: Request, realm: Realm, client: Client, store: any IdentityStore) async throws -> Response {
    guard client.protocolName == .dockerV2 else { throw AdminError.badRequest("\(client.clientId) is not a docker-v2 client") }
    let query = FormParameters.query(of: request)
    let page = cappedPage(try AdminAPI.page(request, defaultMax: 50))
    var owner: User?
    if let username = query["username"], !username.isEmpty {
        guard let user = try await store.user(username: username, realmId: realm.id) else { throw AdminError.notFound("User not found") }
        owner = user
    }
    var users: [String: User] = [:]
    if let owner { users[owner.id] = owner }
    func username(_ id: String) async throws -> String {
        if users[id] == nil { users[id] = try await store.user(id: id, realmId: realm.id) }
        return users[id]?.username ?? ""
    }
    func millis(_ t: Timestamp?) -> JSONValue { t.map { .number(Double($0.millisecondsSince1970)) } ?? .null }
    var list: [JSONValue] = []
    switch query["kind"] ?? "personal-access-token" {
    case "personal-access-token":
        for token in try await store.personalAccessTokens(clientId: client.id, realmId: realm.id, userId: owner?.id, page: page) {
            list.append([
                "kind": "personal-access-token", "id": .string(token.id), "name": .string(token.name),
                "userId": .string(token.userId), "username": .string(try await username(token.userId)),
                "grants": token.grants.map { .array($0.map { .string($0) }) } ?? .null,
                "createdAt": millis(token.createdAt), "expiresAt": millis(token.end(in: realm)),
                "lastUsedAt": millis(token.lastUsedAt), "lastUsedIp": token.lastUsedIp.map { .string($0) } ?? .null,
                "origin": .string(token.origin.rawValue),
            ])
        }
    case "identity-token":
        for session in try await store.sessions(realmId: realm.id, userId: owner?.id, clientId: client.id, offline: true, page: page) {
            list.append([
                "kind": "identity-token", "id": .string(session.id),
                "userId": .string(session.userId), "username": .string(try await username(session.userId)),
                "createdAt": millis(session.createdAt), "expiresAt": millis(realm.offlineSessionEnd(start: session.createdAt, lastUse: session.lastRefresh)),
                "lastUsedAt": millis(session.lastRefresh), "lastUsedIp": session.ipAddress.map { .string($0) } ?? .null,
            ])
        }
    case let other:
        throw AdminError.badRequest("kind must be personal-access-token or identity-token, not '\(other.prefix(64))'")
    }
    return try JSONBody.response(JSONValue.array(list))
}

/// `GET clients/{id}/docker-v2-matrix?first&max`: who may do what where on a registry — one row
/// per role of the client that carries grants (by name, paged), each grant split into type,
/// pattern and actions, with who holds the role directly: users, groups and composite roles
/// (the first `matrixHolderSample` of each, and whether there are more; the access tester
/// answers for one user with every path). The client's anonymous grants are a row of their own.
/// View-clients and view-users.
func dockerV2Matrix(request: Request, realm: Realm, client: Client, store: any IdentityStore) async throws -> Response {
    guard client.protocolName == .dockerV2 else { throw AdminError.badRequest("\(client.clientId) is not a docker-v2 client") }
    let page = cappedPage(try AdminAPI.page(request, defaultMax: 50))
    let settings = DockerClientSettings(client)
    let actionRank = ["pull": 0, "push": 1, "delete": 2, "*": 3]
    func grants(_ values: [RegistryGrant]) -> JSONValue {
        .array(values.map { grant in
            ["grant": .string(grant.description), "type": .string(grant.type), "pattern": .string(grant.pattern.description),
             "actions": .array(grant.actions.sorted { (actionRank[$0] ?? 9, $0) < (actionRank[$1] ?? 9, $1) }.map { .string($0) })]
        })
    }
    let roleLimit = 10_000
    let roles = try await store.roles(realmId: realm.id, clientId: client.id, search: nil, page: Page(first: 0, max: roleLimit))
    let granting = roles.filter { !($0.attributes[RegistryGrant.attribute] ?? []).isEmpty }
    let sample = Page(first: 0, max: matrixHolderSample + 1)
    var clientIds: [String: String] = [:]
    var rows: [JSONValue] = []
    for role in granting.dropFirst(page.first).prefix(page.max) {
        let parsed = (role.attributes[RegistryGrant.attribute] ?? []).prefix(RegistryGrant.maxPerHolder).compactMap { try? RegistryGrant(parsing: $0) }
        let users = try await store.usersWithRole(roleId: role.id, realmId: realm.id, page: sample)
        let groups = try await store.groupsWithRole(roleId: role.id, realmId: realm.id, page: sample)
        let parents = try await store.compositeParents(of: role.id, realmId: realm.id, page: sample)
        var parentNames: [JSONValue] = []
        for parent in parents.prefix(matrixHolderSample) {
            if let owner = parent.clientId {
                if clientIds[owner] == nil { clientIds[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner }
                parentNames.append(.string("client role \(clientIds[owner] ?? owner) \(parent.name)"))
            } else {
                parentNames.append(.string("realm role \(parent.name)"))
            }
        }
        rows.append([
            "role": .string(role.name), "roleId": .string(role.id), "grants": grants(parsed),
            "users": .array(users.prefix(matrixHolderSample).map { .string($0.username) }), "moreUsers": .bool(users.count > matrixHolderSample),
            "groups": .array(groups.prefix(matrixHolderSample).map { .string($0.path) }), "moreGroups": .bool(groups.count > matrixHolderSample),
            "composites": .array(parentNames), "moreComposites": .bool(parents.count > matrixHolderSample),
        ])
    }
    let body: JSONValue = [
        "service": .string(client.clientId), "authorization": .string(settings.authorization.rawValue),
        "anonymous": grants(settings.anonymousGrants),
        "total": .number(Double(granting.count)), "truncated": .bool(roles.count >= roleLimit),
        "rows": .array(rows),
    ]
    return try JSONBody.response(body)
}

/// How many holders of each kind a matrix row names.
let matrixHolderSample = 20

/// `GET clients/{id}/docker-v2-grant-check?grant=G…`: the server's own parser on grants being
/// typed (the console checks as you type; saving checks again): for each, whether it parses and
/// what it means, or why not. At most `RegistryGrant.maxPerHolder` grants per question.
func dockerV2GrantCheck(request: Request, client: Client) throws -> Response {
    guard client.protocolName == .dockerV2 else { throw AdminError.badRequest("\(client.clientId) is not a docker-v2 client") }
    let grants = FormParameters.query(of: request).all("grant")
    guard grants.count <= RegistryGrant.maxPerHolder else { throw AdminError.badRequest("At most \(RegistryGrant.maxPerHolder) grants at once") }
    var answers: [JSONValue] = []
    for text in grants {
        do {
            let grant = try RegistryGrant(parsing: text)
            answers.append(["grant": .string(text), "valid": true, "type": .string(grant.type), "pattern": .string(grant.pattern.description),
                            "actions": .array(grant.actions.sorted().map { .string($0) })])
        } catch {
            answers.append(["grant": .string(text), "valid": false, "message": .string(error.description)])
        }
    }
    return try JSONBody.response(JSONValue.array(answers))
}

/// The registry views look up holders and owners row by row: at most 100 rows per answer.
func cappedPage(_ page: Page) -> Page { Page(first: page.first, max: min(page.max, 100)) }
