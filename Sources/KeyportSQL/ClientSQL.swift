import KeyportModel
import KeyportStore

/// Clients: columns, statements and the row decoder.
public struct ClientSQL: Sendable {
    /// What an update writes, in the order of `settings(_:)`.
    static let settingColumns = [
        "client_id", "name", "description", "enabled", "protocol", "public_client", "secret", "direct_access_grants_enabled",
        "service_accounts_enabled", "standard_flow_enabled", "redirect_uris", "attributes", "protocol_mappers", "full_scope_allowed",
        "web_origins",
    ]
    /// A client row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(settingColumns + ["id", "realm_id", "created_at"])

    let dialect: SQLDialect
    private let select: String
    private let updateText: String
    private let selectById: String
    private let selectByClientId: String

    public init(_ dialect: SQLDialect) {
        self.dialect = dialect
        select = "SELECT \(Self.columns.list()) FROM clients"
        selectById = "\(select) WHERE id = ? AND realm_id = ?"
        selectByClientId = "\(select) WHERE client_id = ? AND realm_id = ?"
        updateText = "UPDATE clients SET \(Self.settingColumns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ? AND realm_id = ?\(dialect.countingChanges)"
    }

    public func byId(_ id: String, realmId: String) -> SQLStatement { SQLStatement(sql: selectById, values: [.text(id), .text(realmId)]) }
    public func byIdForUpdate(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("\(select) WHERE id = ? AND realm_id = ?\(dialect.forUpdate)", [id, realmId])
    }
    public func byClientId(_ clientId: String, realmId: String) -> SQLStatement {
        SQLStatement(sql: selectByClientId, values: [.text(clientId), .text(realmId)])
    }
    public func page(realmId: String, _ page: Page) -> SQLStatement {
        SQLStatement("\(select) WHERE realm_id = ? ORDER BY client_id LIMIT ? OFFSET ?", [realmId, page.max, page.first])
    }

    public func insert(_ c: Client) -> SQLStatement {
        SQLStatement(sql: "INSERT INTO clients (\(Self.columns.list())) VALUES (\(Self.columns.placeholders))",
                     values: Self.settings(c) + [.text(c.id), .text(c.realmId), c.createdAt.sqlValue], cacheable: true)
    }

    /// Every setting; never the identity (id, realm, creation). Counts the changed row.
    public func update(_ c: Client) -> SQLStatement {
        SQLStatement(sql: updateText, values: Self.settings(c) + [.text(c.id), .text(c.realmId)], cacheable: true)
    }

    /// `change` applied to `client` as the store allows: the identity stays.
    public static func applying(_ change: (inout Client) throws -> Void, to client: Client) throws -> Client {
        var changed = client
        try change(&changed)
        changed.id = client.id
        changed.realmId = client.realmId
        changed.createdAt = client.createdAt
        return changed
    }

    public func delete(_ id: String, realmId: String) -> SQLStatement {
        SQLStatement("DELETE FROM clients WHERE id = ? AND realm_id = ?\(dialect.countingChanges)", [id, realmId])
    }

    static func settings(_ c: Client) -> [SQLValue] {
        let values: [any SQLBindable] = [
            c.clientId, c.name, c.description, c.enabled, c.protocolName.rawValue, c.publicClient, c.secret?.revealed,
            c.directAccessGrantsEnabled, c.serviceAccountsEnabled, c.standardFlowEnabled, JSONColumn.encode(c.redirectUris),
            JSONColumn.encode(c.attributes), JSONColumn.encode(c.protocolMappers), c.fullScopeAllowed,
            JSONColumn.encode(c.webOrigins),
        ]
        return values.map(\.sqlValue)
    }

    public static func decode(_ row: some SQLRow) -> Client {
        Client(
            id: row.string(15), realmId: row.string(16), clientId: row.string(0), name: row.text(1), description: row.text(2),
            enabled: row.bool(3), protocolName: ClientProtocol(rawValue: row.string(4)) ?? .openIDConnect,
            publicClient: row.bool(5), secret: row.text(6).map(Sensitive.init),
            directAccessGrantsEnabled: row.bool(7), serviceAccountsEnabled: row.bool(8), standardFlowEnabled: row.bool(9),
            redirectUris: row.json(10, default: []), attributes: row.json(11, default: [:]), protocolMappers: row.json(12, default: []),
            fullScopeAllowed: row.bool(13), webOrigins: row.json(14, default: []), createdAt: row.timestamp(17))
    }
}
