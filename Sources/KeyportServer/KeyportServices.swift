import KeyportAuth
import KeyportEvents
import KeyportHTTP
import KeyportModel
import KeyportOIDC
import KeyportPasswords
import KeyportProvisioning
import KeyportStore
import KeyportUserFederation
import Logging

/// The long-lived parts every route handler shares, built once by `KeyportServer.make`.
public struct KeyportServices: Sendable {
    /// The public base URL in force (`--hostname`, or derived from the bound port).
    public let publicURL: PublicBaseURL
    public let configuration: KeyportConfiguration
    public let environment: TimeAndRandomness
    public let store: any IdentityStore
    public let hasher: PasswordHasher
    public let authenticator: PasswordAuthenticator
    public let provisioner: RealmProvisioner
    public let tokens: TokenService
    public let events: EventRecorder
    public let metrics: KeyportMetrics
    public let logger: Logger
    /// The realms' LDAP providers at sign-in and sync.
    public let directories: DirectoryUsers
    /// Every route the application serves, as (method, path pattern): the OpenAPI test checks each has an entry.
    public let routes: [(method: String, path: String)]
}
