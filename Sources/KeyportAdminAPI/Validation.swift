import KeycloakRepresentations
import Foundation
import KeyportHTTP
import KeyportModel

/// `ObjectRules`, answering the admin API's way (400 with the rule's sentence).
enum Validate {
    /// Runs `body`, answering a broken rule (the model's `InvalidObject`, a protocol hook's
    /// `BadInput`) with 400 and its sentence.
    static func rule<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as InvalidObject {
            throw AdminError.badRequest(error.message)
        } catch let error as BadInput {
            throw AdminError.badRequest(error.message)
        }
    }
    static func realmName(_ name: String?) throws -> String { try rule { try ObjectRules.realmName(name) } }
    static func username(_ name: String?) throws -> String { try rule { try ObjectRules.username(name) } }
    static func email(_ email: String?) throws -> String? { try rule { try ObjectRules.email(email) } }
    static func clientId(_ id: String?) throws -> String { try rule { try ObjectRules.clientId(id) } }
    static func roleName(_ name: String?) throws -> String { try rule { try ObjectRules.roleName(name) } }
    static func groupName(_ name: String?) throws -> String { try rule { try ObjectRules.groupName(name) } }
    static func optionalText(_ text: String?, what: String, max: Int = ObjectRules.maxDescription) throws -> String? {
        try rule { try ObjectRules.optionalText(text, what: what, max: max) }
    }
    static func plain(_ value: String, what: String) throws { try rule { try ObjectRules.plain(value, what: what) } }
    static func multiAttributes(_ attributes: [String: [String]]) throws -> [String: [String]] { try rule { try ObjectRules.multiAttributes(attributes) } }
    static func singleAttributes(_ attributes: [String: String]) throws -> [String: String] { try rule { try ObjectRules.singleAttributes(attributes) } }
    static func clientScopeName(_ name: String?) throws -> String { try rule { try ObjectRules.clientScopeName(name) } }
    static func protocolMappers(_ mappers: [ProtocolMapper], newID: () -> String) throws -> [ProtocolMapper] {
        try rule { try ObjectRules.protocolMappers(mappers, newID: newID) }
    }
}
