import Foundation
import Hummingbird
import KeycloakRepresentations
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportOutboundHTTP
import KeyportProvisioning
import KeyportStore

/// What brokered sign-in adds to Keycloak's admin API: a provider's mappers
/// (`identity-provider/instances/{alias}/mappers`, `…/mapper-types`) and a user's links to
/// upstream accounts (`users/{id}/federated-identity`).
///
/// The grant rule reaches both. A mapper that grants a role or a group is made or changed only
/// by an admin who may make people hold it (`requireMayGrant`, as role mappings): otherwise
/// manage-identity-providers would hand itself realm-admin through its own upstream account. A
/// link is made or removed only by an admin who may act on that user (`requireMayActOn`): a link
/// is a way to sign in as them. And a provider's trust (issuer, keys, URLs) is moved only by an
/// admin who could grant what its mappers grant and act on everyone linked through it, since
/// whoever decides which tokens the provider accepts signs in as those people.
extension AdminAPI {
    func addBrokeringRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        let providers = admin.group("realms/{realm}/identity-provider/instances/{alias}")
        providers.get("mappers", use: listIdentityProviderMappers)
        providers.post("mappers", use: createIdentityProviderMapper)
        providers.get("mappers/{mapperId}", use: getIdentityProviderMapper)
        providers.put("mappers/{mapperId}", use: updateIdentityProviderMapper)
        providers.delete("mappers/{mapperId}", use: deleteIdentityProviderMapper)
        providers.get("mapper-types", use: listIdentityProviderMapperTypes)
        admin.post("realms/{realm}/identity-provider/import-config", use: importIdentityProviderConfig)
        let users = admin.group("realms/{realm}/users/{id}/federated-identity")
        users.get(use: listFederatedIdentities)
        users.post("{provider}", use: linkFederatedIdentity)
        users.delete("{provider}", use: unlinkFederatedIdentity)
    }

    /// What a mapper makes people hold, by the role or group it was saved with (`targetId`):
    /// its role, or its group's roles (and its ancestors').
    func rolesGranted(by mapper: IdentityProviderMapper, realm: Realm) async throws -> [Role] {
        guard let kind = mapper.kind, kind.grantsRoles, let id = mapper.targetId else { return [] }
        if kind.givesRole { return try await store.role(id: id, realmId: realm.id).map { [$0] } ?? [] }
        return try await rolesThroughGroup(id, realm: realm)
    }

    /// `mapper` with the role or group its config names fixed by id (400 when there is none).
    func pinned(_ mapper: IdentityProviderMapper) async throws -> IdentityProviderMapper {
        guard let kind = mapper.kind, kind.grantsRoles else { var m = mapper; m.targetId = nil; return m }
        guard let id = try await store.mapperTargetId(mapper) else {
            throw AdminError.badRequest(kind.givesRole ? "Role '\((mapper.config["role"] ?? "").prefix(80))' not found"
                                                      : "Group '\((mapper.config["group"] ?? "").prefix(80))' not found")
        }
        var m = mapper
        m.targetId = id
        return m
    }

    /// What every mapper of `provider` can make people hold (a link, or a move of its trust,
    /// decides who gets it).
    func rolesGranted(through provider: IdentityProvider, realm: Realm) async throws -> [Role] {
        var roles: [Role] = []
        for mapper in try await store.identityProviderMappers(providerId: provider.id, realmId: realm.id) {
            roles += try await rolesGranted(by: mapper, realm: realm)
        }
        return roles
    }

    /// Refuses (403) a link through `provider` (to any user) unless the caller could grant what
    /// its mappers grant: a linked account receives them at its next sign-in, from someone
    /// else's upstream claims if the link is wrong.
    func requireMayLink(through provider: IdentityProvider, caller: AdminPrincipal, realm: Realm) async throws {
        try await requireMayGrant(try await rolesGranted(through: provider, realm: realm), caller: caller, realm: realm)
    }

    /// Refuses (403) a move of `provider`'s trust unless the caller could grant what its
    /// mappers grant and may act on every user linked through it (at most 1,000 are checked;
    /// past that only the master realm's admin moves it).
    func requireMayMoveSignInTrust(of provider: IdentityProvider, caller: AdminPrincipal, realm: Realm) async throws {
        guard !caller.isMasterAdmin else { return }
        try await requireMayLink(through: provider, caller: caller, realm: realm)
        let limit = 1_000
        let linked = try await store.linkedUsers(providerId: provider.id, realmId: realm.id, limit: limit + 1)
        guard linked.count <= limit else {
            throw AdminError(.forbidden, "More than \(limit) users sign in through this provider: only the master realm's admin moves its trust")
        }
        for user in linked { try await requireMayActOn(user, caller: caller, realm: realm) }
    }
}

