import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func realmKeys(realmId: String) async throws -> [RealmKey] {
        try await readOne { db in try db.all(statements.keys.of(realmId: realmId), KeySQL.decode) }
    }

    public func addRealmKey(_ key: RealmKey) async throws {
        try await write { db in
            guard try db.count(statements.keys.count(realmId: key.realmId)) < RealmKey.limitPerRealm else { throw StoreError.conflict(.keyLimit) }
            try db.run(statements.keys.insert(key))
        }
    }

    public func updateRealmKey(id: String, realmId: String, name: String, status: KeyStatus, priority: Int) async throws {
        try await write { db in
            try Self.keepingAnActiveKey(id: id, realmId: realmId, db) {
                try db.run(statements.keys.update(id, realmId: realmId, name: name, status: status, priority: priority))
            }
        }
    }

    public func deleteRealmKey(id: String, realmId: String) async throws {
        try await write { db in
            try Self.keepingAnActiveKey(id: id, realmId: realmId, db) { try db.run(statements.keys.delete(id, realmId: realmId)) }
        }
    }

    /// Runs `change` to a key, then — if the key was active — checks its algorithm still has an
    /// active key, inside the transaction: throwing rolls it back. (A realm that never had a key
    /// of an algorithm is not this rule's business.)
    static func keepingAnActiveKey(id: String, realmId: String, _ db: Database, _ change: () throws -> Void) throws {
        guard let (algorithm, status) = try db.one(statements.keys.algorithmAndStatus(id, realmId: realmId), { ($0.string(0), $0.string(1)) }) else {
            throw StoreError.notFound(.key)
        }
        try change()
        if status == KeyStatus.active.rawValue, try db.count(statements.keys.countActive(realmId: realmId, algorithm: algorithm)) == 0 {
            throw StoreError.conflict(.lastActiveKey)
        }
    }

    public func recordEvents(_ events: [Event], keepingPerRealm limit: Int) async throws {
        guard !events.isEmpty else { return }
        try await write { db in
            try db.run(events.map(statements.events.insert))
            guard limit < Int.max else { return }
            for realmId in Set(events.map(\.realmId)).sorted() { try db.run(statements.events.trim(realmId: realmId, keeping: limit)) }
        }
    }

    public func events(realmId: String, matching q: EventQuery, page: Page) async throws -> [Event] {
        try await read { db in try db.all(statements.events.matching(q, realmId: realmId, page: page), EventSQL.decode) }
    }

    public func deleteEvents(realmId: String, before cutoff: Timestamp) async throws -> Int {
        try await write { db in try db.run(statements.events.delete(realmId: realmId, before: cutoff)) }
    }

    public func deleteEvents(realmId: String, before cutoff: Timestamp, authMethod: String) async throws -> Int {
        try await write { db in try db.run(statements.events.delete(realmId: realmId, before: cutoff, authMethod: authMethod)) }
    }

    public func recordAdminEvent(_ event: AdminEvent, keepingPerRealm limit: Int) async throws {
        try await write { db in
            try db.run(statements.adminEvents.insert(event))
            try db.run(statements.adminEvents.trim(realmId: event.realmId, keeping: limit))
        }
    }

    public func adminEvents(realmId: String, matching q: AdminEventQuery, page: Page) async throws -> [AdminEvent] {
        try await read { db in try db.all(statements.adminEvents.matching(q, realmId: realmId, page: page), AdminEventSQL.decode) }
    }

    public func deleteAdminEvents(realmId: String, before cutoff: Timestamp) async throws -> Int {
        try await write { db in try db.run(statements.adminEvents.delete(realmId: realmId, before: cutoff)) }
    }

    public func recordRegistryEvents(_ events: [RegistryEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try await write { db in try events.reduce(0) { $0 + (try db.run(statements.registryEvents.insert($1))) } }
    }

    public func registryEvents(realmId: String, matching q: RegistryEventQuery, page: Page) async throws -> [RegistryEvent] {
        try await read { db in try db.all(statements.registryEvents.matching(q, realmId: realmId, page: page), RegistryEventSQL.decode) }
    }

    public func deleteRegistryEvents(realmId: String, before cutoff: Timestamp, keeping limit: Int) async throws -> Int {
        try await write { db in
            try db.run(statements.registryEvents.delete(realmId: realmId, before: cutoff))
                + db.run(statements.registryEvents.trim(realmId: realmId, keeping: limit))
        }
    }
}
