import KeyportAuth
import KeyportKeys
import KeyportModel
import KeyportPasswords
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

    func run(username: String?, password: String?, mode: KeyportConfiguration.Mode) async throws -> BootstrapOutcome {
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
        let seed = try provisioner.masterSeed(name: Self.masterRealmName, adminUsername: adminName, adminPasswordHash: hash)
        do {
            try await store.createRealm(seed)
        } catch StoreError.conflict {
            // Another process created it between our check and our write.
            return .alreadyProvisioned
        }
        return .created(username: User.normalize(adminName), generatedPassword: generated)
    }

    /// 24 characters of URL-safe base64 from 18 random bytes (144 bits).
    static func readablePassword(_ bytes: [UInt8]) -> String {
        Base64URL.encode(bytes)
    }
}
