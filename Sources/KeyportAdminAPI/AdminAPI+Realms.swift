import Foundation
import KeycloakRepresentations
import Hummingbird
import KeyportAuth
import KeyportHTTP
import KeyportModel
import KeyportStore

extension AdminAPI {
    func addRealmRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms") { _, context in try await listRealms(context) }
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

    func listRealms(_ context: KeyportRequestContext) async throws -> Response {
        let caller = try await principal(context)
        var result: [RealmRepresentation] = []
        for realm in try await store.realms() where caller.may(.viewRealm, in: realm) || caller.administers(realm) {
            result.append(try await representation(of: realm))
        }
        return try JSONBody.response(result)
    }

    func createRealm(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let caller = try await principal(context)
        guard caller.mayCreateRealms else { throw AdminError.forbidden }
        let body: ByteBuffer
        let rep: RealmRepresentation
        do {
            body = try await BodyReader.read(request, context: context)
            rep = try JSONBody.decode(RealmRepresentation.self, from: body)
        } catch let error as BadInput {
            throw AdminError.badRequest(error.message)
        }
        // A full representation (Keycloak's create_realm(payload) with users, clients, roles,
        // groups): the realm file importer makes the whole realm, in one transaction. What it
        // grants stays inside the new realm — every reference is realm-scoped.
        if rep.hasContents {
            // Never a realm made from the settings alone while its users and clients are dropped.
            guard let realmImport = extensions.realmImport else {
                throw AdminError.badRequest("This server creates realms from their settings only: send users, clients, roles and groups separately")
            }
            let plan: AdminExtensions.RealmImportPlan
            do {
                plan = try realmImport(Data(buffer: body))
            } catch let refused as AdminExtensions.RealmImportRefused {
                throw AdminError.badRequest(refused.message)
            }
            do {
                try await store.createRealm(plan.seed)
            } catch StoreError.conflict {
                throw AdminError.conflict(Self.realmConflict)
            } catch let error as StoreError {
                throw AdminError.from(error)
            }
            return created(request, plan.seed.realm.name)
        }
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
        // Merged into the row as it is inside the write transaction, so two administrators
        // changing different settings at once both keep theirs.
        try await run {
            try await store.updateRealm(id: existing.id) { realm in
                let before = realm
                if let name = rep.realm, name != before.name {
                    guard before.name != BuiltInRoles.masterRealm else { throw AdminError.badRequest("The master realm cannot be renamed") }
                    realm.name = try Validate.realmName(name)
                }
                try apply(rep, to: &realm)
                // Disabling master would lock every administrator out, this one included.
                if before.name == BuiltInRoles.masterRealm && !realm.enabled { throw AdminError.badRequest("The master realm cannot be disabled") }
            }
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
            let parsed = try PasswordPolicy(policy)
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
