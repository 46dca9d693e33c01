import Foundation
import KeycloakRepresentations
import KeyportAuth
import KeyportFederation
import KeyportModel
import KeyportStore

/// What a client or user becomes from Keycloak's representation: the fields present, checked
/// (`ObjectRules`), merged into the object, with the defaults every door agrees on (a
/// confidential client that logs in always has a secret, a public one never) and the protocols' own checks
/// (`prepareClient`: docker-v2's signing algorithm and authorization mode). The admin API's
/// create and update and the realm importer all go through here, so they accept and refuse
/// the same things in the same words. Errors are `InvalidObject`, or what `prepareClient` throws.
public struct Provisioning: Sendable {
    let randomBytes: @Sendable (Int) -> [UInt8]
    public let prepareClient: @Sendable (inout Client) throws -> Void
    /// The protocols' checks of role attributes (docker-v2: `docker.grant`).
    public let validateRoleAttributes: @Sendable ([String: [String]]) throws -> Void

    public init(randomBytes: @escaping @Sendable (Int) -> [UInt8], prepareClient: @escaping @Sendable (inout Client) throws -> Void = { _ in },
                validateRoleAttributes: @escaping @Sendable ([String: [String]]) throws -> Void = { _ in }) {
        self.randomBytes = randomBytes
        self.prepareClient = prepareClient
        self.validateRoleAttributes = validateRoleAttributes
    }

    /// A new user from its representation. `enabledByDefault` is the door's default (Keycloak's
    /// API creates users disabled unless told; a realm file's users are enabled). Usernames
    /// starting with `service-account-` belong to clients' service accounts.
    public func newUser(_ rep: UserRepresentation, id: String, realmId: String, createdAt: Timestamp, enabledByDefault: Bool,
                        serviceAccountClientId: String? = nil) throws -> User {
        let username = try ObjectRules.username(rep.username)
        if serviceAccountClientId == nil && User.normalize(username).hasPrefix(ServiceAccounts.prefix) {
            throw InvalidObject("Usernames starting with '\(ServiceAccounts.prefix)' are reserved for clients' service accounts")
        }
        var user = User(id: id, realmId: realmId, username: User.normalize(username), enabled: enabledByDefault, createdAt: createdAt,
                        serviceAccountClientId: serviceAccountClientId)
        try merge(rep, into: &user, now: createdAt)
        return user
    }

    /// What a new user becomes, whichever door it comes in by — the admin API, a realm file, a
    /// partial import, a client's service account, the bootstrap administrator: the realm's
    /// default role first (when the door gives it), then the roles and groups given, each once;
    /// its password; and `UPDATE_PASSWORD` when that password is temporary. (Whether it starts
    /// enabled and which usernames are reserved is `newUser`'s, the row's own rules.)
    public static func newUserSeed(_ user: User, defaultRoleId: String?, password: Credential? = nil, temporaryPassword: Bool = false,
                                   roleIds: [String] = [], groupIds: [String] = []) -> UserSeed {
        var user = user
        if temporaryPassword, !user.requiredActions.contains(RequiredAction.updatePassword) {
            user.requiredActions.append(RequiredAction.updatePassword)
        }
        var seenRoles: Set<String> = [], seenGroups: Set<String> = []
        return UserSeed(user: user, credentials: password.map { [$0] } ?? [],
                        roleIds: ((defaultRoleId.map { [$0] } ?? []) + roleIds).filter { seenRoles.insert($0).inserted },
                        groupIds: groupIds.filter { seenGroups.insert($0).inserted })
    }

    /// The role-level fields of `rep`, checked: name (when given), description, attributes.
    public func roleFields(_ rep: RoleRepresentation) throws -> (name: String?, description: String?, attributes: [String: [String]]?) {
        let name = try rep.name.map { try ObjectRules.roleName($0) }
        let description = try rep.description.flatMap { try ObjectRules.optionalText($0, what: "description") }
        let attributes = try rep.attributes.map { try ObjectRules.multiAttributes($0.mapValues(\.values)) }
        if let attributes { try validateRoleAttributes(attributes) }
        return (name, description, attributes)
    }

    /// A new role from its representation.
    public func newRole(_ rep: RoleRepresentation, id: String, realmId: String, clientId: String?) throws -> Role {
        let fields = try roleFields(rep)
        guard let name = fields.name else { throw InvalidObject("Role name is required") }
        return Role(id: id, realmId: realmId, clientId: clientId, name: name, description: fields.description, attributes: fields.attributes ?? [:])
    }

