import KeyportAuth
import KeyportLDAP
import KeyportModel
import KeyportProvisioning
import KeyportStore
import Synchronization

/// The realms' LDAP providers at sign-in (`UserDirectories`): a name nobody here has is looked up
/// in the realm's directories (by priority) and imported, linked to its entry; a password of an
/// imported user is checked by a bind as its entry; what the directory decides about the user —
/// names and email, attributes, groups, roles, Active Directory's disabled bit — is brought in
/// by the provider's mappers (`DirectoryMapping`) in the same write.
///
/// Each provider runs one `LDAPUserProvider` (its connection pool) per configuration: a change of
/// the provider or its mappers starts a new one and stops the old. The directories' calls run on
/// their own bounded threads (`DirectoryThreads`), never on the threads that answer requests, so a
/// slow directory holds only its own realm's share; when it does not answer, its users get
/// `UserDirectoryUnavailable` (a 503) and everyone else is unaffected.
public final class DirectoryUsers: UserDirectories {
    let store: any IdentityStore
    let newID: @Sendable () -> String
    let now: @Sendable () -> Timestamp
    let threads: DirectoryThreads
    /// A CA file the operator gives for every directory's TLS (else the system's).
    let caFile: String?
    private let running = Mutex<[String: Running]>([:])
    /// Providers (and group mappers) being synced on this node.
    let syncing = Mutex<Set<String>>([])
    /// Providers kept running at once (past it, the oldest-started is stopped).
    static let maxRunning = 256
    /// Names no directory of a realm had, by realm and name, until when they are not asked
    /// again: the same wrong name sent over and over (a misconfigured CI job, a guesser) costs
    /// the directory one search per `unknownNameSeconds`. A person added to the directory meanwhile
    /// signs in after it — or at once after a sync, which imports them.
    let unknownNames = BoundedCache<String, Timestamp>(capacity: 10_000)
    static let unknownNameSeconds = 30

    struct Running {
        let fingerprint: String
        let provider: LDAPUserProvider
        let started: UInt64
    }

    public init(store: any IdentityStore, newID: @escaping @Sendable () -> String, now: @escaping @Sendable () -> Timestamp,
                threads: DirectoryThreads = .shared, caFile: String? = nil) {
        self.store = store
        self.newID = newID
        self.now = now
        self.threads = threads
        self.caFile = caFile
    }

    /// Stops every provider's connections.
    public func shutdown() {
        let all = running.withLock { state in
            defer { state.removeAll() }
            return Array(state.values)
        }
        for entry in all { entry.provider.shutdown() }
    }

    // MARK: The realm's providers

    /// An LDAP provider of a realm with its mappers, as they run.
    struct Configured: Sendable {
        let component: StorageComponent
        let config: LDAPProviderConfig
        let mappers: [(component: StorageComponent, config: LDAPMapperConfig)]
    }

    /// The realm's providers by priority (then name), each with its mappers; one whose stored
    /// config no longer reads (changed behind the API's back) is left out.
    func configured(realm: Realm) async throws -> [Configured] {
        let all = try await store.storageComponents(realmId: realm.id)
        var providers: [Configured] = []
        for component in all where component.parentId == nil {
            guard let config = try? LDAPProviderConfig.parse(component.config) else { continue }
            let mappers = all.filter { $0.parentId == component.id }.compactMap { mapper in
                (try? LDAPMapperConfig.parse(providerId: mapper.providerId, mapper.config)).map { (mapper, $0) }
            }
            providers.append(Configured(component: component, config: config, mappers: mappers))
        }
        return providers.sorted { ($0.config.priority, $0.component.name, $0.component.id) < ($1.config.priority, $1.component.name, $1.component.id) }
    }

