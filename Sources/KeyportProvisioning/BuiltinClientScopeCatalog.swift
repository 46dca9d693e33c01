import KeyportModel
import KeyportStore

/// Keycloak's built-in client scopes of a new realm (Keycloak 26, OpenID Connect), with their
/// protocol mappers and which of them new clients get by default or optionally. Keycloak's
/// `organization` scope and the SAML scopes are left out: Keyport has neither.
public struct BuiltinClientScopeCatalog: Sendable {
    let newID: @Sendable () -> String

    public init(newID: @escaping @Sendable () -> String) { self.newID = newID }

    /// The scopes for `realmId`; `offline_access` lets the realm's `offline_access` role into tokens.
    public func scopes(realmId: String, offlineAccessRoleId: String?) -> BuiltinClientScopes {
        var result = BuiltinClientScopes()
        func scope(_ name: String, _ description: String, isDefault: Bool, inTokenScope: Bool, consentText: String? = nil,
                   _ mappers: [ProtocolMapper]) -> String {
            var attributes = ["include.in.token.scope": inTokenScope ? "true" : "false",
                              "display.on.consent.screen": consentText == nil ? "false" : "true"]
            if let consentText { attributes["consent.screen.text"] = consentText }
            let id = newID()
            result.scopes.append(ClientScope(id: id, realmId: realmId, name: name, description: description, attributes: attributes,
                                             protocolMappers: mappers.map { var m = $0; m.id = newID(); return m }))
            result.realmDefaults.append((id, isDefault))
            return id
        }
        let m = Self.self
        _ = scope("acr", "OpenID Connect scope for add acr (authentication context class reference) to the token", isDefault: true, inTokenScope: false,
                  [ProtocolMapper(name: "acr loa level", protocol: m.oidc, protocolMapper: "oidc-acr-mapper", config: m.claimIn(id: true, access: true, userinfo: false))])
        _ = scope("basic", "OpenID Connect scope for add all basic claims to the token", isDefault: true, inTokenScope: false, [
            ProtocolMapper(name: "sub", protocol: m.oidc, protocolMapper: "oidc-sub-mapper", config: m.claimIn(id: false, access: true, userinfo: false)),
            ProtocolMapper(name: "auth_time", protocol: m.oidc, protocolMapper: "oidc-usersessionmodel-note-mapper",
                           config: m.claimIn(id: true, access: true, userinfo: false).merging(
                            ["user.session.note": "AUTH_TIME", "claim.name": "auth_time", "jsonType.label": "long"]) { $1 }),
        ])
        _ = scope("email", "OpenID Connect built-in scope: email", isDefault: true, inTokenScope: true, consentText: "${emailScopeConsentText}", [
            m.attribute("email", "email", "email", "String"),
            m.property("email verified", "emailVerified", "email_verified", "boolean"),
        ])
        _ = scope("profile", "OpenID Connect built-in scope: profile", isDefault: true, inTokenScope: true, consentText: "${profileScopeConsentText}", [
            ProtocolMapper(name: "full name", protocol: m.oidc, protocolMapper: "oidc-full-name-mapper", config: m.claimIn(id: true, access: true, userinfo: true)),
            m.attribute("username", "username", "preferred_username", "String"),
            m.attribute("given name", "firstName", "given_name", "String"),
            m.attribute("family name", "lastName", "family_name", "String"),
            m.attribute("middle name", "middleName", "middle_name", "String"),
            m.attribute("nickname", "nickname", "nickname", "String"),
            m.attribute("profile", "profile", "profile", "String"),
            m.attribute("picture", "picture", "picture", "String"),
            m.attribute("website", "website", "website", "String"),
            m.attribute("gender", "gender", "gender", "String"),
            m.attribute("birthdate", "birthdate", "birthdate", "String"),
            m.attribute("zoneinfo", "zoneinfo", "zoneinfo", "String"),
            m.attribute("locale", "locale", "locale", "String"),
            m.attribute("updated at", "updatedAt", "updated_at", "long"),
        ])
        _ = scope("roles", "OpenID Connect scope for add user roles to the access token", isDefault: true, inTokenScope: false,
                  consentText: "${rolesScopeConsentText}", [
            ProtocolMapper(name: "realm roles", protocol: m.oidc, protocolMapper: "oidc-usermodel-realm-role-mapper",
                           config: ["claim.name": "realm_access.roles", "jsonType.label": "String", "multivalued": "true",
                                    "access.token.claim": "true", "introspection.token.claim": "true", "user.attribute": "foo"]),
            ProtocolMapper(name: "client roles", protocol: m.oidc, protocolMapper: "oidc-usermodel-client-role-mapper",
                           config: ["claim.name": "resource_access.${client_id}.roles", "jsonType.label": "String", "multivalued": "true",
                                    "access.token.claim": "true", "introspection.token.claim": "true", "user.attribute": "foo"]),
            ProtocolMapper(name: "audience resolve", protocol: m.oidc, protocolMapper: "oidc-audience-resolve-mapper",
                           config: ["access.token.claim": "true", "introspection.token.claim": "true"]),
        ])
        _ = scope("web-origins", "OpenID Connect scope for add allowed web origins to the access token", isDefault: true, inTokenScope: false, [
            ProtocolMapper(name: "allowed web origins", protocol: m.oidc, protocolMapper: "oidc-allowed-origins-mapper",
                           config: ["access.token.claim": "true", "introspection.token.claim": "true"]),
        ])
        let offline = scope("offline_access", "OpenID Connect built-in scope: offline_access", isDefault: false, inTokenScope: true,
                            consentText: "${offlineAccessScopeConsentText}", [])
        if let offlineAccessRoleId { result.scopeRoles.append((offline, offlineAccessRoleId)) }
        _ = scope("address", "OpenID Connect built-in scope: address", isDefault: false, inTokenScope: true, consentText: "${addressScopeConsentText}", [
            ProtocolMapper(name: "address", protocol: m.oidc, protocolMapper: "oidc-address-mapper",
                           config: m.claimIn(id: true, access: true, userinfo: true).merging([
                            "user.attribute.formatted": "formatted", "user.attribute.country": "country", "user.attribute.postal_code": "postal_code",
                            "user.attribute.street": "street", "user.attribute.region": "region", "user.attribute.locality": "locality",
                           ]) { $1 }),
        ])
        _ = scope("phone", "OpenID Connect built-in scope: phone", isDefault: false, inTokenScope: true, consentText: "${phoneScopeConsentText}", [
            m.attribute("phone number", "phoneNumber", "phone_number", "String"),
            m.attribute("phone number verified", "phoneNumberVerified", "phone_number_verified", "boolean"),
        ])
        _ = scope("microprofile-jwt", "Microprofile - JWT built-in scope", isDefault: false, inTokenScope: true, [
            m.attribute("upn", "username", "upn", "String"),
            ProtocolMapper(name: "groups", protocol: m.oidc, protocolMapper: "oidc-usermodel-realm-role-mapper",
                           config: m.claimIn(id: true, access: true, userinfo: true).merging(
                            ["claim.name": "groups", "jsonType.label": "String", "multivalued": "true", "user.attribute": "foo"]) { $1 }),
        ])
        return result
    }

    static let oidc = ClientProtocol.openIDConnect.rawValue

    static func claimIn(id: Bool, access: Bool, userinfo: Bool) -> [String: String] {
        ["id.token.claim": "\(id)", "access.token.claim": "\(access)", "userinfo.token.claim": "\(userinfo)", "introspection.token.claim": "true"]
    }

    static func attribute(_ name: String, _ attribute: String, _ claim: String, _ type: String) -> ProtocolMapper {
        ProtocolMapper(name: name, protocol: oidc, protocolMapper: "oidc-usermodel-attribute-mapper",
                       config: claimIn(id: true, access: true, userinfo: true).merging(
                        ["user.attribute": attribute, "claim.name": claim, "jsonType.label": type]) { $1 })
    }

    static func property(_ name: String, _ property: String, _ claim: String, _ type: String) -> ProtocolMapper {
        ProtocolMapper(name: name, protocol: oidc, protocolMapper: "oidc-usermodel-property-mapper",
                       config: claimIn(id: true, access: true, userinfo: true).merging(
                        ["user.attribute": property, "claim.name": claim, "jsonType.label": type]) { $1 })
    }
}
