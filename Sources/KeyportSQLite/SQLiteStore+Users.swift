import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func createUser(_ seed: UserSeed) async throws {
        try await write { db in try db.run(statements.users.insert(seed)) }
    }

    public func user(id: String, realmId: String) async throws -> User? {
        try await readOne { db in try db.one(statements.users.byId(id, realmId: realmId), UserSQL.decode) }
    }

    public func user(username: String, realmId: String) async throws -> User? {
        try await readOne { db in try db.one(statements.users.byUsername(username, realmId: realmId), UserSQL.decode) }
    }

    public func serviceAccountUser(clientId: String, realmId: String) async throws -> User? {
        try await readOne { db in try db.one(statements.users.byServiceAccountClient(clientId, realmId: realmId), UserSQL.decode) }
    }

    public func userWithPassword(username: String, realmId: String) async throws -> UserWithPassword? {
        try await readOne { db in try db.one(statements.users.withPassword(username: username, realmId: realmId), UserSQL.decodeWithPassword) }
    }

    public func user(email: String, realmId: String) async throws -> [User] {
        try await read { db in try db.all(statements.users.byEmail(email, realmId: realmId), UserSQL.decode) }
    }

    public func users(realmId: String, matching query: UserQuery, page: Page) async throws -> [User] {
        try await read { db in try db.all(statements.users.matching(query, realmId: realmId, page: page), UserSQL.decode) }
    }

    public func countUsers(realmId: String, matching query: UserQuery) async throws -> Int {
        try await read { db in try db.count(statements.users.count(query, realmId: realmId)) }
    }

    public func updateUser(id: String, realmId: String, _ change: @escaping @Sendable (inout User) throws -> Void) async throws -> User {
        try await write { db in try Self.updateUser(id: id, realmId: realmId, change, db) }
    }

    static func updateUser(id: String, realmId: String, _ change: (inout User) throws -> Void, _ db: Database) throws -> User {
        guard let user = try db.one(statements.users.byIdForUpdate(id, realmId: realmId), UserSQL.decode) else { throw StoreError.notFound(.user) }
        let changed = try UserSQL.applying(change, to: user)
        guard try db.run(statements.users.update(changed)) == 1 else { throw StoreError.notFound(.user) }
        return changed
    }

    public func deleteUser(id: String, realmId: String) async throws {
        try await write { db in try Self.deleteUser(id: id, realmId: realmId, db) }
    }

    static func deleteUser(id: String, realmId: String, _ db: Database) throws {
        guard try db.run(statements.users.delete(id, realmId: realmId)) == 1 else { throw StoreError.notFound(.user) }
    }

    // MARK: Credentials

    public func credentials(userId: String) async throws -> [Credential] {
        try await readOne { db in try db.all(statements.users.credentials(userId: userId), UserSQL.decodeCredential) }
    }

    public func setCredential(_ credential: Credential, revokeTokensBefore: Timestamp?) async throws {
        try await write { db in try Self.setCredential(credential, revokeTokensBefore: revokeTokensBefore, db) }
    }

    static func setCredential(_ credential: Credential, revokeTokensBefore: Timestamp?, _ db: Database) throws {
        guard try db.exists(statements.users.existsLocked(credential.userId)) else { throw StoreError.notFound(.user) }
        try db.run(statements.users.deleteCredentials(userId: credential.userId, type: credential.type))
        try db.run(statements.users.insertCredential(credential))
        if let revokeTokensBefore {
            try db.run(statements.users.revokeTokens(userId: credential.userId, before: revokeTokensBefore))
            if credential.type == Credential.password { try db.run(statements.tokens.deleteMadeByAccount(userId: credential.userId)) }
        }
    }

    public func replaceCredentialSecret(id: String, expected: Sensitive, with new: Sensitive) async throws -> Bool {
        try await write { db in try db.run(statements.users.replaceSecret(id, expected: expected, with: new)) == 1 }
    }

    public func deleteCredential(id: String, userId: String, revokeTokensBefore: Timestamp?) async throws {
        try await write { db in
            guard try db.run(statements.users.deleteCredential(id, userId: userId)) == 1 else { throw StoreError.notFound(.credential) }
            if let revokeTokensBefore { try db.run(statements.users.revokeTokens(userId: userId, before: revokeTokensBefore)) }
        }
    }
}
