import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func createClient(_ client: Client, roles: [Role]) async throws {
        try await write { db in try db.run([statements.clients.insert(client)] + roles.map(statements.roles.insert)) }
    }

    public func client(id: String, realmId: String) async throws -> Client? {
        try await readOne { db in try db.one(statements.clients.byId(id, realmId: realmId), ClientSQL.decode) }
    }

    public func client(clientId: String, realmId: String) async throws -> Client? {
        try await readOne { db in try db.one(statements.clients.byClientId(clientId, realmId: realmId), ClientSQL.decode) }
    }

    public func clients(realmId: String, page: Page) async throws -> [Client] {
        try await read { db in try db.all(statements.clients.page(realmId: realmId, page), ClientSQL.decode) }
    }

    public func updateClient(id: String, realmId: String, _ change: @escaping @Sendable (inout Client) throws -> Void) async throws -> Client {
        try await write { db in try Self.updateClient(id: id, realmId: realmId, change, db) }
    }

    static func updateClient(id: String, realmId: String, _ change: (inout Client) throws -> Void, _ db: Database) throws -> Client {
        guard let client = try db.one(statements.clients.byIdForUpdate(id, realmId: realmId), ClientSQL.decode) else { throw StoreError.notFound(.client) }
        let changed = try ClientSQL.applying(change, to: client)
        guard try db.run(statements.clients.update(changed)) == 1 else { throw StoreError.notFound(.client) }
        return changed
    }

    public func deleteClient(id: String, realmId: String) async throws {
        try await write { db in try Self.deleteClient(id: id, realmId: realmId, db) }
    }

    static func deleteClient(id: String, realmId: String, _ db: Database) throws {
        guard try db.run(statements.clients.delete(id, realmId: realmId)) == 1 else { throw StoreError.notFound(.client) }
    }
}
