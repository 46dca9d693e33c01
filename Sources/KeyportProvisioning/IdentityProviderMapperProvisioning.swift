import Foundation
import KeycloakRepresentations
import KeyportFederation
import KeyportModel

/// What an identity provider mapper becomes from Keycloak's representation, for the admin API
/// and the realm importer alike. Whether its role or group exists, and whether the caller may
/// make people hold it, is decided where the realm is at hand (`AdminAPI`, the importer).
extension Provisioning {
    public func newIdentityProviderMapper(_ rep: IdentityProviderMapperRepresentation, id: String, realmId: String,
                                          providerId: String) throws -> IdentityProviderMapper {
        guard let name = rep.name, !name.isEmpty else { throw InvalidObject("Mapper name is required") }
        guard let type = rep.identityProviderMapper, !type.isEmpty else { throw InvalidObject("Mapper type (identityProviderMapper) is required") }
        var mapper = IdentityProviderMapper(id: id, realmId: realmId, providerId: providerId, name: name, mapperType: type, config: [:])
        try merge(rep, into: &mapper)
        return mapper
    }

    public func merge(_ rep: IdentityProviderMapperRepresentation, into mapper: inout IdentityProviderMapper) throws {
        if let v = rep.name {
            try ObjectRules.plain(v, what: "Mapper name")
            guard (1...255).contains(v.utf8.count) else { throw InvalidObject("A mapper's name is 1 to 255 characters") }
            mapper.name = v
        }
        if let v = rep.identityProviderMapper { mapper.mapperType = v }
        if let config = rep.config {
            guard config.count <= 32 else { throw InvalidObject("A mapper's config holds at most 32 keys") }
            for (key, value) in config {
                try ObjectRules.plain(key, what: "A config key")
                guard value.utf8.count <= 4_096 else { throw InvalidObject("Config '\(key.prefix(80))' is longer than 4,096 characters") }
            }
            mapper.config = config
        }
        try Self.checkIdentityProviderMapper(mapper)
    }

    /// The mapper as a whole: a type Keyport implements, with the config it needs, well formed.
    public static func checkIdentityProviderMapper(_ m: IdentityProviderMapper) throws {
        guard let kind = m.kind else {
            throw InvalidObject("Mapper type '\(m.mapperType.prefix(64))' is not supported: Keyport implements \(IdentityProviderMapper.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let mode = m.config["syncMode"], !["INHERIT", "IMPORT", "LEGACY", "FORCE"].contains(mode) {
            throw InvalidObject("Config 'syncMode' must be INHERIT, IMPORT, LEGACY or FORCE")
        }
        func required(_ key: String) throws {
            guard let v = m.config[key], !v.isEmpty else { throw InvalidObject("Config '\(key)' is required for \(kind.rawValue)") }
        }
        switch kind {
        case .hardcodedRole: try required("role")
        case .hardcodedGroup: try required("group")
        case .claimToRole: try required("claim"); try required("role")
        case .claimToGroup:
            try required("group")
            do { _ = try BrokeredClaims.conditions(of: m) } catch let error as BrokeredClaims.InvalidClaims { throw InvalidObject(error.description) }
        case .userAttribute:
            try required("claim"); try required("user.attribute")
            if let attribute = m.config["user.attribute"] { try ObjectRules.plain(attribute, what: "Config 'user.attribute'") }
        }
    }
}
