import KeycloakRepresentations
import KeyportLDAP
import KeyportModel

/// What an LDAP user storage provider or one of its mappers becomes from Keycloak's
/// `ComponentRepresentation`, for the admin API and the realm importer alike: the fields present,
/// checked, merged; the whole checked by the parser that runs it (`LDAPProviderConfig`,
/// `LDAPMapperConfig`), so what is saved is what will run.
extension Provisioning {
    /// Provider config keys that decide which directory entry a person is, or where the stored
    /// `bindCredential` is sent: changing one moves the trust of every user the provider imported.
    public static let ldapTrustKeys: Set<String> = [
        "connectionUrl", "startTls", "bindDn", "authType", "usersDn", "searchScope", "userObjectClasses", "usernameLDAPAttribute",
        "uuidLDAPAttribute", "customUserSearchFilter", "vendor",
    ]

    /// A new provider (`parent` nil: the realm's) or mapper (`parent` its provider) from `rep`.
    public func newStorageComponent(_ rep: ComponentRepresentation, id: String, realm: Realm, parent: StorageComponent?) throws -> StorageComponent {
        let type = parent == nil ? StorageComponent.userStorageProviderType : StorageComponent.ldapMapperType
        if let given = rep.providerType, given != type {
            throw InvalidObject(parent == nil ? "A component of the realm is a \(StorageComponent.userStorageProviderType) (or a key provider)"
                                              : "A component under an LDAP provider is a \(StorageComponent.ldapMapperType)")
        }
        guard let providerId = rep.providerId, !providerId.isEmpty else { throw InvalidObject("providerId is required") }
        if parent == nil, providerId != "ldap" {
            throw InvalidObject("User storage provider '\(String(providerId.prefix(64)))' is not one Keyport runs: ldap")
        }
        if let parent, parent.parentId != nil || parent.realmId != realm.id {
            throw InvalidObject("A mapper's parentId is an LDAP provider of this realm")
        }
        var component = StorageComponent(id: id, realmId: realm.id, parentId: parent?.id, name: rep.name ?? "", providerId: providerId,
                                         providerType: type, config: [:])
        try merge(rep, into: &component)
        return component
    }

    /// `rep` merged into `component`. A config given replaces the stored one, as Keycloak's does;
    /// a `bindCredential` of `**********` keeps the stored one — unless the URL, the bind DN or
    /// StartTLS changed: then it must be entered again (otherwise whoever may edit the provider
    /// sends the stored password to a host of their choosing).
    public func merge(_ rep: ComponentRepresentation, into component: inout StorageComponent) throws {
        let before = component
        if let name = rep.name {
            try ObjectRules.plain(name, what: "name")
            guard (1...255).contains(name.utf8.count) else { throw InvalidObject("A component's name is 1 to 255 characters") }
            component.name = name
        }
        guard !component.name.isEmpty else { throw InvalidObject("name is required") }
        if let providerId = rep.providerId, providerId != component.providerId {
            throw InvalidObject("A component's providerId cannot change: create a new one")
        }
        if let type = rep.providerType, type != component.providerType {
            throw InvalidObject("A component's providerType cannot change")
        }
        if let subType = rep.subType {
            try ObjectRules.plain(subType, what: "subType")
            guard subType.utf8.count <= 255 else { throw InvalidObject("subType is at most 255 characters") }
            component.subType = subType.isEmpty ? nil : subType
        }
        if let config = rep.config {
            guard config.count <= StorageComponent.maxConfigKeys else {
                throw InvalidObject("A component's config holds at most \(StorageComponent.maxConfigKeys) keys")
            }
            var merged: [String: [String]] = [:]
            for (key, values) in config {
                try ObjectRules.plain(key, what: "A config key")
                guard (1...255).contains(key.utf8.count) else { throw InvalidObject("A config key is 1 to 255 characters") }
                guard values.count <= StorageComponent.maxConfigValues else {
                    throw InvalidObject("Config '\(key.prefix(80))' holds at most \(StorageComponent.maxConfigValues) values")
                }
                for value in values where value.utf8.count > StorageComponent.maxConfigValueBytes || value.utf8.contains(0) {
                    throw InvalidObject("A value of config '\(key.prefix(80))' is longer than \(StorageComponent.maxConfigValueBytes) bytes or holds a NUL")
                }
                // When the provider last synced is the server's to say (answered in config, as
                // Keycloak does); sent back, as Ansible and Keycloak's console do, it is ignored.
                if key == StorageComponent.lastSyncConfigKey, component.parentId == nil { continue }
                if StorageComponent.secretConfigKeys.contains(key), values.first == StorageComponent.maskedSecret {
                    if let stored = before.config[key] { merged[key] = stored }
                    continue
                }
                merged[key] = values
            }
            for key in StorageComponent.secretConfigKeys
            where config[key]?.first == StorageComponent.maskedSecret && before.config[key] != nil
                && LDAPProviderConfig.credentialMustBeReentered(old: before.config, new: merged) {
                throw InvalidObject("\(key) must be entered again when connectionUrl, bindDn or startTls changes")
            }
            component.config = merged
        }
        try Self.checkStorageComponent(component)
    }

    /// The component as a whole: what it is runs (the provider's or mapper's parser accepts it).
    public static func checkStorageComponent(_ c: StorageComponent) throws {
        do {
            if c.parentId == nil {
                _ = try LDAPProviderConfig.parse(c.config)
            } else {
                _ = try LDAPMapperConfig.parse(providerId: c.providerId, c.config)
            }
        } catch {
            throw InvalidObject("\(c.parentId == nil ? "LDAP provider" : "LDAP mapper") '\(String(c.name.prefix(80)))': \(error.message)")
        }
    }

    /// A user of a realm file or partial import that a directory imported (`federationLink`, its
    /// entry's id in `attributes.LDAP_ID`, as Keycloak exports it), linked to `provider` — when it
    /// is an LDAP provider of the realm and the id is there; false otherwise (a local user then).
    public static func linkToDirectory(_ user: inout User, provider: StorageComponent?) -> Bool {
        guard let provider, provider.parentId == nil, provider.realmId == user.realmId,
              let entry = user.attributes["LDAP_ID"]?.first, (1...255).contains(entry.utf8.count) else { return false }
        user.federationLink = provider.id
        user.federationId = entry
        user.attributes["LDAP_ID"] = nil
        return true
    }

    /// The mappers a new LDAP provider comes with (Keycloak's defaults for its vendor).
    public func defaultMappers(of provider: StorageComponent, newID: () -> String) throws -> [StorageComponent] {
        let config: LDAPProviderConfig
        do { config = try LDAPProviderConfig.parse(provider.config) } catch { throw InvalidObject(error.message) }
        return LDAPMapperConfig.defaults(for: config).map { mapper in
            StorageComponent(id: newID(), realmId: provider.realmId, parentId: provider.id, name: mapper.name, providerId: mapper.providerId,
                             providerType: StorageComponent.ldapMapperType, config: mapper.config)
        }
    }
}
