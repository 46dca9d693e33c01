import Foundation
import KeycloakRepresentations
import KeyportJSON
import KeyportLDAP
import KeyportModel

/// What a realm file carries that Keyport keeps without running it, set aside before the file
/// is seeded, so that a realm Keycloak would accept is not refused for one part Keyport lacks:
///
/// - clients of a protocol Keyport does not speak (SAML), with their roles; mappings to those
///   roles (users', groups', composites', scope mappings) cannot be made and are dropped, said;
/// - an OpenID Connect client's authorization services settings (`authorizationSettings`,
///   `authorizationServicesEnabled`); the client's `uma_protection` role, which Keycloak creates
///   for such a client and files map users to, is made when the file lacks it;
/// - the realm's objects Keyport does not model: authentication flows and their configs,
///   required actions, identity providers and their mappers, components, client policies and
///   profiles, user federation, localization texts, organizations, SMTP settings, ….
///
/// All of it is stored with the realm as the file had it (`Realm.keycloakContent`), written back
/// by an export, and named in a notice. Nothing of it is served or enforced.
struct RealmFileTriage {
    /// At most this much (JSON text) is kept per realm; past it the rest is dropped, said.
    static let limit = 8 << 20
    /// Realm objects never kept: secrets and what Keyport makes itself.
    static let neverKept: Set<String> = ["privateKey", "publicKey", "certificate", "codeSecret", "keycloakVersion"]

    var document: JSONValue
    var kept: [String: String] = [:]
    var notices: [String] = []
    private var size = 0

