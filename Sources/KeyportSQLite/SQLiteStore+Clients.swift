import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createClient(_ client: Client, roles: [Role]) async throws {
        try await write { db in
            try Self.insertClient(client, db)
            for role in roles { try Self.insertRole(role, db) }
        }
    }

    public func client(id: String, realmId: String) async throws -> Client? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM clients WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]).map(Self.client)
        }
    }

    public func client(clientId: String, realmId: String) async throws -> Client? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM clients WHERE client_id = ? AND realm_id = ?"), arguments: [clientId, realmId]).map(Self.client)
        }
    }

    public func clients(realmId: String, page: Page) async throws -> [Client] {
        try await read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM clients WHERE realm_id = ? ORDER BY client_id LIMIT ? OFFSET ?"),
                             arguments: [realmId, page.max, page.first]).map(Self.client)
        }
    }

    public func updateClient(id: String, realmId: String, _ change: @escaping @Sendable (inout Client) throws -> Void) async throws -> Client {
        try await write { db in try Self.updateClient(id: id, realmId: realmId, change, db) }
    }

    static func updateClient(id: String, realmId: String, _ change: (inout Client) throws -> Void, _ db: Database) throws -> Client {
        guard var client = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM clients WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]).map(Self.client) else {
            throw StoreError.notFound(.client)
        }
        try change(&client)
        client.id = id
        client.realmId = realmId
        try updateClient(client, db)
        return client
    }

    static func updateClient(_ c: Client, _ db: Database) throws {
        try db.execute(sql: """
            UPDATE clients SET client_id = ?, name = ?, description = ?, enabled = ?, protocol = ?, public_client = ?, secret = ?,
              direct_access_grants_enabled = ?, service_accounts_enabled = ?, standard_flow_enabled = ?, redirect_uris = ?,
              attributes = ?, protocol_mappers = ?
            WHERE id = ? AND realm_id = ?
            """, arguments: [
                c.clientId, c.name, c.description, c.enabled, c.protocolName.rawValue, c.publicClient, c.secret?.revealed,
                c.directAccessGrantsEnabled, c.serviceAccountsEnabled, c.standardFlowEnabled, JSONColumn.encode(c.redirectUris),
                JSONColumn.encode(c.attributes), JSONColumn.encode(c.protocolMappers), c.id, c.realmId,
            ])
        guard db.changesCount == 1 else { throw StoreError.notFound(.client) }
    }

    public func deleteClient(id: String, realmId: String) async throws {
        try await write { db in try Self.deleteClient(id: id, realmId: realmId, db) }
    }

    static func deleteClient(id: String, realmId: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM clients WHERE id = ? AND realm_id = ?", arguments: [id, realmId])
        guard db.changesCount == 1 else { throw StoreError.notFound(.client) }
    }

    static func insertClient(_ c: Client, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO clients (id, realm_id, client_id, name, description, enabled, protocol, public_client, secret,
              direct_access_grants_enabled, service_accounts_enabled, standard_flow_enabled, redirect_uris, attributes,
              protocol_mappers, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                c.id, c.realmId, c.clientId, c.name, c.description, c.enabled, c.protocolName.rawValue, c.publicClient,
                c.secret?.revealed, c.directAccessGrantsEnabled, c.serviceAccountsEnabled, c.standardFlowEnabled,
                JSONColumn.encode(c.redirectUris), JSONColumn.encode(c.attributes), JSONColumn.encode(c.protocolMappers),
                c.createdAt.millisecondsSince1970,
            ])
    }

    static func client(_ row: Row) -> Client {
        Client(
            id: row["id"], realmId: row["realm_id"], clientId: row["client_id"], name: row["name"], description: row["description"],
            enabled: row.bool("enabled"), protocolName: ClientProtocol(rawValue: row["protocol"]) ?? .openIDConnect,
            publicClient: row.bool("public_client"), secret: (row["secret"] as String?).map(Sensitive.init),
            directAccessGrantsEnabled: row.bool("direct_access_grants_enabled"),
            serviceAccountsEnabled: row.bool("service_accounts_enabled"), standardFlowEnabled: row.bool("standard_flow_enabled"),
            redirectUris: JSONColumn.decode([String].self, row["redirect_uris"], default: []),
            attributes: JSONColumn.decode([String: String].self, row["attributes"], default: [:]),
            protocolMappers: JSONColumn.decode([ProtocolMapper].self, row["protocol_mappers"], default: []),
            createdAt: row.timestamp("created_at"))
    }
}
