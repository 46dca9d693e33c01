import Foundation
import KeyportJSON
import KeyportRealmExchange
@testable import KeyportServer
import KeyportModel
import KeyportStore
import Testing

/// LDAP user federation through Keycloak's `components` API: a provider made with Keycloak's
/// console payload and its default mappers, its credential never answered and never sent
/// elsewhere, its config checked as it will run, mappers that give roles under the grant rule, a
/// provider's trust moved only by who may act on its users, and the connection test — a real
/// slapd, realm administrators only.
@Suite("User storage components (LDAP)")
struct UserStorageComponentsTests {
    static let storageType = "org.keycloak.storage.UserStorageProvider"
    static let mapperType = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"
    static let credential = "bind-pw-Very-Secret-1"

    static func providerJSON(url: String = "ldap://ldap.example.org:389", changes: [String: [String]] = [:]) -> JSONValue {
        var config = LDAPProviderConfigTests.keycloakConsole
        config["connectionUrl"] = [url]
        config["bindCredential"] = [credential]
        config.merge(changes) { $1 }
        return .object(["name": "corp-ldap", "providerId": "ldap", "providerType": .string(storageType),
                        "config": .object(config.mapValues { .array($0.map { .string($0) }) })])
    }

    /// A user of `acme` holding `roles` of `realm-management`, signed in.
    static func admin(_ api: APIHarness, _ r: RegistryRealm, _ name: String, roles: [String]) async throws -> String {
        let id = try await api.createUser("acme", name, password: "\(name)-pw-1", token: r.admin, extra: ["enabled": true])
        let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
        var reps: [JSONValue] = []
        for role in roles { reps.append(try await api.role("acme", role, client: management, token: r.admin)) }
        try #require(try await api.call(.post, "/admin/realms/acme/users/\(id)/role-mappings/clients/\(management)", token: r.admin, json: .array(reps)).status == .noContent)
        return try #require(try await api.login(realm: "acme", username: name, password: "\(name)-pw-1")["access_token"]?.stringValue)
    }

    func create(_ api: APIHarness, _ body: JSONValue, token: String) async throws -> String {
        let response = try await api.call(.post, "/admin/realms/acme/components", token: token, json: body)
        try #require(response.status == .created, "\(response.status) \(response.text)")
        return try #require(response.headers[.location]?.split(separator: "/").last.map(String.init))
    }

    @Test func aProviderIsManagedAsKeycloakManagesIt() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let id = try await create(api, Self.providerJSON(), token: r.admin)

            // Answered as Keycloak answers it: the realm as parent, the credential masked.
            let got = try await api.call(.get, "/admin/realms/acme/components/\(id)", token: r.admin)
            #expect(got["parentId"]?.stringValue == realm.id && got["providerType"]?.stringValue == Self.storageType)
            #expect(got["config"]?["bindCredential"]?.arrayValue?.first?.stringValue == "**********")
            #expect(!got.text.contains(Self.credential))
            // Keycloak's default mappers came with it.
            let mappers = try await api.call(.get, "/admin/realms/acme/components?parent=\(id)&type=\(Self.mapperType)", token: r.admin)
            #expect(Set(mappers.values("name")) == ["username", "first name", "last name", "email", "creation date", "modify date"])
            let listed = try await api.call(.get, "/admin/realms/acme/components?parent=\(realm.id)&type=\(Self.storageType)", token: r.admin)
            #expect(listed.values("id") == [id] && !listed.text.contains(Self.credential))
            let keys = try await api.call(.get, "/admin/realms/acme/components?type=org.keycloak.keys.KeyProvider", token: r.admin)
            #expect(!keys.values("providerId").contains("ldap") && !keys.values("id").isEmpty)
            let everything = try await api.call(.get, "/admin/realms/acme/components", token: r.admin)
            #expect(everything.values("id").contains(id) && everything.values("providerId").contains("rsa-generated") && !everything.text.contains(Self.credential))