    /// The attributes a search must bring for the provider's mappers.
    static func attributes(of mappers: [(component: StorageComponent, config: LDAPMapperConfig)]) -> [String] {
        var names: [String] = []
        for (_, mapper) in mappers {
            switch mapper {
            case .userAttribute(let a): names.append(a.ldapAttribute)
            case .fullName(let attribute): names.append(attribute)
            case .accountControl: names += ["userAccountControl", "pwdLastSet"]
            case .group(let m), .role(let m):
                if m.strategy == .memberOf { names.append(m.memberOfAttribute) }
                if !m.memberIsDN { names.append(m.memberUserAttribute) }
            default: break
            }
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0.lowercased()).inserted }
    }

    /// The running provider for `configured`: started (or restarted) when its configuration changed.
    func provider(_ configured: Configured, realm: Realm) -> LDAPUserProvider {
        let attributes = Self.attributes(of: configured.mappers)
        let fingerprint = configured.component.config.keys.sorted().map { "\($0)=\(configured.component.config[$0] ?? [])" }.joined(separator: "\u{0}")
            + "\u{1}" + attributes.joined(separator: ",")
        let id = configured.component.id
        var stopped: [LDAPUserProvider] = []
        let provider: LDAPUserProvider = running.withLock { state in
            if let entry = state[id], entry.fingerprint == fingerprint { return entry.provider }
            if let old = state[id] { stopped.append(old.provider) }
            let fresh = LDAPUserProvider(config: configured.config, bindCredential: configured.component.config["bindCredential"]?.first,
                                         realm: realm.id, attributes: attributes, caFile: caFile, threads: threads)
            let order = (state.values.map(\.started).max() ?? 0) &+ 1
            state[id] = Running(fingerprint: fingerprint, provider: fresh, started: order)
            if state.count > Self.maxRunning, let oldest = state.min(by: { $0.value.started < $1.value.started }) {
                stopped.append(oldest.value.provider)
                state[oldest.key] = nil
            }
            return fresh
        }
        for old in stopped { old.shutdown() }
        return provider
    }

    // MARK: Sign-in

    public func importUser(named username: String, realm: Realm) async throws -> User? {
        let unknownKey = "\(realm.id)\u{0}\(User.normalize(username))"
        if let until = unknownNames[unknownKey], until > now() { return nil }
        for configured in try await configured(realm: realm) where configured.config.enabled && configured.config.importEnabled {
            let ldap = provider(configured, realm: realm)
            let person: LDAPPerson?
            do {
                person = try await ldap.find(newcomer: username)
            } catch .ambiguous {
                continue  // two entries answer to the name: it is nobody's
            } catch {
                throw UserDirectoryUnavailable(provider: configured.component.name)
            }
            guard let person else { continue }
            // Imported before (under another name, since renamed in the directory): that user.
            if let existing = try await store.directoryUser(providerId: configured.component.id, externalId: person.externalId, realmId: realm.id) {
                return existing
            }
            guard let user = try await newUser(person, configured: configured, realm: realm) else { continue }
            let defaultRole = try await store.role(named: realm.defaultRoleName, realmId: realm.id, clientId: nil)?.id
            do {
                try await store.apply([.createUser(Provisioning.newUserSeed(user, defaultRoleId: defaultRole))])
            } catch StoreError.conflict {
                // Imported at the same moment by another request (or node): that one.
                return try await store.directoryUser(providerId: configured.component.id, externalId: person.externalId, realmId: realm.id)
            }
            return user
        }
        // Nobody in any of the realm's directories (each answered): not asked again for a while.
        unknownNames.set(now().adding(seconds: Self.unknownNameSeconds), for: unknownKey)
        return nil
    }

    public func verify(_ user: User, password: Sensitive, realm: Realm) async throws -> DirectoryVerdict {
        guard let (configured, ldap, person) = try await entry(of: user, realm: realm) else { return .gone }
        do {
            try await ldap.authenticate(person, password: password.revealed)
        } catch {
            switch error {
            // 49: invalidCredentials (Active Directory's disabled, locked or expired accounts too);
            // 53: unwillingToPerform (a directory's own lockout or policy).
            case .invalidCredentials, .refused(code: 49, _), .refused(code: 53, _): return .mismatch
            default: throw UserDirectoryUnavailable(provider: configured.component.name)
            }
        }
        guard let current = try await bringUpToDate(user, from: person, configured: configured, ldap: ldap, realm: realm) else { return .gone }
        return .match(current)
    }

    public func standing(of user: User, realm: Realm) async throws -> DirectoryVerdict {
        guard let (configured, ldap, person) = try await entry(of: user, realm: realm),
              let current = try await bringUpToDate(user, from: person, configured: configured, ldap: ldap, realm: realm)
        else { return .gone }
        return .match(current)
    }

    /// The directory entry `user` was imported from, read now with its provider; nil when the
    /// entry is gone or its provider is disabled or removed.
    func entry(of user: User, realm: Realm) async throws -> (Configured, LDAPUserProvider, LDAPPerson)? {
        guard let link = user.federationLink, let entryId = user.federationId,
              let configured = try await configured(realm: realm).first(where: { $0.component.id == link }), configured.config.enabled
        else { return nil }
        let ldap = provider(configured, realm: realm)
        do {
            guard let person = try await ldap.find(externalId: entryId) else { return nil }
            return (configured, ldap, person)
        } catch {
            throw UserDirectoryUnavailable(provider: configured.component.name)
        }
    }

    /// What the directory says about `user` now (`person`, its entry) written by the provider's
    /// mappers; the user as stored afterwards (nil: deleted meanwhile, by a sync or an administrator).
    func bringUpToDate(_ user: User, from person: LDAPPerson, configured: Configured, ldap: LDAPUserProvider, realm: Realm) async throws -> User? {
        let unavailable = UserDirectoryUnavailable(provider: configured.component.name)
        let mapping = DirectoryMapping(store: store, newID: newID, realm: realm)
        for attempt in 1...2 {
            do {
                let changes = try await mapping.changes(for: user, person: person, configured: configured, ldap: ldap)
                if !changes.isEmpty { try await store.apply(changes) }
                break
            } catch is DirectoryError {
                throw unavailable
            } catch StoreError.conflict(let rule) where attempt == 1 && (rule == .siblingGroupName || rule == .topLevelGroupName) {
                // Another sign-in made the same directory group a moment ago: once more, with it.
                continue
            } catch let error as StoreError {
                // A group, role or the user itself changed under the write (an administrator, a
                // sync): this sign-in cannot be decided now; the next one can.
                if case .unavailable = error { throw error }
                throw unavailable
            }
        }
        return try await store.user(id: user.id, realmId: realm.id)
    }
}

