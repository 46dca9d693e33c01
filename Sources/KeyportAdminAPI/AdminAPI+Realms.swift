import Foundation
import KeycloakRepresentations
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportJSON
import KeyportModel
import KeyportRealmExchange
import KeyportStore

extension AdminAPI {
    func addRealmRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms") { _, context in try await listRealms(context) }
        admin.post("realms", use: createRealm)
        admin.get("realms/{realm}", use: getRealm)
        admin.put("realms/{realm}", use: updateRealm)
        admin.post("realms/{realm}/partialImport", use: partialImport)
        admin.post("realms/{realm}/partial-export", use: partialExport)
        admin.delete("realms/{realm}", use: deleteRealm)
        for cache in ServerCache.allCases {
            admin.post("realms/{realm}/clear-\(cache.rawValue)-cache") { request, context in try await clearCache(cache, request, context) }
        }
    }

    func realmResponse(_ realm: Realm) async throws -> Response {
        try JSONBody.response(try await representation(of: realm).withKeptSettings(realm.keycloakSettings))
    }

    func representation(of realm: Realm) async throws -> RealmRepresentation {
        let defaultRole = try await store.role(named: realm.defaultRoleName, realmId: realm.id, clientId: nil)
        return RealmRepresentation(realm, defaultRole: defaultRole)
    }

    func listRealms(_ context: KeyportRequestContext) async throws -> Response {
        let caller = try await principal(context)
        var result: [JSONValue] = []
        for realm in try await store.realms() where caller.may(.viewRealm, in: realm) || caller.administers(realm) {
            result.append(try await representation(of: realm).withKeptSettings(realm.keycloakSettings))
        }
        return try JSONBody.response(JSONValue.array(result))
    }

    func createRealm(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let caller = try await principal(context)
        guard caller.mayCreateRealms else { throw AdminError.forbidden }
        let body: ByteBuffer
        let rep: RealmRepresentation
        do {
            body = try await BodyReader.read(request, context: context)
            try requireKnownFields(RealmRepresentation.self, in: body)
            rep = try JSONBody.decode(RealmRepresentation.self, from: body)
        } catch let error as BadInput {
            throw AdminError.badRequest(error.message)
        }
        // A full representation (Keycloak's create_realm(payload) with users, clients, roles,
        // groups): the realm file importer makes the whole realm, in one transaction. What it
        // grants stays inside the new realm — every reference is realm-scoped.
        if rep.hasContents {
            let prepared: RealmImporter.Prepared
            do {
                // Hashing is charged to the caller (FairScheduler): many realms created at once
                // compete with each other, not with every realm's logins.
                prepared = try await importer.chargingHashes(to: Self.hashingPartition(of: caller))
                    .prepare(Data(buffer: body), refusingExisting: true)
            } catch let refused as RealmImporter.Failure {
                throw AdminError.badRequest(refused.description)
            } catch is RealmImporter.RealmExists {
                throw AdminError.conflict(Self.realmConflict)
            }
            do {
                try await store.createRealm(prepared.seed)
            } catch StoreError.conflict {
                throw AdminError.conflict(Self.realmConflict)
            } catch let error as StoreError {
                throw AdminError.from(error)
            }
            // What the importer skipped or decided goes to the log: Keycloak's answer has no place for it.
            if !prepared.skipped.isEmpty {
                context.logger.warning("POST /admin/realms: skipping fields Keyport does not model",
                                       metadata: ["realm": "\(prepared.seed.realm.name)", "fields": "\(prepared.skipped.joined(separator: ","))"])
            }
            for notice in prepared.notices { context.logger.notice("POST /admin/realms: \(notice)") }
            return created(request, prepared.seed.realm.name)
        }
        let name = try Validate.realmName(rep.realm)
        var realm = Realm(id: environment.newID(), name: name, createdAt: environment.now())
        try apply(rep, to: &realm)
        realm.keycloakSettings = Self.keptSettings(body) ?? [:]
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

    /// The share of the hashing threads an administrator's imports are charged to.
    static func hashingPartition(of caller: AdminPrincipal) -> String { "admin:\(caller.realm.id):\(caller.user.id)" }

    /// Keycloak's partial import (`PartialImport`): planned from the realm as read, checked against
    /// the admin-role rule, and written in one transaction that first checks nothing it was planned
    /// from moved — if something did, it is planned again (at most three times).
    func partialImport(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageRealm)
        let body = try await decode(PartialImportRepresentation.self, request, context)
        // Each kind of resource needs the permission that manages it, as in Keycloak.
        if !(body.users ?? []).isEmpty || !(body.groups ?? []).isEmpty {
            guard caller.may(.manageUsers, in: realm) else { throw AdminError.forbidden }
        }
        if !(body.clients ?? []).isEmpty || !(body.roles?.client ?? [:]).isEmpty {
            guard caller.may(.manageClients, in: realm) else { throw AdminError.forbidden }
        }
        if let providers = body.identityProviders, !providers.isEmpty {
            guard caller.may(.manageIdentityProviders, in: realm) else { throw AdminError.forbidden }
            // One that vouches for clients decides which tokens authenticate them (the admin API's rule).
            if providers.contains(where: { $0.config?["supportsClientAssertions"] == "true" }) {
                guard caller.may(.manageClients, in: realm) else { throw AdminError.forbidden }
            }
        }
        var hashed: [String: Credential] = [:]
        let attempts = 3
        for attempt in 1...attempts {
            guard let current = try await store.realm(id: realm.id) else { throw AdminError.notFound("Realm not found.") }
            var plan: PartialImport.Plan
            do {
                plan = try await importer.planPartialImport(body, into: current, hashed: hashed)
            } catch let failure as RealmImporter.Failure {
                throw AdminError.badRequest(failure.description)
            } catch let conflict as PartialImport.Conflict {
                throw AdminError.conflict(conflict.description)
            } catch let error as StoreError {
                throw AdminError.from(error)
            }
            // What the import makes users hold: existing roles it maps or nests, and the roles of
            // existing groups its users join (with their ancestors').
            var granted: [Role] = []
            for id in plan.grantedExistingRoleIds.sorted() {
                if let role = try await store.role(id: id, realmId: realm.id) { granted.append(role) }
            }
            for groupId in plan.joinedExistingGroupIds.sorted() { granted += try await rolesThroughGroup(groupId, realm: realm) }
            // Users linked to a provider get what its mappers give at their next sign-in.
            for mapper in try await store.identityProviderMappers(realmId: realm.id) where plan.linkedProviderIds.contains(mapper.providerId) {
                granted += try await rolesGranted(by: mapper, realm: realm)
            }
            try await requireMayGrant(granted, caller: caller, realm: realm)
            for id in plan.overwrittenUserIds.sorted() {
                if let user = try await store.user(id: id, realmId: realm.id) { try await requireMayActOn(user, caller: caller, realm: realm) }
            }
            do {
                try await importer.chargingHashes(to: Self.hashingPartition(of: caller)).hashPasswords(&plan, realm: current, hashed: &hashed)
            } catch let failure as RealmImporter.Failure {
                throw AdminError.badRequest(failure.description)
            }
            do {
                try await store.apply(plan.changes)
            } catch let error as StoreError where attempt < attempts {
                switch error {
                case .conflict, .notFound: continue   // the realm moved under the plan: plan again
                default: throw AdminError.from(error)
                }
            } catch let error as StoreError {
                throw AdminError.from(error)
            }
            for notice in plan.notices { context.logger.notice("partialImport: \(notice)", metadata: ["realm": "\(realm.name)"]) }
            return try JSONBody.response(PartialImportResultsRepresentation(results: plan.results))
        }
        throw AdminError.conflict(AdminError.keycloakWording(.concurrentChange))
    }

    func updateRealm(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, existing) = try await authorize(request, context, .manageRealm)
        let (rep, body) = try await decodeKeepingBody(RealmRepresentation.self, request, context)
        let kept = Self.keptSettings(body)
        // Merged into the row as it is inside the write transaction, so two administrators
        // changing different settings at once both keep theirs.
        try await store.updateRealm(id: existing.id) { realm in
            let before = realm
            if let name = rep.realm, name != before.name {
                guard before.name != BuiltInRoles.masterRealm else { throw AdminError.badRequest("The master realm cannot be renamed") }
                realm.name = try Validate.realmName(name)
            }
            try apply(rep, to: &realm)
            if let kept {
                var change = RealmSettingsChange()
                change.keycloakSettings = kept
                do { try realm.apply(change, ceiling: ceiling) } catch let error as InvalidRealmSetting { throw AdminError.badRequest(error.description) }
            }
            // Disabling master would lock every administrator out, this one included.
            if before.name == BuiltInRoles.masterRealm && !realm.enabled { throw AdminError.badRequest("The master realm cannot be disabled") }
        }
        return noContent
    }

    /// Merges the fields present in `rep` into `realm`; the model checks each (`Realm.apply`).
    func apply(_ rep: RealmRepresentation, to realm: inout Realm) throws {
        var change = rep.settingsChange
        if let v = rep.displayName { change.displayName = .some(try Validate.optionalText(v, what: "displayName", max: 255)) }
        change.enabled = rep.enabled
        if let algorithm = rep.passwordHashing?.algorithm, algorithm != "argon2id" {
            throw AdminError.badRequest("passwordHashing.algorithm must be argon2id")
        }
        var parsedPolicy: PasswordPolicy?
        if let policy = rep.passwordPolicy {
            let parsed = try provision { try PasswordPolicy(policy) }
            parsedPolicy = parsed
            if let iterations = parsed.hashIterations { change.hashingIterations = iterations }
        }
        if let v = rep.attributes { realm.attributes = try Validate.singleAttributes(v) }
        do {
            try realm.apply(change, ceiling: ceiling)
        } catch {
            throw AdminError.badRequest(error.description)
        }
        if let policy = rep.passwordPolicy, parsedPolicy != nil { realm.passwordPolicy = policy.isEmpty ? nil : policy }
    }
}

