import KeycloakRepresentations
import Foundation
import KeyportAuth
import KeyportJSON
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportStore

/// Turns a Keycloak realm export into a `RealmSeed` — checked whole before anything is
/// written — and writes it in one transaction. Ids in the file are kept; new signing keys are
/// made (exports carry none); built-ins missing from the file (`admin-cli`,
/// `realm-management`, the default roles) are added as for a new realm.
public struct RealmImporter: Sendable {
    let store: any IdentityStore
    let provisioner: RealmProvisioner
    /// The server's password-cost ceiling: a file's hashing policy and hashes must stay under it.
    let ceiling: PasswordCostCeiling
    /// Clients and users from their representations, with the protocols' checks (docker-v2: the
    /// signing algorithm and authorization mode) — the very `Provisioning` the admin API uses,
    /// so both doors refuse alike.
    let provisioning: Provisioning
    /// Hashes the plain-text passwords (`credentials[].value`) a file may carry; without one they are refused.
    let hasher: PasswordHasher?
    /// The most plain-text passwords one file may carry: each costs an Argon2id hash, so a request
    /// (`POST /admin/realms`) must not be able to hold the hashing pool for long.
    let plainPasswordLimit: Int
    /// Whose share of the hashing threads plain-text passwords are charged to (`FairScheduler`):
    /// nil, the realm's own. The admin API charges the caller, so that an administrator creating
    /// many realms at once competes with itself, not with every realm's logins.
    var hashingPartition: String? = nil

    /// `provisioning` is required: an importer without the protocols' checks would accept what
    /// the admin API refuses (`KeyportServer.realmImporter` builds the server's).
    public init(store: any IdentityStore, provisioner: RealmProvisioner, ceiling: PasswordCostCeiling = .default,
                provisioning: Provisioning, hasher: PasswordHasher? = nil, plainPasswordLimit: Int = 10_000) {
        self.store = store
        self.provisioner = provisioner
        self.ceiling = ceiling
        self.provisioning = provisioning
        self.hasher = hasher
        self.plainPasswordLimit = max(0, plainPasswordLimit)
    }

    /// The same importer, with another bound on plain-text passwords.
    public func limitingPlainPasswords(to limit: Int) -> RealmImporter {
        var copy = RealmImporter(store: store, provisioner: provisioner, ceiling: ceiling, provisioning: provisioning, hasher: hasher, plainPasswordLimit: limit)
        copy.hashingPartition = hashingPartition
        return copy
    }

    /// The same importer, charging its hashing to `partition`.
    public func chargingHashes(to partition: String) -> RealmImporter {
        var copy = self
        copy.hashingPartition = partition
        return copy
    }

    /// A realm of the file's name exists already (checked before anything is hashed).
    public struct RealmExists: Error, Equatable {
        public let name: String
    }

    /// Also for `provisioning`, whose protocol hooks throw their own errors.
    func check<T>(_ what: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as InvalidObject {
            throw Failure("\(what()): \(error.message)")
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure("\(what()): \(error)")
        }
    }

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public enum Outcome: Sendable, Equatable {
        case imported(realm: String, users: Int, clients: Int, roles: Int, groups: Int)
        case skippedExisting(realm: String)
    }

    /// A realm file, checked and ready to write.
    public struct Prepared: Sendable {
        public let seed: RealmSeed
        /// Fields of the file Keyport does not model (skipped), by path.
        public let skipped: [String]
        /// What the import decided on the file's behalf, for the operator to read.
        public let notices: [String]
    }

    /// Parses `data` (a realm export) into a seed, the names of the fields it skips, and notices.
    /// Plain-text passwords are checked against the realm's policy and hashed (one at a time).
    /// `refusingExisting`: a realm of that name already there is `RealmExists`, found before any
    /// password is hashed (the write would refuse it anyway, after the cost).
    public func prepare(_ data: Data, refusingExisting: Bool = false) async throws -> Prepared {
        let document: RealmRepresentation
        let raw: JSONValue
        let triage: RealmFileTriage
        do {
            raw = try JSONDecoder().decode(JSONValue.self, from: data)
            // The file as given is read first, so a bad value is reported with its field's name.
            let given = try JSONDecoder().decode(RealmRepresentation.self, from: data)
            // What Keyport keeps without running it is set aside (RealmFileTriage); the rest is read again.
            triage = RealmFileTriage(raw)
            document = triage.document == raw ? given : try JSONDecoder().decode(RealmRepresentation.self, from: try JSONEncoder().encode(triage.document))
        } catch {
            throw Failure("the file is not a Keycloak realm export: \(error)")
        }
        var notices: [String] = triage.notices
        var plain: [PlainPassword] = []
        var seed = try await seed(from: document, notices: &notices, plain: &plain)
        if refusingExisting, !plain.isEmpty, try await store.realm(named: seed.realm.name) != nil {
            throw RealmExists(name: seed.realm.name)
        }
        for password in plain {
            seed.users[password.index].credentials = [try await hash(password, realm: seed.realm)]
        }
        seed.realm.keycloakSettings = RealmRepresentation.keptSettings(in: raw) ?? [:]
        seed.realm.keycloakContent = triage.kept
        return Prepared(seed: seed, skipped: RealmRepresentation.unmodeledFields(in: triage.document), notices: notices)
    }

