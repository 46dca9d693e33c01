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
