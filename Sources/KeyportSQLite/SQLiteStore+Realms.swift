import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func createRealm(_ seed: RealmSeed) async throws {
        try await write { db in try db.run(statements.insert(seed)) }
    }

    public func replaceRealm(_ seed: RealmSeed) async throws {
        try await write { db in
            try db.run(statements.realms.deleteNamed(seed.realm.name, orId: seed.realm.id))
            try db.run(statements.insert(seed))
        }
    }

    public func realm(id: String) async throws -> Realm? {
        try await readOne { db in try db.one(statements.realms.byId(id), RealmSQL.decode) }
    }

    public func realm(named name: String) async throws -> Realm? {
        try await readOne { db in try db.one(statements.realms.byName(name), RealmSQL.decode) }
    }

    public func realms() async throws -> [Realm] {
        try await read { db in try db.all(statements.realms.all, RealmSQL.decode) }
    }

    public func updateRealm(id: String, _ change: @escaping @Sendable (inout Realm) throws -> Void) async throws -> Realm {
        try await write { db in
            guard var realm = try db.one(statements.realms.byIdForUpdate(id), RealmSQL.decode) else { throw StoreError.notFound(.realm) }
            try change(&realm)
            realm.id = id
            guard try db.run(statements.realms.update(realm)) == 1 else { throw StoreError.notFound(.realm) }
            return realm
        }
    }

    public func deleteRealm(id: String) async throws {
        try await write { db in
            guard try db.run(statements.realms.delete(id)) == 1 else { throw StoreError.notFound(.realm) }
        }
    }
}
