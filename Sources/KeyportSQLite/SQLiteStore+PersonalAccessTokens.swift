import GRDB
import KeyportModel
import KeyportStore

extension SQLiteStore {
    public func createPersonalAccessToken(_ t: PersonalAccessToken) async throws {
        try await write { db in
            // The limit is counted inside the write transaction: concurrent creations cannot pass it together.
            let held = try Int.fetchOne(try db.cachedStatement(sql: "SELECT count(*) FROM personal_access_tokens WHERE user_id = ? AND realm_id = ?"),
                                        arguments: [t.userId, t.realmId]) ?? 0
            guard held < PersonalAccessToken.limitPerUser else { throw StoreError.conflict(.tokenLimit) }
            try db.execute(sql: """
                INSERT INTO personal_access_tokens (id, realm_id, user_id, client_id, name, secret_hash, grants, expires_at, created_at,
                  last_used_at, last_used_ip, origin)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [t.id, t.realmId, t.userId, t.clientId, t.name, t.secretHash, t.grants.map(JSONColumn.encode),
                                 t.expiresAt?.millisecondsSince1970, t.createdAt.millisecondsSince1970,
                                 t.lastUsedAt?.millisecondsSince1970, t.lastUsedIp, t.origin.rawValue])
        }
    }

    public func personalAccessToken(secretHash: String) async throws -> PersonalAccessToken? {
        try await readOne { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM personal_access_tokens WHERE secret_hash = ?"), arguments: [secretHash])
                .map(Self.personalAccessToken)
        }
    }

    public func personalAccessToken(id: String, userId: String, realmId: String) async throws -> PersonalAccessToken? {
        try await read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM personal_access_tokens WHERE id = ? AND user_id = ? AND realm_id = ?"),
                             arguments: [id, userId, realmId]).map(Self.personalAccessToken)
        }
    }

    public func personalAccessTokens(userId: String, realmId: String) async throws -> [PersonalAccessToken] {
        try await read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM personal_access_tokens WHERE user_id = ? AND realm_id = ? ORDER BY created_at, id LIMIT ?"),
                             arguments: [userId, realmId, PersonalAccessToken.limitPerUser]).map(Self.personalAccessToken)
        }
    }

    public func touchPersonalAccessToken(id: String, at time: Timestamp, ipAddress: String?) async throws {
        try await write { db in
            try db.execute(sql: """
                UPDATE personal_access_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?), last_used_ip = coalesce(?, last_used_ip)
                WHERE id = ?
                """, arguments: [time.millisecondsSince1970, ipAddress.map { String($0.prefix(64)) }, id])
        }
    }

    public func deletePersonalAccessToken(id: String, userId: String, realmId: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM personal_access_tokens WHERE id = ? AND user_id = ? AND realm_id = ?", arguments: [id, userId, realmId])
            guard db.changesCount == 1 else { throw StoreError.notFound(.personalAccessToken) }
        }
    }

    static func personalAccessToken(_ row: Row) -> PersonalAccessToken {
        let lastUsed: Int64? = row["last_used_at"]
        let expires: Int64? = row["expires_at"]
        let grants: String? = row["grants"]
        return PersonalAccessToken(
            id: row["id"], realmId: row["realm_id"], userId: row["user_id"], clientId: row["client_id"], name: row["name"],
            secretHash: row["secret_hash"], grants: grants.map { JSONColumn.decode([String].self, $0, default: []) },
            expiresAt: expires.map(Timestamp.init(millisecondsSince1970:)), createdAt: row.timestamp("created_at"),
            lastUsedAt: lastUsed.map(Timestamp.init(millisecondsSince1970:)), lastUsedIp: row["last_used_ip"],
            origin: PersonalAccessToken.Origin(rawValue: row["origin"]) ?? .account)
    }
}
