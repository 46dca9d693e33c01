import DockerV2Grammar
import KeyportAuth
import KeyportModel
import KeyportStore

/// Decides what a user may do with the resources it asked for: the intersection of the
/// request with the grants of the client's roles among the user's effective roles.
/// Denial is a value (an entry with fewer or no actions), never an error.
public struct RegistryAuthorizer: Sendable {
    let roles: EffectiveRolesCache
    let onInvalidGrant: @Sendable (String) -> Void
    /// A user's parsed grants on one client, kept while the realm's authorization version stays
    /// where it was when they were parsed (any role, mapping, group or composite change moves it).
    let parsed: BoundedCache<GrantsKey, UserGrants>

    struct GrantsKey: Hashable, Sendable { let realmId: String; let userId: String; let clientId: String }
    struct UserGrants: Sendable {
        let version: Int64
        /// The username the grants' `${username}` was compiled with (a rename recompiles).
        let username: String
        let roleNames: [String]
        let grants: [CompiledGrant]
    }

    public init(store: any IdentityStore, onInvalidGrant: @escaping @Sendable (String) -> Void = { _ in }) {
        self.init(roles: EffectiveRolesCache(store: store), onInvalidGrant: onInvalidGrant)
    }

    /// With a shared cache of effective roles (checked against the realm's authorization version at each request).
    public init(roles: EffectiveRolesCache, onInvalidGrant: @escaping @Sendable (String) -> Void = { _ in }) {
        self.roles = roles
        self.onInvalidGrant = onInvalidGrant
        self.parsed = BoundedCache(capacity: roles.capacity)
    }

    /// Forgets parsed grants and, for `.user`/`.realm`, the effective roles they came from.
    public func removeAll() {
        parsed.removeAll()
        roles.removeAll()
    }

    /// The same, for one realm's users only.
    public func removeAll(realmId: String) {
        parsed.removeAll { $0.realmId == realmId }
        roles.removeAll(realmId: realmId)
    }

    public struct Decision: Sendable, Equatable {
        public let access: [ResourceScope]
        /// The client roles that carried the grants considered (for `kpadm docker access` and events).
        public let roles: [String]
        public let grants: [String]
        /// The grants that allowed at least one requested action.
        public let matched: [String]
    }

    /// Word operations of name matching one request may take (`GlobProgram.cost`): ten times
    /// what a `docker push` of three scopes against fifty grants of 64-byte names needs (under
    /// 10,000). A request
    /// that would take more is refused before any matching (`TooMuchToMatch`), so the cost of
    /// the worst request an attacker can build stays a small multiple of the common one.
    public static let matchBudget = 100_000

    /// The request asks for more names against more grants than `matchBudget` allows.
    public struct TooMuchToMatch: Error, Equatable {
        public let cost: Int
    }

    /// What `user` (nil: an anonymous request) may do with `requested`: the grants of its client
    /// roles plus the client's anonymous grants, and — for a personal access token that carries
    /// grants (`limitedTo`) — no more than those.
    /// `authorizationVersion`: the realm's, when this request has read it already.
    /// `settings`: the client's, when this request has parsed them already.
    public func decide(realm: Realm, client: Client, user: User?, requested: [ResourceScope],
                       limitedTo tokenGrants: [RegistryGrant]? = nil, authorizationVersion: Int64? = nil,
                       settings: DockerClientSettings? = nil) async throws -> Decision {
        let settings = settings ?? DockerClientSettings(client)
        let username = user?.username ?? ""
        let limits = tokenGrants?.map { $0.compiled(username: username) }
        var decision: Decision
        switch settings.authorization {
        case .allowAll where user != nil:
            if let limits { try Self.checkBudget(requested, limits) }
            decision = Decision(access: requested, roles: [], grants: ["allow-all"], matched: requested.isEmpty ? [] : ["allow-all"])
        case .allowAll, .roles:
            var roleNames: [String] = []
            var grants: [CompiledGrant] = []
            if let user {
                let userGrants = try await self.grants(of: user, on: client, in: realm, version: authorizationVersion)
                roleNames = userGrants.roleNames
                grants = userGrants.grants
            }
            // What anyone may do, everyone may do.
            grants += settings.anonymousGrants.map { $0.compiled(username: username) }
            try Self.checkBudget(requested, grants + (limits ?? []))
            let (access, matched) = Self.intersect(requested, grants: grants)
            decision = Decision(access: access, roles: roleNames, grants: grants.map(\.grant.description),
                                matched: matched.map(\.grant.description))
        }
        if let limits {
            decision = Decision(access: Self.intersect(decision.access, grants: limits).access,
                                roles: decision.roles, grants: decision.grants, matched: decision.matched)
        }
        return decision
    }

