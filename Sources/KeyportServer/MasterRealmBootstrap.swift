import KeyportAuth
import KeyportKeys
import KeyportModel
import KeyportPasswords
import KeyportProvisioning
import KeyportStore

/// What the first start did about the master realm.
public enum BootstrapOutcome: Sendable, Equatable {
    /// The master realm already existed: nothing was created (bootstrap settings are ignored).
    case alreadyProvisioned
    /// The master realm and its administrator were created. `generatedPassword` is set
    /// when no password was configured; it is shown once and never stored in clear.
    case created(username: String, generatedPassword: Sensitive?)
}

/// Creates the master realm, its `admin` role and the bootstrap administrator, once: only
/// when the master realm does not exist yet, in one transaction.
struct MasterRealmBootstrap {
    static let masterRealmName = "master"

    let store: any IdentityStore
    let provisioner: RealmProvisioner
    let hasher: PasswordHasher
    let environment: TimeAndRandomness

    func run(username: String?, password: String?, mode: KeyportConfiguration.Mode, temporaryAdmin: Bool = false) async throws -> BootstrapOutcome {
        if try await store.realm(named: Self.masterRealmName) != nil { return .alreadyProvisioned }
        let adminName = username ?? "admin"
        var generated: Sensitive? = nil
        let adminPassword: Sensitive
        if let password {
            adminPassword = Sensitive(password)
        } else if mode == .development {
            let secret = Sensitive(Self.readablePassword(environment.randomBytes(18)))
            generated = secret
            adminPassword = secret
        } else {
            throw ConfigurationError("the first start creates the master realm's administrator: set KEYPORT_BOOTSTRAP_ADMIN_USERNAME and KEYPORT_BOOTSTRAP_ADMIN_PASSWORD")
        }
        let hash = try await hasher.hash(adminPassword, parameters: .keycloakDefault)
        let seed = try provisioner.masterSeed(name: Self.masterRealmName, adminUsername: adminName, adminPasswordHash: hash, temporaryAdmin: temporaryAdmin)
        do {
            try await store.createRealm(seed)
        } catch StoreError.conflict {
            // Another process created it between our check and our write.
            return .alreadyProvisioned
        }
        return .created(username: User.normalize(adminName), generatedPassword: generated)
    }

    /// `keyport bootstrap-admin user`: Keycloak's way back in when no administrator can log in.
    /// Adds a temporary administrator to the master realm (the `admin` role, marked
    /// `is_temporary_admin`), or creates the master realm with it when there is none yet. The
    /// password is the one given, else generated (and returned, to be shown once).
    func addTemporaryAdministrator(username: String, password: Sensitive?) async throws -> BootstrapOutcome {
        // The rules every username meets, whichever door it comes in by.
        let name: String
        do {
            name = User.normalize(try ObjectRules.username(username))
        } catch let invalid as InvalidObject {
            throw ConfigurationError("--username: \(invalid.message)")
        }
        let generated = password == nil ? Sensitive(Self.readablePassword(environment.randomBytes(18))) : nil
        let secret = password ?? generated!
        guard let master = try await store.realm(named: Self.masterRealmName) else {
            let outcome = try await run(username: name, password: secret.revealed, mode: .production, temporaryAdmin: true)
            guard case .created = outcome else {
                throw ConfigurationError("the master realm appeared while this command ran: run it again")
            }
            return .created(username: name, generatedPassword: generated)
        }
        guard try await store.user(username: name, realmId: master.id) == nil else {
            throw ConfigurationError("user '\(name)' already exists in the master realm: choose another --username (or delete that user first)")
        }
        guard let admin = try await store.role(named: BuiltInRoles.masterAdmin, realmId: master.id, clientId: nil) else {
            throw ConfigurationError("the master realm has no '\(BuiltInRoles.masterAdmin)' role: this database was not made by Keyport")
        }
        let defaultRole = try await store.role(named: master.defaultRoleName, realmId: master.id, clientId: nil)
        let hash = try await hasher.hash(secret, parameters: master.passwordHashing, partition: master.id)
        let seed = provisioner.administratorSeed(realmId: master.id, username: name, passwordHash: hash,
                                                 roleIds: [defaultRole?.id, admin.id].compactMap { $0 }, temporary: true)
        do {
            try await store.createUser(seed)
        } catch StoreError.conflict {
            throw ConfigurationError("user '\(name)' already exists in the master realm: choose another --username")
        }
        return .created(username: name, generatedPassword: generated)
    }

    /// 24 characters of URL-safe base64 from 18 random bytes (144 bits).
    static func readablePassword(_ bytes: [UInt8]) -> String {
        Base64URL.encode(bytes)
    }
}
