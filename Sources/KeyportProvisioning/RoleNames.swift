import KeyportLDAP
import KeyportModel
import KeyportStore

/// Keycloak's `realmRoles` / `clientRoles` name lists (a user's, a group's, a composite's),
/// resolved by one rule whichever door reads them — the admin API, a realm file, a partial
/// import: at most `limit` names; realm roles first, then each client's, clients in name order
/// (the same lists resolve the same way every time); every name must exist. Where a door finds
/// a role (the store, the file itself, both) is its `lookup`; how it words a missing one is its own.
public enum RoleNames {
    public static let limit = 1_000

    public enum Failure: Error, Equatable {
        case tooMany
        /// `client` is the client's `clientId`, nil for a realm role.
        case unknown(name: String, client: String?)
    }

    public static func resolve<Found>(realm names: [String]?, clients: [String: [String]]?,
                                      lookup: (_ name: String, _ client: String?) async throws -> Found?) async throws -> [Found] {
        // Counted before anything is looked up, and without trusting one huge list to be small.
        var count = names?.count ?? 0
        for list in (clients ?? [:]).values {
            count += min(list.count, limit + 1)
            if count > limit { throw Failure.tooMany }
        }
        guard count <= limit else { throw Failure.tooMany }
        var found: [Found] = []
        for name in names ?? [] {
            guard let role = try await lookup(name, nil) else { throw Failure.unknown(name: name, client: nil) }
            found.append(role)
        }
        for (client, names) in (clients ?? [:]).sorted(by: { $0.key < $1.key }) {
            for name in names {
                guard let role = try await lookup(name, client) else { throw Failure.unknown(name: name, client: client) }
                found.append(role)
            }
        }
        return found
    }

    /// Keycloak's one-string form of a role (a mapper's `role`): a realm role's name, or
    /// `clientId.roleName` — tried at each dot, since client ids and role names may hold dots.
    /// The readings in the order they are tried: the realm role first.
    public static func readings(qualified text: String) -> [(name: String, client: String?)] {
        guard !text.isEmpty, text.utf8.count <= 512 else { return [] }
        var readings: [(name: String, client: String?)] = [(text, nil)]
        var index = text.startIndex
        while let dot = text[index...].firstIndex(of: ".") {
            readings.append((String(text[text.index(after: dot)...]), String(text[..<dot])))
            index = text.index(after: dot)
        }
        return readings
    }

    /// The first reading `lookup` finds (by name in a client given by `clientId`, or the realm).
    public static func resolve<Found>(qualified text: String,
                                      lookup: (_ name: String, _ client: String?) async throws -> Found?) async throws -> Found? {
        for reading in readings(qualified: text) { if let found = try await lookup(reading.name, reading.client) { return found } }
        return nil
    }

    /// The same, with a lookup that needs no waiting (a realm file's own roles).
    public static func resolveSync(qualified text: String, lookup: (_ name: String, _ client: String?) -> String?) -> String? {
        for reading in readings(qualified: text) { if let found = lookup(reading.name, reading.client) { return found } }
        return nil
    }
}

extension IdentityStore {
    /// A mapper's role (`RoleNames.resolve(qualified:)`) in this realm.
    public func role(qualifiedName text: String, realmId: String) async throws -> Role? {
        try await RoleNames.resolve(qualified: text) { name, clientId in
            guard let clientId else { return try await self.role(named: name, realmId: realmId, clientId: nil) }
            guard let client = try await self.client(clientId: clientId, realmId: realmId) else { return nil }
            return try await self.role(named: name, realmId: realmId, clientId: client.id)
        }
    }
}

extension IdentityStore {
    /// The id of the role or group a mapper's config names (`role`, or the group's path), nil
    /// when it names none that exists (or the mapper gives neither).
    public func mapperTargetId(_ mapper: IdentityProviderMapper) async throws -> String? {
        guard let kind = mapper.kind, kind.grantsRoles else { return nil }
        if kind.givesRole { return try await role(qualifiedName: mapper.config["role"] ?? "", realmId: mapper.realmId)?.id }
        guard let path = mapper.config["group"], !path.isEmpty, path.utf8.count <= 4_096 else { return nil }
        return try await group(path: path, realmId: mapper.realmId)?.group.id
    }