    init(_ raw: JSONValue) {
        document = raw
        guard case .object(var realm) = raw else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func keep(_ key: String, _ value: JSONValue) -> Bool {
            guard let data = try? encoder.encode(value), size + data.count <= Self.limit else {
                notices.append("\(key): too large to keep (more than \(Self.limit >> 20) MiB kept per realm); dropped")
                return false
            }
            size += data.count
            kept[key] = String(decoding: data, as: UTF8.self)
            return true
        }

        // Clients Keyport does not serve, and their roles.
        var setAside: Set<String> = []
        if case .array(let clients)? = realm["clients"] {
            var served: [JSONValue] = [], other: [JSONValue] = []
            var authorization: [String: JSONValue] = [:], authorizationOn: [JSONValue] = []
            for client in clients {
                let proto = client["protocol"]?.stringValue ?? ClientProtocol.openIDConnect.rawValue
                guard ClientProtocol(rawValue: proto) != nil else {
                    other.append(client)
                    if let id = client["clientId"]?.stringValue { setAside.insert(id) }
                    notices.append("client \(client["clientId"]?.stringValue ?? "?") (\(proto)): kept and exported, not served — Keyport does not speak \(proto)")
                    continue
                }
                var trimmed = client
                if let id = client["clientId"]?.stringValue {
                    if let settings = client["authorizationSettings"] {
                        authorization[id] = settings
                        trimmed["authorizationSettings"] = nil
                    }
                    if client["authorizationServicesEnabled"] == .bool(true) {
                        authorizationOn.append(.string(id))
                        trimmed["authorizationServicesEnabled"] = nil
                        notices.append("client \(id): authorization services settings kept and exported, not enforced")
                    }
                }
                served.append(trimmed)
            }
            realm["clients"] = .array(served)
            if !other.isEmpty { _ = keep("clients", .array(other)) }
            if !authorization.isEmpty { _ = keep("authorizationSettings", .object(authorization)) }
            if !authorizationOn.isEmpty {
                _ = keep("authorizationServicesEnabled", .array(authorizationOn))
                // Keycloak gives such a client its `uma_protection` role; files map users to it.
                for case .string(let id) in authorizationOn {
                    var roles = realm["roles"] ?? .object([:])
                    var byClient = roles["client"] ?? .object([:])
                    var list = byClient[id]?.arrayItems ?? []
                    if !list.contains(where: { $0["name"]?.stringValue == "uma_protection" }) {
                        list.append(["name": "uma_protection", "clientRole": true])
                        byClient[id] = .array(list)
                        roles["client"] = byClient
                        realm["roles"] = roles
                    }
                }
            }
        }
        // Identity providers of a type Keyport does not implement (github, google, saml, …).
        if case .array(let providers)? = realm["identityProviders"] {
            var modeled: [JSONValue] = [], other: [JSONValue] = []
            for provider in providers {
                let type = provider["providerId"]?.stringValue ?? ""
                if IdentityProvider.supportedProviders.contains(type) { modeled.append(provider); continue }
                other.append(provider)
                notices.append("identity provider \(provider["alias"]?.stringValue ?? "?") (\(type)): kept and exported, not used — Keyport implements \(IdentityProvider.supportedProviders.sorted().joined(separator: " and "))")
            }
            realm["identityProviders"] = .array(modeled)
            if !other.isEmpty { _ = keep("identityProviders", .array(other)) }
        }
        // Mappers of those providers, and of types Keyport does not implement (a username
        // template, a SAML attribute): kept and exported as they came.
        if case .array(let mappers)? = realm["identityProviderMappers"] {
            let used = Set((realm["identityProviders"]?.arrayItems ?? []).compactMap { $0["alias"]?.stringValue })
            var modeled: [JSONValue] = [], other: [JSONValue] = []
            for mapper in mappers {
                let type = mapper["identityProviderMapper"]?.stringValue ?? ""
                if used.contains(mapper["identityProviderAlias"]?.stringValue ?? ""), IdentityProviderMapper.Kind(rawValue: type) != nil {
                    modeled.append(mapper)
                    continue
                }
                other.append(mapper)
                if used.contains(mapper["identityProviderAlias"]?.stringValue ?? "") {
                    notices.append("identity provider mapper \(mapper["name"]?.stringValue ?? "?") (\(type)): kept and exported, not used")
                }
            }
            realm["identityProviderMappers"] = .array(modeled)
            if !other.isEmpty { _ = keep("identityProviderMappers", .array(other)) }
        }
        // User federation Keyport runs (LDAP providers, with their mappers); every other component
        // (a Keycloak file's key providers, Kerberos, custom providers) kept as it came.
        if case .object(var byType)? = realm["components"] {
            let storage = StorageComponent.userStorageProviderType
            var ldap: [JSONValue] = [], otherProviders: [JSONValue] = []
            for provider in byType[storage]?.arrayItems ?? [] {
                if provider["providerId"]?.stringValue == "ldap" {
                    // One Keyport cannot run as it is (a writable directory, Kerberos) is kept, not refused.
                    var config: [String: [String]] = [:]
                    for (key, value) in provider["config"]?.objectValue ?? [:] {
                        config[key] = (value.arrayValue ?? [value]).compactMap { $0.stringValue ?? $0.boolValue.map { $0 ? "true" : "false" } }
                    }
                    do {
                        _ = try LDAPProviderConfig.parse(config)
                        ldap.append(provider)
                        continue
                    } catch {
                        notices.append("LDAP provider \(provider["name"]?.stringValue ?? "?"): kept and exported, not used — \(error.message)")
                        otherProviders.append(provider)
                        continue
                    }
                }
                otherProviders.append(provider)
                notices.append("user storage provider \(provider["name"]?.stringValue ?? "?") (\(provider["providerId"]?.stringValue ?? "?")): kept and exported, not used — Keyport federates LDAP")
            }
            byType[storage] = otherProviders.isEmpty ? nil : .array(otherProviders)
            realm["components"] = ldap.isEmpty ? nil : .object([storage: .array(ldap)])
            if !byType.isEmpty, keep("components", .object(byType)) { notices.append("components: kept and exported, not used by Keyport") }
        }
        if !setAside.isEmpty {
            if case .object(var byClient)? = realm["roles"]?["client"] {
                var kept: [String: JSONValue] = [:]
                for id in setAside { if let roles = byClient.removeValue(forKey: id) { kept[id] = roles } }
                realm["roles"]?["client"] = .object(byClient)
                if !kept.isEmpty { _ = keep("clientRoles", .object(kept)) }
            }
            realm = dropReferences(to: setAside, in: realm)
        }

        // The realm's own objects Keyport does not model.
        for key in realm.keys.sorted() where KeycloakShape.realm.fields.contains(key) && !RealmRepresentation.modeledFields.contains(key)
            && !Self.neverKept.contains(key) {
            guard let value = realm[key] else { continue }
            switch value {
            case .object, .array:
                if value.arrayItems.allSatisfy({ if case .object = $0 { false } else if case .array = $0 { false } else { true } }) && !value.arrayItems.isEmpty {
                    continue  // a list of plain values is a setting (RealmRepresentation.keptSettings)
                }
                if case .object(let o) = value, o.isEmpty { continue }
                if keep(key, value) { notices.append("\(key): kept and exported, not used by Keyport") }
                realm[key] = nil
            default:
                continue
            }
        }
        document = .object(realm)
    }

