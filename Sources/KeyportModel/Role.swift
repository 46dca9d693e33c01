/// A realm role (`clientId == nil`) or a client role. Roles may be composite: granting one
/// grants its composites too, transitively.
public struct Role: Sendable, Hashable, Identifiable {
    public var id: String
    public var realmId: String
    /// The owning client's internal id (`Client.id`), or `nil` for a realm role.
    public var clientId: String?
    public var name: String
    public var description: String?
    public var attributes: [String: [String]]

    public init(id: String, realmId: String, clientId: String? = nil, name: String, description: String? = nil, attributes: [String: [String]] = [:]) {
        self.id = id
        self.realmId = realmId
        self.clientId = clientId
        self.name = name
        self.description = description
        self.attributes = attributes
    }

    public var isClientRole: Bool { clientId != nil }
    /// Keycloak's `containerId`: the realm id for realm roles, the client id for client roles.
    public var containerId: String { clientId ?? realmId }
}

/// A node of a realm's group tree. Members inherit the roles of the group and its ancestors.
public struct Group: Sendable, Equatable, Identifiable {
    /// The attribute naming the LDAP group mapper that made the group (its id): the mapper fills
    /// only its own groups. Set by the mapper (and a realm file), never through the admin API or a
    /// partial import — otherwise an administrator could hand a directory group's members a
    /// group of their choosing.
    public static let directoryMapperAttribute = "keyport.ldap.mapper"

    public var id: String
    public var realmId: String
    public var parentId: String?
    public var name: String
    public var attributes: [String: [String]]

    public init(id: String, realmId: String, parentId: String? = nil, name: String, attributes: [String: [String]] = [:]) {
        self.id = id
        self.realmId = realmId
        self.parentId = parentId
        self.name = name
        self.attributes = attributes
    }
}

/// A group with its place in the tree, as lists and lookups return it.
public struct GroupNode: Sendable, Equatable {
    public var group: Group
    /// `/parent/child`, Keycloak's notation.
    public var path: String
    public var subGroupCount: Int

    public init(group: Group, path: String, subGroupCount: Int) {
        self.group = group
        self.path = path
        self.subGroupCount = subGroupCount
    }

    /// 1 for a top-level group (`/a`), 2 for `/a/b`, …
    public var depth: Int { path.split(separator: "/", omittingEmptySubsequences: true).count }

    /// How deep the group tree may grow: deep enough for any organisation chart, shallow
    /// enough that every answer that nests groups (search, export) can be encoded.
    public static let maxDepth = 64
}
