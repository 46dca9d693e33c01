import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createUser(_ seed: UserSeed) async throws {
        try await write { db in try Self.insertUser(seed, db) }
    }

    public func user(id: String, realmId: String) async throws -> User? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]).map(Self.user)
        }
    }

    public func user(username: String, realmId: String) async throws -> User? {
        let name = User.normalize(username)
        return try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE realm_id = ? AND username = ?"), arguments: [realmId, name]).map(Self.user)
        }
    }

    public func serviceAccountUser(clientId: String, realmId: String) async throws -> User? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE service_account_client_id = ? AND realm_id = ?"),
                             arguments: [clientId, realmId]).map(Self.user)
        }
    }

    public func userWithPassword(username: String, realmId: String) async throws -> UserWithPassword? {
        let name = User.normalize(username)
        return try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: UserWithPassword.select), arguments: [realmId, name]).map { row in
                let at = UserColumns.names.count
                return UserWithPassword(user: Self.user(row), password: (row[at] as String?).map { id in
                    Credential(id: id, userId: row[0], type: Credential.password, secret: Sensitive(row[at + 1]),
                               createdAt: Timestamp(millisecondsSince1970: row[at + 2]), userLabel: row[at + 3])
                })
            }
        }
    }

    public func user(email: String, realmId: String) async throws -> [User] {
        let address = User.normalize(email)
        return try await read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE realm_id = ? AND email = ? ORDER BY username"), arguments: [realmId, address]).map(Self.user)
        }
    }

    public func users(realmId: String, matching query: UserQuery, page: Page) async throws -> [User] {
        let (clause, arguments) = Self.userFilter(realmId: realmId, query)
        return try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.userColumns) FROM users WHERE \(clause) ORDER BY username LIMIT ? OFFSET ?",
                             arguments: arguments + [page.max, page.first]).map(Self.user)
        }
    }

    public func countUsers(realmId: String, matching query: UserQuery) async throws -> Int {
        let (clause, arguments) = Self.userFilter(realmId: realmId, query)
        return try await read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users WHERE \(clause)", arguments: arguments) ?? 0 }
    }

    public func updateUser(id: String, realmId: String, _ change: @escaping @Sendable (inout User) throws -> Void) async throws -> User {
        try await write { db in try Self.updateUser(id: id, realmId: realmId, change, db) }
    }

    static func updateUser(id: String, realmId: String, _ change: (inout User) throws -> Void, _ db: Database) throws -> User {
        guard var user = try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE id = ? AND realm_id = ?"), arguments: [id, realmId]).map(Self.user) else {
            throw StoreError.notFound(.user)
        }
        try change(&user)
        // Identity is not the change's to make.
        user.id = id
        user.realmId = realmId
        user.username = User.normalize(user.username)
        user.email = user.email.map(User.normalize)
        try updateUser(user, db)
        return user
    }

    static func updateUser(_ user: User, _ db: Database) throws {
        try db.execute(sql: """
            UPDATE users SET username = ?, email = ?, email_verified = ?, first_name = ?, last_name = ?, enabled = ?,
              not_before = ?, attributes = ?, required_actions = ?
            WHERE id = ? AND realm_id = ?
            """, arguments: [
                user.username, user.email, user.emailVerified, user.firstName, user.lastName, user.enabled,
                user.notBefore.millisecondsSince1970, JSONColumn.encode(user.attributes), JSONColumn.encode(user.requiredActions),
                user.id, user.realmId,
            ])
        guard db.changesCount == 1 else { throw StoreError.notFound(.user) }
    }

    public func deleteUser(id: String, realmId: String) async throws {
        try await write { db in try Self.deleteUser(id: id, realmId: realmId, db) }
    }

    static func deleteUser(id: String, realmId: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM users WHERE id = ? AND realm_id = ?", arguments: [id, realmId])
        guard db.changesCount == 1 else { throw StoreError.notFound(.user) }
    }

    // MARK: Credentials

    public func credentials(userId: String) async throws -> [Credential] {
        try await readOne { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM credentials WHERE user_id = ? ORDER BY created_at"), arguments: [userId]).map(Self.credential)
        }
    }

    public func setCredential(_ credential: Credential, revokeTokensBefore: Timestamp?) async throws {
        try await write { db in try Self.setCredential(credential, revokeTokensBefore: revokeTokensBefore, db) }
    }

    static func setCredential(_ credential: Credential, revokeTokensBefore: Timestamp?, _ db: Database) throws {
        guard try Bool.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM users WHERE id = ?"), arguments: [credential.userId]) == true else {
            throw StoreError.notFound(.user)
        }
        try db.execute(sql: "DELETE FROM credentials WHERE user_id = ? AND type = ?", arguments: [credential.userId, credential.type])
        try insertCredential(credential, db)
        if let revokeTokensBefore {
            try db.execute(sql: "UPDATE users SET not_before = max(not_before, ?) WHERE id = ?",
                           arguments: [revokeTokensBefore.millisecondsSince1970, credential.userId])
            // A new password ends the tokens the old one made through self-service.
            if credential.type == Credential.password {
                try db.execute(sql: "DELETE FROM personal_access_tokens WHERE user_id = ? AND origin = 'account'", arguments: [credential.userId])
            }
        }
    }

    public func replaceCredentialSecret(id: String, expected: Sensitive, with new: Sensitive) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE credentials SET secret = ? WHERE id = ? AND secret = ?", arguments: [new.revealed, id, expected.revealed])
            return db.changesCount == 1
        }
    }

    public func deleteCredential(id: String, userId: String, revokeTokensBefore: Timestamp?) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM credentials WHERE id = ? AND user_id = ?", arguments: [id, userId])
            guard db.changesCount == 1 else { throw StoreError.notFound(.credential) }
            if let revokeTokensBefore {
                try db.execute(sql: "UPDATE users SET not_before = max(not_before, ?) WHERE id = ?",
                               arguments: [revokeTokensBefore.millisecondsSince1970, userId])
            }
        }
    }

    // MARK: Rows

    static func insertUser(_ seed: UserSeed, _ db: Database) throws {
        let u = seed.user
        try db.execute(sql: """
            INSERT INTO users (id, realm_id, username, email, email_verified, first_name, last_name, enabled, created_at,
              not_before, attributes, required_actions, service_account_client_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                u.id, u.realmId, u.username, u.email, u.emailVerified, u.firstName, u.lastName, u.enabled,
                u.createdAt.millisecondsSince1970, u.notBefore.millisecondsSince1970,
                JSONColumn.encode(u.attributes), JSONColumn.encode(u.requiredActions), u.serviceAccountClientId,
            ])
        for credential in seed.credentials { try insertCredential(credential, db) }
        for roleId in seed.roleIds {
            try db.execute(sql: "INSERT OR IGNORE INTO user_roles (realm_id, user_id, role_id) VALUES (?, ?, ?)", arguments: [u.realmId, u.id, roleId])
        }
        for groupId in seed.groupIds {
            try db.execute(sql: "INSERT OR IGNORE INTO group_members (realm_id, group_id, user_id) VALUES (?, ?, ?)", arguments: [u.realmId, groupId, u.id])
        }
    }

    static func insertCredential(_ c: Credential, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO credentials (id, user_id, type, secret, user_label, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [c.id, c.userId, c.type, c.secret.revealed, c.userLabel, c.createdAt.millisecondsSince1970])
    }

    /// Keycloak's matching: `exact` compares whole values; otherwise a case-insensitive
    /// substring. `search` looks in username, email, first and last name.
    static func userFilter(realmId: String, _ q: UserQuery) -> (String, StatementArguments) {
        var clauses = ["realm_id = ?"]
        var arguments: StatementArguments = [realmId]
        func match(_ column: String, _ value: String?, normalize: Bool) {
            guard let value, !value.isEmpty else { return }
            let v = normalize ? User.normalize(value) : value
            if q.exact {
                clauses.append(normalize ? "\(column) = ?" : "lower(\(column)) = lower(?)")
                arguments += [v]
            } else {
                clauses.append("\(column) LIKE ? ESCAPE '\\'")
                arguments += ["%\(SQLText.escapeLike(v))%"]
            }
        }
        match("username", q.username, normalize: true)
        match("email", q.email, normalize: true)
        match("first_name", q.firstName, normalize: false)
        match("last_name", q.lastName, normalize: false)
        if let search = q.search?.trimmingCharacters(in: .whitespaces), !search.isEmpty, search != "*" {
            let pattern = "%\(SQLText.escapeLike(search.replacingOccurrences(of: "*", with: "")))%"
            clauses.append("(username LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' OR first_name LIKE ? ESCAPE '\\' OR last_name LIKE ? ESCAPE '\\')")
            arguments += [pattern, pattern, pattern, pattern]
        }
        if !q.includeServiceAccounts { clauses.append("service_account_client_id IS NULL") }
        if let enabled = q.enabled {
            clauses.append("enabled = ?")
            arguments += [enabled]
        }
        return (clauses.joined(separator: " AND "), arguments)
    }


    /// `UserColumns.list()` in a statement's first columns, read by position.
    static let userColumns = UserColumns.list()

    static func user(_ row: Row) -> User {
        User(
            id: row[0], realmId: row[1], username: row[2], email: row[3],
            emailVerified: (row[4] as Int64) != 0, firstName: row[5], lastName: row[6],
            enabled: (row[7] as Int64) != 0, createdAt: Timestamp(millisecondsSince1970: row[8]),
            attributes: JSONColumn.decode([String: [String]].self, row[10], default: [:]),
            requiredActions: JSONColumn.decode([String].self, row[11], default: []),
            notBefore: Timestamp(millisecondsSince1970: row[9]), serviceAccountClientId: row[12])
    }

    static func credential(_ row: Row) -> Credential {
        Credential(id: row["id"], userId: row["user_id"], type: row["type"], secret: Sensitive(row["secret"]),
                   createdAt: row.timestamp("created_at"), userLabel: row["user_label"])
    }
}

import Foundation