    /// A password given in clear in a file (Keycloak's `credentials[].value`), waiting for its hash.
    struct PlainPassword {
        /// Where its user is in the list being built.
        var index: Int
        var user: User
        var credentialId: String
        var value: Sensitive
        var temporary: Bool
        var createdAt: Timestamp
        var label: String?
    }

    /// The password a file's credential carries: a Keycloak hash (kept as it is, rehashed at the
    /// first login), or a plain-text value (returned in `plain`, hashed by `hash`). Nil: none.
    func credential(_ c: CredentialRepresentation, user: User, index: Int, created: Timestamp, plain: inout [PlainPassword]) throws -> Credential? {
        guard (c.type ?? Credential.password) == Credential.password else { return nil }
        let id = c.id ?? provisioner.environment.newID()
        let createdAt = c.createdDate.map { Timestamp(millisecondsSince1970: $0) } ?? created
        if let value = c.value {
            guard !value.isEmpty else { throw Failure("the password of user \(user.username) is empty") }
            guard hasher != nil else { throw Failure("the password of user \(user.username) is in plain text, which this import cannot hash") }
            guard plain.count < plainPasswordLimit else {
                throw Failure("more than \(plainPasswordLimit) passwords are in plain text: hash them first (Keycloak's export does) or import the file with `keyport import`")
            }
            plain.append(PlainPassword(index: index, user: user, credentialId: id, value: Sensitive(value), temporary: c.temporary ?? false,
                                       createdAt: createdAt, label: c.userLabel))
            return nil
        }
        let stored: String
        do {
            if let secretData = c.secretData, let credentialData = c.credentialData {
                stored = try KeycloakCredential.storedHash(secretData: secretData, credentialData: credentialData, ceiling: ceiling)
            } else if let legacy = c.hashedSaltedValue {
                stored = try KeycloakCredential.storedHash(legacyValue: legacy, salt: c.salt, iterations: c.hashIterations, algorithm: c.algorithm, ceiling: ceiling)
            } else {
                throw Failure("the password of user \(user.username) has neither a hash nor a value")
            }
        } catch let error as KeycloakCredential.Unsupported {
            throw Failure("the password of user \(user.username) cannot be used: \(error.description)")
        }
        return Credential(id: id, userId: user.id, secret: Sensitive(stored), createdAt: createdAt, userLabel: c.userLabel)
    }

    /// Checks a plain-text password against the realm's policy (the admin API's rule) and hashes it.
    func hash(_ password: PlainPassword, realm: Realm) async throws -> Credential {
        guard let hasher else { throw Failure("the password of user \(password.user.username) is in plain text, which this import cannot hash") }
        do {
            try PasswordPolicy(realm.passwordPolicy).check(password.value.revealed, username: password.user.username, email: password.user.email)
        } catch {
            throw Failure("the password of user \(password.user.username): \(error.message)")
        }
        let secret = try await hasher.hash(password.value, parameters: realm.passwordHashing, partition: hashingPartition ?? realm.id)
        return Credential(id: password.credentialId, userId: password.user.id, secret: secret, createdAt: password.createdAt, userLabel: password.label)
    }

