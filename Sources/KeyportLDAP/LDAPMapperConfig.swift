/// An LDAP provider's mapper (Keycloak's `org.keycloak.storage.ldap.mappers.LDAPStorageMapper`
/// components), read from Keycloak's config keys. Keyport reads the directory and never writes
/// it, so every mapper is read-only whatever its `read.only` or `mode` says.
public enum LDAPMapperConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case userAttribute = "user-attribute-ldap-mapper"
        case fullName = "full-name-ldap-mapper"
        case hardcodedAttribute = "hardcoded-ldap-attribute-mapper"
        case group = "group-ldap-mapper"
        case role = "role-ldap-mapper"
        case hardcodedRole = "hardcoded-ldap-role-mapper"
        case hardcodedGroup = "hardcoded-ldap-group-mapper"
        case accountControl = "msad-user-account-control-mapper"
        /// Kept as it came (Active Directory exports carry it) and never run: Keyport does not sign
        /// people in with Kerberos.
        case kerberosPrincipal = "kerberos-principal-attribute-mapper"

        /// Mappers whose saving decides who holds a role: created and changed only by an
        /// administrator who may grant what they give.
        public var grantsRoles: Bool { [.group, .role, .hardcodedRole, .hardcodedGroup].contains(self) }
    }

    /// An entry's attribute copied to the user's username, email, first or last name or an attribute.
    public struct UserAttribute: Sendable, Equatable {
        public var userAttribute: String
        public var ldapAttribute: String
        public var binary: Bool
        public var alwaysReadFromLDAP: Bool
        public var defaultValue: String?
    }

    /// How a person's groups (or roles) are found in the directory.
    public enum MembershipStrategy: String, Sendable {
        /// Groups whose membership attribute names the person (Keycloak's default).
        case memberAttribute = "LOAD_GROUPS_BY_MEMBER_ATTRIBUTE"
        /// The person's own `memberOf` (Active Directory, slapd's memberof overlay).
        case memberOf = "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE"
        /// Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: nested groups resolved by the server.
        case memberAttributeRecursively = "LOAD_GROUPS_BY_MEMBER_ATTRIBUTE_RECURSIVELY"
    }

    /// Directory groups (entries under `baseDN`) that people belong to: as Keyport groups under
    /// `groupsPath` (group mapper) or as roles of the realm or a client (role mapper).
    public struct Membership: Sendable, Equatable {
        public var baseDN: String
        public var nameAttribute: String
        public var objectClasses: [String]
        public var filter: String?
        /// The group's attribute naming its members, and whether it holds their DN or their `memberUserAttribute`.
        public var memberAttribute: String
        public var memberIsDN: Bool
        public var memberUserAttribute: String
        public var strategy: MembershipStrategy
        public var memberOfAttribute: String
        /// Group mapper: nested directory groups become nested groups.
        public var preserveInheritance: Bool
        public var ignoreMissingGroups: Bool
        public var dropNonExistingGroupsDuringSync: Bool
        /// Group mapper: the group directory groups go under (`/` the top level).
        public var groupsPath: String
        /// Role mapper: realm roles, or the roles of the client whose `clientId` is `clientId`.
        public var clientId: String?
    }

    case userAttribute(UserAttribute)
    case fullName(ldapAttribute: String)
    case hardcodedAttribute(userAttribute: String, value: String)
    case group(Membership)
    case role(Membership)
    /// A role named as Keycloak names it: `role` for a realm role, `clientId.role` for a client's.
    case hardcodedRole(String)
    /// A group's path.
    case hardcodedGroup(String)
    case accountControl
    case kerberosPrincipal

    public var kind: Kind {
        switch self {
        case .userAttribute: .userAttribute
        case .fullName: .fullName
        case .hardcodedAttribute: .hardcodedAttribute
        case .group: .group
        case .role: .role
        case .hardcodedRole: .hardcodedRole
        case .hardcodedGroup: .hardcodedGroup
        case .accountControl: .accountControl
        case .kerberosPrincipal: .kerberosPrincipal
        }
    }

    /// User fields a user-attribute mapper fills other than attributes: Keycloak's model names.
    public static let userFields: Set<String> = ["username", "email", "firstName", "lastName", "createTimestamp", "modifyTimestamp"]

    /// Reads a mapper of kind `providerId`; a missing key takes Keycloak's default, a wrong or
    /// unbounded one is a `Problem` naming the key.
    public static func parse(providerId: String, _ config: [String: [String]]) throws(LDAPProviderConfig.Problem) -> LDAPMapperConfig {
        typealias Problem = LDAPProviderConfig.Problem
        guard let kind = Kind(rawValue: providerId) else {
            throw Problem("mapper type '\(String(providerId.prefix(64)))' is not one Keyport runs: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let read = LDAPProviderConfig.ConfigReader(config: config, owner: kind.rawValue)
        func userAttributeName(_ key: String) throws(Problem) -> String {
            let name = try read.required(key)
            guard name.utf8.count <= 255, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw Problem("\(key) is a user attribute's name: at most 255 characters, no control characters")
            }
            return name
        }
        func membership(base: String, name: String, classes: String, filter: String) throws(Problem) -> Membership {
            let baseDN = try read.required(base)
            guard LDAPProviderConfig.isDN(baseDN) else { throw Problem("\(base) is not a DN") }
            let classList = (try read.value(classes) ?? "groupOfNames").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            guard !classList.isEmpty, classList.count <= LDAPProviderConfig.maxObjectClasses, classList.allSatisfy(LDAPProviderConfig.isAttributeName) else {
                throw Problem("\(classes) is a comma-separated list of at most \(LDAPProviderConfig.maxObjectClasses) object classes")
            }
            let customFilter = try read.value(filter)
            if let customFilter {
                guard customFilter.hasPrefix("("), customFilter.hasSuffix(")"), LDAPProviderConfig.parenthesesBalance(customFilter) else {
                    throw Problem("\(filter) is an LDAP filter: it starts with ( and ends with ), its parentheses balanced")
                }
            }
            let typeText = try read.value("membership.attribute.type") ?? "DN"
            guard ["DN", "UID"].contains(typeText) else { throw Problem("membership.attribute.type is DN or UID") }
            let modeText = try read.value("mode") ?? "READ_ONLY"
            guard ["READ_ONLY", "LDAP_ONLY", "IMPORT"].contains(modeText) else { throw Problem("mode is READ_ONLY, LDAP_ONLY or IMPORT") }
            let strategyText = try read.value("user.roles.retrieve.strategy") ?? MembershipStrategy.memberAttribute.rawValue
            guard let strategy = MembershipStrategy(rawValue: strategyText) else {
                throw Problem("user.roles.retrieve.strategy is LOAD_GROUPS_BY_MEMBER_ATTRIBUTE, GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE or LOAD_GROUPS_BY_MEMBER_ATTRIBUTE_RECURSIVELY")
            }
            var path = try read.value("groups.path") ?? "/"
            guard path.hasPrefix("/"), !path.contains("//") else { throw Problem("groups.path is a group's path, such as / or /ldap") }
            if path.count > 1, path.hasSuffix("/") { path.removeLast() }
            var clientId: String? = nil
            if kind == .role, !(try read.flag("use.realm.roles.mapping", true)) {
                clientId = try read.required("client.id")
            }
            return Membership(baseDN: baseDN, nameAttribute: try read.attribute(name, "cn"), objectClasses: classList, filter: customFilter,
                              memberAttribute: try read.attribute("membership.ldap.attribute", "member"), memberIsDN: typeText == "DN",
                              memberUserAttribute: try read.attribute("membership.user.ldap.attribute", "uid"), strategy: strategy,
                              memberOfAttribute: try read.attribute("memberof.ldap.attribute", "memberOf"),
                              preserveInheritance: try read.flag("preserve.group.inheritance", true),
                              ignoreMissingGroups: try read.flag("ignore.missing.groups", false),
                              dropNonExistingGroupsDuringSync: try read.flag("drop.non.existing.groups.during.sync", false),
                              groupsPath: path, clientId: clientId)
        }

        switch kind {
        case .userAttribute:
            let userAttribute = try userAttributeName("user.model.attribute")
            return .userAttribute(UserAttribute(userAttribute: userAttribute, ldapAttribute: try read.attribute("ldap.attribute"),
                                                binary: try read.flag("is.binary.attribute", false),
                                                alwaysReadFromLDAP: try read.flag("always.read.value.from.ldap", false),
                                                defaultValue: try read.value("attribute.default.value")))
        case .fullName:
            return .fullName(ldapAttribute: try read.attribute("ldap.full.name.attribute", "cn"))
        case .hardcodedAttribute:
            let name = try userAttributeName("user.model.attribute")
            return .hardcodedAttribute(userAttribute: name, value: try read.value("attribute.value") ?? "")
        case .group:
            return .group(try membership(base: "groups.dn", name: "group.name.ldap.attribute", classes: "group.object.classes", filter: "groups.ldap.filter"))
        case .role:
            return .role(try membership(base: "roles.dn", name: "role.name.ldap.attribute", classes: "role.object.classes", filter: "roles.ldap.filter"))
        case .hardcodedRole:
            return .hardcodedRole(try read.required("role"))
        case .hardcodedGroup:
            let path = try read.required("group")
            guard path.hasPrefix("/") || !path.contains("/") else { throw Problem("group is a group's path, such as /registry-users") }
            return .hardcodedGroup(path)
        case .accountControl:
            return .accountControl
        case .kerberosPrincipal:
            return .kerberosPrincipal
        }
    }

    /// The mappers Keycloak makes with a new LDAP provider (`LDAPStorageProviderFactory.onCreate`),
    /// so that a provider created through the API reads names and emails as Keycloak's does.
    public static func defaults(for provider: LDAPProviderConfig) -> [(name: String, providerId: String, config: [String: [String]])] {
        func attribute(_ user: String, _ ldap: String, mandatory: Bool = false, always: Bool = false) -> [String: [String]] {
            ["user.model.attribute": [user], "ldap.attribute": [ldap], "read.only": ["true"], "always.read.value.from.ldap": [String(always)],
             "is.mandatory.in.ldap": [String(mandatory)]]
        }
        var mappers: [(name: String, providerId: String, config: [String: [String]])] = [
            ("username", Kind.userAttribute.rawValue, attribute("username", provider.usernameAttribute, mandatory: true)),
        ]
        if provider.vendor == .ad, provider.usernameAttribute.lowercased() == "cn" {
            mappers.append(("full name", Kind.fullName.rawValue, ["ldap.full.name.attribute": ["cn"], "read.only": ["true"], "write.only": ["false"]]))
        } else {
            mappers.append(("first name", Kind.userAttribute.rawValue, attribute("firstName", "givenName", always: true)))
        }
        mappers += [
            ("last name", Kind.userAttribute.rawValue, attribute("lastName", "sn", mandatory: true, always: true)),
            ("email", Kind.userAttribute.rawValue, attribute("email", "mail")),
            ("creation date", Kind.userAttribute.rawValue, attribute("createTimestamp", provider.vendor == .ad ? "whenCreated" : "createTimestamp", always: true)),
            ("modify date", Kind.userAttribute.rawValue, attribute("modifyTimestamp", provider.vendor == .ad ? "whenChanged" : "modifyTimestamp", always: true)),
        ]
        if provider.vendor == .ad {
            mappers.append(("MSAD account controls", Kind.accountControl.rawValue, [:]))
        }
        return mappers
    }
}