    /// Refuses a request whose matching could cost more than `matchBudget`, counting every
    /// (name, grant) pair whose type and actions could apply, before matching any.
    static func checkBudget(_ requested: [ResourceScope], _ grants: [CompiledGrant]) throws(TooMuchToMatch) {
        var cost = 0
        for resource in requested {
            let length = resource.name.utf8.count
            let actions = ActionBits.of(resource.actions)
            for grant in grants where grant.covers(actions) && grant.grant.type == resource.type {
                cost += grant.program.cost(length: length)
                // However many grants a user's roles carry, counting stops at the budget.
                if cost > matchBudget { throw TooMuchToMatch(cost: cost) }
            }
        }
    }

    /// The grants of `user`'s effective roles of `client`, parsed and compiled once per
    /// authorization version.
    func grants(of user: User, on client: Client, in realm: Realm, version: Int64?) async throws -> UserGrants {
        let key = GrantsKey(realmId: realm.id, userId: user.id, clientId: client.id)
        if let version, let hit = parsed[key], hit.version == version, hit.username == user.username { return hit }
        let effective = if let version {
            try await roles.roles(userId: user.id, realmId: realm.id, version: version)
        } else {
            try await roles.roles(userId: user.id, realmId: realm.id)
        }
        let clientRoles = effective.filter { $0.clientId == client.id }
        var grants: [CompiledGrant] = []
        for role in clientRoles {
            for text in (role.attributes[RegistryGrant.attribute] ?? []).prefix(RegistryGrant.maxPerHolder) {
                do { grants.append(try RegistryGrant(parsing: text).compiled(username: user.username)) } catch { onInvalidGrant(error.description) }
            }
        }
        let result = UserGrants(version: version ?? -1, username: user.username, roleNames: clientRoles.map(\.name).sorted(), grants: grants)
        if version != nil { parsed.set(result, for: key) }
        return result
    }

    /// Each requested resource keeps the requested actions some grant allows, in request order;
    /// and the grants that allowed at least one. Each (name, grant) pair is matched once.
    public static func intersect(_ requested: [ResourceScope], grants: [CompiledGrant]) -> (access: [ResourceScope], matched: [CompiledGrant]) {
        var used = [Bool](repeating: false, count: grants.count)
        let access = requested.map { resource in
            var allowed = [Bool](repeating: false, count: resource.actions.count)
            let bits = resource.actions.map(ActionBits.of)
            let all = bits.reduce(0, |)
            for (g, grant) in grants.enumerated() where grant.covers(all) && grant.grant.type == resource.type {
                let wanted = bits.indices.filter { grant.covers(bits[$0]) }
                // Nothing left that this grant could add, and it already counts as matched.
                guard !wanted.isEmpty, wanted.contains(where: { !allowed[$0] }) || !used[g] else { continue }
                guard grant.program.matches(resource.name) else { continue }
                used[g] = true
                for i in wanted { allowed[i] = true }
            }
            return ResourceScope(type: resource.type, name: resource.name, actions: resource.actions.indices.filter { allowed[$0] }.map { resource.actions[$0] })
        }
        return (access, grants.indices.filter { used[$0] }.map { grants[$0] })
    }

    /// `intersect` with grants not yet compiled (tests and tools).
    public static func intersect(_ requested: [ResourceScope], grants: [RegistryGrant], username: String) -> [ResourceScope] {
        intersect(requested, grants: grants.map { $0.compiled(username: username) }).access
    }
}
