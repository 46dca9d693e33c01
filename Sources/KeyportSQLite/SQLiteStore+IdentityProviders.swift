import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func identityProvider(alias: String, realmId: String) async throws -> IdentityProvider? {
        try await readOne { db in try db.one(statements.identityProviders.byAlias(alias, realmId: realmId), IdentityProviderSQL.decode) }
    }

    public func identityProviders(realmId: String) async throws -> [IdentityProvider] {
        try await readOne { db in try db.all(statements.identityProviders.all(realmId: realmId), IdentityProviderSQL.decode) }
    }

    public func federatedClients(alias: String, subject: String, realmId: String) async throws -> [Client] {
        try await read { db in
            try db.all(statements.identityProviders.federatedClients(alias: alias, subject: subject, realmId: realmId), ClientSQL.decode)
        }
    }

    public func useClientAssertion(key: String, realmId: String, expiresAt: Timestamp, now: Timestamp) async throws -> Bool {
        try await write { db in
            try db.run(statements.identityProviders.deleteExpiredAssertion(key: key, realmId: realmId, now: now))
            return try db.run(statements.identityProviders.useAssertion(key: key, realmId: realmId, expiresAt: expiresAt)) == 1
        }
    }

    public func clientAssertionUsed(key: String, realmId: String, now: Timestamp) async throws -> Bool {
        try await readOne { db in try db.exists(statements.identityProviders.assertionUsed(key: key, realmId: realmId, now: now)) }
    }

    public func deleteExpiredClientAssertions(before cutoff: Timestamp) async throws -> Int {
        try await write { db in try db.run(statements.identityProviders.deleteExpiredAssertions(before: cutoff)) }
    }

    static func applyIdentityProviderChange(_ change: StoreChange, _ db: Database) throws {
        let sql = statements.identityProviders
        switch change {
        case .createIdentityProvider(let provider):
            guard try db.count(sql.count(realmId: provider.realmId)) < IdentityProvider.limitPerRealm else {
                throw StoreError.invalid("A realm holds at most \(IdentityProvider.limitPerRealm) identity providers")
            }
            try db.run(sql.insert(provider))
        case .updateIdentityProvider(let alias, let realmId, let change):
            guard let provider = try db.one(sql.byAliasForUpdate(alias, realmId: realmId), IdentityProviderSQL.decode) else {
                throw StoreError.notFound(.identityProvider)
            }
            var changed = provider
            try change(&changed)
            changed.id = provider.id
            changed.realmId = provider.realmId
            guard try db.run(sql.update(changed)) == 1 else { throw StoreError.notFound(.identityProvider) }
        case .deleteIdentityProvider(let alias, let realmId):
            guard try db.run(sql.delete(alias: alias, realmId: realmId)) == 1 else { throw StoreError.notFound(.identityProvider) }
        default:
            break
        }
    }
}
