import KeycloakRepresentations
import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportKeys
import KeyportModel

extension AdminAPI {
    /// Keycloak's `GET /admin/realms/{realm}/keys`: the realm's keys without their private
    /// halves, and which key is active per algorithm. Keyport adds each key's libtrust id (the
    /// `kid` of docker-v2 tokens). `providerId` names the key's component (`components/{id}`).
    func addKeyRoutes(_ admin: RouterGroup<KeyportRequestContext>) {
        admin.get("realms/{realm}/keys", use: listKeys)
        admin.post("realms/{realm}/keys/rotation", use: rotateKeys)
    }
}

/// A key rotation that never locks a registry out (Keyport's; `kpadm keys rotate` and the admin
/// console take it). A registry reads its certificate bundle only when it starts, so a rotation
/// is three steps, each a request, with the registry's bundle refreshed between them:
/// 1. no new key yet: one is added, passive (in the bundle, signing nothing);
/// 2. a passive key above the signing one: it signs, the old one turns passive (it still
///    verifies what it signed);
/// 3. `retire`, after the longest token lifetime: the passive keys below the signing one are
///    disabled.
/// The rule lives here only, so every tool takes the same steps.
struct KeyRotation {
    struct Request: Decodable {
        var algorithm: String?
        var retire: Bool?
    }

    struct Step: Encodable {
        /// `added`, `activated`, `retired` or `nothing`.
        var step: String
        var algorithm: String
        /// The keys the step changed.
        var keys: [String]
        var message: String
        var next: String?
    }
}

extension AdminAPI {
    func rotateKeys(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .manageRealm)
        let body = try await decode(KeyRotation.Request.self, request, context)
        guard let algorithm = SigningAlgorithm(rawValue: body.algorithm ?? SigningAlgorithm.rs256.rawValue) else {
            throw AdminError.badRequest("algorithm is RS256 or ES256")
        }
        let name = algorithm.rawValue
        let keys = try await store.realmKeys(realmId: realm.id).filter { $0.algorithm == algorithm }
        guard let signingId = try await keyRing.keys(realmId: realm.id).signer(for: algorithm)?.key.id,
              let signing = keys.first(where: { $0.id == signingId }) else {
            throw AdminError.conflict("Realm \(realm.name) has no active \(name) key")
        }
        let pending = keys.filter { $0.status == .passive && $0.priority > signing.priority }.max { ($0.priority, $0.createdAt) < ($1.priority, $1.createdAt) }
        let lifespan = realm.accessTokenLifespan
        let step: KeyRotation.Step
        if body.retire == true {
            if let pending {
                throw AdminError.conflict("Key \(pending.id) is added but does not sign yet: take the rotation's next step first")
            }
            let old = keys.filter { $0.status == .passive && $0.priority < signing.priority }
            for key in old {
                try await store.updateRealmKey(id: key.id, realmId: realm.id, name: key.name, status: .disabled, priority: key.priority)
            }
            step = old.isEmpty
                ? .init(step: "nothing", algorithm: name, keys: [], message: "Nothing to retire: no passive \(name) key below the signing one", next: nil)
                : .init(step: "retired", algorithm: name, keys: old.map(\.id),
                        message: "Disabled \(name) key\(old.count == 1 ? "" : "s") \(old.map(\.id).joined(separator: ", ")): it verifies nothing now",
                        next: "Refresh the registry's bundle and restart the registry, so that it trusts only \(signing.id)")
        } else if let pending {
            // The new key signs first (it is above), then the others stop: never a moment without a signer.
            try await store.updateRealmKey(id: pending.id, realmId: realm.id, name: pending.name, status: .active, priority: pending.priority)
            for key in keys where key.status == .active && key.id != pending.id {
                try await store.updateRealmKey(id: key.id, realmId: realm.id, name: key.name, status: .passive, priority: key.priority)
            }
            step = .init(step: "activated", algorithm: name, keys: [pending.id],
                         message: "\(name) key \(pending.id) signs now; \(signing.id) is passive and still verifies the tokens it signed",
                         next: "After \(lifespan) s (the realm's access token lifespan), retire the old key")
        } else {
            guard signing.priority < RealmKey.priorityRange.upperBound - 10 else {
                throw AdminError.conflict("The signing key's priority is at its maximum: lower it first")
            }
            let factory = RealmKeyFactory(environment: environment)
            let label = "\(algorithm.generatedProviderName)-\(environment.now().secondsSince1970)"
            let key = try await Self.keyGeneration.run {
                try factory.makeKey(algorithm: algorithm, realmId: realm.id, realmName: realm.name, status: .passive,
                                    name: label, priority: signing.priority + 10, rsaBits: 2048)
            }
            try await store.addRealmKey(key)
            step = .init(step: "added", algorithm: name, keys: [key.id],
                         message: "Added \(name) key \(key.id) (\(label)), passive: it is in the registry's bundle and signs nothing yet",
                         next: "Refresh the registry's bundle (or let --docker-certs-dir rewrite it), restart the registry, then take the next step")
        }
        return try JSONBody.response(step)
    }
}

// MARK: Handlers

extension AdminAPI {
    func listKeys(_ request: Request, _ context: KeyportRequestContext) async throws -> Response {
        let (_, realm) = try await authorize(request, context, .viewRealm)
        let keys = try await keyRing.keys(realmId: realm.id)
        var active: [String: JSONValue] = [:]
        for algorithm in SigningAlgorithm.allCases {
            if let signer = keys.signer(for: algorithm) { active[algorithm.rawValue] = .string(signer.key.id) }
        }
        let list: [JSONValue] = keys.entries.map { entry in
            [
                "kid": .string(entry.key.id), "algorithm": .string(entry.key.algorithm.rawValue),
                "type": .string(entry.key.algorithm == .rs256 ? "RSA" : "EC"), "status": .string(entry.key.status.rawValue.uppercased()),
                "use": "SIG", "providerId": .string(entry.key.id), "providerPriority": .number(Double(entry.key.priority)),
                "publicKey": .string(entry.signer.subjectPublicKeyInfoDER.base64EncodedString()),
                "certificate": .string(Data(entry.key.certificateDER).base64EncodedString()),
                "libtrustKeyId": .string(entry.key.libtrustKeyID), "thumbprint": .string(entry.key.thumbprint),
            ]
        }
        return try JSONBody.response(["active": .object(active), "keys": .array(list)] as JSONValue)
    }
}