            // The masked credential sent back keeps the stored one...
            var body = try #require(got.json)
            body["config"]?["priority"] = ["5"]
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(id)", token: r.admin, json: body).status == .noContent)
            #expect(try await store.storageComponent(id: id, realmId: realm.id)?.config["bindCredential"] == [Self.credential])
            #expect(try await store.storageComponent(id: id, realmId: realm.id)?.config["priority"] == ["5"])
            // ...but never for another host or bind DN: those need it entered again.
            for (key, value) in [("connectionUrl", "ldaps://evil.example.net"), ("bindDn", "cn=other,dc=example,dc=org")] {
                var moved = body
                moved["config"]?[key] = .array([.string(value)])
                let refused = try await api.call(.put, "/admin/realms/acme/components/\(id)", token: r.admin, json: moved)
                #expect(refused.status == .badRequest && refused.text.contains("entered again"), "\(key): \(refused.text)")
                moved["config"]?["bindCredential"] = ["another-credential"]
                #expect(try await api.call(.put, "/admin/realms/acme/components/\(id)", token: r.admin, json: moved).status == .noContent)
                #expect(try await store.storageComponent(id: id, realmId: realm.id)?.config["bindCredential"] == ["another-credential"])
                #expect(try await api.call(.put, "/admin/realms/acme/components/\(id)", token: r.admin, json: body).status == .badRequest)
                body["config"]?[key] = .array([.string(value)])
            }

