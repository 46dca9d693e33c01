import Foundation
import KeyportAuth
import KeyportJSON
import KeyportModel
import KeyportStore

/// What an OpenID Connect token carries, decided as Keycloak decides it: the client's default
/// client scopes always apply, its optional ones when the request's `scope` names them; the
/// roles the token may carry are the user's, narrowed by the client's and the applied scopes'
/// scope mappings unless the client has `fullScopeAllowed`; and the claims are what the applied
/// scopes' protocol mappers (and the client's own) put there. Docker-v2 registry tokens do not
/// come through here: a registry's grants read the user's roles (docs/authorization.md).
/// The scopes a token request ends up with, and the token's `scope` claim.
public struct TokenScopes: Sendable {
    public let applied: [ClientScope]
    /// `openid` when asked, then every applied scope that says it belongs in the claim.
    public let claim: String
    /// What to remember for a refresh: the names asked for that apply.
    public let requested: String
}

struct TokenContents: Sendable {
    let store: any IdentityStore
    let realms: RealmConfigurationCache

    /// Where claims go (Keycloak's per-mapper switches).
    enum Target { case accessToken, idToken, userInfo }

    /// `requested`: the `scope` parameter. An optional scope the client does not have is
    /// Keycloak's `invalid_scope`; `lenient` (a refresh, userinfo) drops such names instead,
    /// since the client's scopes may have changed since the session began.
    func scopes(client: Client, realm: Realm, requested: String?, lenient: Bool = false) async throws -> TokenScopes {
        let assigned = try await realms.clientScopes(ofClient: client.id, realm: realm)
        let names = (requested ?? "").split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard names.count <= 100 else { throw OAuthError(.badRequest, "invalid_scope", "Invalid scopes: too many") }
        var applied = assigned.filter(\.isDefault).map(\.scope)
        var kept: [String] = []
        let openid = names.contains("openid")
        for name in names where name != "openid" {
            guard let match = assigned.first(where: { $0.scope.name == name }) else {
                if lenient { continue }
                throw OAuthError(.badRequest, "invalid_scope", "Invalid scopes: \(String((requested ?? "").prefix(512)))")
            }
            if !applied.contains(where: { $0.id == match.scope.id }) { applied.append(match.scope) }
            if !kept.contains(name) { kept.append(name) }
        }
        let claimNames = applied.filter(\.includedInTokenScope).map(\.name)
        return TokenScopes(applied: applied, claim: ((openid ? ["openid"] : []) + claimNames).joined(separator: " "),
                      requested: ((openid ? ["openid"] : []) + kept).joined(separator: " "))
    }

    /// The user's effective roles the token may carry: all of them with `fullScopeAllowed`,
    /// else those the client's own scope mappings, its applied scopes' mappings (composites
    /// expanded) and its own roles allow.
    func roles(_ effective: [Role], client: Client, realm: Realm, applied: [ClientScope]) async throws -> [Role] {
        guard !client.fullScopeAllowed else { return effective }
        var allowed = try await store.scopeRoles(of: .client(client.id), realmId: realm.id)
        for scope in applied { allowed += try await store.scopeRoles(of: .clientScope(scope.id), realmId: realm.id) }
        let expanded = try await closure(of: allowed, realm: realm)
        return effective.filter { expanded.contains($0.id) || $0.clientId == client.id }
    }

    /// `roles` and every role they contain, transitively (at most 10,000).
    func closure(of roles: [Role], realm: Realm) async throws -> Set<String> {
        var seen = Set(roles.map(\.id))
        var queue = roles.map(\.id)
        while let id = queue.popLast(), seen.count < 10_000 {
            for child in try await store.composites(of: id, realmId: realm.id) where seen.insert(child.id).inserted { queue.append(child.id) }
        }
        return seen
    }

