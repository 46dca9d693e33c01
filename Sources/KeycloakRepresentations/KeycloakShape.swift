import KeyportJSON

// Which fields Keycloak's representations have, as its admin API reads them (Jackson with
// FAIL_ON_UNKNOWN_PROPERTIES, Keycloak 26.7): a field outside these is refused with Keycloak's
// 400 "Unrecognized field", so a typo in an automation script fails loudly instead of doing
// nothing. A field Keycloak knows but Keyport does not use is accepted (and ignored, or kept
// where docs/keycloak-compatibility.md says). The lists are data taken from Keycloak's
// classes (core/…/representations/idm), Jackson's view of them: setters, and getters whose
// field it writes directly.

/// One of Keycloak's representations, by the fields it accepts and the objects nested in it.
public enum KeycloakShape: Sendable {
    case realm
    case roles
    case passwordHashing
    case user
    case credential
    case client
    case role
    case roleComposites
    case group
    case protocolMapper
    case component
    case eventsConfig
    case clientScope
    case identityProvider
    case identityProviderMapper
    case federatedIdentity

    /// Keycloak's class name, as its error message says it.
    public var className: String {
        switch self {
        case .realm: "RealmRepresentation"
        case .roles: "RolesRepresentation"
        case .passwordHashing: "PasswordHashingRepresentation"
        case .user: "UserRepresentation"
        case .credential: "CredentialRepresentation"
        case .client: "ClientRepresentation"
        case .role: "RoleRepresentation"
        case .roleComposites: "RoleRepresentation.Composites"
        case .group: "GroupRepresentation"
        case .protocolMapper: "ProtocolMapperRepresentation"
        case .component: "ComponentRepresentation"
        case .eventsConfig: "RealmEventsConfigRepresentation"
        case .clientScope: "ClientScopeRepresentation"
        case .identityProvider: "IdentityProviderRepresentation"
        case .identityProviderMapper: "IdentityProviderMapperRepresentation"
        case .federatedIdentity: "FederatedIdentityRepresentation"
        }
    }

    /// How a nested field is checked: one object, a list of them, or a map of lists (client
    /// roles by clientId). Fields not named here are not looked into.
    public enum Nested: Sendable {
        case object(KeycloakShape)
        case array(KeycloakShape)
        case map(KeycloakShape)
    }

    public var nested: [String: Nested] {
        switch self {
        case .realm: ["users": .array(.user), "clients": .array(.client), "groups": .array(.group), "roles": .object(.roles), "clientScopes": .array(.clientScope),
                      "identityProviders": .array(.identityProvider), "identityProviderMappers": .array(.identityProviderMapper),
                      "passwordHashing": .object(.passwordHashing), "defaultRole": .object(.role)]
        case .roles: ["realm": .array(.role), "client": .map(.role), "application": .map(.role)]
        case .user: ["credentials": .array(.credential), "federatedIdentities": .array(.federatedIdentity)]
        case .client: ["protocolMappers": .array(.protocolMapper)]
        // Keycloak reads a client scope ignoring unknown fields (its old template shape); its mappers strictly.
        case .clientScope: ["protocolMappers": .array(.protocolMapper)]
        case .role: ["composites": .object(.roleComposites)]
        case .group: ["subGroups": .array(.group)]
        default: [:]
        }
    }

    public var fields: Set<String> {
        switch self {
        case .realm: Self.realmFields
        case .roles: Self.rolesFields
        case .passwordHashing: Self.passwordHashingFields
        case .user: Self.userFields
        case .credential: Self.credentialFields
        case .client: Self.clientFields
        case .role: Self.roleFields
        case .roleComposites: Self.roleCompositesFields
        case .group: Self.groupFields
        case .protocolMapper: Self.protocolMapperFields
        case .component: Self.componentFields
        case .eventsConfig: Self.eventsConfigFields
        case .clientScope: Self.clientScopeFields
        case .identityProvider: Self.identityProviderFields
        case .identityProviderMapper: ["config", "id", "identityProviderAlias", "identityProviderMapper", "name"]
        case .federatedIdentity: ["identityProvider", "userId", "userName"]
        }
    }

