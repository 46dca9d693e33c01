import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func realmKeys(realmId: String) async throws -> [RealmKey] {
        try await readOne { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM realm_keys WHERE realm_id = ? ORDER BY algorithm, priority DESC, created_at DESC"),
                             arguments: [realmId]).map(Self.key)
        }
    }

    public func addRealmKey(_ key: RealmKey) async throws {
        try await write { db in
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM realm_keys WHERE realm_id = ?", arguments: [key.realmId]) ?? 0
            guard count < RealmKey.limitPerRealm else { throw StoreError.conflict(.keyLimit) }
            try Self.insertKey(key, db)
        }
    }

    public func updateRealmKey(id: String, realmId: String, name: String, status: KeyStatus, priority: Int) async throws {
        try await write { db in
            let before = try Self.keyAlgorithmAndStatus(id: id, realmId: realmId, db)
            try db.execute(sql: "UPDATE realm_keys SET name = ?, status = ?, priority = ? WHERE id = ? AND realm_id = ?",
                           arguments: [name, status.rawValue, priority, id, realmId])
            if before.status == KeyStatus.active.rawValue { try Self.requireActiveKey(realmId: realmId, algorithm: before.algorithm, db) }
        }
    }

    public func deleteRealmKey(id: String, realmId: String) async throws {
        try await write { db in
            let before = try Self.keyAlgorithmAndStatus(id: id, realmId: realmId, db)
            try db.execute(sql: "DELETE FROM realm_keys WHERE id = ? AND realm_id = ?", arguments: [id, realmId])
            if before.status == KeyStatus.active.rawValue { try Self.requireActiveKey(realmId: realmId, algorithm: before.algorithm, db) }
        }
    }

    static func keyAlgorithmAndStatus(id: String, realmId: String, _ db: Database) throws -> (algorithm: String, status: String) {
        guard let row = try Row.fetchOne(db, sql: "SELECT algorithm, status FROM realm_keys WHERE id = ? AND realm_id = ?", arguments: [id, realmId]) else {
            throw StoreError.notFound(.key)
        }
        return (row["algorithm"], row["status"])
    }

    /// Checked after a change to an active key, inside its transaction: throwing rolls it back.
    /// (A realm that never had a key of an algorithm is not this rule's business.)
    static func requireActiveKey(realmId: String, algorithm: String, _ db: Database) throws {
        let active = try Int.fetchOne(db, sql: "SELECT count(*) FROM realm_keys WHERE realm_id = ? AND algorithm = ? AND status = 'active'",
                                      arguments: [realmId, algorithm]) ?? 0
        guard active > 0 else { throw StoreError.conflict(.lastActiveKey) }
    }

    public func recordEvent(_ e: Event) async throws {
        try await recordEvents([e])
    }

    public func recordEvents(_ events: [Event], keepingPerRealm limit: Int) async throws {
        guard !events.isEmpty else { return }
        try await write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO events (id, realm_id, time, type, client_id, user_id, ip_address, error, details)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for e in events {
                try insert.execute(arguments: [e.id, e.realmId, e.time.millisecondsSince1970, e.type, e.clientId, e.userId, e.ipAddress, e.error,
                                               JSONColumn.encode(e.details)])
            }
            guard limit < Int.max else { return }
            // The oldest go first once a realm holds more than `limit`. Ordered by time alone, so
            // that the realm's (realm_id, time) index is walked, never sorted.
            for realmId in Set(events.map(\.realmId)) {
                try db.execute(sql: """
                    DELETE FROM events WHERE rowid IN (
                      SELECT rowid FROM events WHERE realm_id = ? ORDER BY time DESC LIMIT -1 OFFSET ?)
                    """, arguments: [realmId, max(0, limit)])
            }
        }
    }

    public func events(realmId: String, matching q: EventQuery, page: Page) async throws -> [Event] {
        var clauses = ["realm_id = ?"]
        var arguments: StatementArguments = [realmId]
        if !q.types.isEmpty {
            clauses.append("type IN (\(SQLText.placeholders(q.types.count)))")
            arguments += StatementArguments(q.types)
        }
        if let user = q.userId { clauses.append("user_id = ?"); arguments += [user] }
        if let client = q.clientId { clauses.append("client_id = ?"); arguments += [client] }
        if let from = q.from { clauses.append("time >= ?"); arguments += [from.millisecondsSince1970] }
        if let to = q.to { clauses.append("time <= ?"); arguments += [to.millisecondsSince1970] }
        let sql = "SELECT * FROM events WHERE \(clauses.joined(separator: " AND ")) ORDER BY time DESC, id LIMIT ? OFFSET ?"
        let finalArguments = arguments + [page.max, page.first]
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: finalArguments).map { row in
                Event(id: row["id"], realmId: row["realm_id"], time: row.timestamp("time"), type: row["type"], clientId: row["client_id"],
                      userId: row["user_id"], ipAddress: row["ip_address"], error: row["error"],
                      details: JSONColumn.decode([String: String].self, row["details"], default: [:]))
            }
        }
    }

    public func deleteEvents(realmId: String, before cutoff: Timestamp) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM events WHERE realm_id = ? AND time < ?", arguments: [realmId, cutoff.millisecondsSince1970])
            return db.changesCount
        }
    }

    public func deleteEvents(realmId: String, before cutoff: Timestamp, authMethod: String) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM events WHERE realm_id = ? AND time < ? AND json_extract(details, '$.auth_method') = ?",
                           arguments: [realmId, cutoff.millisecondsSince1970, authMethod])
            return db.changesCount
        }
    }

    static func insertKey(_ k: RealmKey, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO realm_keys (id, realm_id, name, algorithm, status, private_key_pem, certificate_der, libtrust_key_id, thumbprint, priority, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [k.id, k.realmId, k.name, k.algorithm.rawValue, k.status.rawValue, k.privateKeyPEM.revealed, Data(k.certificateDER),
                             k.libtrustKeyID, k.thumbprint, k.priority, k.createdAt.millisecondsSince1970])
    }

    static func key(_ row: Row) -> RealmKey {
        RealmKey(id: row["id"], realmId: row["realm_id"], name: row["name"], algorithm: SigningAlgorithm(rawValue: row["algorithm"]) ?? .rs256,
                 status: KeyStatus(rawValue: row["status"]) ?? .disabled, privateKeyPEM: Sensitive(row["private_key_pem"]),
                 certificateDER: [UInt8](row["certificate_der"] as Data), libtrustKeyID: row["libtrust_key_id"],
                 thumbprint: row["thumbprint"], priority: row["priority"], createdAt: row.timestamp("created_at"))
    }
}

import Foundation
