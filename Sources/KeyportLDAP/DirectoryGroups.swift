/// A directory group a person belongs to, with the chain of groups it is nested in (outermost
/// first) when the mapper keeps the directory's nesting.
public struct DirectoryGroup: Sendable, Equatable, Hashable {
    public let dn: String
    public let name: String
    /// The groups that contain this one, outermost first (empty: a top-level group).
    public var ancestors: [String]
}

extension LDAPUserProvider {
    /// At most this many groups per person, and this deep a nesting.
    public static let maxGroupsPerPerson = 1_000
    public static let maxGroupDepth = 10

    /// The directory groups (under the mapper's `baseDN`, of its object classes and filter) that
    /// `person` belongs to, found as the mapper says (the groups' member attribute, the person's
    /// `memberOf`, or Active Directory's in-chain rule), with the groups each is nested in when
    /// `preserveInheritance` is on. Every value is escaped into the filters.
    public func groups(of person: LDAPPerson, membership m: LDAPMapperConfig.Membership) async throws(DirectoryError) -> [DirectoryGroup] {
        let classes = m.objectClasses.map { "(objectClass=\($0))" }.joined() + (m.filter ?? "")
        var direct: [(dn: String, name: String)] = []
        switch m.strategy {
        case .memberOf:
            let under = "," + m.baseDN.lowercased()
            let dns = (person.values[m.memberOfAttribute.lowercased()] ?? []).filter { $0.lowercased().hasSuffix(under) }
            guard dns.count <= Self.maxGroupsPerPerson else { throw .tooManyEntries }
            for dn in dns {
                // Each entry read, so the mapper's object classes and filter apply as they do to
                // the member-attribute strategies (a memberOf value alone says nothing of them).
                if let entry = try await groupEntries(base: dn, scope: .base, filter: "(&\(classes))", m: m, limit: 1).first {
                    direct.append(entry)
                }
            }
        case .memberAttribute, .memberAttributeRecursively:
            guard let member = memberValue(of: person, m: m) else { return [] }
            let rule = m.strategy == .memberAttributeRecursively ? ":1.2.840.113556.1.4.1941:" : ""
            direct = try await groupEntries(base: m.baseDN, scope: .subtree, filter: "(&\(classes)(\(m.memberAttribute)\(rule)=\(member)))", m: m,
                                            limit: Self.maxGroupsPerPerson)
        }
        var groups: [DirectoryGroup] = []
        for group in direct {
            var ancestors: [String] = []
            if m.preserveInheritance, m.memberIsDN {
                // Up the nesting, one parent per level (the first by DN: a tree, as Keycloak's is).
                var current = group.dn
                var seen: Set<String> = [group.dn.lowercased()]
                for _ in 0..<Self.maxGroupDepth {
                    let parents = try await groupEntries(base: m.baseDN, scope: .subtree,
                                                         filter: "(&\(classes)(\(m.memberAttribute)=\(LDAPEscaping.filterValue(current))))", m: m, limit: 64)
                    guard let parent = parents.sorted(by: { $0.dn.lowercased() < $1.dn.lowercased() }).first,
                          seen.insert(parent.dn.lowercased()).inserted else { break }
                    ancestors.insert(parent.name, at: 0)
                    current = parent.dn
                }
            }
            groups.append(DirectoryGroup(dn: group.dn, name: group.name, ancestors: ancestors))
        }
        return groups
    }

    /// What the groups' member attribute holds for `person`: its DN, or its `memberUserAttribute`, escaped.
    func memberValue(of person: LDAPPerson, m: LDAPMapperConfig.Membership) -> String? {
        if m.memberIsDN { return LDAPEscaping.filterValue(person.dn) }
        let value = m.memberUserAttribute.lowercased() == config.usernameAttribute.lowercased()
            ? person.username : person.first(m.memberUserAttribute)
        return value.map(LDAPEscaping.filterValue)
    }

