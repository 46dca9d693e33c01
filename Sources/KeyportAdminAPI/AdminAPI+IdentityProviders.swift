import Foundation
import Hummingbird
import KeycloakRepresentations
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportProvisioning
import KeyportStore

/// Keycloak's identity providers (`identity-provider/instances`, by alias): reading needs
/// view-identity-providers (or view-realm), changing manage-identity-providers, as in Keycloak.
///
/// Beyond Keycloak: a provider that vouches for clients (`supportsClientAssertions`) decides
/// which outside tokens authenticate federated clients — the power of setting those clients'
/// credentials. Creating one, or changing its issuer, keys, URLs, alias or switching it on,
/// needs manage-clients as well, so manage-identity-providers alone cannot become a service
/// account. The stored `clientSecret` is never answered, and is never kept across a change of
/// where it would be sent (`Provisioning.merge`).
extension AdminAPI {
    func addIdentityProviderRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        let providers = admin.group("realms/{realm}/identity-provider")
        providers.get("instances", use: listIdentityProviders)
        providers.post("instances", use: createIdentityProvider)
        providers.get("instances/{alias}", use: getIdentityProvider)
        providers.put("instances/{alias}", use: updateIdentityProvider)
        providers.delete("instances/{alias}", use: deleteIdentityProvider)
        providers.get("providers/{providerId}", use: getIdentityProviderFactory)
    }

    func identityProviderInPath(_ request: Request, _ context: KeyportRequestContext,
                                _ permission: AdminPermission) async throws -> (AdminPrincipal, Realm, IdentityProvider) {
        let (caller, realm) = try await authorize(request, context, permission)
        guard let alias = context.pathParameter("alias"), alias.utf8.count <= 255,
              let provider = try await store.identityProvider(alias: alias, realmId: realm.id)
        else { throw AdminError.notFound("Could not find identity provider") }
        return (caller, realm, provider)
    }

    /// The extra rule above, as a pure check of the provider before and after.
    static func requireMayChangeTrust(before: IdentityProvider?, after: IdentityProvider, caller: AdminPrincipal, realm: Realm) throws {
        guard after.supportsClientAssertions, !caller.may(.manageClients, in: realm) else { return }
        let moved = before.map { before in
            before.alias != after.alias || !before.supportsClientAssertions || (!before.enabled && after.enabled)
                || Provisioning.identityProviderTrustKeys.contains { before.config[$0] != after.config[$0] }
        } ?? true
        if moved {
            throw AdminError(.forbidden, "A provider that supports client assertions decides which tokens authenticate federated clients: changing its trust needs manage-clients too")
        }
    }
}

// MARK: Handlers

extension AdminAPI {
    func listIdentityProviders(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewIdentityProviders)
        let query = FormParameters.query(of: request)
        var providers = try await store.identityProviders(realmId: realm.id)
        if let search = query["search"]?.replacingOccurrences(of: "*", with: ""), !search.isEmpty {
            providers = providers.filter { $0.alias.localizedCaseInsensitiveContains(search) || ($0.displayName ?? "").localizedCaseInsensitiveContains(search) }
        }
        let page = try page(request)
        return try JSONBody.response(Array(providers.dropFirst(page.first).prefix(page.max)).map { IdentityProviderRepresentation($0) })
    }

    func getIdentityProvider(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, _, provider) = try await identityProviderInPath(request, context, .viewIdentityProviders)
        return try JSONBody.response(IdentityProviderRepresentation(provider))
    }

    func createIdentityProvider(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageIdentityProviders)
        let rep = try await decode(IdentityProviderRepresentation.self, request, context)
        let provider = try provision { try provisioning.newIdentityProvider(rep, id: environment.newID(), realmId: realm.id) }
        try Self.requireMayChangeTrust(before: nil, after: provider, caller: caller, realm: realm)
        try await AdminError.naming(provider.alias) { try await store.apply([.createIdentityProvider(provider)]) }
        return created(request, provider.alias)
    }

    func updateIdentityProvider(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm, existing) = try await identityProviderInPath(request, context, .manageIdentityProviders)
        let rep = try await decode(IdentityProviderRepresentation.self, request, context)
        let provisioning = provisioning
        // People who sign in through it, and what its mappers grant, follow its trust.
        var preview = existing
        try provision { try provisioning.merge(rep, into: &preview) }
        if Provisioning.identityProviderTrustKeys.contains(where: { existing.config[$0] != preview.config[$0] }) {
            try await requireMayMoveSignInTrust(of: existing, caller: caller, realm: realm)
        }
        // Merged and checked inside the write, against the provider as it is there.
        try await AdminError.naming(rep.alias ?? existing.alias) {
            try await store.apply([.updateIdentityProvider(alias: existing.alias, realmId: realm.id) { provider in
                let before = provider
                try Validate.rule { try provisioning.merge(rep, into: &provider) }
                try Self.requireMayChangeTrust(before: before, after: provider, caller: caller, realm: realm)
            }])
        }
        return noContent
    }

    func deleteIdentityProvider(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm, provider) = try await identityProviderInPath(request, context, .manageIdentityProviders)
        try await store.apply([.deleteIdentityProvider(alias: provider.alias, realmId: realm.id)])
        return noContent
    }

    /// Keycloak's provider factory description, for the provider types Keyport implements.
    func getIdentityProviderFactory(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        _ = try await authorize(request, context, .viewIdentityProviders)
        let names = ["oidc": "OpenID Connect v1.0", "keycloak-oidc": "Keycloak OpenID Connect"]
        guard let id = context.pathParameter("providerId"), let name = names[id], IdentityProvider.supportedProviders.contains(id) else {
            throw AdminError.notFound("Could not find factory with id")
        }
        return try JSONBody.response(["id": JSONValue.string(id), "name": .string(name)])
    }
}