    static let realmFields: Set<String> = [
        "accessCodeLifespan", "accessCodeLifespanLogin", "accessCodeLifespanUserAction", "accessTokenLifespan",
        "accessTokenLifespanForImplicitFlow", "accountTheme", "actionTokenGeneratedByAdminLifespan", "actionTokenGeneratedByUserLifespan",
        "adminEventsDetailsEnabled", "adminEventsEnabled", "adminPermissionsClient", "adminPermissionsEnabled", "adminTheme",
        "applicationScopeMappings", "applications", "attributes", "attributesOrEmpty", "authenticationFlows", "authenticatorConfig",
        "browserFlow", "browserSecurityHeaders", "bruteForceProtected", "bruteForceStrategy", "certificate", "clientAuthenticationFlow",
        "clientOfflineSessionIdleTimeout", "clientOfflineSessionMaxLifespan", "clientPolicies", "clientProfiles", "clientScopeMappings",
        "clientScopes", "clientSessionIdleTimeout", "clientSessionMaxLifespan", "clientTemplates", "clients", "codeSecret", "components",
        "defaultDefaultClientScopes", "defaultGroups", "defaultLocale", "defaultOptionalClientScopes", "defaultRole", "defaultRoles",
        "defaultSignatureAlgorithm", "directGrantFlow", "displayName", "displayNameHtml", "dockerAuthenticationFlow",
        "duplicateEmailsAllowed", "editUsernameAllowed", "emailTheme", "enabled", "enabledEventTypes", "eventsEnabled", "eventsExpiration",
        "eventsListeners", "failureFactor", "federatedUsers", "firstBrokerLoginFlow", "groups", "id", "identityFederationEnabled",
        "identityProviderMappers", "identityProviders", "internationalizationEnabled", "keycloakVersion", "localizationTexts",
        "loginTheme", "loginWithEmailAllowed", "maxDeltaTimeSeconds", "maxFailureWaitSeconds", "maxSecondaryAuthFailures",
        "maxTemporaryLockouts", "minimumQuickLoginWaitSeconds", "notBefore", "oauth2DeviceCodeLifespan", "oauth2DevicePollingInterval",
        "oauthClients", "offlineSessionIdleTimeout", "offlineSessionMaxLifespan", "offlineSessionMaxLifespanEnabled", "organizations",
        "organizationsEnabled", "otpPolicyAlgorithm", "otpPolicyCodeReusable", "otpPolicyDigits", "otpPolicyInitialCounter",
        "otpPolicyLookAheadWindow", "otpPolicyPeriod", "otpPolicyType", "otpSupportedApplications", "parsedClientPolicies",
        "parsedClientProfiles", "passwordCredentialGrantAllowed", "passwordPolicy", "permanentLockout", "privateKey", "protocolMappers",
        "publicKey", "quickLoginCheckMilliSeconds", "realm", "refreshTokenMaxReuse", "registrationAllowed", "registrationEmailAsUsername",
        "registrationFlow", "rememberMe", "requiredActions", "requiredCredentials", "resetCredentialsFlow", "resetPasswordAllowed",
        "revokeRefreshToken", "roles", "scimApiEnabled", "scopeMappings", "smtpServer", "social", "socialProviders", "sslRequired",
        "ssoSessionIdleTimeout", "ssoSessionIdleTimeoutRememberMe", "ssoSessionMaxLifespan", "ssoSessionMaxLifespanRememberMe",
        "supportedLocales", "updateProfileOnInitialSocialLogin", "userFederationMappers", "userFederationProviders",
        "userManagedAccessAllowed", "users", "verifiableCredentialsEnabled", "verifyEmail", "waitIncrementSeconds",
        "webAuthnPolicyAcceptableAaguids", "webAuthnPolicyAttestationConveyancePreference", "webAuthnPolicyAuthenticatorAttachment",
        "webAuthnPolicyAvoidSameAuthenticatorRegister", "webAuthnPolicyCreateTimeout", "webAuthnPolicyExtraOrigins",
        "webAuthnPolicyPasswordlessAcceptableAaguids", "webAuthnPolicyPasswordlessAttestationConveyancePreference",
        "webAuthnPolicyPasswordlessAuthenticatorAttachment", "webAuthnPolicyPasswordlessAvoidSameAuthenticatorRegister",
        "webAuthnPolicyPasswordlessCreateTimeout", "webAuthnPolicyPasswordlessExtraOrigins", "webAuthnPolicyPasswordlessMediation",
        "webAuthnPolicyPasswordlessPasskeysEnabled", "webAuthnPolicyPasswordlessRequireResidentKey",
        "webAuthnPolicyPasswordlessResidentKey", "webAuthnPolicyPasswordlessRpEntityName", "webAuthnPolicyPasswordlessRpId",
        "webAuthnPolicyPasswordlessSignatureAlgorithms", "webAuthnPolicyPasswordlessUserVerificationRequirement",
        "webAuthnPolicyRequireResidentKey", "webAuthnPolicyResidentKey", "webAuthnPolicyRpEntityName", "webAuthnPolicyRpId",
        "webAuthnPolicySignatureAlgorithms", "webAuthnPolicyUserVerificationRequirement",
        // Keyport's own settings beside Keycloak's.
        "dockerV2Enabled", "passwordHashing", "personalAccessTokenMaxLifespan",
    ]
    static let rolesFields: Set<String> = [
        "application", "client", "realm",
    ]
    static let passwordHashingFields: Set<String> = [
        "algorithm", "hashLength", "iterations", "memory", "parallelism", "saltLength",
    ]
    static let userFields: Set<String> = [
        "access", "applicationRoles", "attributes", "clientConsents", "clientRoles", "createdTimestamp", "credentials",
        "disableableCredentialTypes", "email", "emailVerified", "enabled", "federatedIdentities", "federationLink", "firstName", "groups",
        "id", "issuedVerifiableCredentials", "lastName", "notBefore", "origin", "rawAttributes", "realmRoles", "requiredActions", "self",
        "serviceAccountClientId", "socialLinks", "totp", "userProfileMetadata", "username", "verifiableCredentials",
    ]
    static let credentialFields: Set<String> = [
        "algorithm", "config", "counter", "createdDate", "credentialData", "device", "digits", "federationLink", "hashIterations",
        "hashedSaltedValue", "id", "period", "priority", "salt", "secretData", "temporary", "type", "userLabel", "value",
    ]
    static let clientFields: Set<String> = [
        "access", "adminUrl", "alwaysDisplayInConsole", "attributes", "authenticationFlowBindingOverrides", "authorizationServicesEnabled",
        "authorizationSettings", "baseUrl", "bearerOnly", "clientAuthenticatorType", "clientId", "clientTemplate", "consentRequired",
        "defaultClientScopes", "defaultRoles", "description", "directAccessGrantsEnabled", "directGrantsOnly", "enabled",
        "frontchannelLogout", "fullScopeAllowed", "id", "implicitFlowEnabled", "name", "nodeReRegistrationTimeout", "notBefore",
        "optionalClientScopes", "origin", "protocol", "protocolMappers", "publicClient", "redirectUris", "registeredNodes",
        "registrationAccessToken", "rootUrl", "secret", "serviceAccountsEnabled", "standardFlowEnabled", "surrogateAuthRequired", "type",
        "useTemplateConfig", "useTemplateMappers", "useTemplateScope", "webOrigins",
    ]
    static let roleFields: Set<String> = [
        "attributes", "clientRole", "composite", "composites", "containerId", "description", "id", "name", "scopeParamRequired",
    ]
    static let roleCompositesFields: Set<String> = [
        "application", "client", "realm",
    ]
    static let groupFields: Set<String> = [
        "access", "attributes", "clientRoles", "description", "id", "name", "parentId", "path", "realmRoles", "subGroupCount", "subGroups",
    ]
    static let protocolMapperFields: Set<String> = [
        "config", "consentRequired", "consentText", "id", "name", "protocol", "protocolMapper",
    ]
    static let componentFields: Set<String> = [
        "config", "id", "name", "parentId", "providerId", "providerType", "subType",
    ]
    /// Keycloak ignores unknown fields of a client scope; these are the ones it reads.
    static let clientScopeFields: Set<String> = ["attributes", "description", "id", "name", "protocol", "protocolMappers"]
    static let identityProviderFields: Set<String> = [
        "addReadTokenRoleOnCreate", "alias", "authenticateByDefault", "config", "displayName", "enabled", "firstBrokerLoginFlowAlias",
        "hideOnLogin", "internalId", "linkOnly", "organizationId", "postBrokerLoginFlowAlias", "providerId", "storeToken", "trustEmail",
        "types", "updateProfileFirstLogin", "updateProfileFirstLoginMode",
    ]
    static let eventsConfigFields: Set<String> = [
        "adminEventsDetailsEnabled", "adminEventsEnabled", "enabledEventTypes", "eventsEnabled", "eventsExpiration", "eventsListeners",
    ]

