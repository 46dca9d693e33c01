import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportModel
import KeyportStore

extension AdminAPI {
    func addRealmRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms") { request, _ in try await listRealms(request) }
        admin.post("realms") { request, context in try await createRealm(request, context) }
        admin.get("realms/{realm}") { request, context in
            let (_, realm) = try await authorize(request, context, .viewRealm)
            return try await realmResponse(realm)
        }
        admin.put("realms/{realm}") { request, context in try await updateRealm(request, context) }
        admin.delete("realms/{realm}") { request, context in
            let (_, realm) = try await authorize(request, context, .manageRealm)
            guard realm.name != "master" else { throw AdminError.badRequest("The master realm cannot be deleted") }
            try await run { try await store.deleteRealm(id: realm.id) }
            return noContent
        }
    }

    func realmResponse(_ realm: Realm) async throws -> Response {
        try JSONBody.response(try await representation(of: realm))
    }

    func representation(of realm: Realm) async throws -> RealmRepresentation {
        let defaultRole = try await store.role(named: realm.defaultRoleName, realmId: realm.id, clientId: nil)
        return RealmRepresentation(realm, defaultRole: defaultRole)
    }

    func listRealms(_ request: Request) async throws -> Response {
        let caller = try await principal(request)
        var result: [RealmRepresentation] = []
        for realm in try await store.realms() where caller.may(.viewRealm, in: realm) || caller.administers(realm) {
            result.append(try await representation(of: realm))
        }
        return try JSONBody.response(result)
    }

    func createRealm(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let caller = try await principal(request)
        guard caller.mayCreateRealms else { throw AdminError.forbidden }
        let rep = try await decode(RealmRepresentation.self, request, context)
        let name = try Validate.realmName(rep.realm)
        var realm = Realm(id: environment.newID(), name: name, createdAt: environment.now())
        try apply(rep, to: &realm)
        if let id = rep.id, !id.isEmpty {
            try Validate.plain(id, what: "Realm id")
            realm.id = id
        }
        let seed = try provisioner.seed(for: realm)
        do {
            try await store.createRealm(seed)
        } catch StoreError.conflict {
            // Keycloak's exact words: python-keycloak's create_realm(skip_exists=True) matches on them.
            throw AdminError.conflict(Self.realmConflict)
        } catch let error as StoreError {
            throw AdminError.from(error)
        }
        return created(request, realm.name)
    }

    static let realmConflict = "Conflict detected. See logs for details"

    func updateRealm(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, existing) = try await authorize(request, context, .manageRealm)
        let rep = try await decode(RealmRepresentation.self, request, context)
        var realm = existing
        if let name = rep.realm, name != existing.name {
            guard existing.name != "master" else { throw AdminError.badRequest("The master realm cannot be renamed") }
            realm.name = try Validate.realmName(name)
        }
        try apply(rep, to: &realm)
        if realm != existing { try await run { try await store.updateRealm(realm) } }
        return noContent
    }

    /// Merges the fields present in `rep` into `realm`, checking each.
    func apply(_ rep: RealmRepresentation, to realm: inout Realm) throws {
        if let v = rep.displayName { realm.displayName = try Validate.optionalText(v, what: "displayName", max: 255) }
        if let v = rep.enabled { realm.enabled = v }
        if let v = try Validate.lifespan(rep.accessTokenLifespan, what: "accessTokenLifespan") { realm.accessTokenLifespan = v }
        if let v = try Validate.lifespan(rep.ssoSessionIdleTimeout, what: "ssoSessionIdleTimeout") { realm.refreshTokenLifespan = v }
        if let v = rep.duplicateEmailsAllowed { realm.duplicateEmailsAllowed = v }
        if let v = rep.dockerV2Enabled { realm.dockerV2Enabled = v }
        if let v = rep.bruteForceProtected { realm.bruteForce.enabled = v }
        func nonNegative(_ value: Int?, _ what: String) throws -> Int? {
            guard let value else { return nil }
            guard value >= 0 else { throw AdminError.badRequest("\(what) must not be negative") }
            return value
        }
        if let v = try nonNegative(rep.failureFactor, "failureFactor") { realm.bruteForce.failureFactor = v }
        if let v = try nonNegative(rep.waitIncrementSeconds, "waitIncrementSeconds") { realm.bruteForce.waitIncrementSeconds = v }
        if let v = try nonNegative(rep.maxFailureWaitSeconds, "maxFailureWaitSeconds") { realm.bruteForce.maxFailureWaitSeconds = v }
        if let v = try nonNegative(rep.quickLoginCheckMilliSeconds, "quickLoginCheckMilliSeconds") { realm.bruteForce.quickLoginCheckMilliSeconds = v }
        if let v = try nonNegative(rep.minimumQuickLoginWaitSeconds, "minimumQuickLoginWaitSeconds") { realm.bruteForce.minimumQuickLoginWaitSeconds = v }
        if let v = try nonNegative(rep.maxDeltaTimeSeconds, "maxDeltaTimeSeconds") { realm.bruteForce.maxDeltaTimeSeconds = v }
        if let v = rep.permanentLockout { realm.bruteForce.permanentLockout = v }
        if let v = rep.attributes { realm.attributes = try Validate.singleAttributes(v) }
        if let v = rep.eventsExpiration { realm.eventsExpiration = v > 0 ? v : nil }
        if let hashing = rep.passwordHashing {
            if let algorithm = hashing.algorithm, algorithm != "argon2id" {
                throw AdminError.badRequest("passwordHashing.algorithm must be argon2id")
            }
            var p = realm.passwordHashing
            if let v = hashing.memory { p.memoryKiB = v }
            if let v = hashing.iterations { p.iterations = v }
            if let v = hashing.parallelism { p.parallelism = v }
            if let v = hashing.hashLength { p.hashLength = v }
            if let v = hashing.saltLength { p.saltLength = v }
            guard p.isWithinBounds else {
                throw AdminError.badRequest("passwordHashing is out of bounds: memory 1024–1048576 KiB (at least 8 per lane), iterations 1–64, parallelism 1–16, hashLength 16–64, saltLength 8–64")
            }
            realm.passwordHashing = p
        }
        if let policy = rep.passwordPolicy {
            let parsed = try PasswordPolicy(policy)
            realm.passwordPolicy = policy.isEmpty ? nil : policy
            if let iterations = parsed.hashIterations { realm.passwordHashing.iterations = iterations }
        }
    }
}
