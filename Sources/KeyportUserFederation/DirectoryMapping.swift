import KeyportLDAP
import KeyportModel
import KeyportStore

/// What an LDAP provider's mappers make of a user at a sign-in: the profile (Keycloak's
/// user-attribute, full-name and hardcoded-attribute mappers), Active Directory's disabled bit,
/// hardcoded roles and groups, directory groups as groups and directory groups as roles — as
/// writes for one transaction. The directory is read-only here: it decides, Keyport follows.
///
/// What a mapper may touch is what it was saved with, by id (`StorageComponent.targetId`: the
/// role, the group, the `groups.path` group, the role mapper's client) — fixed when an admin who
/// may grant it saved the mapper. A group mapper joins and leaves only the groups it made itself
/// (`managedBy`): an existing group of the same name is left alone, so a directory group called
/// like a local administrators' group never grants its roles.
struct DirectoryMapping {
    let store: any IdentityStore
    let newID: @Sendable () -> String
    let realm: Realm

    /// The group attribute that marks a group a mapper made (its id).
    static let managedBy = Group.directoryMapperAttribute

    // MARK: Profile

    /// `user` with what the provider's profile mappers read in `person` (and, for Active
    /// Directory, disabled when the entry is). Only a valid value is taken; an invalid one keeps
    /// what the user had.
    static func profile(of user: User, from person: LDAPPerson, configured: DirectoryUsers.Configured) -> User {
        var out = user
        var attributes = user.attributes
        func set(_ field: String, _ values: [String]) {
            let first = values.first.map { $0.isEmpty ? nil : $0 } ?? nil
            switch field {
            case "username":
                break  // the name is the user's own here; a rename in the directory keeps the link by id
            case "email":
                // No email in the entry clears it; an invalid one keeps what the user had.
                guard let email = Result(catching: { try ObjectRules.email(first) }).successValue else { return }
                out.email = email
                out.emailVerified = email != nil && configured.config.trustEmail
            case "firstName":
                if let text = try? ObjectRules.optionalText(first, what: "firstName", max: 255) { out.firstName = text }
            case "lastName":
                if let text = try? ObjectRules.optionalText(first, what: "lastName", max: 255) { out.lastName = text }
            default:
                let kept = Array(values.filter { !$0.isEmpty && $0.utf8.count <= ObjectRules.maxAttributeValueLength }.prefix(ObjectRules.maxAttributeValues))
                attributes[field] = kept.isEmpty ? nil : kept
            }
        }
        for (_, mapper) in configured.mappers {
            switch mapper {
            case .userAttribute(let a):
                var values = person.values[a.ldapAttribute.lowercased()] ?? []
                if values.isEmpty, let fallback = a.defaultValue { values = [fallback] }
                set(a.userAttribute, values)
            case .fullName(let attribute):
                guard let full = person.first(attribute)?.trimmingCharacters(in: .whitespaces), !full.isEmpty else { continue }
                if let space = full.lastIndex(of: " ") {
                    set("firstName", [String(full[..<space])])
                    set("lastName", [String(full[full.index(after: space)...])])
                } else {
                    set("lastName", [full])
                }
            case .hardcodedAttribute(let name, let value):
                set(name, [value])
            case .accountControl:
                // ACCOUNTDISABLE (0x2). The directory disables; it never enables a user Keyport
                // disabled (a permanent lockout, an administrator).
                if let flags = person.first("userAccountControl").flatMap(Int.init), flags & 0x2 != 0 { out.enabled = false }
            default:
                break
            }
        }
        if let checked = try? ObjectRules.multiAttributes(attributes) { out.attributes = checked }
        return out
    }

    // MARK: The writes of a sign-in

