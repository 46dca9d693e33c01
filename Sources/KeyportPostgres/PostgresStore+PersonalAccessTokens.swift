import KeyportModel
import KeyportSQL
import KeyportStore

extension PostgresStore {
    public func createPersonalAccessToken(_ t: PersonalAccessToken) async throws {
        try await write { db in
            // The limit is counted under the user's lock: concurrent creations on several nodes cannot pass it together.
            try await db.run(statements.users.lock(t.userId, realmId: t.realmId))
            guard try await db.count(statements.tokens.count(userId: t.userId, realmId: t.realmId)) < PersonalAccessToken.limitPerUser else {
                throw StoreError.conflict(.tokenLimit)
            }
            try await db.run(statements.tokens.insert(t))
        }
    }

    public func personalAccessToken(secretHash: String) async throws -> PersonalAccessToken? {
        try await readOne { db in try await db.one(statements.tokens.bySecretHash(secretHash), PersonalAccessTokenSQL.decode) }
    }

    public func personalAccessToken(id: String, userId: String, realmId: String) async throws -> PersonalAccessToken? {
        try await read { db in try await db.one(statements.tokens.byId(id, userId: userId, realmId: realmId), PersonalAccessTokenSQL.decode) }
    }

    public func personalAccessTokens(userId: String, realmId: String) async throws -> [PersonalAccessToken] {
        try await read { db in try await db.all(statements.tokens.of(userId: userId, realmId: realmId), PersonalAccessTokenSQL.decode) }
    }

    public func personalAccessTokens(clientId: String, realmId: String, userId: String?, page: Page) async throws -> [PersonalAccessToken] {
        try await read { db in try await db.all(statements.tokens.of(clientId: clientId, realmId: realmId, userId: userId, page: page), PersonalAccessTokenSQL.decode) }
    }

    public func touchPersonalAccessToken(id: String, at time: Timestamp, ipAddress: String?) async throws {
        try await write { db in try await db.run(statements.tokens.touch(id, at: time, ipAddress: ipAddress)) }
    }

    public func deletePersonalAccessToken(id: String, userId: String, realmId: String) async throws {
        try await write { db in
            guard try await db.run(statements.tokens.delete(id, userId: userId, realmId: realmId)) == 1 else { throw StoreError.notFound(.personalAccessToken) }
        }
    }
}