// MARK: A provider's discovery document

extension AdminAPI {
    /// Keycloak's `POST identity-provider/import-config` (`{"providerId": "oidc", "fromUrl": …}`):
    /// the provider's OpenID configuration read and answered as the config keys a provider
    /// needs. The URL is the administrator's; it is fetched through the bounded outbound client
    /// (5 s, 256 KiB, no redirects, the realm's share of slots), and only those keys come back.
    func importIdentityProviderConfig(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageIdentityProviders)
        let body = try await decode([String: JSONValue].self, request, context)
        if let type = body["providerId"]?.stringValue, !IdentityProvider.supportedProviders.contains(type) {
            throw AdminError.badRequest("Identity provider type '\(type.prefix(64))' is not supported")
        }
        guard let url = body["fromUrl"]?.stringValue, url.utf8.count <= 2_048, url.lowercased().hasPrefix("https://") || url.lowercased().hasPrefix("http://")
        else { throw AdminError.badRequest("fromUrl must be the provider's http(s) discovery URL") }
        let answer: OutboundHTTP.Answer
        switch await OutboundHTTP.shared.get(url: url, maxBody: 256 * 1024, partition: realm.id) {
        case .success(let a): answer = a
        case .failure(.busy): throw AdminError(.serviceUnavailable, "Too many outbound calls at once: try again")
        case .failure(.tooLarge): throw AdminError.badRequest("The discovery document is larger than 256 KiB")
        case .failure: throw AdminError.badRequest("Could not read \(url.prefix(200)): no answer")
        }
        guard answer.status == 200, let document = JSONValue.parse(String(decoding: answer.body, as: UTF8.self))?.objectValue else {
            throw AdminError.badRequest("\(url.prefix(200)) did not answer an OpenID configuration (HTTP \(answer.status))")
        }
        let keys = ["issuer": "issuer", "authorization_endpoint": "authorizationUrl", "token_endpoint": "tokenUrl",
                    "userinfo_endpoint": "userInfoUrl", "jwks_uri": "jwksUrl", "end_session_endpoint": "logoutUrl"]
        var config: [String: String] = [:]
        for (name, key) in keys {
            if let value = document[name]?.stringValue, value.utf8.count <= 2_048 { config[key] = value }
        }
        guard config["issuer"] != nil, config["authorizationUrl"] != nil, config["tokenUrl"] != nil else {
            throw AdminError.badRequest("\(url.prefix(200)) is not an OpenID configuration: issuer, authorization_endpoint and token_endpoint are required")
        }
        if config["jwksUrl"] != nil { config["useJwksUrl"] = "true"; config["validateSignature"] = "true" }
        return try JSONBody.response(config)
    }
}

// MARK: Mappers

