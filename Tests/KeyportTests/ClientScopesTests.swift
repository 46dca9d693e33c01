import Foundation
import GRDB
import KeyportJSON
import KeyportModel
import KeyportProvisioning
import KeyportRealmExchange
import KeyportServer
import KeyportSQLite
import KeyportStore
import Testing

@Suite("Client scopes, as Keycloak's tools manage them")
struct ClientScopesTests {
    @Test func aNewRealmHasKeycloaksBuiltInScopesAndNewClientsTakeItsDefaults() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let scopes = try await api.call(.get, "/admin/realms/acme/client-scopes", token: admin)
            #expect(Set(scopes.values("name")) == ["acr", "address", "basic", "email", "microprofile-jwt", "offline_access", "phone", "profile",
                                                    "roles", "web-origins"])
            let profile = try #require(scopes.items.first { $0["name"]?.stringValue == "profile" })
            #expect(profile["protocolMappers"]?.array.contains { $0["config"]?["claim.name"]?.stringValue == "preferred_username" } == true)
            let defaults = try await api.call(.get, "/admin/realms/acme/default-default-client-scopes", token: admin).values("name")
            #expect(Set(defaults) == ["acr", "basic", "email", "profile", "roles", "web-origins"])
            let optional = try await api.call(.get, "/admin/realms/acme/default-optional-client-scopes", token: admin).values("name")
            #expect(Set(optional) == ["address", "microprofile-jwt", "offline_access", "phone"])
            // offline_access lets the realm's offline_access role into tokens.
            let offline = try #require(scopes.items.first { $0["name"]?.stringValue == "offline_access" }?["id"]?.stringValue)
            #expect(try await api.call(.get, "/admin/realms/acme/client-scopes/\(offline)/scope-mappings/realm", token: admin).values("name") == ["offline_access"])

            // A new client gets the realm's defaults, as do the built-in ones.
            let app = try await api.createClient("acme", ["clientId": "app"], token: admin)
            let got = try await api.call(.get, "/admin/realms/acme/clients/\(app)", token: admin)
            #expect(Set(got["defaultClientScopes"]?.strings ?? []) == Set(defaults))
            #expect(Set(got["optionalClientScopes"]?.strings ?? []) == Set(optional))
            let cli = try await api.clientUUID("acme", "admin-cli", token: admin)
            #expect(Set(try await api.call(.get, "/admin/realms/acme/clients/\(cli)/default-client-scopes", token: admin).values("name")) == Set(defaults))
            // Naming scopes at creation replaces the defaults; an unknown name refuses the client whole.
            let named = try await api.createClient("acme", ["clientId": "named", "defaultClientScopes": ["email"], "optionalClientScopes": []], token: admin)
            let namedRep = try await api.call(.get, "/admin/realms/acme/clients/\(named)", token: admin)
            #expect(namedRep["defaultClientScopes"]?.strings == ["email"] && namedRep["optionalClientScopes"]?.strings == [])
            let bad = try await api.call(.post, "/admin/realms/acme/clients", token: admin, json: ["clientId": "bad", "defaultClientScopes": ["nope"]])
            #expect(bad.status == .badRequest && bad.text.contains("nope"))
            #expect(try await api.call(.get, "/admin/realms/acme/clients?clientId=bad", token: admin).items.isEmpty)
        }
    }

    @Test func scopesTheirMappersAndAssignmentsAreManaged() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let create = try await api.call(.post, "/admin/realms/acme/client-scopes", token: admin, json: [
                "name": "acme-profile", "protocol": "openid-connect", "attributes": ["include.in.token.scope": true],
                "protocolMappers": [["name": "tenant", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                                     "config": ["claim.name": "tenant", "claim.value": "acme", "access.token.claim": true]]],
            ])
            #expect(create.status == .created, "\(create.text)")
            let id = try #require(create.createdID)
            let again = try await api.call(.post, "/admin/realms/acme/client-scopes", token: admin, json: ["name": "acme-profile"])
            #expect(again.status == .conflict && again["errorMessage"]?.stringValue == "Client Scope acme-profile already exists")
            #expect(try await api.call(.post, "/admin/realms/acme/client-scopes", token: admin, json: ["name": "has space"]).status == .badRequest)
            let scope = try await api.call(.get, "/admin/realms/acme/client-scopes/\(id)", token: admin)
            #expect(scope["attributes"]?["include.in.token.scope"]?.stringValue == "true")
            #expect(scope["protocolMappers"]?.array.first?["config"]?["access.token.claim"]?.stringValue == "true")

            // Mappers: add, refuse a second of the same name, replace, delete.
            let mapper = try await api.call(.post, "/admin/realms/acme/client-scopes/\(id)/protocol-mappers/models", token: admin, json: [
                "name": "team", "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
                "config": ["user.attribute": "team", "claim.name": "team"]])
            #expect(mapper.status == .created)
            let mapperId = try #require(mapper.createdID)
            #expect(try await api.call(.post, "/admin/realms/acme/client-scopes/\(id)/protocol-mappers/models", token: admin,
                                       json: ["name": "team", "protocolMapper": "x"]).status == .conflict)
            #expect(try await api.call(.put, "/admin/realms/acme/client-scopes/\(id)/protocol-mappers/models/\(mapperId)", token: admin, json: [
                "name": "team", "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
                "config": ["user.attribute": "team", "claim.name": "squad"]]).status == .noContent)
            let models = try await api.call(.get, "/admin/realms/acme/client-scopes/\(id)/protocol-mappers/models", token: admin)
            #expect(models.items.first { $0["id"]?.stringValue == mapperId }?["config"]?["claim.name"]?.stringValue == "squad")
            #expect(try await api.call(.delete, "/admin/realms/acme/client-scopes/\(id)/protocol-mappers/models/\(mapperId)", token: admin).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/client-scopes/\(id)/protocol-mappers/models", token: admin).items.count == 1)

            // The realm's defaults for new clients, and one client's assignments.
            #expect(try await api.call(.put, "/admin/realms/acme/default-default-client-scopes/\(id)", token: admin).status == .noContent)
            let app = try await api.createClient("acme", ["clientId": "app"], token: admin)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(app)/default-client-scopes", token: admin).values("name").contains("acme-profile"))
            #expect(try await api.call(.delete, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(id)", token: admin).status == .noContent)
            #expect(try await api.call(.delete, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(id)", token: admin).status == .notFound)
            #expect(try await api.call(.put, "/admin/realms/acme/clients/\(app)/optional-client-scopes/\(id)", token: admin).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(app)", token: admin)["optionalClientScopes"]?.strings.contains("acme-profile") == true)
            #expect(try await api.call(.delete, "/admin/realms/acme/default-default-client-scopes/\(id)", token: admin).status == .noContent)
            #expect(!(try await api.call(.get, "/admin/realms/acme/default-default-client-scopes", token: admin).values("name").contains("acme-profile")))

            // Role scope mappings of the scope and of a client.
            try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "ops"])
            let ops = try await api.role("acme", "ops", token: admin)
            for holder in ["client-scopes/\(id)", "clients/\(app)"] {
                #expect(try await api.call(.post, "/admin/realms/acme/\(holder)/scope-mappings/realm", token: admin, json: [ops]).status == .noContent)
                #expect(try await api.call(.get, "/admin/realms/acme/\(holder)/scope-mappings/realm", token: admin).values("name") == ["ops"])
                #expect(!(try await api.call(.get, "/admin/realms/acme/\(holder)/scope-mappings/realm/available", token: admin).values("name").contains("ops")))
                #expect(try await api.call(.get, "/admin/realms/acme/\(holder)/scope-mappings", token: admin)["realmMappings"]?.array.count == 1)
                #expect(try await api.call(.delete, "/admin/realms/acme/\(holder)/scope-mappings/realm", token: admin, json: [ops]).status == .noContent)
                #expect(try await api.call(.get, "/admin/realms/acme/\(holder)/scope-mappings/realm", token: admin).items.isEmpty)
            }
            // Deleting the scope takes it off every client.
            #expect(try await api.call(.delete, "/admin/realms/acme/client-scopes/\(id)", token: admin).status == .noContent)
            #expect(try await api.call(.get, "/admin/realms/acme/client-scopes/\(id)", token: admin)["error"]?.stringValue == "Could not find client scope")
            #expect(!(try await api.call(.get, "/admin/realms/acme/clients/\(app)", token: admin)["optionalClientScopes"]?.strings.contains("acme-profile") ?? true))
        }
    }

    @Test func readingNeedsViewClientsAndChangingManageClients() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let management = try await api.clientUUID("acme", "realm-management", token: admin)
            let viewer = try await api.createUser("acme", "viewer", password: "viewer-pw-123", token: admin)
            let role = try await api.role("acme", "view-clients", client: management, token: admin)
            try await api.call(.post, "/admin/realms/acme/users/\(viewer)/role-mappings/clients/\(management)", token: admin, json: [role])
            let token = try await api.token(realm: "acme", username: "viewer", password: "viewer-pw-123")
            let list = try await api.call(.get, "/admin/realms/acme/client-scopes", token: token)
            #expect(list.status == .ok && !list.items.isEmpty)
            let scope = try #require(list.items.first?["id"]?.stringValue)
            #expect(try await api.call(.post, "/admin/realms/acme/client-scopes", token: token, json: ["name": "x"]).status == .forbidden)
            #expect(try await api.call(.delete, "/admin/realms/acme/client-scopes/\(scope)", token: token).status == .forbidden)
            #expect(try await api.call(.put, "/admin/realms/acme/default-default-client-scopes/\(scope)", token: token).status == .forbidden)
            // Another realm's scope is not found through this one.
            try await api.createRealm("other", token: admin)
            let foreign = try #require(try await api.call(.get, "/admin/realms/other/client-scopes", token: admin).items.first?["id"]?.stringValue)
            #expect(try await api.call(.get, "/admin/realms/acme/client-scopes/\(foreign)", token: admin).status == .notFound)
        }
    }

    @Test func aRealmFileCarriesItsScopesThere() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try #require(try await api.call(.post, "/admin/realms/acme/client-scopes", token: admin, json: ["name": "acme-audit"]).createdID)
            try await api.call(.put, "/admin/realms/acme/default-optional-client-scopes/\(id)", token: admin)
            let app = try await api.createClient("acme", ["clientId": "app", "fullScopeAllowed": false, "webOrigins": ["https://app.example"]], token: admin)
            try await api.call(.put, "/admin/realms/acme/clients/\(app)/default-client-scopes/\(id)", token: admin)
            try await api.call(.post, "/admin/realms/acme/roles", token: admin, json: ["name": "ops"])
            let ops = try await api.role("acme", "ops", token: admin)
            try await api.call(.post, "/admin/realms/acme/client-scopes/\(id)/scope-mappings/realm", token: admin, json: [ops])
            try await api.call(.post, "/admin/realms/acme/clients/\(app)/scope-mappings/realm", token: admin, json: [ops])

            // Exported, the realm deleted, the file imported: everything comes back (the file keeps every id).
            let file = try await RealmExporter(store: api.server.services.store).exportData(realmNamed: "acme")
            #expect(try await api.call(.delete, "/admin/realms/acme", token: admin).status == .noContent)
            let importer = KeyportServer.realmImporter(store: api.server.services.store, provisioner: api.server.services.provisioner)
            let prepared = try await importer.prepare(file)
            #expect(!prepared.skipped.contains { $0.contains("clientScope") || $0.contains("scopeMappings") }, "\(prepared.skipped)")
            _ = try await importer.write(prepared.seed, override: false)

            let scopes = try await api.call(.get, "/admin/realms/acme/client-scopes", token: admin)
            let copied = try #require(scopes.items.first { $0["name"]?.stringValue == "acme-audit" }?["id"]?.stringValue)
            #expect(try await api.call(.get, "/admin/realms/acme/default-optional-client-scopes", token: admin).values("name").contains("acme-audit"))
            let copyApp = try await api.clientUUID("acme", "app", token: admin)
            let client = try await api.call(.get, "/admin/realms/acme/clients/\(copyApp)", token: admin)
            #expect(client["defaultClientScopes"]?.strings.contains("acme-audit") == true)
            #expect(client["fullScopeAllowed"]?.bool == false && client["webOrigins"]?.strings == ["https://app.example"])
            #expect(try await api.call(.get, "/admin/realms/acme/client-scopes/\(copied)/scope-mappings/realm", token: admin).values("name") == ["ops"])
            #expect(try await api.call(.get, "/admin/realms/acme/clients/\(copyApp)/scope-mappings/realm", token: admin).values("name") == ["ops"])
        }
    }

    /// A realm made before client scopes existed gets Keycloak's built-ins at the next start,
    /// once — and its clients the defaults; a scope deleted afterwards stays deleted.
    @Test func realmsMadeBeforeScopesGetTheBuiltInsOnce() async throws {
        let path = temporaryDirectory().appendingPathComponent("keyport.db").path
        let store = try SQLiteStore.open(path: path, now: { 1_764_400_000_000 })
        let provisioner = RealmProvisioner(environment: testEnvironment())
        let realm = Realm(id: "r1", name: "old", enabled: true, createdAt: Timestamp(millisecondsSince1970: 1))
        try await store.createRealm(try provisioner.seed(for: realm))
        // As a database from before migration 0021 would be.
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "DELETE FROM client_scopes; DELETE FROM realm_builtin_client_scopes")
        }
        #expect(try await store.clientScopes(realmId: "r1").isEmpty)
        let catalog = BuiltinClientScopeCatalog(newID: { UUID().uuidString.lowercased() })
        #expect(try await store.addBuiltinClientScopes { catalog.scopes(realmId: $0, offlineAccessRoleId: $1) } == 1)
        #expect(try await store.clientScopes(realmId: "r1").count == 10)
        let cli = try #require(try await store.client(clientId: "admin-cli", realmId: "r1"))
        #expect(try await store.clientScopes(ofClient: cli.id, realmId: "r1").filter(\.isDefault).count == 6)
        let offline = try #require(try await store.clientScope(named: "offline_access", realmId: "r1"))
        #expect(try await store.scopeRoles(of: .clientScope(offline.id), realmId: "r1").map(\.name) == ["offline_access"])
        // Once: a scope deleted afterwards is not brought back.
        try await store.apply([.deleteClientScope(id: offline.id, realmId: "r1")])
        #expect(try await store.addBuiltinClientScopes { catalog.scopes(realmId: $0, offlineAccessRoleId: $1) } == 0)
        #expect(try await store.clientScope(named: "offline_access", realmId: "r1") == nil)
    }
}
