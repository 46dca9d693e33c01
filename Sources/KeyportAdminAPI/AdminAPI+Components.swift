import Foundation
import Hummingbird
import KeyportJSON
import NIOPosix
import KeycloakRepresentations
import KeyportHTTP
import KeyportKeys
import KeyportModel

/// Keycloak's `/admin/realms/{realm}/components`, for two kinds of components: user federation
/// (LDAP providers and their mappers, AdminAPI+UserStorage.swift) and key providers. Each realm
/// key is a generated key provider (`rsa-generated` for RS256,
/// `ecdsa-generated` for ES256); creating one generates a key, `config.active` and
/// `config.enabled` set its status (active signs, passive only verifies, disabled does neither),
/// `config.priority` chooses which active key signs. This is how python-keycloak's
/// `create_component` and kcadm rotate keys (docs/operations.md, "Rotating keys").
extension AdminAPI {
    func addComponentRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms/{realm}/components", use: listComponents)
        admin.get("realms/{realm}/components/{id}", use: getComponent)
        admin.post("realms/{realm}/components", use: createComponent)
        admin.put("realms/{realm}/components/{id}", use: updateComponent)
        admin.delete("realms/{realm}/components/{id}", use: deleteComponent)
    }

    /// One gate for the whole process (every realm's administrators share it).
    static let keyGeneration = KeyGenerationGate()

    /// The key named by the path's `{id}`, in this realm only.
    func keyEntry(_ context: KeyportRequestContext, realm: Realm) async throws -> (key: RealmKey, signer: SigningKey) {
        let id = context.parameters.get("id") ?? ""
        let keys = try await keyRing.keys(realmId: realm.id)
        guard let entry = keys.entries.first(where: { $0.key.id == id }) else { throw AdminError.notFound("Could not find component") }
        return entry
    }
}

/// What a key provider's representation asks for, checked: Keycloak's config keys, Keyport's
/// bounds. On an update, what a generated key cannot change (its provider, its size) must stay.
struct KeyProviderSettings {
    let algorithm: SigningAlgorithm
    let name: String
    let priority: Int
    let status: KeyStatus
    let rsaBits: Int

    init(_ rep: ComponentRepresentation, realm: Realm, existing: (key: RealmKey, keySize: Int)?) throws(AdminError) {
        if let type = rep.providerType, type != ComponentRepresentation.keyProviderType {
            throw .badRequest("Keyport's components are key providers (\(ComponentRepresentation.keyProviderType)) and LDAP user federation (\(StorageComponent.userStorageProviderType) and its mappers)")
        }
        if existing == nil, rep.providerType == nil {
            throw .badRequest("providerType is required: \(ComponentRepresentation.keyProviderType)")
        }
        if let parent = rep.parentId, parent != realm.id, parent != realm.name {
            throw .badRequest("parentId must be this realm's id")
        }
        let providers = Dictionary(uniqueKeysWithValues: SigningAlgorithm.allCases.map { ($0.generatedProviderName, $0) })
        let providerId = rep.providerId ?? existing?.key.algorithm.generatedProviderName
        guard let providerId, let algorithm = providers[providerId] else {
            throw .badRequest("providerId must be rsa-generated (RS256) or ecdsa-generated (ES256)"
                + (rep.providerId.map { ", not '\(String($0.prefix(60)))': Keyport generates its own keys" } ?? ""))
        }
        if let existing, existing.key.algorithm != algorithm {
            throw .badRequest("A key provider's providerId cannot change: create a new component")
        }
        self.algorithm = algorithm

        let config = rep.config ?? [:]
        func value(_ key: String) -> String? { config[key]?.first }
        func flag(_ key: String, _ fallback: Bool) throws(AdminError) -> Bool {
            guard let text = value(key) else { return fallback }
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: throw .badRequest("config.\(key) must be true or false")
            }
        }

        let name = rep.name ?? existing?.key.name ?? providerId
        guard (1...255).contains(name.count), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .badRequest("name must be 1 to 255 characters, without control characters")
        }
        self.name = name

        if let text = value("priority") {
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), RealmKey.priorityRange.contains(n) else {
                throw .badRequest("config.priority must be a whole number from \(RealmKey.priorityRange.lowerBound) to \(RealmKey.priorityRange.upperBound)")
            }
            priority = n
        } else {
            priority = existing?.key.priority ?? 0
        }

        let enabled = try flag("enabled", existing.map { $0.key.status != .disabled } ?? true)
        let active = try flag("active", existing.map { $0.key.status == .active } ?? true)
        status = !enabled ? .disabled : (active ? .active : .passive)

        switch algorithm {
        case .rs256:
            if let text = value("algorithm"), text != "RS256" {
                throw .badRequest("config.algorithm must be RS256: Keyport's RSA keys sign RS256 only")
            }
            let bits: Int
            if let text = value("keySize") {
                guard let n = Int(text), RealmKeyFactory.rsaKeySizes.contains(n) else {
                    throw .badRequest("config.keySize must be one of \(RealmKeyFactory.rsaKeySizes.map(String.init).joined(separator: ", "))")
                }
                bits = n
            } else {
                bits = existing?.keySize ?? 2048
            }
            if let existing, bits != existing.keySize {
                throw .badRequest("A generated key's size cannot change: create a new component")
            }
            rsaBits = bits
        case .es256:
            if let curve = value("ecdsaEllipticCurveKey"), curve != "P-256" {
                throw .badRequest("config.ecdsaEllipticCurveKey must be P-256: Keyport's EC keys sign ES256 only")
            }
            rsaBits = 2048
        }
    }
}

