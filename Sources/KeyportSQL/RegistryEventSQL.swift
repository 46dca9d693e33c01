import KeyportModel
import KeyportStore

/// What registries report (`registry_events`).
public struct RegistryEventSQL: Sendable {
    /// A registry event row's columns, in the order `decode` reads them.
    public static let columns = SQLColumns(["id", "realm_id", "client_id", "registry_event_id", "time", "received", "action", "actor", "repository",
                                            "tag", "digest", "media_type", "size", "from_repository", "source_address", "source_host",
                                            "request_id", "user_agent", "credential_kind", "credential_id"])
    let dialect: SQLDialect
    let log: RealmLogSQL
    public init(_ dialect: SQLDialect) { self.dialect = dialect; log = RealmLogSQL(table: "registry_events", dialect: dialect) }

    /// Nothing when the registry sent this event before (a retried envelope).
    public func insert(_ e: RegistryEvent) -> SQLStatement {
        SQLStatement(dialect.insertIgnoringDuplicates(into: "registry_events", Self.columns.list(), values: Self.columns.placeholders)
                     + dialect.countingChanges, [
            e.id, e.realmId, e.clientId, e.registryEventId, e.time, e.received, e.action, e.actor, e.repository, e.tag, e.digest,
            e.mediaType, e.size, e.fromRepository, e.sourceAddress, e.sourceHost, e.requestId, e.userAgent, e.credentialKind, e.credentialId,
        ])
    }

    public func matching(_ q: RegistryEventQuery, realmId: String, page: Page) -> SQLStatement {
        var clauses = ["realm_id = ?"]
        var arguments: [any SQLBindable] = [realmId]
        if !q.actions.isEmpty {
            clauses.append("action IN (\(SQLText.placeholders(q.actions.count)))")
            arguments += q.actions as [any SQLBindable]
        }
        if let repository = q.repository, !repository.isEmpty {
            if repository.hasSuffix("*") {
                clauses.append("repository LIKE ? ESCAPE '\\'")
                arguments.append(SQLText.escapeLike(String(repository.dropLast())) + "%")
            } else {
                clauses.append("repository = ?")
                arguments.append(repository)
            }
        }
        for (column, value) in [("client_id", q.clientId), ("actor", q.actor), ("credential_kind", q.credentialKind),
                                ("credential_id", q.credentialId), ("source_host", q.sourceHost)] {
            if let value { clauses.append("\(column) = ?"); arguments.append(value) }
        }
        if let from = q.from { clauses.append("time >= ?"); arguments.append(from) }
        if let to = q.to { clauses.append("time <= ?"); arguments.append(to) }
        return log.newestFirst(Self.columns, where: clauses, arguments, page: page)
    }

    /// Counts what it deleted.
    public func delete(realmId: String, before cutoff: Timestamp) -> SQLStatement { log.delete(realmId: realmId, before: cutoff) }

    /// The oldest go once a realm holds more than `limit`. Counts what it deleted.
    public func trim(realmId: String, keeping limit: Int) -> SQLStatement { log.trim(realmId: realmId, keeping: limit, counting: true) }

    public static func decode(_ row: some SQLRow) -> RegistryEvent {
        RegistryEvent(id: row.string(0), realmId: row.string(1), clientId: row.string(2), registryEventId: row.string(3), time: row.timestamp(4),
                      received: row.timestamp(5), action: row.string(6), actor: row.text(7), repository: row.text(8), tag: row.text(9),
                      digest: row.text(10), mediaType: row.text(11), size: row.integer(12), fromRepository: row.text(13),
                      sourceAddress: row.text(14), sourceHost: row.text(15), requestId: row.text(16), userAgent: row.text(17),
                      credentialKind: row.text(18), credentialId: row.text(19))
    }
}