            // What would not run is refused, with the key named; nothing is written.
            let before = try await store.storageComponents(realmId: realm.id)
            for (change, words) in [(["editMode": ["WRITABLE"]], "editMode"), (["connectionUrl": ["http://ldap.example.org"]], "connectionUrl"),
                                    (["usersDn": ["not a dn"]], "usersDn"), (["allowKerberosAuthentication": ["true"]], "Kerberos"),
                                    (["customUserSearchFilter": ["(uid=*"]], "customUserSearchFilter"),
                                    (["batchSizeForSync": ["100000000"]], "batchSizeForSync"),
                                    (["description": [String(repeating: "x", count: 5_000)]], "4096")] {
                let response = try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: Self.providerJSON(changes: change))
                #expect(response.status == .badRequest && response.text.contains(words), "\(change.keys): \(response.text)")
            }
            var many = Self.providerJSON()
            for n in 0..<70 { many["config"]?["k\(n)"] = ["v"] }
            #expect(try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: many).status == .badRequest)
            var kerberos = Self.providerJSON()
            kerberos["providerId"] = "kerberos"
            #expect(try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: kerberos).status == .badRequest)
            let badMapper: JSONValue = ["name": "x", "providerId": "certificate-ldap-mapper", "providerType": .string(Self.mapperType), "parentId": .string(id), "config": [:]]
            #expect(try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: badMapper).status == .badRequest)
            let orphan: JSONValue = ["name": "x", "providerId": "user-attribute-ldap-mapper", "providerType": .string(Self.mapperType), "parentId": "nope",
                                     "config": ["user.model.attribute": ["email"], "ldap.attribute": ["mail"]]]
            #expect(try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: orphan).status == .badRequest)
            #expect(try await store.storageComponents(realmId: realm.id) == before)

            // A mapper made by kcadm's grammar (single values), then removed; the provider goes with its mappers.
            let mapper = try await create(api, ["name": "department", "providerId": "user-attribute-ldap-mapper", "parentId": .string(id),
                                                "config": ["user.model.attribute": "department", "ldap.attribute": "ou"]], token: r.admin)
            #expect(try await api.call(.get, "/admin/realms/acme/components/\(mapper)", token: r.admin)["parentId"]?.stringValue == id)
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(mapper)", token: r.admin).status == .noContent)
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(id)", token: r.admin).status == .noContent)
            #expect(try await store.storageComponents(realmId: realm.id).isEmpty)
            #expect(try await api.call(.get, "/admin/realms/acme/components/\(id)", token: r.admin).status == .notFound)

            // Active Directory's provider comes with its account-control mapper and AD's timestamps.
            let ad = try await create(api, Self.providerJSON(changes: ["vendor": ["ad"], "usernameLDAPAttribute": ["sAMAccountName"],
                                                                       "uuidLDAPAttribute": ["objectGUID"], "userObjectClasses": ["person, organizationalPerson, user"]]),
                                      token: r.admin)
            let adMappers = try await api.call(.get, "/admin/realms/acme/components?parent=\(ad)", token: r.admin)
            #expect(adMappers.values("providerId").contains("msad-user-account-control-mapper"))
            #expect(adMappers.items.first { $0["name"]?.stringValue == "creation date" }?["config"]?["ldap.attribute"]?.arrayValue?.first?.stringValue == "whenCreated")
        }
    }

    @Test func mappersThatGiveRolesAndAProvidersTrustFollowTheGrantRule() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let token = try await Self.admin(api, r, "realm-manager", roles: ["manage-realm", "view-realm"])
            let raToken = try await Self.admin(api, r, "realm-admin-user", roles: ["realm-admin"])
            // A directory is a source of users reaching a host of the caller's choosing: realm-admin's to add.
            let refused = try await api.call(.post, "/admin/realms/acme/components", token: token, json: Self.providerJSON())
            #expect(refused.status == .forbidden && refused.text.contains("realm-admin"))
            let provider = try await create(api, Self.providerJSON(), token: raToken)
            func mapper(_ type: String, _ config: JSONValue) async throws -> APIResponse {
                try await api.call(.post, "/admin/realms/acme/components", token: token, json: [
                    "name": .string(UUID().uuidString), "providerId": .string(type), "providerType": .string(Self.mapperType),
                    "parentId": .string(provider), "config": config,
                ])
            }
            // A hardcoded role: realm-admin refused, an ordinary role made, a missing one named.
            #expect(try await mapper("hardcoded-ldap-role-mapper", ["role": "realm-management.realm-admin"]).status == .forbidden)
            #expect(try await mapper("hardcoded-ldap-role-mapper", ["role": "registry.acme.io.reader"]).status == .created)
            let missing = try await mapper("hardcoded-ldap-role-mapper", ["role": "no-such-role"])
            #expect(missing.status == .badRequest && missing.text.contains("no-such-role"))
            // Directory groups as realm-management roles: every one of them is the directory's to give.
            #expect(try await mapper("role-ldap-mapper", ["roles.dn": "ou=roles,dc=example,dc=org", "use.realm.roles.mapping": "false",
                                                          "client.id": "realm-management"]).status == .forbidden)
            #expect(try await mapper("role-ldap-mapper", ["roles.dn": "ou=roles,dc=example,dc=org", "use.realm.roles.mapping": "false",
                                                          "client.id": "registry.acme.io"]).status == .created)
            // Groups: a path under which a group holds an administration role is refused.
            let admins = try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "admins"])
            let adminsId = try #require(admins.headers[.location]?.split(separator: "/").last.map(String.init))
            let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
            let realmAdmin = try await api.role("acme", "realm-admin", client: management, token: r.admin)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(adminsId)/role-mappings/clients/\(management)", token: r.admin, json: [realmAdmin]).status == .noContent)
            #expect(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "ldap"]).status == .created)
            #expect(try await mapper("group-ldap-mapper", ["groups.dn": "ou=groups,dc=example,dc=org", "groups.path": "/"]).status == .forbidden)
            #expect(try await mapper("group-ldap-mapper", ["groups.dn": "ou=groups,dc=example,dc=org", "groups.path": "/ldap"]).status == .created)
            #expect(try await mapper("group-ldap-mapper", ["groups.dn": "ou=groups,dc=example,dc=org", "groups.path": "/nowhere"]).status == .badRequest)
            #expect(try await mapper("hardcoded-ldap-group-mapper", ["group": "/admins"]).status == .forbidden)
            // The master admin may; the realm manager may then neither change nor remove it.
            let owned = try await api.call(.post, "/admin/realms/acme/components", token: r.admin, json: [
                "name": "admins", "providerId": "hardcoded-ldap-group-mapper", "parentId": .string(provider), "config": ["group": "/admins"],
            ])
            let ownedId = try #require(owned.headers[.location]?.split(separator: "/").last.map(String.init))
            var renamed = try #require(try await api.call(.get, "/admin/realms/acme/components/\(ownedId)", token: token).json)
            renamed["config"] = ["group": "/ldap"]
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(ownedId)", token: token, json: renamed).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(ownedId)", token: token).status == .forbidden)
            #expect(try await store.storageComponent(id: ownedId, realmId: realm.id)?.config["group"] == ["/admins"])
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(ownedId)", token: r.admin).status == .noContent)

            // Once the provider imported a realm administrator, its trust (which directory, which
            // entry) moves only with the power over that administrator; its timeouts do not matter.
            let boss = try await api.createUser("acme", "boss", token: r.admin, extra: ["enabled": true])
            #expect(try await api.call(.post, "/admin/realms/acme/users/\(boss)/role-mappings/clients/\(management)", token: r.admin, json: [realmAdmin]).status == .noContent)
            try await store.apply([.linkDirectoryUser(userId: boss, providerId: provider, externalId: "entry-boss", realmId: realm.id)])
            var body = try #require(try await api.call(.get, "/admin/realms/acme/components/\(provider)", token: token).json)
            body["config"]?["readTimeout"] = ["3000"]
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(provider)", token: token, json: body).status == .noContent)
            var moved = body
            moved["config"]?["connectionUrl"] = ["ldap://mine.example.net"]
            moved["config"]?["bindCredential"] = ["mine"]
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(provider)", token: token, json: moved).status == .forbidden)
            var filtered = body
            filtered["config"]?["customUserSearchFilter"] = ["(uid=boss)"]
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(provider)", token: token, json: filtered).status == .forbidden)
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/unlink-users", token: token).status == .forbidden)
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/remove-imported-users", token: token).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/acme/components/\(provider)", token: token).status == .forbidden)
            #expect(try await store.user(id: boss, realmId: realm.id)?.federationLink == provider)
            // The master admin unlinks them: boss stays, a local user.
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/unlink-users", token: r.admin).status == .noContent)
            #expect(try await store.user(id: boss, realmId: realm.id)?.federationLink == nil)
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(provider)", token: token, json: moved).status == .forbidden,
                    "moving a directory is realm-admin's")
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(provider)", token: raToken, json: moved).status == .noContent)
            // An ordinary imported user is the realm manager's to remove.
            let carol = try await api.createUser("acme", "carol", token: r.admin, extra: ["enabled": true])
            try await store.apply([.linkDirectoryUser(userId: carol, providerId: provider, externalId: "entry-carol", realmId: realm.id)])
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/remove-imported-users", token: token).status == .noContent)
            #expect(try await store.user(id: carol, realmId: realm.id) == nil)
            #expect(try await store.user(id: boss, realmId: realm.id) != nil)
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/no-such/unlink-users", token: token).status == .notFound)
            // Less than manage-realm: nothing.
            let viewer = try await Self.admin(api, r, "viewer", roles: ["view-realm"])
            #expect(try await api.call(.get, "/admin/realms/acme/components/\(provider)", token: viewer).status == .ok)
            #expect(try await api.call(.post, "/admin/realms/acme/components", token: viewer, json: Self.providerJSON()).status == .forbidden)
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/unlink-users", token: viewer).status == .forbidden)
        }
    }

    @Test func theConnectionTestIsARealmAdministratorsAndSaysWhatIsWrong() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let realmAdmin = try await Self.admin(api, r, "ra", roles: ["realm-admin"])
            let manager = try await Self.admin(api, r, "rm", roles: ["manage-realm"])
            let path = "/admin/realms/acme/testLDAPConnection"
            func test(_ token: String, _ fields: [String: JSONValue]) async throws -> APIResponse {
                try await api.call(.post, path, token: token, json: .object(fields))
            }
            let good: [String: JSONValue] = ["action": "testAuthentication", "connectionUrl": .string(slapd.url), "bindDn": .string(Slapd.adminDN),
                                             "bindCredential": .string(Slapd.adminPassword), "useTruststoreSpi": "always", "connectionTimeout": ""]
            #expect(try await test(realmAdmin, good).status == .noContent)
            #expect(try await test(r.admin, good).status == .noContent)
            // It reaches hosts of the caller's choosing: not for manage-realm alone.
            #expect(try await test(manager, good).status == .forbidden)
            var wrong = good
            wrong["bindCredential"] = "not-the-password"
            let refused = try await test(realmAdmin, wrong)
            #expect(refused.status == .badRequest && refused.text.contains("refused the bind") && !refused.text.contains("not-the-password"), "\(refused.text)")
            // Connecting alone needs no credential.
            var connect = wrong
            connect["action"] = "testConnection"
            #expect(try await test(realmAdmin, connect).status == .noContent)
            var nowhere = good
            nowhere["connectionUrl"] = .string("ldap://127.0.0.1:\(Slapd.freePort())")
            let down = try await test(realmAdmin, nowhere)
            #expect(down.status == .badRequest && down.text.contains("could not be reached"), "\(down.text)")
            var odd = good
            odd["connectionUrl"] = "file:///etc/passwd"
            #expect(try await test(realmAdmin, odd).status == .badRequest)
            odd["action"] = "dropTables"
            #expect(try await test(realmAdmin, odd).status == .badRequest)
            // A form works too (older clients).
            let form = try await api.call(.post, path, token: realmAdmin, form: [("action", "testAuthentication"), ("connectionUrl", slapd.url),
                                                                                ("bindDn", Slapd.adminDN), ("bindCredential", Slapd.adminPassword)])
            #expect(form.status == .noContent, "\(form.text)")

            // The stored credential, masked, serves its own provider's URL and bind DN only.
            let provider = try await create(api, Self.providerJSON(url: slapd.url, changes: [
                "bindDn": [Slapd.adminDN], "bindCredential": [Slapd.adminPassword], "usersDn": ["ou=people,\(Slapd.suffix)"],
            ]), token: r.admin)
            var masked = good
            masked["bindCredential"] = "**********"
            masked["componentId"] = .string(provider)
            #expect(try await test(realmAdmin, masked).status == .noContent)
            var elsewhere = masked
            elsewhere["connectionUrl"] = .string("ldap://127.0.0.2:\(slapd.port)")
            let reentry = try await test(realmAdmin, elsewhere)
            #expect(reentry.status == .badRequest && reentry.text.contains("Enter the bind credential"))
        }
    }

    /// A Keycloak export of a realm with an LDAP provider: the provider, its mappers (what they
    /// give resolved from the file), the users it imported (their entry ids in `LDAP_ID`), and what
    /// Keyport does not run kept; the export gives them back — the credential only in a backup.
    @Test func aRealmFileCarriesItsDirectoryAndTheUsersItImported() async throws {
        let file = #"""
        {"realm":"corp","enabled":true,
         "roles":{"realm":[{"name":"registry-user"}]},
         "groups":[{"name":"ldap","path":"/ldap"}],
         "components":{
           "org.keycloak.storage.UserStorageProvider":[
             {"id":"ldap-1","name":"corp-ldap","providerId":"ldap","subComponents":{
                "org.keycloak.storage.ldap.mappers.LDAPStorageMapper":[
                  {"id":"m-user","name":"username","providerId":"user-attribute-ldap-mapper","subComponents":{},
                   "config":{"ldap.attribute":["uid"],"user.model.attribute":["username"],"read.only":["true"]}},
                  {"id":"m-role","name":"everyone pulls","providerId":"hardcoded-ldap-role-mapper","subComponents":{},"config":{"role":["registry-user"]}},
                  {"id":"m-groups","name":"groups","providerId":"group-ldap-mapper","subComponents":{},
                   "config":{"groups.dn":["ou=groups,dc=corp,dc=example"],"groups.path":["/ldap"],"mode":["READ_ONLY"]}},
                  {"id":"m-cert","name":"cert","providerId":"certificate-ldap-mapper","subComponents":{},"config":{}},
                  {"id":"m-gone","name":"gone","providerId":"hardcoded-ldap-role-mapper","subComponents":{},"config":{"role":["no-such-role"]}}]},
              "config":{"vendor":["other"],"connectionUrl":["ldaps://ldap.corp.example"],"bindDn":["cn=keyport,dc=corp,dc=example"],
                        "bindCredential":["file-bind-secret"],"editMode":["READ_ONLY"],"usersDn":["ou=people,dc=corp,dc=example"],
                        "usernameLDAPAttribute":["uid"],"rdnLDAPAttribute":["uid"],"uuidLDAPAttribute":["entryUUID"],
                        "userObjectClasses":["inetOrgPerson, organizationalPerson"],"cachePolicy":["DEFAULT"]}},
             {"id":"krb-1","name":"kerberos","providerId":"kerberos","config":{"kerberosRealm":["CORP.EXAMPLE"]}},
             {"id":"ldap-w","name":"writable","providerId":"ldap","config":{"connectionUrl":["ldap://ldap.corp.example"],"editMode":["WRITABLE"],
              "bindDn":["cn=w,dc=corp,dc=example"],"usersDn":["ou=people,dc=corp,dc=example"]}}],
           "org.keycloak.keys.KeyProvider":[{"id":"k-1","name":"hmac","providerId":"hmac-generated","config":{"priority":["100"]}}]},
         "users":[
           {"username":"alice","enabled":true,"federationLink":"ldap-1","attributes":{"LDAP_ID":["5e0b6f2a-0000-4000-8000-00000000a11c"],"LDAP_ENTRY_DN":["uid=alice,ou=people,dc=corp,dc=example"]}},
           {"username":"bob","enabled":true,"federationLink":"ldap-1"},
           {"username":"carol","enabled":true}]}
        """#
        try await APIHarness.run { api in
            let store = api.server.services.store
            let importer = KeyportServer.realmImporter(store: store, provisioner: api.server.services.provisioner)
            let prepared = try await importer.prepare(Data(file.utf8))
            for said in ["LDAP mapper cert (certificate-ldap-mapper): not a type Keyport runs", "LDAP mapper gone: the role, group or client",
                         "user storage provider kerberos (kerberos): kept and exported", "user bob: its federationLink names no LDAP provider",
                         "LDAP provider writable: kept and exported, not used — editMode"] {
                #expect(prepared.notices.contains { $0.contains(said) }, "\(said): \(prepared.notices)")
            }
            _ = try await importer.write(prepared.seed, override: false)
            let realm = try #require(try await store.realm(named: "corp"))
            let components = try await store.storageComponents(realmId: realm.id)
            #expect(Set(components.map(\.id)) == ["ldap-1", "m-user", "m-role", "m-groups"])
            let registryUser = try #require(try await store.role(named: "registry-user", realmId: realm.id, clientId: nil))
            let ldapGroup = try #require(try await store.group(path: "/ldap", realmId: realm.id))
            #expect(components.first { $0.id == "m-role" }?.targetId == registryUser.id)
            #expect(components.first { $0.id == "m-groups" }?.targetId == ldapGroup.group.id)
            let alice = try #require(try await store.user(username: "alice", realmId: realm.id))
            #expect(alice.federationLink == "ldap-1" && alice.federationId == "5e0b6f2a-0000-4000-8000-00000000a11c" && alice.attributes["LDAP_ID"] == nil)
            #expect(try await store.user(username: "bob", realmId: realm.id)?.federationLink == nil)

            // A backup gives it all back, the credential included, beside what was kept.
            let exported = try JSONDecoder().decode(JSONValue.self, from: try await RealmExporter(store: store).exportData(realmNamed: "corp"))
            let providers = exported["components"]?["org.keycloak.storage.UserStorageProvider"]?.arrayValue ?? []
            #expect(Set(providers.compactMap { $0["id"]?.stringValue }) == ["ldap-1", "krb-1", "ldap-w"])
            let ldap = try #require(providers.first { $0["id"]?.stringValue == "ldap-1" })
            #expect(ldap["config"]?["bindCredential"]?.arrayValue?.first?.stringValue == "file-bind-secret")
            #expect(Set(ldap["subComponents"]?["org.keycloak.storage.ldap.mappers.LDAPStorageMapper"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
                    == ["username", "everyone pulls", "groups"])
            #expect(exported["components"]?["org.keycloak.keys.KeyProvider"]?.arrayValue?.first?["providerId"]?.stringValue == "hmac-generated")
            let exportedAlice = exported["users"]?.arrayValue?.first { $0["username"]?.stringValue == "alice" }
            #expect(exportedAlice?["federationLink"]?.stringValue == "ldap-1")
            #expect(exportedAlice?["attributes"]?["LDAP_ID"]?.arrayValue?.first?.stringValue == "5e0b6f2a-0000-4000-8000-00000000a11c")

            // A renamed role is named as it is called now; a partial export masks the credential.
            let admin = try await api.token()
            var role = try #require(try await api.call(.get, "/admin/realms/corp/roles/registry-user", token: admin).json)
            role["name"] = "registry-reader"
            #expect(try await api.call(.put, "/admin/realms/corp/roles/registry-user", token: admin, json: role).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/corp/components/m-role", token: admin)["config"]?["role"]?.arrayValue?.first?.stringValue == "registry-reader")
            let partial = try await api.call(.post, "/admin/realms/corp/partial-export", token: admin)
            #expect(partial.status == .ok && !partial.text.contains("file-bind-secret") && partial.text.contains("**********"))

            // A partial import links a user to the realm's provider by its entry id.
            let body: JSONValue = ["ifResourceExists": "FAIL", "users": [
                ["username": "dave", "enabled": true, "federationLink": "ldap-1", "attributes": ["LDAP_ID": ["entry-dave"]]],
                ["username": "erin", "enabled": true, "federationLink": "nope", "attributes": ["LDAP_ID": ["entry-erin"]]],
            ]]
            let imported = try await api.call(.post, "/admin/realms/corp/partialImport", token: admin, json: body)
            #expect(imported.status == .ok, "\(imported.text)")
            #expect(try await store.user(username: "dave", realmId: realm.id)?.federationId == "entry-dave")
            #expect(try await store.user(username: "erin", realmId: realm.id)?.federationLink == nil)
            // The same entry for a second user: refused, nothing written.
            let twice = try await api.call(.post, "/admin/realms/corp/partialImport", token: admin, json: ["ifResourceExists": "FAIL", "users": [
                ["username": "frank", "enabled": true, "federationLink": "ldap-1", "attributes": ["LDAP_ID": ["entry-dave"]]],
            ]])
            #expect(twice.status == .conflict, "\(twice.text)")
            #expect(try await store.user(username: "frank", realmId: realm.id) == nil)
        }
    }
}