    /// A new group from its representation.
    /// `keepingDirectoryMapper`: a realm file's group keeps the mapper that made it; any other door's
    /// loses it (`Group.directoryMapperAttribute`).
    public func newGroup(_ rep: GroupRepresentation, id: String, realmId: String, parentId: String?, keepingDirectoryMapper: Bool = false) throws -> Group {
        var attributes = try ObjectRules.multiAttributes((rep.attributes ?? [:]).mapValues(\.values))
        if !keepingDirectoryMapper { attributes[Group.directoryMapperAttribute] = nil }
        return Group(id: id, realmId: realmId, parentId: parentId, name: try ObjectRules.groupName(rep.name), attributes: attributes)
    }

    /// A new client secret: 192 random bits.
    public func newSecret() -> Sensitive { Sensitive(base64URL(randomBytes(24))) }

    /// A new client from its representation, on Keycloak's defaults for what it leaves out
    /// (`OIDCLoginProtocolFactory.setupClientDefaults`): an OpenID Connect client has the
    /// standard flow and direct access grants on unless told otherwise, and is public when it
    /// says neither `publicClient` nor `bearerOnly` — except that Keyport keeps it confidential
    /// when the representation gives a secret or asks for a service account (Keycloak would drop
    /// the secret and leave a service account that cannot log in); `notices` says so, for the
    /// log and the import report. A docker-v2 client keeps its own defaults: it never logs in
    /// itself, so it is confidential with a secret no one uses, and its flows mean nothing.
    public func newClient(_ rep: ClientRepresentation, id: String, realmId: String, clientId: String, createdAt: Timestamp,
                          notices: inout [String]) throws -> Client {
        var client = Client(id: id, realmId: realmId, clientId: clientId, createdAt: createdAt)
        if (rep.protocol ?? ClientProtocol.openIDConnect.rawValue) == ClientProtocol.openIDConnect.rawValue {
            client.standardFlowEnabled = rep.standardFlowEnabled ?? true
            client.directAccessGrantsEnabled = rep.directAccessGrantsEnabled ?? true
            if rep.publicClient == nil && rep.bearerOnly != true {
                if let secret = rep.secret, !secret.isEmpty, secret != "**********" {
                    notices.append("client \(clientId): publicClient not given; kept confidential because a secret was given (Keycloak would make it public and ignore the secret)")
                } else if rep.serviceAccountsEnabled == true {
                    notices.append("client \(clientId): publicClient not given; kept confidential because it has a service account (Keycloak would make it public)")
                } else {
                    client.publicClient = true
                }
            }
        }
        try merge(rep, into: &client)
        return client
    }

    public func merge(_ rep: ClientRepresentation, into client: inout Client) throws {
        if let v = rep.name { client.name = try ObjectRules.optionalText(v, what: "name", max: 255) }
        if let v = rep.description { client.description = try ObjectRules.optionalText(v, what: "description") }
        if let v = rep.enabled { client.enabled = v }
        if let v = rep.protocol {
            guard let proto = ClientProtocol(rawValue: v) else {
                throw InvalidObject("Unsupported protocol '\(String(v.prefix(64)))': use openid-connect or docker-v2")
            }
            client.protocolName = proto
        }
        if let v = rep.publicClient { client.publicClient = v }
        if let v = rep.secret, !v.isEmpty, v != "**********" {
            guard v.utf8.count <= 255 else { throw InvalidObject("secret is longer than 255 characters") }
            client.secret = Sensitive(v)
        }
        if let v = rep.directAccessGrantsEnabled { client.directAccessGrantsEnabled = v }
        if let v = rep.serviceAccountsEnabled { client.serviceAccountsEnabled = v }
        if let v = rep.standardFlowEnabled { client.standardFlowEnabled = v }
        if let v = rep.redirectUris {
            guard v.count <= 100 else { throw InvalidObject("At most 100 redirectUris are allowed") }
            for uri in v { try ObjectRules.plain(uri, what: "A redirect URI") }
            client.redirectUris = v
        }
        if let v = rep.attributes {
            // The switches kept among the attributes stay unless their own fields change them.
            let kept = client.attributes.filter { Client.modeledAttributes.contains($0.key) }
            client.attributes = try ObjectRules.singleAttributes(v).filter { !Client.modeledAttributes.contains($0.key) }.merging(kept) { $1 }
        }
        if let v = rep.bearerOnly { client.attributes["bearer-only"] = v ? "true" : nil }
        if let v = rep.consentRequired { client.attributes["consent-required"] = v ? "true" : nil }
        // A public client has no secret; a confidential one that logs in always has one (a
        // bearer-only client, such as realm-management, never logs in and needs none).
        if client.publicClient {
            client.secret = nil
        } else if client.secret == nil && client.attributes["bearer-only"] != "true" {
            client.secret = newSecret()
        }
        if let v = rep.protocolMappers { client.protocolMappers = try ObjectRules.protocolMappers(v, newID: newUUID) }
        if let v = rep.fullScopeAllowed { client.fullScopeAllowed = v }
        if let v = rep.webOrigins {
            guard v.count <= 100 else { throw InvalidObject("At most 100 webOrigins are allowed") }
            for origin in v { try ObjectRules.plain(origin, what: "A web origin") }
            client.webOrigins = v
        }
        if let v = rep.clientAuthenticatorType {
            guard Client.supportedAuthenticators.contains(v) else {
                throw InvalidObject("clientAuthenticatorType '\(String(v.prefix(64)))' is not supported: Keyport authenticates clients with client-secret or federated-jwt")
            }
            client.attributes[Client.authenticatorTypeAttribute] = v == Client.clientSecretAuthenticator ? nil : v
        }
        try Self.checkFederation(client)
        try prepareClient(&client)
    }