    /// The first field of `json` (at any depth) that Keycloak's representation does not
    /// have, as Keycloak's message names it; nil when there is none.
    public func unrecognizedField(in json: JSONValue) -> String? {
        guard case .object(let object) = json else { return nil }
        for key in object.keys.sorted() {
            guard fields.contains(key) || self == .clientScope else {
                return "Invalid json representation for \(className). Unrecognized field \"\(String(key.prefix(100)))\""
            }
            guard let value = object[key], let inner = nested[key] else { continue }
            switch inner {
            case .object(let shape):
                if let found = shape.unrecognizedField(in: value) { return found }
            case .array(let shape):
                for item in value.arrayItems { if let found = shape.unrecognizedField(in: item) { return found } }
            case .map(let shape):
                guard case .object(let lists) = value else { continue }
                for (_, list) in lists { for item in list.arrayItems { if let found = shape.unrecognizedField(in: item) { return found } } }
            }
        }
        return nil
    }
}

public extension JSONValue {
    /// The items of an array; nothing for any other value.
    var arrayItems: [JSONValue] { if case .array(let items) = self { items } else { [] } }
}

/// A representation the admin API checks against Keycloak's fields before decoding it.
public protocol KeycloakShaped {
    static var keycloakShape: KeycloakShape { get }
}

extension RealmRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .realm } }
extension UserRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .user } }
extension CredentialRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .credential } }
extension ClientRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .client } }
extension RoleRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .role } }
extension GroupRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .group } }
extension ComponentRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .component } }
extension ClientScopeRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .clientScope } }
extension IdentityProviderRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .identityProvider } }
extension IdentityProviderMapperRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .identityProviderMapper } }
extension FederatedIdentityRepresentation: KeycloakShaped { public static var keycloakShape: KeycloakShape { .federatedIdentity } }

/// A list of representations (role mappings, composites), checked item by item.
public protocol KeycloakShapedList {
    static var elementShape: KeycloakShape { get }
}

extension Array: KeycloakShapedList where Element: KeycloakShaped {
    public static var elementShape: KeycloakShape { Element.keycloakShape }
}