extension AdminAPI {
    func listIdentityProviderMappers(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, provider) = try await identityProviderInPath(request, context, .viewIdentityProviders)
        let mappers = try await store.identityProviderMappers(providerId: provider.id, realmId: realm.id)
        var shown: [IdentityProviderMapperRepresentation] = []
        for mapper in mappers { shown.append(IdentityProviderMapperRepresentation(try await store.displayed(mapper), providerAlias: provider.alias)) }
        return try JSONBody.response(shown)
    }

    func mapperInPath(_ request: Request, _ context: KeyportRequestContext,
                      _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, IdentityProvider, IdentityProviderMapper) {
        let (caller, realm, provider) = try await identityProviderInPath(request, context, permission)
        guard let id = context.pathParameter("mapperId"), id.utf8.count <= 64,
              let mapper = try await store.identityProviderMapper(id: id, realmId: realm.id), mapper.providerId == provider.id
        else { throw AdminError.notFound("Model not found") }
        return (caller, realm, provider, mapper)
    }

    func getIdentityProviderMapper(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, _, provider, mapper) = try await mapperInPath(request, context, .viewIdentityProviders)
        return try JSONBody.response(IdentityProviderMapperRepresentation(try await store.displayed(mapper), providerAlias: provider.alias))
    }

    func createIdentityProviderMapper(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, provider) = try await identityProviderInPath(request, context, .manageIdentityProviders)
        let rep = try await decode(IdentityProviderMapperRepresentation.self, request, context)
        if let alias = rep.identityProviderAlias, alias != provider.alias {
            throw AdminError.badRequest("The mapper's identityProviderAlias is not the provider in the path")
        }
        let mapper = try await pinned(try provision {
            try provisioning.newIdentityProviderMapper(rep, id: environment.newID(), realmId: realm.id, providerId: provider.id)
        })
        try await requireMayGrant(try await rolesGranted(by: mapper, realm: realm), caller: caller, realm: realm)
        try await AdminError.naming(mapper.name) { try await store.apply([.createIdentityProviderMapper(mapper)]) }
        return created(request, mapper.id)
    }

    func updateIdentityProviderMapper(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, provider, existing) = try await mapperInPath(request, context, .manageIdentityProviders)
        let rep = try await decode(IdentityProviderMapperRepresentation.self, request, context)
        if let alias = rep.identityProviderAlias, alias != provider.alias {
            throw AdminError.badRequest("A mapper cannot move to another identity provider")
        }
        var changed = existing
        try provision { try provisioning.merge(rep, into: &changed) }
        // A new config (or type) names its role or group anew; otherwise it keeps the one it has.
        if rep.config != nil || changed.mapperType != existing.mapperType { changed = try await pinned(changed) }
        // What it grants after the change must be grantable, and what it granted before too
        // (changing a realm-admin mapper's claim condition decides who gets realm-admin).
        try await requireMayGrant(try await rolesGranted(by: changed, realm: realm), caller: caller, realm: realm)
        try await requireMayGrant((try? await rolesGranted(by: existing, realm: realm)) ?? [], caller: caller, realm: realm)
        let updated = changed
        try await AdminError.naming(updated.name) {
            try await store.apply([.updateIdentityProviderMapper(id: existing.id, realmId: realm.id) { mapper in
                guard mapper == existing else { throw StoreError.conflict(.concurrentChange) }
                mapper = updated
            }])
        }
        return noContent
    }

    func deleteIdentityProviderMapper(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, _, mapper) = try await mapperInPath(request, context, .manageIdentityProviders)
        // A mapper that runs at every sign-in takes back what it granted when it stops matching;
        // deleting it changes nobody's roles, but it is still the grant's own decision.
        try await requireMayGrant((try? await rolesGranted(by: mapper, realm: realm)) ?? [], caller: caller, realm: realm)
        try await store.apply([.deleteIdentityProviderMapper(id: mapper.id, realmId: realm.id)])
        return noContent
    }

    /// Keycloak's mapper types for the provider's type, as its admin console reads them: the
    /// ones Keyport implements, with their config properties.
    func listIdentityProviderMapperTypes(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        _ = try await identityProviderInPath(request, context, .viewIdentityProviders)
        func property(_ name: String, _ label: String, _ type: String = "String") -> JSONValue {
            .object(["name": .string(name), "label": .string(label), "type": .string(type), "secret": .bool(false), "readOnly": .bool(false)])
        }
        var sync = property("syncMode", "Sync mode override", "List")
        if case .object(var fields) = sync {
            fields["options"] = .array(["INHERIT", "IMPORT", "LEGACY", "FORCE"].map { .string($0) })
            fields["defaultValue"] = "INHERIT"
            sync = .object(fields)
        }
        let types: [(IdentityProviderMapper.Kind, String, String, [JSONValue])] = [
            (.hardcodedRole, "Hardcoded Role", "Role Importer", [sync, property("role", "Role", "Role")]),
            (.hardcodedGroup, "Hardcoded Group", "Group Importer", [sync, property("group", "Group", "Group")]),
            (.claimToRole, "Claim to Role", "Role Importer", [sync, property("claim", "Claim"), property("claim.value", "Claim Value"),
                                                              property("role", "Role", "Role")]),
            (.claimToGroup, "Advanced Claim to Group", "Group Importer", [sync, property("claims", "Claims", "ClaimsMap"),
                                                                          property("are.claim.values.regex", "Regex Claim Values", "boolean"),
                                                                          property("group", "Group", "Group")]),
            (.userAttribute, "Attribute Importer", "Attribute Importer", [sync, property("claim", "Claim"),
                                                                          property("user.attribute", "User Attribute Name")]),
        ]
        var answer: [String: JSONValue] = [:]
        for (kind, name, category, properties) in types {
            answer[kind.rawValue] = .object(["id": .string(kind.rawValue), "name": .string(name), "category": .string(category),
                                             "helpText": .string(""), "properties": .array(properties)])
        }
        return try JSONBody.response(JSONValue.object(answer))
    }
}