// MARK: Handlers

extension AdminAPI {
    func getRealm(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewRealm)
        return try await realmResponse(realm)
    }

    func deleteRealm(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageRealm)
        guard realm.name != "master" else { throw AdminError.badRequest("The master realm cannot be deleted") }
        try await store.deleteRealm(id: realm.id)
        return noContent
    }

    /// `POST partial-export?exportClients=…&exportGroupsAndRoles=…`: the realm's settings, with
    /// its clients (secrets masked) and its roles and groups when asked; never users. Each part
    /// needs the permission to view it.
    func partialExport(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .viewRealm)
        let parts = RealmExporter.PartialExport(clients: try bool(request, "exportClients") ?? false,
                                                groupsAndRoles: try bool(request, "exportGroupsAndRoles") ?? false)
        if parts.clients { guard caller.may(.viewClients, in: realm) else { throw AdminError.forbidden } }
        if parts.groupsAndRoles { guard caller.may(.viewUsers, in: realm) else { throw AdminError.forbidden } }
        return try JSONBody.response(try await RealmExporter(store: store).export(realmNamed: realm.name, partial: parts)
            .withKeptSettings(realm.keycloakSettings))
    }

    /// Keycloak's settings in a realm body that Keyport keeps without using them.
    static func keptSettings(_ body: ByteBuffer) -> [String: String]? {
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else { return nil }
        return RealmRepresentation.keptSettings(in: json)
    }

    /// Keycloak's cache clearing, for `manage-realm`: this node forgets what it kept of that kind
    /// (see `ServerCache`) for this realm — for every realm when a server administrator asks,
    /// since one realm's administrator must not make every realm's next logins hash again; 204,
    /// recorded as an admin event (ACTION).
    func clearCache(_ cache: ServerCache, _ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageRealm)
        try await extensions.clearCache?(cache, realm, caller.isMasterAdmin)
        return noContent
    }
}
