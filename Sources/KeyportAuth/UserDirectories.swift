import KeyportModel

/// People who sign in with a directory's password (LDAP, Active Directory): found and imported
/// by the realm's user storage providers, their passwords checked by the directory, never
/// stored. `PasswordAuthenticator` asks it only for realms that have providers
/// (`Realm.hasUserFederation`) and only for users it imported (`User.federationLink`) or that
/// no one here is called; the implementation is `KeyportUserFederation`'s.
public protocol UserDirectories: Sendable {
    /// The user a directory of `realm` knows as `username`, imported (linked to its entry) when
    /// new; nil when no directory of the realm has such a person.
    func importUser(named username: String, realm: Realm) async throws -> User?

    /// `password` checked by the directory entry `user` was imported from, and what the directory
    /// decides about `user` (its name, email, groups, whether it is enabled) brought up to date.
    func verify(_ user: User, password: Sensitive, realm: Realm) async throws -> DirectoryVerdict

    /// What the directory decides about `user` now, without a password (the user acts with a token
    /// that stands for an earlier sign-in): `.match` with the user brought up to date, or `.gone`.
    func standing(of user: User, realm: Realm) async throws -> DirectoryVerdict
}

public enum DirectoryVerdict: Sendable, Equatable {
    /// The directory accepted the password; the user as it is now.
    case match(User)
    case mismatch
    /// The entry is gone from the directory, or its provider is disabled: nobody to sign in.
    case gone
}

/// A directory a user depends on did not answer (down, slow, busy): their sign-in cannot be
/// decided now. Answered 503 (the server's one error mapping); local users are not affected.
public struct UserDirectoryUnavailable: Error, Sendable, CustomStringConvertible {
    public let provider: String
    public init(provider: String) { self.provider = provider }
    public var description: String { "The user directory '\(provider)' is unavailable" }
}