    /// The document without mappings to roles of the clients set aside (they cannot be made), each dropped one said.
    private mutating func dropReferences(to clients: Set<String>, in realm: [String: JSONValue]) -> [String: JSONValue] {
        var realm = realm
        func strip(_ object: JSONValue, what: String) -> JSONValue {
            guard case .object(var o) = object, case .object(var byClient)? = o["clientRoles"] else { return object }
            for id in clients where byClient[id] != nil {
                byClient[id] = nil
                notices.append("\(what): its roles of client \(id) are dropped (that client is kept, not served)")
            }
            o["clientRoles"] = .object(byClient)
            return .object(o)
        }
        if case .array(let users)? = realm["users"] {
            realm["users"] = .array(users.map { strip($0, what: "user \($0["username"]?.stringValue ?? "?")") })
        }
        func groups(_ list: [JSONValue]) -> [JSONValue] {
            list.map { group in
                var g = strip(group, what: "group \(group["name"]?.stringValue ?? "?")")
                if case .array(let sub)? = g["subGroups"] { g["subGroups"] = .array(groups(sub)) }
                return g
            }
        }
        if case .array(let list)? = realm["groups"] { realm["groups"] = .array(groups(list)) }
        func composites(_ roles: JSONValue?) -> JSONValue? {
            guard case .array(let list)? = roles else { return roles }
            return .array(list.map { role in
                guard case .object(var r) = role, case .object(var c)? = r["composites"], case .object(var byClient)? = c["client"] else { return role }
                for id in clients where byClient[id] != nil {
                    byClient[id] = nil
                    notices.append("role \(r["name"]?.stringValue ?? "?"): its composites of client \(id) are dropped (that client is kept, not served)")
                }
                c["client"] = .object(byClient)
                r["composites"] = .object(c)
                return .object(r)
            })
        }
        if case .object(var roles)? = realm["roles"] {
            roles["realm"] = composites(roles["realm"])
            if case .object(var byClient)? = roles["client"] {
                for (id, list) in byClient { byClient[id] = composites(list) }
                roles["client"] = .object(byClient)
            }
            realm["roles"] = .object(roles)
        }
        if case .object(var mappings)? = realm["clientScopeMappings"] {
            for id in clients where mappings[id] != nil {
                mappings[id] = nil
                notices.append("scope mappings of client \(id)'s roles: dropped (that client is kept, not served)")
            }
            realm["clientScopeMappings"] = .object(mappings)
        }
        if case .array(let list)? = realm["scopeMappings"] {
            realm["scopeMappings"] = .array(list.filter { !clients.contains($0["client"]?.stringValue ?? "") })
        }
        return realm
    }

    /// `document` with what `content` kept put back where the file had it (an export).
    static func restore(_ content: [String: String], into document: JSONValue) -> JSONValue {
        guard case .object(var realm) = document, !content.isEmpty else { return document }
        func value(_ key: String) -> JSONValue? { content[key].flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) } }
        var clients = realm["clients"]?.arrayItems ?? []
        if let authorization = value("authorizationSettings")?.objectValue {
            let on = Set(value("authorizationServicesEnabled")?.arrayItems.compactMap(\.stringValue) ?? [])
            clients = clients.map { client in
                guard let id = client["clientId"]?.stringValue else { return client }
                var c = client
                if let settings = authorization[id] { c["authorizationSettings"] = settings }
                if on.contains(id) { c["authorizationServicesEnabled"] = true }
                return c
            }
        }
        clients += value("clients")?.arrayItems ?? []
        if !clients.isEmpty { realm["clients"] = .array(clients) }
        if let roles = value("clientRoles")?.objectValue {
            var all = realm["roles"] ?? .object([:])
            var byClient = all["client"]?.objectValue ?? [:]
            for (id, list) in roles where byClient[id] == nil { byClient[id] = list }
            all["client"] = .object(byClient)
            realm["roles"] = all
        }
        if let providers = value("identityProviders")?.arrayItems, !providers.isEmpty {
            // Kept ones whose alias a modeled provider took since (one made through the admin API
            // after the file was imported) are left out: a file has each alias once.
            let modeled = realm["identityProviders"]?.arrayItems ?? []
            let taken = Set(modeled.compactMap { $0["alias"]?.stringValue })
            realm["identityProviders"] = .array(modeled + providers.filter { !taken.contains($0["alias"]?.stringValue ?? "") })
        }
        if let mappers = value("identityProviderMappers")?.arrayItems, !mappers.isEmpty {
            // Kept ones go back beside the modeled, unless a modeled one of that provider took the name.
            let modeled = realm["identityProviderMappers"]?.arrayItems ?? []
            let taken = Set(modeled.map { "\($0["identityProviderAlias"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")" })
            realm["identityProviderMappers"] = .array(modeled + mappers.filter { !taken.contains("\($0["identityProviderAlias"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")") })
        }
        if let kept = value("components")?.objectValue, !kept.isEmpty {
            // Beside the modeled ones, each type's list; a kept one whose id a modeled one has is left out.
            var byType = realm["components"]?.objectValue ?? [:]
            let taken = Set(byType.values.flatMap(\.arrayItems).compactMap { $0["id"]?.stringValue })
            for (type, list) in kept {
                byType[type] = .array((byType[type]?.arrayItems ?? []) + list.arrayItems.filter { !taken.contains($0["id"]?.stringValue ?? "") })
            }
            realm["components"] = .object(byType)
        }
        for (key, _) in content where !["clients", "clientRoles", "authorizationSettings", "authorizationServicesEnabled", "identityProviders",
                                        "identityProviderMappers", "components"].contains(key)
            && realm[key] == nil {
            realm[key] = value(key)
        }
        return .object(realm)
    }
}