// MARK: Federated identities

extension AdminAPI {
    func listFederatedIdentities(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .viewUsers)
        let aliases = Dictionary(try await store.identityProviders(realmId: realm.id).map { ($0.id, $0.alias) }) { a, _ in a }
        let links = try await store.federatedIdentities(userId: user.id, realmId: realm.id)
        return try JSONBody.response(links.compactMap { link in aliases[link.providerId].map { FederatedIdentityRepresentation(link, providerAlias: $0) } })
    }

    func providerInPath(_ context: KeyportRequestContext, realm: Realm) async throws -> IdentityProvider {
        guard let alias = context.pathParameter("provider"), alias.utf8.count <= 255,
              let provider = try await store.identityProvider(alias: alias, realmId: realm.id)
        else { throw AdminError.notFound("Could not find identity provider") }
        return provider
    }

    /// Keycloak's `POST users/{id}/federated-identity/{provider}`: the user signs in through
    /// that provider's account `userId` from now on.
    func linkFederatedIdentity(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, user) = try await userInPath(request, context, .manageUsers)
        let provider = try await providerInPath(context, realm: realm)
        let rep = try await decode(FederatedIdentityRepresentation.self, request, context)
        guard user.serviceAccountClientId == nil else { throw AdminError.badRequest("A service account signs in with its client's credentials, not through a provider") }
        // The linked account gets what the provider's mappers give, from whoever signs in upstream.
        try await requireMayLink(through: provider, caller: caller, realm: realm)
        guard let upstream = rep.userId, (1...255).contains(upstream.utf8.count) else {
            throw AdminError.badRequest("userId (the account's subject at the provider) is required, 1 to 255 characters")
        }
        let name = rep.userName ?? upstream
        try Validate.rule { try ObjectRules.plain(upstream, what: "userId"); try ObjectRules.plain(name, what: "userName") }
        do {
            try await store.apply([.linkFederatedIdentity(FederatedIdentity(realmId: realm.id, providerId: provider.id, userId: user.id,
                                                                            upstreamUserId: upstream, upstreamUsername: String(name.prefix(255))))])
        } catch StoreError.conflict(.userAlreadyLinked) {
            throw AdminError(.conflict, "User is already linked with provider")
        } catch StoreError.conflict(.upstreamAccountLinked) {
            throw AdminError(.conflict, "The identity provider account is linked to another user")
        }
        return Response(status: .noContent)
    }

    func unlinkFederatedIdentity(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, user) = try await userInPath(request, context, .manageUsers)
        let provider = try await providerInPath(context, realm: realm)
        do {
            try await store.apply([.unlinkFederatedIdentity(userId: user.id, providerId: provider.id, realmId: realm.id)])
        } catch StoreError.notFound {
            throw AdminError.notFound("Link not found")
        }
        return noContent
    }
}
