import KeyportModel
import KeyportStore

/// Users and their credentials: columns, statements and row decoding, once for both engines.
public struct UserSQL: Sendable {
    /// A user row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "username", "email", "email_verified", "first_name", "last_name", "enabled",
                                            "created_at", "not_before", "attributes", "required_actions", "service_account_client_id",
                                            "federation_link", "federation_id"])
    public static let credentialColumns = SQLColumns(["id", "user_id", "type", "secret", "user_label", "created_at"])

    let dialect: SQLDialect
    private let select: String
    private let selectById: String
    private let selectForUpdate: String
    private let selectWithPassword: String
    private let selectByUsername: String

    public init(_ dialect: SQLDialect) {
        self.dialect = dialect
        select = "SELECT \(Self.columns.list()) FROM users"
        selectById = "\(select) WHERE id = ? AND realm_id = ?"
        selectForUpdate = selectById + dialect.forUpdate
        selectByUsername = "\(select) WHERE realm_id = ? AND username = ?"
        // A user has at most one credential of a type (`UNIQUE (user_id, type)`): at most one row.
        selectWithPassword = """
            SELECT \(Self.columns.list("u")), \(Self.credentialColumns.list("c"))
            FROM users u LEFT JOIN credentials c ON c.user_id = u.id AND c.type = 'password'
            WHERE u.realm_id = ? AND u.username = ?
            """
    }

    // MARK: Reading

    public func byId(_ id: String, realmId: String) -> SQLStatement { SQLStatement(sql: selectById, values: [.text(id), .text(realmId)]) }
    /// The row to change, locked until the transaction ends.
    public func byIdForUpdate(_ id: String, realmId: String) -> SQLStatement { SQLStatement(selectForUpdate, [id, realmId]) }
    public func byUsername(_ username: String, realmId: String) -> SQLStatement {
        SQLStatement(sql: selectByUsername, values: [.text(realmId), .text(User.normalize(username))])
    }
    public func byServiceAccountClient(_ clientId: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE service_account_client_id = ? AND realm_id = ?", [clientId, realmId])
    }
    public func byEmail(_ email: String, realmId: String) -> SQLStatement {
        // Ordered by an expression, not the column: SQLite would otherwise walk the whole realm in
        // the (realm, username) index for the order instead of finding the few rows by email
        // (users_by_email) — a sync of 100,000 people, or a login by email in a big realm, paid it
        // at every lookup.
        SQLStatement("\(select) WHERE realm_id = ? AND email = ? ORDER BY username || ''", [realmId, User.normalize(email)])
    }
    /// The user and its password in one statement (a login's only read of them).
    public func withPassword(username: String, realmId: String) -> SQLStatement {
        SQLStatement(sql: selectWithPassword, values: [.text(realmId), .text(User.normalize(username))])
    }
    public func matching(_ query: UserQuery, realmId: String, page: Page) -> SQLStatement {
        let (clause, arguments) = filter(query, realmId: realmId)
        return SQLStatement(sql: "\(select) WHERE \(clause) ORDER BY username LIMIT ? OFFSET ?",
                            values: arguments + [page.max.sqlValue, page.first.sqlValue], cacheable: false)
    }
    /// One column, `n`.
    public func count(_ query: UserQuery, realmId: String) -> SQLStatement {
        let (clause, arguments) = filter(query, realmId: realmId)
        return SQLStatement(sql: "SELECT count(*) AS n FROM users WHERE \(clause)", values: arguments, cacheable: false)
    }
    /// Users joined through `table` (`user_roles`, `group_members`) where `column` is the given id.
    public func joined(through table: String, where column: String, is id: String, realmId: String, page: Page) -> SQLStatement {
        SQLStatement("""
            SELECT \(Self.columns.list("u")) FROM users u JOIN \(table) j ON j.user_id = u.id
            WHERE j.\(column) = ? AND j.realm_id = ? ORDER BY u.username LIMIT ? OFFSET ?
            """, [id, realmId, page.max, page.first])
    }
    /// Whether a user row exists (any realm), locked when the dialect locks: a credential's owner.
    public func existsLocked(_ id: String) -> SQLStatement {
        SQLStatement("SELECT 1 AS x FROM users WHERE id = ?" + dialect.forUpdate, [id])
    }

    /// Keycloak's matching: `exact` compares whole values; otherwise a case-insensitive
    /// substring. `search` looks in username, email, first and last name.
    func filter(_ q: UserQuery, realmId: String) -> (String, [SQLValue]) {
        var clauses = ["realm_id = ?"]
        var arguments: [SQLValue] = [.text(realmId)]
        let like = "\(dialect.like) ? ESCAPE '\\'"
        func match(_ column: String, _ value: String?, normalize: Bool) {
            guard let value, !value.isEmpty else { return }
            let v = normalize ? User.normalize(value) : value
            if q.exact {
                clauses.append(normalize ? "\(column) = ?" : "lower(\(column)) = lower(?)")
                arguments.append(.text(v))
            } else {
                clauses.append("\(column) \(like)")
                arguments.append(.text("%\(SQLText.escapeLike(v))%"))
            }
        }
        match("username", q.username, normalize: true)
        match("email", q.email, normalize: true)
        match("first_name", q.firstName, normalize: false)
        match("last_name", q.lastName, normalize: false)
        if let search = q.search?.trimmingCharacters(in: .whitespaces), !search.isEmpty, search != "*" {
            let pattern = SQLValue.text("%\(SQLText.escapeLike(search.replacingOccurrences(of: "*", with: "")))%")
            clauses.append("(username \(like) OR email \(like) OR first_name \(like) OR last_name \(like))")
            arguments += [pattern, pattern, pattern, pattern]
        }
        if !q.includeServiceAccounts { clauses.append("service_account_client_id IS NULL") }
        if let enabled = q.enabled {
            clauses.append("enabled = ?")
            arguments.append(.bool(enabled))
        }
        return (clauses.joined(separator: " AND "), arguments)
    }

    // MARK: Writing

    /// The user's row, then its credentials, roles and groups (`UserSeed`), in order.
    public func insert(_ seed: UserSeed) -> [SQLStatement] {
        let u = seed.user
        var statements = [SQLStatement("INSERT INTO users (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))", [
            u.id, u.realmId, u.username, u.email, u.emailVerified, u.firstName, u.lastName, u.enabled, u.createdAt, u.notBefore,
            JSONColumn.encode(u.attributes), JSONColumn.encode(u.requiredActions), u.serviceAccountClientId,
            u.federationLink, u.federationId,
        ])]
        statements += seed.credentials.map(insertCredential)
        statements += seed.roleIds.map { MappingSQL.user.grant(u.id, roleId: $0, realmId: u.realmId, dialect) }
        statements += seed.groupIds.map { MembershipSQL.add(groupId: $0, userId: u.id, realmId: u.realmId, dialect) }
        return statements
    }

    /// Writes every field of `user` but its identity (id, realm, creation, service-account and
    /// federation links):
    /// the rule that an update never changes what an object is. Counts the changed row.
    public func update(_ user: User) -> SQLStatement {
        SQLStatement("""
            UPDATE users SET username = ?, email = ?, email_verified = ?, first_name = ?, last_name = ?, enabled = ?,
              not_before = ?, attributes = ?, required_actions = ?
            WHERE id = ? AND realm_id = ?\(dialect.countingChanges)
            """, [user.username, user.email, user.emailVerified, user.firstName, user.lastName, user.enabled, user.notBefore,
                  JSONColumn.encode(user.attributes), JSONColumn.encode(user.requiredActions), user.id, user.realmId])
    }

    /// `change` applied to `user` as the store allows: the identity stays, names are normalized.
    public static func applying(_ change: (inout User) throws -> Void, to user: User) throws -> User {
        var changed = user
        try change(&changed)
        changed.id = user.id
        changed.realmId = user.realmId
        changed.createdAt = user.createdAt
        changed.serviceAccountClientId = user.serviceAccountClientId
        changed.federationLink = user.federationLink
        changed.federationId = user.federationId
        changed.username = User.normalize(changed.username)
        changed.email = changed.email.map(User.normalize)
        return changed
    }

    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM users WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }

    /// Tokens issued before `time` stop working (never moves back).
    public func revokeTokens(userId: String, before time: Timestamp) -> SQLStatement {
        SQLStatement("UPDATE users SET not_before = \(dialect.greatest)(not_before, ?) WHERE id = ?", [time, userId])
    }

    /// The permanent lockout: these columns only, so an administrator's concurrent edit survives.
    public func disable(_ userId: String, realmId: String, at time: Timestamp) -> SQLStatement {
        SQLStatement("UPDATE users SET enabled = FALSE, not_before = \(dialect.greatest)(not_before, ?) WHERE id = ? AND realm_id = ?",
                     [time, userId, realmId])
    }

    /// `enabled` of the user, locked: a login failure's read-modify-write.
    public func enabledForUpdate(_ userId: String, realmId: String) -> SQLStatement {
        SQLStatement("SELECT enabled FROM users WHERE id = ? AND realm_id = ?" + dialect.forUpdate, [userId, realmId])
    }

    /// A login's proof (see `LoginProof`): the user's `not_before` and the credential's id when
    /// it is still the one checked. A row unless the user is gone.
    public func proof(_ proof: LoginProof) -> SQLStatement {
        SQLStatement("SELECT u.not_before, c.id FROM users u LEFT JOIN credentials c ON c.id = ? AND c.user_id = u.id WHERE u.id = ?",
                     [proof.credentialId, proof.userId])
    }

    /// Whether a `proof` row still proves the login: same credential (none for a directory's
    /// password), no revocation since the check.
    public static func proves(_ row: (some SQLRow)?, _ proof: LoginProof) -> Bool {
        guard let row, proof.credentialId == nil || row.text(1) != nil, let notBefore = row.integer(0) else { return false }
        return notBefore <= proof.checkedAt.millisecondsSince1970
    }

    /// The user's row locked until the transaction ends (PostgreSQL: counts that bound a write —
    /// sessions, tokens, login failures — are taken under it on every node); none on SQLite,
    /// whose single writer already serialises them.
    public func lock(_ userId: String, realmId: String) -> SQLStatement? {
        dialect.forUpdate.isEmpty ? nil : SQLStatement("SELECT 1 AS x FROM users WHERE id = ? AND realm_id = ? FOR UPDATE", [userId, realmId])
    }

    // MARK: Credentials

    public func credentials(userId: String) -> SQLStatement {
        SQLStatement("SELECT \(Self.credentialColumns.list()) FROM credentials WHERE user_id = ? ORDER BY created_at", [userId])
    }
    public func insertCredential(_ c: Credential) -> SQLStatement {
        SQLStatement("INSERT INTO credentials (\(Self.credentialColumns.list())) VALUES (\(Self.credentialColumns.placeholders))",
                     [c.id, c.userId, c.type, c.secret.revealed, c.userLabel, c.createdAt])
    }
    public func deleteCredentials(userId: String, type: String) -> SQLStatement {
        SQLStatement("DELETE FROM credentials WHERE user_id = ? AND type = ?", [userId, type])
    }
    public func deleteCredential(_ id: String, userId: String) -> SQLStatement {
        SQLStatement("DELETE FROM credentials WHERE id = ? AND user_id = ?\(dialect.countingChanges)", [id, userId])
    }
    /// Compare-and-set of a hash (a rehash with new parameters): counts the changed row.
    public func replaceSecret(_ id: String, expected: Sensitive, with new: Sensitive) -> SQLStatement {
        SQLStatement("UPDATE credentials SET secret = ? WHERE id = ? AND secret = ?\(dialect.countingChanges)", [new.revealed, id, expected.revealed])
    }

    // MARK: Rows

    public static func decode(_ row: some SQLRow) -> User { decode(row, from: 0) }

    /// A user whose columns start at `at` (a join's first columns, or later ones).
    public static func decode(_ row: some SQLRow, from at: Int) -> User {
        User(id: row.string(at), realmId: row.string(at + 1), username: row.string(at + 2), email: row.text(at + 3),
             emailVerified: row.bool(at + 4), firstName: row.text(at + 5), lastName: row.text(at + 6), enabled: row.bool(at + 7),
             createdAt: row.timestamp(at + 8), attributes: row.json(at + 10, default: [:]), requiredActions: row.json(at + 11, default: []),
             notBefore: row.timestamp(at + 9), serviceAccountClientId: row.text(at + 12), federationLink: row.text(at + 13),
             federationId: row.text(at + 14))
    }

    public static func decodeCredential(_ row: some SQLRow) -> Credential { decodeCredential(row, from: 0) }

    static func decodeCredential(_ row: some SQLRow, from at: Int) -> Credential {
        Credential(id: row.string(at), userId: row.string(at + 1), type: row.string(at + 2), secret: Sensitive(row.string(at + 3)),
                   createdAt: row.timestamp(at + 5), userLabel: row.text(at + 4))
    }

    /// A `withPassword` row: the user, then the password's columns (all null without one).
    public static func decodeWithPassword(_ row: some SQLRow) -> UserWithPassword {
        let at = columns.count
        return UserWithPassword(user: decode(row), password: row.text(at) == nil ? nil : decodeCredential(row, from: at))
    }
}
