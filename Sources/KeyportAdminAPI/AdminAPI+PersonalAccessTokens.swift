import Hummingbird
import KeycloakRepresentations
import KeyportAccessTokens
import KeyportAuth
import KeyportHTTP
import KeyportModel
import KeyportStore

/// A user's personal access tokens (Keyport's, for registry clients): `manage-users` makes and
/// revokes them for anyone in the realm, `view-users` lists them. The secret is in the answer
/// to the creation only. Users manage their own through the account API.
extension AdminAPI {
    var personalAccessTokens: PersonalAccessTokens { PersonalAccessTokens(store: store, environment: environment) }

    func addPersonalAccessTokenRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        let tokens = admin.group("realms/{realm}/users/{id}/personal-access-tokens")
        tokens.get(use: listPersonalAccessTokens)
        tokens.post(use: createPersonalAccessToken)
        tokens.get("{tokenId}", use: getPersonalAccessToken)
        tokens.delete("{tokenId}", use: deletePersonalAccessToken)
    }
}

// MARK: Handlers

extension AdminAPI {
    func listPersonalAccessTokens(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let page = try page(request)
        let all = try await personalAccessTokens.list(owner: user, realm: realm)
        return try JSONBody.response(Array(all.dropFirst(page.first).prefix(page.max)))
    }

    func createPersonalAccessToken(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, user) = try await userInPath(request, context, .manageUsers)
        // For oneself, the admin API is self-service by another door: the same rules as the
        // account API (a person's recent login; the token ends with the password), or a
        // stolen or stale admin token would mint a credential that outlives a reset.
        var origin = PersonalAccessToken.Origin.admin
        if user.id == caller.user.id && realm.id == caller.realm.id {
            guard user.serviceAccountClientId == nil,
                  PersonalAccessTokens.isRecentLogin(at: context.caller?.authTime, now: environment.now()) else {
                throw AdminError(.forbidden, "A personal access token for yourself needs a login with your password of the last \(PersonalAccessTokens.recentLoginSeconds / 60) minutes")
            }
            origin = .account
        }
        let body = try await decode(PersonalAccessTokenRepresentation.self, request, context)
        let made = try await personalAccessTokens.create(body, owner: user, realm: realm, origin: origin)
        // 201 with the Location, as every creation; the body too, because the secret is shown only now.
        var headers: HTTPFields = [:]
        headers[.location] = created(request, made.id ?? "").headers[.location]
        return try JSONBody.response(made, status: .created, headers: headers)
    }

    func getPersonalAccessToken(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let id = context.pathParameter("tokenId") ?? ""
        return try JSONBody.response(try await personalAccessTokens.get(id: id, owner: user, realm: realm))
    }

    func deletePersonalAccessToken(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .manageUsers)
        let id = context.pathParameter("tokenId") ?? ""
        try await personalAccessTokens.revoke(id: id, owner: user, realm: realm)
        return noContent
    }
}
