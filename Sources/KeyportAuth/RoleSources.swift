import KeyportModel
import KeyportStore

/// Where each of a user's effective roles comes from: mapped to the user directly, to one of
/// its groups (or a group above one), or reached through composites of those — the answer to
/// "why may alice push here?" that Keycloak's console never gives.
///
/// Read from the store as it is now (not the token path's caches): an administrator's
/// question, asked one user at a time. Bounded however the roles are shaped: at most
/// `maxLookups` composite lookups, `maxSteps` roles visited over all walks, and
/// `maxSourcesPerRole` sources kept per role; `truncated` says when a bound was reached.
public struct RoleSources: Sendable {
    public struct Answer: Sendable, Equatable {
        /// By role id, each way the user holds it: `direct`, `group /eng/backend`, or a chain
        /// such as `group /eng → composite realm role developers`.
        public var sources: [String: [String]]
        public var truncated: Bool
    }

    let store: any IdentityStore
    public let maxLookups: Int
    public let maxSteps: Int
    public let maxSourcesPerRole: Int

    public init(store: any IdentityStore, maxLookups: Int = 5_000, maxSteps: Int = 50_000, maxSourcesPerRole: Int = 10) {
        self.store = store
        self.maxLookups = maxLookups
        self.maxSteps = maxSteps
        self.maxSourcesPerRole = maxSourcesPerRole
    }

    /// A role reached by a walk: the chain text is built only for the sources kept, from these
    /// links, so a deep graph costs no long strings per step.
    struct Step {
        let role: Role
        let parent: Int?
        let origin: String
        /// Composites passed from the root to here.
        let depth: Int
    }

    /// A chain names at most this many composites (the nearest to the role), so a deep graph
    /// costs a bounded string per source kept.
    static let chainShown = 20

    public func of(user: User, realm: Realm) async throws -> Answer {
        var roots: [(Role, String)] = try await store.userRoles(userId: user.id, realmId: realm.id).map { ($0, "direct") }
        // A group's roles apply to the members of every group below it.
        var groupsSeen: Set<String> = []
        for node in try await store.groupsOfUser(userId: user.id, realmId: realm.id) {
            var current: GroupNode? = node
            var depth = 0
            while let group = current, depth < 1_000, groupsSeen.insert(group.group.id).inserted {
                for role in try await store.groupRoles(groupId: group.group.id, realmId: realm.id) { roots.append((role, "group \(group.path)")) }
                guard let parent = group.group.parentId else { break }
                current = try await store.group(id: parent, realmId: realm.id)
                depth += 1
            }
        }
        var answer = Answer(sources: [:], truncated: false)
        var clientIds: [String: String] = [:]
        var composites: [String: [Role]] = [:]
        var lookups = 0
        var steps: [Step] = []
        walks: for (root, origin) in roots {
            // Breadth first from each root, so each role gets its shortest chain from it.
            var visited: Set<String> = [root.id]
            var queue = [steps.count]
            steps.append(Step(role: root, parent: nil, origin: origin, depth: 0))
            var index = 0
            while index < queue.count {
                guard steps.count < maxSteps else { answer.truncated = true; break walks }
                let current = queue[index]
                index += 1
                let role = steps[current].role
                if answer.sources[role.id, default: []].count < maxSourcesPerRole {
                    answer.sources[role.id, default: []].append(try await chain(to: current, in: steps, realm: realm, clientIds: &clientIds))
                } else {
                    answer.truncated = true
                }
                if composites[role.id] == nil {
                    guard lookups < maxLookups else { answer.truncated = true; continue }
                    lookups += 1
                    composites[role.id] = try await store.composites(of: role.id, realmId: realm.id)
                }
                for child in composites[role.id] ?? [] where visited.insert(child.id).inserted {
                    queue.append(steps.count)
                    steps.append(Step(role: child, parent: current, origin: origin, depth: steps[current].depth + 1))
                }
            }
        }
        return answer
    }

    /// `origin → composite A → composite B`: the composites the walk passed through to reach `index`.
    func chain(to index: Int, in steps: [Step], realm: Realm, clientIds: inout [String: String]) async throws -> String {
        var names: [String] = []
        var cursor = steps[index].parent
        while let at = cursor, names.count < Self.chainShown {
            names.append(try await describe(steps[at].role, realm: realm, clientIds: &clientIds))
            cursor = steps[at].parent
        }
        let skipped = steps[index].depth > Self.chainShown ? ["…"] : []
        return ([steps[index].origin] + skipped + names.reversed().map { "composite \($0)" }).joined(separator: " → ")
    }

    /// `realm role NAME` or `client role CLIENTID NAME`.
    func describe(_ role: Role, realm: Realm, clientIds: inout [String: String]) async throws -> String {
        guard let owner = role.clientId else { return "realm role \(role.name)" }
        if clientIds[owner] == nil { clientIds[owner] = try await store.client(id: owner, realmId: realm.id)?.clientId ?? owner }
        return "client role \(clientIds[owner] ?? owner) \(role.name)"
    }
}
