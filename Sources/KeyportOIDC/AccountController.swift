import Hummingbird
import KeycloakRepresentations
import KeyportAccessTokens
import KeyportAuth
import KeyportEvents
import KeyportHTTP
import KeyportModel
import KeyportStore
import KeyportTokens

/// Self-service at `/realms/{realm}/account/…`, in the style of Keycloak's account REST API: a
/// user manages its own personal access tokens, identity tokens and sign-in sessions with its
/// own OIDC access token, without any administration role. Only tokens the realm's own
/// first-party clients obtained are accepted (`account-console`, `account`, `admin-cli`, as
/// Keycloak accepts only tokens meant for its account client): an application the user signed
/// in to holds the user's token too, and must not be able to mint registry credentials or end
/// sessions with it. A token of another realm is not accepted here.
public struct AccountController: Sendable {
    let store: any IdentityStore
    let tokens: TokenService
    let events: EventRecorder?

    public init(store: any IdentityStore, tokens: TokenService, events: EventRecorder? = nil) {
        self.store = store
        self.tokens = tokens
        self.events = events
    }

    /// The clients whose tokens may call the account API.
    static let accountClients: Set<String> = [BuiltInRoles.accountConsoleClient, BuiltInRoles.accountClient, BuiltInRoles.adminCLIClient]

    var personalAccessTokens: PersonalAccessTokens { PersonalAccessTokens(store: store, environment: tokens.environment) }

    public func addRoutes(to router: Router<KeyportRequestContext>) {
        let account = router.group("/realms/{realm}/account/personal-access-tokens")
        account.get { request, context in
            let (realm, user, _) = try await caller(request, context)
            // Paged as the admin API (`first`, `max`); a user holds at most `limitPerUser` anyway.
            let query = FormParameters.query(of: request)
            guard let first = Int(query["first"] ?? "0"), first >= 0, let max = Int(query["max"] ?? "100"), max >= 0 else {
                throw OAuthError.invalidRequest("first and max must be non-negative integers")
            }
            let all = try await answer { try await personalAccessTokens.list(owner: user, realm: realm) }
            return try JSONBody.response(Array(all.dropFirst(first).prefix(max)))
        }
        account.post { request, context in
            let (realm, user, _) = try await caller(request, context, forNewCredential: true)
            let body: PersonalAccessTokenRepresentation
            do { body = try await JSONBody.decode(PersonalAccessTokenRepresentation.self, from: request, context: context) } catch let error as BadInput {
                throw OAuthError.invalidRequest(error.message)
            }
            let made = try await answer { try await personalAccessTokens.create(body, owner: user, realm: realm, origin: .account) }
            return try JSONBody.response(made, status: .created)
        }
        account.get("{tokenId}") { request, context in
            let (realm, user, _) = try await caller(request, context)
            let id = context.pathParameter("tokenId") ?? ""
            return try JSONBody.response(try await answer { try await personalAccessTokens.get(id: id, owner: user, realm: realm) })
        }
        account.delete("{tokenId}") { request, context in
            let (realm, user, _) = try await caller(request, context)
            let id = context.pathParameter("tokenId") ?? ""
            try await answer { try await personalAccessTokens.revoke(id: id, owner: user, realm: realm) }
            return Response(status: .noContent)
        }
        addSessionRoutes(to: router)
    }

    /// The realm in the path and the user whose access token of that realm is presented.
    /// `forNewCredential`: the token must come from a person's own password login (not a
    /// service account's `client_credentials`) made within `PersonalAccessTokens.recentLoginSeconds` (RFC 9470's
    /// step-up answer otherwise).
    func caller(_ request: Request, _ context: KeyportRequestContext, forNewCredential: Bool = false) async throws -> (Realm, User, AccessTokenClaims) {
        guard let name = context.pathParameter("realm"), name.utf8.count <= 255, let realm = try await store.realm(named: name), realm.enabled else {
            throw OAuthError.realmNotFound
        }
        guard let bearer = BearerToken.from(request) else {
            throw OAuthError(.unauthorized, "invalid_token", "A bearer access token of realm '\(realm.name)' is required",
                             headers: [.wwwAuthenticate: "Bearer realm=\"\(realm.name)\""])
        }
        let verified: VerifiedToken
        do { verified = try await tokens.verifyAccessToken(bearer) } catch is VerificationFailure { throw OAuthError.invalidToken() }
        guard verified.realm.id == realm.id else { throw OAuthError.invalidToken("The token is not of realm '\(realm.name)'") }
        guard verified.user.enabled else { throw OAuthError.invalidToken() }
        guard Self.accountClients.contains(verified.claims.azp) else {
            throw OAuthError(.forbidden, "access_denied",
                             "The account API takes tokens of the account console (or admin-cli), not of client '\(String(verified.claims.azp.prefix(80)))'")
        }
        if forNewCredential {
            guard verified.user.serviceAccountClientId == nil else {
                throw OAuthError(.forbidden, "access_denied",
                                 "A service account cannot make personal access tokens for itself: an administrator makes them (admin API)")
            }
            let recent = PersonalAccessTokens.recentLoginSeconds
            guard PersonalAccessTokens.isRecentLogin(at: verified.claims.auth_time.map { Timestamp(secondsSince1970: $0) },
                                                     now: tokens.environment.now()) else {
                let message = "Log in again with your password: a personal access token needs a login of the last \(recent / 60) minutes"
                throw OAuthError(.unauthorized, "insufficient_user_authentication", message, headers: [
                    .wwwAuthenticate: "Bearer realm=\"\(realm.name)\", error=\"insufficient_user_authentication\", error_description=\"\(message)\", max_age=\(recent)",
                ])
            }
        }
        return (realm, verified.user, verified.claims)
    }

    /// The account API's answers for what the token rules and the store refuse.
    @discardableResult
    func answer<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let invalid as PersonalAccessTokens.Invalid {
            throw OAuthError.invalidRequest(invalid.description)
        } catch StoreError.notFound {
            throw OAuthError(.notFound, "not_found", "Personal access token not found")
        } catch StoreError.conflict(let rule) {
            throw OAuthError(.conflict, "conflict", rule == .tokenLimit
                ? "You already hold the most personal access tokens allowed (\(PersonalAccessToken.limitPerUser)); revoke one first"
                : "You already have a personal access token with this name")
        }
    }
}
