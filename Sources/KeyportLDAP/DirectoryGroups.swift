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
        var parents: [String: (dn: String, name: String)?] = [:]
        for group in direct {
            let ancestors = m.preserveInheritance && m.memberIsDN ? try await ancestors(of: group.dn, m: m, classes: classes, parents: &parents) : []
            groups.append(DirectoryGroup(dn: group.dn, name: group.name, ancestors: ancestors))
        }
        return groups
    }

    /// The names of the groups `dn` is nested in, outermost first: up the nesting one parent per
    /// level — the first by DN of the groups whose member attribute holds it, as the directory
    /// matches it (a tree, as Keycloak's is) — at most `maxGroupDepth`, never round a cycle.
    /// `parents` remembers each group's parent across calls (one search per group).
    func ancestors(of dn: String, m: LDAPMapperConfig.Membership, classes: String,
                   parents: inout [String: (dn: String, name: String)?]) async throws(DirectoryError) -> [String] {
        var ancestors: [String] = []
        var current = dn
        var seen: Set<String> = [dn.lowercased()]
        for _ in 0..<Self.maxGroupDepth {
            let parent: (dn: String, name: String)?
            if let known = parents[current.lowercased()] {
                parent = known
            } else {
                let found = try await groupEntries(base: m.baseDN, scope: .subtree,
                                                   filter: "(&\(classes)(\(m.memberAttribute)=\(LDAPEscaping.filterValue(current))))", m: m,
                                                   limit: Self.maxGroupsPerPerson)
                parent = found.sorted(by: { $0.dn.lowercased() < $1.dn.lowercased() }).first
                parents[current.lowercased()] = .some(parent)
            }
            guard let parent, seen.insert(parent.dn.lowercased()).inserted else { break }
            ancestors.insert(parent.name, at: 0)
            current = parent.dn
        }
        return ancestors
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
    public static let maxSyncedGroups = 5_000

    /// Every group under the mapper's `baseDN` of its object classes and filter (Keycloak's group
    /// mapper sync, `fedToKeycloak`), each with the groups it is nested in when the mapper keeps
    /// the directory's nesting — found as at a sign-in (`ancestors`: the directory matches the
    /// member values, whatever their spelling, however many members a group has), one search per
    /// group. Read a page at a time when the provider pages (Active Directory answers at most
    /// 1,000 entries to a search that does not); at most `maxSyncedGroups`.
    public func allGroups(membership m: LDAPMapperConfig.Membership) async throws(DirectoryError) -> [DirectoryGroup] {
        let classes = m.objectClasses.map { "(objectClass=\($0))" }.joined() + (m.filter ?? "")
        let paged = config.pagination, pageSize = min(config.batchSizeForSync, 1_000)
        var entries: [DirectoryEntry] = []
        do {
            try await directory.withSession { session in
                var cookie: [UInt8] = []
                var pages = 0
                repeat {
                    pages += 1
                    guard pages <= Self.maxSyncedGroups / max(pageSize, 1) + 2 else { throw DirectoryError.tooManyEntries }
                    let answer = try await session.search(base: m.baseDN, scope: .subtree, filter: "(&\(classes))", attributes: [m.nameAttribute],
                                                          pageSize: paged ? pageSize : nil, cookie: cookie,
                                                          limits: SearchLimits(maxEntries: Self.maxSyncedGroups + 1 - entries.count, maxBytes: 16 << 20))
                    entries += answer.entries
                    guard entries.count <= Self.maxSyncedGroups else { throw DirectoryError.tooManyEntries }
                    cookie = answer.cookie
                } while !cookie.isEmpty
            }
        } catch let error as DirectoryError {
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
        var groups: [DirectoryGroup] = []
        var parents: [String: (dn: String, name: String)?] = [:]
        for entry in entries.sorted(by: { $0.dn.lowercased() < $1.dn.lowercased() }) {
            guard let name = entry.first(m.nameAttribute) else { continue }
            let ancestors = m.preserveInheritance && m.memberIsDN ? try await ancestors(of: entry.dn, m: m, classes: classes, parents: &parents) : []
            groups.append(DirectoryGroup(dn: entry.dn, name: name, ancestors: ancestors))
        }
        return groups
    }
}