    func groupEntries(base: String, scope: SearchScope, filter: String, m: LDAPMapperConfig.Membership, limit: Int) async throws(DirectoryError)
        -> [(dn: String, name: String)] {
        let attributes = [m.nameAttribute]
        let entries: [DirectoryEntry]
        do {
            entries = try await directory.withSession { session in
                try await session.search(base: base, scope: scope, filter: filter, attributes: attributes,
                                         limits: SearchLimits(maxEntries: limit, maxBytes: 8 << 20)).entries
            }
        } catch let error as DirectoryError {
            // A group DN that is not there (memberOf pointing at a deleted group): no group.
            if case .refused(code: 32, _) = error { return [] }
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
        return entries.compactMap { entry in entry.first(m.nameAttribute).map { (entry.dn, $0) } }
    }
}

extension LDAPUserProvider {
    /// At most this many groups are read by a group mapper's sync.
    public static let maxSyncedGroups = 10_000

    /// Every group under the mapper's `baseDN` of its object classes and filter (Keycloak's group
    /// mapper sync, `fedToKeycloak`), each with the groups it is nested in when the mapper keeps
    /// the directory's nesting (a group's parent: the first by DN of the groups listing it as a
    /// member, as at a sign-in). Read a page at a time when the provider pages (Active Directory
    /// answers at most 1,000 entries a search otherwise); at most `maxSyncedGroups`, 64 MiB in all.
    public func allGroups(membership m: LDAPMapperConfig.Membership) async throws(DirectoryError) -> [DirectoryGroup] {
        let filter = "(&" + m.objectClasses.map { "(objectClass=\($0))" }.joined() + (m.filter ?? "") + ")"
        let nesting = m.preserveInheritance && m.memberIsDN
        let attributes = nesting ? [m.nameAttribute, m.memberAttribute] : [m.nameAttribute]
        let paged = config.pagination, pageSize = min(config.batchSizeForSync, 1_000)
        var entries: [DirectoryEntry] = []
        do {
            try await directory.withSession { session in
                var cookie: [UInt8] = []
                var bytes = 64 << 20
                var pages = 0
                repeat {
                    pages += 1
                    guard pages <= Self.maxSyncedGroups / max(pageSize, 1) + 2 else { throw DirectoryError.tooManyEntries }
                    let answer = try await session.search(base: m.baseDN, scope: .subtree, filter: filter, attributes: attributes,
                                                          pageSize: paged ? pageSize : nil, cookie: cookie,
                                                          limits: SearchLimits(maxEntries: Self.maxSyncedGroups - entries.count, maxBytes: bytes))
                    entries += answer.entries
                    bytes -= answer.entries.reduce(0) { total, entry in
                        total + entry.dn.utf8.count + entry.attributes.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
                    }
                    guard entries.count <= Self.maxSyncedGroups, bytes > 0 else { throw DirectoryError.tooManyEntries }
                    cookie = answer.cookie
                } while !cookie.isEmpty
            }
        } catch let error as DirectoryError {
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
        var names: [String: (dn: String, name: String)] = [:]  // by lowercased DN
        for entry in entries {
            if let name = entry.first(m.nameAttribute) { names[entry.dn.lowercased()] = (entry.dn, name) }
        }
        // Each group's parent: the first by DN of the groups that list it as a member.
        var parent: [String: String] = [:]
        if nesting {
            for entry in entries.sorted(by: { $0.dn.lowercased() > $1.dn.lowercased() }) where names[entry.dn.lowercased()] != nil {
                for member in entry.strings(m.memberAttribute) where names[member.lowercased()] != nil {
                    parent[member.lowercased()] = entry.dn.lowercased()
                }
            }
        }
        return names.sorted { $0.key < $1.key }.map { key, group in
            var ancestors: [String] = []
            var seen: Set<String> = [key]
            var current = key
            while ancestors.count < Self.maxGroupDepth, let up = parent[current], seen.insert(up).inserted, let above = names[up] {
                ancestors.insert(above.name, at: 0)
                current = up
            }
            return DirectoryGroup(dn: group.dn, name: group.name, ancestors: ancestors)
        }
    }
}