// MARK: Sync

/// Keycloak's `SynchronizationResult`.
public struct DirectorySyncResult: Sendable, Equatable {
    public var ignored = false
    public var added = 0
    public var updated = 0
    public var removed = 0
    public var failed = 0
    public var status: String {
        ignored ? "Synchronization was ignored" : "\(added) imported users, \(updated) updated users, \(removed) removed users\(failed > 0 ? ", \(failed) users failed sync" : "")"
    }
    public init() {}
    /// Nothing done: the provider is disabled, or a sync of it (or of the mapper) is under way.
    public static let ignored: DirectorySyncResult = {
        var result = DirectorySyncResult()
        result.ignored = true
        return result
    }()
}

extension DirectoryUsers {
    /// At most this many people per provider are read by a sync.
    public static let maxSyncedPeople = 100_000

    /// Keycloak's full sync (`changedSince` nil) or changed-users sync of one provider: everyone the
    /// provider's filter finds (or changed since), page by page — new people imported, imported ones
    /// brought up to date (profile, Active Directory's disabled bit), and, on a full sync of a
    /// directory that answered with anyone at all, the users whose entries are gone removed (as
    /// Keycloak's `removeInvalidUsersEnabled`, on by default). Groups and roles follow at each
    /// person's sign-in. One sync per provider at a time on this node; memory bounded by a page
    /// and the ids seen.
    public func sync(providerId: String, realm: Realm, changedSince: Timestamp?) async throws -> DirectorySyncResult {
        guard let configured = try await configured(realm: realm).first(where: { $0.component.id == providerId }), configured.config.enabled else {
            return .ignored
        }
        guard syncing.withLock({ $0.insert(providerId).inserted }) else {
            return .ignored
        }
        defer { _ = syncing.withLock { $0.remove(providerId) } }
        let ldap = provider(configured, realm: realm)
        let started = now()
        var result = DirectorySyncResult()
        var seen = Set<String>()
        let defaultRole = try await store.role(named: realm.defaultRoleName, realmId: realm.id, clientId: nil)?.id
        let filter = changedSince.map { since in
            let attribute = configured.config.vendor == .ad ? "whenChanged" : "modifyTimestamp"
            let created = configured.config.vendor == .ad ? "whenCreated" : "createTimestamp"
            let time = Self.generalizedTime(since)
            return "(&\(configured.config.allUsersFilter)(|(\(attribute)>=\(time))(\(created)>=\(time))))"
        }
        do {
            try await ldap.everyone(limit: Self.maxSyncedPeople, filter: filter) { people in
                for person in people {
                    seen.insert(person.externalId)
                    do {
                        switch try await self.bringIn(person, configured: configured, realm: realm, defaultRole: defaultRole) {
                        case .added: result.added += 1
                        case .updated: result.updated += 1
                        case .unchanged: break
                        case .refused: result.failed += 1
                        }
                    } catch is StoreError {
                        result.failed += 1
                    }
                }
            }
        } catch {
            throw UserDirectoryUnavailable(provider: configured.component.name)
        }
        if changedSince == nil, !seen.isEmpty {
            // The imported users walked a page at a time (memory: a page and the ids seen).
            var after: String? = nil
            var walked = 0
            while walked <= Self.maxSyncedPeople {
                let page = try await store.directoryUsers(providerId: providerId, realmId: realm.id, after: after, limit: 1_000)
                guard let last = page.last else { break }
                walked += page.count
                after = last.username
                for user in page where !seen.contains(user.federationId ?? "") {
                    do {
                        try await store.apply([.deleteUser(id: user.id, realmId: realm.id)])
                        result.removed += 1
                    } catch is StoreError {
                        result.failed += 1
                    }
                }
            }
        }
        try await store.apply([.updateStorageComponent(id: providerId, realmId: realm.id) { $0.lastSync = started }])
        return result
    }