    /// A client from a file's representation, on Keycloak's defaults for what it does not spell
    /// out; a docker-v2 client's Keycloak mappers become its authorization mode, said in `notices`.
    func client(_ c: ClientRepresentation, realmId: String, id: String, notices: inout [String]) throws -> Client {
        let env = provisioner.environment
        let clientId = try check("a client") { try ObjectRules.clientId(c.clientId) }
        guard ClientProtocol(rawValue: c.protocol ?? "openid-connect") != nil else {
            throw Failure("client \(clientId) uses protocol \(c.protocol ?? ""), which Keyport does not speak")
        }
        var rep = c
        let unimplementedAuthenticator = rep.clientAuthenticatorType.flatMap { Client.supportedAuthenticators.contains($0) ? nil : $0 }
        if let type = unimplementedAuthenticator {
            // A realm Keycloak accepts is not refused for one part Keyport lacks: said, kept, exported again.
            rep.clientAuthenticatorType = nil
            notices.append("client \(clientId): clientAuthenticatorType \(type.prefix(64)) is not implemented; it authenticates with its client secret in Keyport (kept and exported again)")
        }
        if rep.protocol == ClientProtocol.dockerV2.rawValue {
            let allowAllMapper = "docker-v2-allow-all-mapper"
            if rep.attributes?["docker.authorization"] == nil {
                // Keycloak's allow-all mapper means what it says; otherwise Keyport's roles model.
                let allowAll = (rep.protocolMappers ?? []).contains { $0.protocolMapper == allowAllMapper }
                rep.attributes = (rep.attributes ?? [:]).merging(["docker.authorization": allowAll ? "allow-all" : "roles"]) { $1 }
                notices.append(allowAll
                    ? "client \(clientId): Keycloak's \(allowAllMapper) becomes docker.authorization=allow-all (every user may pull and push anything)"
                    : "client \(clientId): docker.authorization=roles — only grants on its client roles (docker.grant) allow anything (docs/authorization.md)")
            }
            for mapper in rep.protocolMappers ?? [] where mapper.protocolMapper != allowAllMapper {
                notices.append("client \(clientId): protocol mapper '\(mapper.name)' (\(mapper.protocolMapper)) is kept but does nothing in Keyport; "
                    + "decide access with docker.grant on the client's roles instead (docs/authorization.md)")
            }
        }
        var client = try check("client \(clientId)") {
            try provisioning.newClient(rep, id: id, realmId: realmId, clientId: clientId, createdAt: env.now(), notices: &notices)
        }
        if let type = unimplementedAuthenticator { client.attributes[Client.keptKeycloakAuthenticatorAttribute] = String(type.prefix(64)) }
        return client
    }

    /// Keycloak's import gives every client with service accounts its hidden user when the file
    /// has none for it: without one, `client_credentials` would be refused.
    func missingServiceAccounts(clients: [Client], users: [UserSeed], defaultRoleId: String?) -> [UserSeed] {
        let served = Set(users.compactMap(\.user.serviceAccountClientId))
        return clients.filter { $0.serviceAccountsEnabled && !$0.publicClient && !served.contains($0.id) }.map { client in
            Provisioning.newUserSeed(ServiceAccounts.user(for: client, id: provisioner.environment.newID(), createdAt: provisioner.environment.now()),
                                     defaultRoleId: defaultRoleId)
        }
    }

    /// Writes the seed: skipped if the realm exists (unless `override`, which replaces it).
    public func write(_ seed: RealmSeed, override: Bool) async throws -> Outcome {
        if try await store.realm(named: seed.realm.name) != nil {
            guard override else { return .skippedExisting(realm: seed.realm.name) }
            try await store.replaceRealm(seed)
        } else {
            try await store.createRealm(seed)
        }
        return .imported(realm: seed.realm.name, users: seed.users.count, clients: seed.clients.count, roles: seed.roles.count, groups: seed.groups.count)
    }

    /// `RoleNames`' failures in an import's words, naming what referred to the roles.
    static func resolving<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch RoleNames.Failure.tooMany {
            throw Failure("\(what) names more than \(RoleNames.limit) roles")
        } catch RoleNames.Failure.unknown(let name, let client) {
            throw Failure(client.map { "\(what) refers to role \(name) of client \($0), which does not exist" }
                          ?? "\(what) refers to realm role \(name), which does not exist")
        }
    }

    func seed(from doc: RealmRepresentation, notices: inout [String], plain: inout [PlainPassword]) async throws -> RealmSeed {
        let builder = try RealmSeedBuilder(doc, importer: self)
        try builder.addClients()
        try builder.addRoles()
        try await builder.addComposites()
        try builder.addClientScopes()
        try builder.addIdentityProviders()
        try await builder.addGroups()
        try builder.addUserFederation()
        try await builder.addUsers()
        try builder.addBrokering()
        notices += builder.notices
        plain += builder.plain
        return builder.seed
    }
}