    /// Claims every token must keep as the server sets them: a mapper cannot replace them.
    static let reserved: Set<String> = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "typ", "azp", "sid", "auth_time", "scope",
                                        "session_state", "nonce"]

    /// The mappers' claims for `user` into `claims`, and the audiences they add.
    func applyMappers(_ mappers: [ProtocolMapper], into claims: inout [String: JSONValue], audiences: inout [String], target: Target,
                      user: User, roles: [Role], clientIdOf: [String: String], client: Client, realm: Realm) async throws {
        var groupPaths: [String]?
        for mapper in mappers where mapper.protocol == ClientProtocol.openIDConnect.rawValue && Self.included(mapper, in: target) {
            let config = mapper.config
            switch mapper.protocolMapper {
            case "oidc-usermodel-attribute-mapper":
                guard let attribute = config["user.attribute"] else { continue }
                let values: [String]
                switch attribute {
                case "username": values = [user.username]
                case "email": values = user.email.map { [$0] } ?? []
                case "firstName": values = user.firstName.map { [$0] } ?? []
                case "lastName": values = user.lastName.map { [$0] } ?? []
                default: values = user.attributes[attribute] ?? []
                }
                set(config, values, in: &claims)
            case "oidc-usermodel-property-mapper":
                let value: String?
                switch config["user.attribute"] ?? "" {
                case "username": value = user.username
                case "email": value = user.email
                case "firstName": value = user.firstName
                case "lastName": value = user.lastName
                case "emailVerified": value = String(user.emailVerified)
                case "enabled": value = String(user.enabled)
                case "id": value = user.id
                case "createdTimestamp": value = String(user.createdAt.millisecondsSince1970)
                default: value = nil
                }
                set(config, value.map { [$0] } ?? [], in: &claims)
            case "oidc-full-name-mapper":
                let name = [user.firstName, user.lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
                if !name.isEmpty { claims["name"] = .string(name) }
            case "oidc-usermodel-realm-role-mapper":
                let prefix = config["usermodel.realmRoleMapping.rolePrefix"] ?? ""
                let names = roles.filter { !$0.isClientRole }.map { prefix + $0.name }.sorted()
                var multi = config
                multi["multivalued"] = "true"
                if multi["claim.name"] == nil { multi["claim.name"] = "realm_access.roles" }
                if !names.isEmpty { set(multi, names, in: &claims) }
            case "oidc-usermodel-client-role-mapper":
                let prefix = config["usermodel.clientRoleMapping.rolePrefix"] ?? ""
                let only = config["usermodel.clientRoleMapping.clientId"].flatMap { $0.isEmpty ? nil : $0 }
                var byClient: [String: [String]] = [:]
                for role in roles where role.isClientRole {
                    guard let owner = role.clientId.flatMap({ clientIdOf[$0] }), only == nil || only == owner else { continue }
                    byClient[owner, default: []].append(prefix + role.name)
                }
                for (owner, names) in byClient.sorted(by: { $0.key < $1.key }) {
                    var multi = config
                    multi["multivalued"] = "true"
                    multi["claim.name"] = (config["claim.name"] ?? "resource_access.${client_id}.roles")
                        .replacingOccurrences(of: "${client_id}", with: owner.replacingOccurrences(of: ".", with: "\\."))
                    set(multi, names.sorted(), in: &claims)
                }
            case "oidc-audience-resolve-mapper":
                for owner in Set(roles.compactMap { $0.clientId.flatMap { clientIdOf[$0] } }).sorted() where !audiences.contains(owner) {
                    audiences.append(owner)
                }
            case "oidc-audience-mapper":
                for audience in [config["included.client.audience"], config["included.custom.audience"]].compactMap({ $0 }) where !audience.isEmpty {
                    if !audiences.contains(audience) { audiences.append(audience) }
                }
            case "oidc-group-membership-mapper":
                if groupPaths == nil { groupPaths = try await store.groupsOfUser(userId: user.id, realmId: realm.id).map(\.path) }
                let full = config["full.path"] != "false"
                let values = (groupPaths ?? []).map { full ? $0 : String($0.split(separator: "/").last ?? "") }
                var multi = config
                multi["multivalued"] = "true"
                if multi["claim.name"] == nil { multi["claim.name"] = "groups" }
                set(multi, values, in: &claims)
            case "oidc-hardcoded-claim-mapper":
                if let value = config["claim.value"] { set(config, [value], in: &claims) }
            case "oidc-allowed-origins-mapper":
                if !client.webOrigins.isEmpty { claims["allowed-origins"] = .array(client.webOrigins.map { .string($0) }) }
            case "oidc-acr-mapper":
                claims["acr"] = "1"
            default:
                // sub, auth_time and the session note mappers are the token's own claims; other
                // mapper types are kept in their scope and do nothing (docs/keycloak-compatibility.md).
                continue
            }
        }
    }

    /// Keycloak's switches: a mapper without one says yes for the access token (as Keycloak reads
    /// mappers written before the switch existed) and follows the ID token's for userinfo.
    static func included(_ mapper: ProtocolMapper, in target: Target) -> Bool {
        switch target {
        case .accessToken: mapper.config["access.token.claim"].map { $0 == "true" } ?? true
        case .idToken: mapper.config["id.token.claim"] == "true"
        case .userInfo: (mapper.config["userinfo.token.claim"] ?? mapper.config["id.token.claim"]) == "true"
        }
    }

    /// Puts `values` at the mapper's `claim.name` (dots nest; `\.` is a dot in a name) as its
    /// `jsonType.label` says; a single value unless `multivalued`. Reserved claims are left alone.
    func set(_ config: [String: String], _ values: [String], in claims: inout [String: JSONValue]) {
        guard let name = config["claim.name"], !name.isEmpty, !values.isEmpty else { return }
        let path = Self.claimPath(name)
        guard let first = path.first, !Self.reserved.contains(first), path.count <= 10 else { return }
        let typed = values.prefix(100).map { Self.typed($0, config["jsonType.label"]) }
        let value: JSONValue = config["multivalued"] == "true" ? .array(Array(typed)) : typed[0]
        Self.put(value, at: path[...], in: &claims)
    }

    static func claimPath(_ name: String) -> [String] {
        var parts: [String] = [], current = "", escaped = false
        for ch in name {
            if escaped { current.append(ch); escaped = false } else if ch == "\\" { escaped = true } else if ch == "." {
                parts.append(current)
                current = ""
            } else { current.append(ch) }
        }
        parts.append(current)
        return parts.filter { !$0.isEmpty }
    }

    static func put(_ value: JSONValue, at path: ArraySlice<String>, in object: inout [String: JSONValue]) {
        guard let key = path.first else { return }
        if path.count == 1 {
            object[key] = value
            return
        }
        var inner: [String: JSONValue]
        if case .object(let existing)? = object[key] { inner = existing } else { inner = [:] }
        put(value, at: path.dropFirst(), in: &inner)
        object[key] = .object(inner)
    }

    static func typed(_ text: String, _ label: String?) -> JSONValue {
        switch label?.lowercased() {
        case "long", "int": Double(text).map { JSONValue.number($0) } ?? .string(text)
        case "boolean": .bool(text.lowercased() == "true")
        case "json": (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
        default: .string(text)
        }
    }
}