    /// Keycloak's group mapper sync (`fedToKeycloak`): every directory group the mapper reads
    /// made a group under its path now — nested as the directory nests them when the mapper says
    /// so — so administrators can give a directory group registry access before any of its
    /// people signs in. Only groups the mapper itself made are ever used (as at a sign-in); none
    /// is removed, and memberships follow at each person's sign-in or token use. `added`: the
    /// groups made. Nil when `mapperId` is not a group mapper of an enabled provider of the realm.
    public func syncGroups(mapperId: String, realm: Realm) async throws -> DirectorySyncResult? {
        guard let configured = try await configured(realm: realm).first(where: { $0.mappers.contains { $0.component.id == mapperId } }),
              configured.config.enabled,
              let (component, mapper) = configured.mappers.first(where: { $0.component.id == mapperId }),
              case .group(let membership) = mapper
        else { return nil }
        // One sync per mapper at a time on this node (a second is `ignored`, as the users' sync).
        guard syncing.withLock({ $0.insert(mapperId).inserted }) else {
            return .ignored
        }
        defer { _ = syncing.withLock { $0.remove(mapperId) } }
        let ldap = provider(configured, realm: realm)
        let groups: [DirectoryGroup]
        do {
            groups = try await ldap.allGroups(membership: membership)
        } catch .tooManyEntries {
            throw InvalidObject("More groups under \(membership.baseDN) than a sync reads (\(LDAPUserProvider.maxSyncedGroups) groups, \(LDAPUserProvider.maxGroupsPerPerson) holding one group)\(configured.config.pagination ? "" : ", or more than the directory answers without pagination (turn pagination on)"): narrow groups.dn or the mapper's filter")
        } catch {
            throw UserDirectoryUnavailable(provider: configured.component.name)
        }
        let mapping = DirectoryMapping(store: store, newID: newID, realm: realm)
        var result = DirectorySyncResult()
        for attempt in 1...2 {
            let (wanted, made) = try await mapping.groupIds(for: groups, mapper: component, membership: membership)
            // Ancestors cut at the nesting limit can make paths of their own: never more groups
            // than the directory has (what the grant checks of the mapper's path can still walk).
            guard made.count <= LDAPUserProvider.maxSyncedGroups else {
                throw InvalidObject("The directory's groups would make more than \(LDAPUserProvider.maxSyncedGroups) groups: narrow groups.dn or the mapper's filter")
            }
            do {
                // Parents before children (groupIds lists them in the order made), in one write.
                if !made.isEmpty { try await store.apply(made.map { .createGroup($0) }) }
                let madeIds = Set(made.map(\.id)), reached = Set(wanted)
                result.added = made.count
                result.updated = reached.subtracting(madeIds).count
                result.failed = groups.count - wanted.count
                break
            } catch StoreError.conflict(let rule) where attempt == 1 && (rule == .siblingGroupName || rule == .topLevelGroupName) {
                continue  // a sign-in made one of them a moment ago: once more, with it
            }
        }
        return result
    }

    enum BroughtIn { case added, updated, unchanged, refused }