    /// A `federated-jwt` client: confidential, naming the identity provider and the subject it
    /// trusts, with claim conditions that parse. (Whether the provider exists is checked when a
    /// token arrives, as Keycloak does: providers and clients are written separately.)
    static func checkFederation(_ client: Client) throws {
        do {
            _ = try ClaimConditions(attribute: client.attributes[ClaimConditions.attribute])
        } catch let invalid as ClaimConditions.Invalid {
            throw InvalidObject(invalid.description)
        }
        guard client.federatedJWT else { return }
        guard client.protocolName == .openIDConnect, !client.publicClient else {
            throw InvalidObject("A federated-jwt client is a confidential openid-connect client")
        }
        for key in [FederatedJWTVerifier.issuerAttribute, FederatedJWTVerifier.subjectAttribute] {
            guard let value = client.attributes[key], !value.isEmpty else {
                throw InvalidObject("A federated-jwt client needs the attribute '\(key)'")
            }
        }
    }

    /// The fields present in `rep` merged into `user`; disabling moves `notBefore` to `now`,
    /// which ends the tokens already issued.
    public func merge(_ rep: UserRepresentation, into user: inout User, now: Timestamp) throws {
        if let name = rep.username, User.normalize(name) != user.username {
            guard user.serviceAccountClientId == nil else { throw InvalidObject("A service account's username cannot be changed") }
            let renamed = User.normalize(try ObjectRules.username(name))
            // The same reservation as at creation: a rename must not dress a user as a robot.
            if renamed.hasPrefix(ServiceAccounts.prefix) {
                throw InvalidObject("Usernames starting with '\(ServiceAccounts.prefix)' are reserved for clients' service accounts")
            }
            user.username = renamed
        }
        if let email = rep.email { user.email = try ObjectRules.email(email).map(User.normalize) }
        if let v = rep.emailVerified { user.emailVerified = v }
        if let v = rep.firstName { user.firstName = try ObjectRules.optionalText(v, what: "firstName", max: 255) }
        if let v = rep.lastName { user.lastName = try ObjectRules.optionalText(v, what: "lastName", max: 255) }
        if let v = rep.enabled {
            if !v && user.enabled { user.notBefore = max(user.notBefore, now) }
            user.enabled = v
        }
        if let v = rep.attributes { user.attributes = try ObjectRules.multiAttributes(v.mapValues(\.values)) }
        if let v = rep.requiredActions { user.requiredActions = try Self.requiredActions(v) }
    }

    /// At most 20, each plain text, duplicates dropped.
    public static func requiredActions(_ list: [String]) throws -> [String] {
        guard list.count <= 20 else { throw InvalidObject("Too many required actions") }
        for action in list { try ObjectRules.plain(action, what: "Required action") }
        var seen = Set<String>()
        return list.filter { seen.insert($0).inserted }
    }

    /// A random (version 4) UUID, as the server's ids.
    func newUUID() -> String { TimeAndRandomness.uuid(random: randomBytes(16)) }

    func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