/// Generating an RSA key takes up to seconds of a core (4096 bits). It runs on a thread of its
/// own, never on the cooperative threads that answer every realm, and one at a time in the
/// process, the others waiting their turn: a realm administrator looping on `POST components`
/// cannot stall other realms' logins. Past `maxWaiting` waiting requests, `503` at once.
actor KeyGenerationGate {
    let maxWaiting: Int
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Requests waiting their turn.
    var queued: Int { waiting.count }

    init(maxWaiting: Int = 16) {
        self.maxWaiting = maxWaiting
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await enter()
        do {
            let result = try await NIOThreadPool.singleton.runIfActive(body)
            leave()
            return result
        } catch {
            leave()
            throw error
        }
    }

    private func enter() async throws {
        guard busy else {
            busy = true
            return
        }
        guard waiting.count < maxWaiting else { throw AdminError(.serviceUnavailable, "Too many signing keys are being generated; try again in a moment") }
        // Resumed by `leave`, which hands its turn over (busy stays true).
        await withCheckedContinuation { waiting.append($0) }
    }

    private func leave() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}

// MARK: Handlers

extension AdminAPI {
    /// Keycloak's filters: `type` (providerType), `parent` (the realm for providers, a provider
    /// for its mappers), `name`.
    func listComponents(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewRealm)
        let query = FormParameters.query(of: request)
        let type = query["type"].flatMap { $0.isEmpty ? nil : $0 }
        let parent = query["parent"].flatMap { $0.isEmpty ? nil : ($0 == realm.name ? realm.id : $0) }
        let name = query["name"].flatMap { $0.isEmpty ? nil : $0 }
        var list: [ComponentRepresentation] = []
        if type == nil || type == ComponentRepresentation.keyProviderType, parent == nil || parent == realm.id {
            let keys = try await keyRing.keys(realmId: realm.id)
            list += keys.entries.filter { name == nil || $0.key.name == name }
                .map { ComponentRepresentation(key: $0.key, keySize: $0.signer.keySizeInBits) }
        }
        if type != ComponentRepresentation.keyProviderType {
            let matching = try await store.storageComponents(realmId: realm.id).filter {
                (type == nil || $0.providerType == type) && (parent == nil || ($0.parentId ?? realm.id) == parent) && (name == nil || $0.name == name)
            }
            for component in matching { list.append(ComponentRepresentation(storage: try await store.displayed(component))) }
        }
        return try JSONBody.response(list)
    }

    func getComponent(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewRealm)
        if let component = try await store.storageComponent(id: context.parameters.get("id") ?? "", realmId: realm.id) {
            return try JSONBody.response(ComponentRepresentation(storage: try await store.displayed(component)))
        }
        let entry = try await keyEntry(context, realm: realm)
        return try JSONBody.response(ComponentRepresentation(key: entry.key, keySize: entry.signer.keySizeInBits))
    }

    func createComponent(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageRealm)
        let rep = try await decode(ComponentRepresentation.self, request, context)
        if case .userStorage(let parent) = try await newComponentKind(rep, realm: realm) {
            return try await createStorageComponent(request, rep: rep, parent: parent, caller: caller, realm: realm)
        }
        let settings = try KeyProviderSettings(rep, realm: realm, existing: nil)
        let factory = RealmKeyFactory(environment: environment)
        let key = try await Self.keyGeneration.run {
            try factory.makeKey(algorithm: settings.algorithm, realmId: realm.id, realmName: realm.name, status: settings.status,
                                name: settings.name, priority: settings.priority, rsaBits: settings.rsaBits)
        }
        try await store.addRealmKey(key)
        return created(request, key.id)
    }

    func updateComponent(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageRealm)
        let rep = try await decode(ComponentRepresentation.self, request, context)
        if let existing = try await store.storageComponent(id: context.parameters.get("id") ?? "", realmId: realm.id) {
            return try await updateStorageComponent(rep, existing: existing, caller: caller, realm: realm)
        }
        let entry = try await keyEntry(context, realm: realm)
        let settings = try KeyProviderSettings(rep, realm: realm, existing: (entry.key, entry.signer.keySizeInBits))
        try await store.updateRealmKey(id: entry.key.id, realmId: realm.id, name: settings.name, status: settings.status, priority: settings.priority)
        return noContent
    }

    func deleteComponent(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (caller, realm) = try await authorize(request, context, .manageRealm)
        if let existing = try await store.storageComponent(id: context.parameters.get("id") ?? "", realmId: realm.id) {
            return try await deleteStorageComponent(existing, caller: caller, realm: realm)
        }
        let entry = try await keyEntry(context, realm: realm)
        try await store.deleteRealmKey(id: entry.key.id, realmId: realm.id)
        return noContent
    }
}
