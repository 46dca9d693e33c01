import KeyportAuth
import KeyportModel
import KeyportPasswords
import KeyportStore
import Logging

/// The long-lived parts every route handler shares, built once by `KeyportServer.make`.
public struct KeyportServices: Sendable {
    public let configuration: KeyportConfiguration
    public let environment: KeyportModel.Environment
    public let store: any IdentityStore
    public let hasher: PasswordHasher
    public let authenticator: PasswordAuthenticator
    public let provisioner: RealmProvisioner
    public let metrics: KeyportMetrics
    public let logger: Logger
}