    /// The mapper as Keycloak shows it: its `role` or `group` named as what it gives is called
    /// now (a renamed role still given; one deleted, named as it was saved).
    public func displayed(_ mapper: IdentityProviderMapper) async throws -> IdentityProviderMapper {
        guard let kind = mapper.kind, let id = mapper.targetId else { return mapper }
        var shown = mapper
        if kind.givesRole {
            guard let role = try await role(id: id, realmId: mapper.realmId) else { return mapper }
            var name = role.name
            if let clientId = role.clientId, let client = try await client(id: clientId, realmId: mapper.realmId) { name = "\(client.clientId).\(role.name)" }
            shown.config["role"] = name
        } else if kind.grantsRoles, let group = try await group(id: id, realmId: mapper.realmId) {
            shown.config["group"] = group.path
        }
        return shown
    }
}

extension IdentityStore {
    /// What an LDAP mapper's config names, by id: a hardcoded role's role, a hardcoded group's
    /// group, a group mapper's `groups.path` group (nil for the top level), a role mapper's client
    /// (nil for realm roles). Throws `InvalidObject` when it names none that exists.
    public func storageMapperTargetId(_ mapper: StorageComponent) async throws -> String? {
        guard mapper.parentId != nil else { return nil }
        let parsed: LDAPMapperConfig
        do { parsed = try LDAPMapperConfig.parse(providerId: mapper.providerId, mapper.config) } catch { throw InvalidObject(error.message) }
        switch parsed {
        case .hardcodedRole(let name):
            guard let role = try await role(qualifiedName: name, realmId: mapper.realmId) else { throw InvalidObject("Role '\(name.prefix(80))' not found") }
            return role.id
        case .hardcodedGroup(let path):
            guard let group = try await group(path: path.hasPrefix("/") ? path : "/" + path, realmId: mapper.realmId) else {
                throw InvalidObject("Group '\(path.prefix(80))' not found")
            }
            return group.group.id
        case .group(let membership):
            guard membership.groupsPath != "/" else { return nil }
            guard let group = try await group(path: membership.groupsPath, realmId: mapper.realmId) else {
                throw InvalidObject("groups.path: group '\(membership.groupsPath.prefix(80))' not found; create it first")
            }
            return group.group.id
        case .role(let membership):
            guard let clientId = membership.clientId else { return nil }
            guard let client = try await client(clientId: clientId, realmId: mapper.realmId) else {
                throw InvalidObject("client.id: client '\(clientId.prefix(80))' not found")
            }
            return client.id
        case .userAttribute, .fullName, .hardcodedAttribute, .accountControl, .kerberosPrincipal:
            return nil
        }
    }
}

extension IdentityStore {
    /// An LDAP mapper as Keycloak shows it: the role, group or client it gives (by id) named as
    /// it is called now, so an export or a GET names what it really gives.
    public func displayed(_ c: StorageComponent) async throws -> StorageComponent {
        guard c.parentId != nil, let id = c.targetId, let kind = LDAPMapperConfig.Kind(rawValue: c.providerId) else { return c }
        var shown = c
        switch kind {
        case .hardcodedRole:
            guard let role = try await role(id: id, realmId: c.realmId) else { return c }
            var name = role.name
            if let clientId = role.clientId, let client = try await client(id: clientId, realmId: c.realmId) { name = "\(client.clientId).\(role.name)" }
            shown.config["role"] = [name]
        case .hardcodedGroup:
            if let group = try await group(id: id, realmId: c.realmId) { shown.config["group"] = [group.path] }
        case .group:
            if let group = try await group(id: id, realmId: c.realmId) { shown.config["groups.path"] = [group.path] }
        case .role:
            if let client = try await client(id: id, realmId: c.realmId) { shown.config["client.id"] = [client.clientId] }
        default:
            break
        }
        return shown
    }
}