    /// One person of a sync: imported when new (as at a first sign-in), else its profile updated.
    func bringIn(_ person: LDAPPerson, configured: Configured, realm: Realm, defaultRole: String?) async throws -> BroughtIn {
        if let existing = try await store.directoryUser(providerId: configured.component.id, externalId: person.externalId, realmId: realm.id) {
            let mapping = DirectoryMapping(store: store, newID: newID, realm: realm)
            let updated = DirectoryMapping.profile(of: existing, from: person, configured: configured)
            guard let change = try await mapping.profileChange(from: existing, to: updated) else { return .unchanged }
            try await store.apply([change])
            return .updated
        }
        guard configured.config.importEnabled, let user = try await newUser(person, configured: configured, realm: realm) else { return .refused }
        try await store.apply([.createUser(Provisioning.newUserSeed(user, defaultRoleId: defaultRole))])
        return .added
    }

    /// The user `person` becomes when imported (at a sign-in or a sync): linked to its entry, its
    /// profile from the mappers, without an email another user has (duplicates not allowed). Nil
    /// for a name Keyport cannot hold, a service account's, or a local user's — a directory never
    /// takes over a local user.
    func newUser(_ person: LDAPPerson, configured: Configured, realm: Realm) async throws -> User? {
        guard let name = try? ObjectRules.username(person.username), !User.normalize(name).hasPrefix(ServiceAccounts.prefix),
              try await store.user(username: User.normalize(name), realmId: realm.id) == nil else { return nil }
        var user = User(id: newID(), realmId: realm.id, username: User.normalize(name), enabled: true, createdAt: now(),
                        federationLink: configured.component.id, federationId: person.externalId)
        user = DirectoryMapping.profile(of: user, from: person, configured: configured)
        if let email = user.email, !realm.duplicateEmailsAllowed, !(try await store.user(email: email, realmId: realm.id)).isEmpty {
            user.email = nil
            user.emailVerified = false
        }
        return user
    }

    /// LDAP's GeneralizedTime (`20261204153000Z`), as filters on `modifyTimestamp` take it: the
    /// timestamp's RFC 3339 form without its separators.
    static func generalizedTime(_ time: Timestamp) -> String {
        time.rfc3339().filter { $0 != "-" && $0 != ":" && $0 != "T" }
    }
}

// MARK: Periodic sync

extension DirectoryUsers {
    /// What a periodic pass ran.
    public struct PeriodicSync: Sendable, Equatable {
        public let realm: String
        public let provider: String
        public let full: Bool
        public let result: DirectorySyncResult
    }

    /// Keycloak's periodic sync (`fullSyncPeriod`, `changedSyncPeriod`, in seconds; -1 off): each
    /// enabled provider whose shorter period has come round since its last sync is synced —
    /// fully when a multiple of `fullSyncPeriod` (counted from the epoch, the same on every node)
    /// passed since then, else its changed users. Each run is claimed first by moving the
    /// provider's `lastSync` in the database from the value read, so of several nodes one runs it.
    /// A directory that does not answer is tried again at the next pass.
    public func runDueSyncs() async throws -> [PeriodicSync] {
        var ran: [PeriodicSync] = []
        for realm in try await store.realms() where realm.hasUserFederation {
            for configured in try await configured(realm: realm) where configured.config.enabled {
                let full = configured.config.fullSyncPeriod, changed = configured.config.changedSyncPeriod
                guard let every = [full, changed].compactMap({ $0 }).min() else { continue }
                let now = now(), last = configured.component.lastSync
                if let last, last.adding(seconds: every) > now { continue }
                let runFull = last == nil || changed == nil
                    || full.map { now.millisecondsSince1970 / (Int64($0) * 1000) != last!.millisecondsSince1970 / (Int64($0) * 1000) } ?? false
                do {
                    try await store.apply([.updateStorageComponent(id: configured.component.id, realmId: realm.id) { component in
                        guard component.lastSync == last else { throw StoreError.conflict(.concurrentChange) }
                        component.lastSync = now
                    }])
                } catch StoreError.conflict {
                    continue  // another node took it
                }
                do {
                    let result = try await sync(providerId: configured.component.id, realm: realm, changedSince: runFull ? nil : last)
                    ran.append(PeriodicSync(realm: realm.name, provider: configured.component.name, full: runFull, result: result))
                } catch is UserDirectoryUnavailable {
                    // Not synced: the claim is given back, so the next pass tries again from the
                    // same point (no change in between is skipped).
                    try? await store.apply([.updateStorageComponent(id: configured.component.id, realmId: realm.id) { component in
                        if component.lastSync == now { component.lastSync = last }
                    }])
                }
            }
        }
        return ran
    }
}