    func changes(for user: User, person: LDAPPerson, configured: DirectoryUsers.Configured, ldap: LDAPUserProvider) async throws -> [StoreChange] {
        var changes: [StoreChange] = []
        if let change = try await profileChange(from: user, to: Self.profile(of: user, from: person, configured: configured)) {
            changes.append(change)
        }
        let held = Set(try await store.userRoles(userId: user.id, realmId: realm.id).map(\.id))
        let memberOf = try await store.groupsOfUser(userId: user.id, realmId: realm.id)
        var grant: [String] = [], revoke: [String] = [], join: [String] = [], leave: [String] = []
        // What the provider's hardcoded-role mappers give, a role mapper never takes back.
        let hardcoded = Set(configured.mappers.compactMap { $0.config.kind == .hardcodedRole ? $0.component.targetId : nil })
        for (component, mapper) in configured.mappers {
            switch mapper {
            case .hardcodedRole:
                if let id = component.targetId, !held.contains(id), try await store.role(id: id, realmId: realm.id) != nil { grant.append(id) }
            case .hardcodedGroup:
                if let id = component.targetId, !memberOf.contains(where: { $0.group.id == id }), try await store.group(id: id, realmId: realm.id) != nil {
                    join.append(id)
                }
            case .group(let membership):
                let groups = try await ldap.groups(of: person, membership: membership)
                let (wanted, made) = try await groupIds(for: groups, mapper: component, membership: membership)
                changes += made.map { .createGroup($0) }
                let managed = memberOf.filter { $0.group.attributes[Self.managedBy] == [component.id] }.map(\.group.id)
                join += wanted.filter { id in !memberOf.contains { $0.group.id == id } }
                leave += managed.filter { !wanted.contains($0) }
            case .role(let membership):
                let names = Set(try await ldap.groups(of: person, membership: membership).map(\.name))
                let container = try await store.roles(realmId: realm.id, clientId: component.targetId, search: nil, page: Page(first: 0, max: 10_000))
                for role in container where role.name != realm.defaultRoleName {
                    if names.contains(role.name), !held.contains(role.id) { grant.append(role.id) }
                    if !names.contains(role.name), held.contains(role.id), !hardcoded.contains(role.id) { revoke.append(role.id) }
                }
            default:
                break
            }
        }
        if !grant.isEmpty { changes.append(.grantUserRoles(userId: user.id, roleIds: Array(Set(grant)), realmId: realm.id)) }
        if !revoke.isEmpty { changes.append(.revokeUserRoles(userId: user.id, roleIds: Array(Set(revoke)), realmId: realm.id)) }
        changes += Set(join).map { .addMember(groupId: $0, userId: user.id, realmId: realm.id) }
        changes += Set(leave).map { .removeMember(groupId: $0, userId: user.id, realmId: realm.id) }
        return changes
    }

    /// The write that brings `before` to `updated`'s profile: only what the directory changed, over
    /// the row as it is in the write (an administrator's change made meanwhile to anything else
    /// stays); an email another user has (duplicates not allowed) is not taken. Nil: nothing changed.
    func profileChange(from before: User, to updated: User) async throws -> StoreChange? {
        guard updated != before else { return nil }
        let keys = Set(before.attributes.keys).union(updated.attributes.keys).filter { before.attributes[$0] != updated.attributes[$0] }
        var emailFree = true
        if let email = updated.email, email != before.email, !realm.duplicateEmailsAllowed {
            emailFree = try await store.user(email: email, realmId: realm.id).allSatisfy { $0.id == before.id }
        }
        return .updateUser(id: before.id, realmId: realm.id) { [emailFree] stored in
            if emailFree, updated.email != before.email { stored.email = updated.email }
            if emailFree, updated.emailVerified != before.emailVerified { stored.emailVerified = updated.emailVerified }
            if updated.firstName != before.firstName { stored.firstName = updated.firstName }
            if updated.lastName != before.lastName { stored.lastName = updated.lastName }
            if !updated.enabled { stored.enabled = false }
            var attributes = stored.attributes
            for key in keys { attributes[key] = updated.attributes[key] }
            if let checked = try? ObjectRules.multiAttributes(attributes) { stored.attributes = checked }
        }
    }

    /// The groups under the mapper's path that stand for `groups` (nested as the directory nests
    /// them when it says so), and the ones to make for it. A path through a group the mapper did
    /// not make (an administrator's of the same name) stops there: that directory group is left out.
    func groupIds(for groups: [DirectoryGroup], mapper: StorageComponent, membership: LDAPMapperConfig.Membership) async throws
        -> (wanted: [String], made: [Group]) {
        // Under the group the mapper was saved with, by id, wherever it is and whatever it is called
        // now; gone, the mapper makes nothing.
        var rootPath = ""
        if let id = mapper.targetId {
            guard let root = try await store.group(id: id, realmId: realm.id) else { return ([], []) }
            rootPath = root.path
        } else if membership.groupsPath != "/" {
            return ([], [])
        }
        var wanted: [String] = [], made: [Group] = []
        var known: [String: String?] = [:]  // path → id (nil: not the mapper's)
        for group in groups {
            var parentId = mapper.targetId
            var path = rootPath
            var reached: String?
            for name in group.ancestors + [group.name] {
                guard let checked = try? ObjectRules.groupName(name), !checked.contains("/") else { reached = nil; break }
                path += "/" + checked
                if let id = known[path] {
                    guard let id else { reached = nil; break }
                    parentId = id
                    reached = id
                    continue
                }
                if let existing = try await store.group(path: path, realmId: realm.id) {
                    guard existing.group.attributes[Self.managedBy] == [mapper.id] else { known[path] = .some(nil); reached = nil; break }
                    known[path] = existing.group.id
                    parentId = existing.group.id
                    reached = existing.group.id
                } else {
                    let fresh = Group(id: newID(), realmId: realm.id, parentId: parentId, name: checked, attributes: [Self.managedBy: [mapper.id]])
                    made.append(fresh)
                    known[path] = fresh.id
                    parentId = fresh.id
                    reached = fresh.id
                }
            }
            if let reached { wanted.append(reached) }
        }
        return (wanted, made)
    }
}

extension Result {
    /// The value, or nil when it failed.
    var successValue: Success? { if case .success(let value) = self { value } else { nil } }
}
