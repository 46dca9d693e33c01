import GRDB
import KeyportModel
import KeyportSQL
import KeyportStore

extension SQLiteStore {
    public func clientScope(id: String, realmId: String) async throws -> ClientScope? {
        try await readOne { db in try db.one(statements.clientScopes.byId(id, realmId: realmId), ClientScopeSQL.decode) }
    }

    public func clientScope(named name: String, realmId: String) async throws -> ClientScope? {
        try await readOne { db in try db.one(statements.clientScopes.byName(name, realmId: realmId), ClientScopeSQL.decode) }
    }

    public func clientScopes(realmId: String) async throws -> [ClientScope] {
        try await read { db in try db.all(statements.clientScopes.all(realmId: realmId), ClientScopeSQL.decode) }
    }

    public func realmClientScopes(realmId: String) async throws -> [AssignedClientScope] {
        try await read { db in try db.all(statements.clientScopes.ofRealm(realmId), ClientScopeSQL.decodeAssigned) }
    }

    public func clientScopes(ofClient clientId: String, realmId: String) async throws -> [AssignedClientScope] {
        try await readOne { db in try db.all(statements.clientScopes.ofClient(clientId, realmId: realmId), ClientScopeSQL.decodeAssigned) }
    }

    public func scopeRoles(of holder: ScopeMappingHolder, realmId: String) async throws -> [Role] {
        try await readOne { db in try db.all(statements.clientScopes.roles(of: holder, realmId: realmId), RoleSQL.decode) }
    }

    public func addBuiltinClientScopes(_ make: @escaping @Sendable (String, String?) -> BuiltinClientScopes) async throws -> Int {
        let realmIds = try await read { db in try db.all(statements.clientScopes.realmsNeedingBuiltins()) { $0.string(0) } }
        var added = 0
        for realmId in realmIds {
            added += try await write { db in
                // Checked again inside the transaction: another start may have done it.
                guard try db.exists(statements.clientScopes.needsBuiltins(realmId: realmId)) else { return 0 }
                let offline = try db.one(statements.clientScopes.offlineAccessRoleId(realmId: realmId)) { $0.string(0) }
                try db.run(statements.insert(make(realmId, offline), realmId: realmId))
                try db.run(statements.clientScopes.assignRealmDefaultsToEveryClient(realmId: realmId))
                try db.run(statements.clientScopes.markBuiltins(realmId: realmId))
                return 1
            }
        }
        return added
    }

    static func applyClientScopeChange(_ change: StoreChange, _ db: Database) throws {
        let sql = statements.clientScopes
        switch change {
        case .createClientScope(let scope):
            guard try db.count(sql.count(realmId: scope.realmId)) < ClientScope.limitPerRealm else {
                throw StoreError.invalid("A realm holds at most \(ClientScope.limitPerRealm) client scopes")
            }
            try db.run(sql.insert(scope))
        case .updateClientScope(let id, let realmId, let change):
            guard let scope = try db.one(sql.byIdForUpdate(id, realmId: realmId), ClientScopeSQL.decode) else { throw StoreError.notFound(.clientScope) }
            var changed = scope
            try change(&changed)
            changed.id = scope.id
            changed.realmId = scope.realmId
            guard try db.run(sql.update(changed)) == 1 else { throw StoreError.notFound(.clientScope) }
        case .deleteClientScope(let id, let realmId):
            guard try db.run(sql.delete(id, realmId: realmId)) == 1 else { throw StoreError.notFound(.clientScope) }
        case .assignRealmClientScope(let scopeId, let realmId, let isDefault):
            guard try db.exists(sql.byId(scopeId, realmId: realmId)) else { throw StoreError.notFound(.clientScope) }
            try db.run(sql.assignToRealm(scopeId, realmId: realmId, isDefault: isDefault))
        case .unassignRealmClientScope(let scopeId, let realmId, let isDefault):
            guard try db.run(sql.unassignFromRealm(scopeId, realmId: realmId, isDefault: isDefault)) == 1 else { throw StoreError.notFound(.clientScope) }
        case .assignClientScope(let scopeId, let clientId, let realmId, let isDefault):
            guard try db.exists(sql.byId(scopeId, realmId: realmId)) else { throw StoreError.notFound(.clientScope) }
            try db.run(sql.assignToClient(scopeId, clientId: clientId, realmId: realmId, isDefault: isDefault))
        case .unassignClientScope(let scopeId, let clientId, let realmId, let isDefault):
            guard try db.run(sql.unassignFromClient(scopeId, clientId: clientId, realmId: realmId, isDefault: isDefault)) == 1 else {
                throw StoreError.notFound(.clientScope)
            }
        case .setClientScopes(let clientId, let realmId, let defaults, let optionals):
            for (names, isDefault) in [(defaults, true), (optionals, false)] {
                guard let names else { continue }
                try db.run(sql.clearClientAssignments(clientId, realmId: realmId, isDefault: isDefault))
                for name in names {
                    guard let scope = try db.one(sql.byName(name, realmId: realmId), ClientScopeSQL.decode) else {
                        throw StoreError.invalid("Client scope '\(String(name.prefix(255)))' does not exist in this realm")
                    }
                    try db.run(sql.assignToClient(scope.id, clientId: clientId, realmId: realmId, isDefault: isDefault))
                }
            }
        case .addScopeRoles(let holder, let roleIds, let realmId):
            for roleId in roleIds { try db.run(sql.addRole(roleId, to: holder, realmId: realmId)) }
        case .removeScopeRoles(let holder, let roleIds, let realmId):
            for roleId in roleIds { try db.run(sql.removeRole(roleId, from: holder, realmId: realmId)) }
        default:
            break
        }
    }
}
