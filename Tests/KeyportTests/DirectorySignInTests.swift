import Foundation
import KeyportJSON
import KeyportLDAP
import KeyportModel
import KeyportStore
import Testing

/// People from a real slapd signing in at the registry and the token endpoint with the
/// directory's password: imported at their first sign-in, their directory groups (nested) as
/// groups that carry the registry's grants, a hardcoded role for everyone, and what the directory
/// decides — a membership removed, an entry deleted — taking effect at the next sign-in; Keyport's
/// lockout decided before the directory is asked; a directory that is down answers 503 for its
/// people and nobody else.
@Suite("Directory sign-in (slapd)")
struct DirectorySignInTests {
    static let groups = """
    dn: cn=engineering,ou=groups,\(Slapd.suffix)
    objectClass: groupOfNames
    cn: engineering
    member: cn=devs,ou=groups,\(Slapd.suffix)

    dn: cn=devs,ou=groups,\(Slapd.suffix)
    objectClass: groupOfNames
    cn: devs
    member: uid=alice,ou=people,\(Slapd.suffix)
    member: uid=bob,ou=people,\(Slapd.suffix)

    dn: cn=admins,ou=groups,\(Slapd.suffix)
    objectClass: groupOfNames
    cn: admins
    member: uid=alice,ou=people,\(Slapd.suffix)


    """

    /// An LDAP provider of `acme` reading `slapd`'s people as its admin (`changes`: more config); its id.
    static func provider(_ api: APIHarness, _ r: RegistryRealm, _ slapd: Slapd, _ changes: [String: [String]] = [:]) async throws -> String {
        var config: [String: [String]] = ["bindDn": [Slapd.adminDN], "bindCredential": [Slapd.adminPassword], "usersDn": ["ou=people,\(Slapd.suffix)"]]
        config.merge(changes) { $1 }
        return try await UserStorageComponentsTests().create(api, UserStorageComponentsTests.providerJSON(url: slapd.url, changes: config), token: r.admin)
    }

    static func pushes(_ access: [[String]], _ repository: String) -> Bool {
        access.contains { $0.count > 2 && $0[1] == repository && $0.dropFirst(2).contains("push") }
    }

    @Test func directoryPeopleSignInAndTheDirectoryDecides() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people + Self.groups)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            #expect(try await api.call(.put, "/admin/realms/acme", token: r.admin,
                                       json: ["bruteForceProtected": true, "failureFactor": 3, "waitIncrementSeconds": 60]).status == .noContent)
            // Groups the directory's groups go under; one of the same name as a directory group,
            // made by an administrator and holding realm-admin, is never the directory's to fill.
            let ldapGroup = try #require(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "ldap"])
                .headers[.location]?.split(separator: "/").last.map(String.init))
            let admins = try #require(try await api.call(.post, "/admin/realms/acme/groups/\(ldapGroup)/children", token: r.admin, json: ["name": "admins"])
                .headers[.location]?.split(separator: "/").last.map(String.init))
            let management = try await api.clientUUID("acme", "realm-management", token: r.admin)
            let realmAdmin = try await api.role("acme", "realm-admin", client: management, token: r.admin)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(admins)/role-mappings/clients/\(management)", token: r.admin, json: [realmAdmin]).status == .noContent)

            let provider = try await Self.provider(api, r, slapd, ["trustEmail": ["true"]])
            for (name, type, config) in [
                ("groups", "group-ldap-mapper", ["groups.dn": .string("ou=groups,\(Slapd.suffix)"), "groups.path": "/ldap", "preserve.group.inheritance": "true"] as JSONValue),
                ("everyone reads", "hardcoded-ldap-role-mapper", ["role": "registry.acme.io.reader"]),
            ] {
                _ = try await UserStorageComponentsTests().create(api, ["name": .string(name), "providerId": .string(type), "parentId": .string(provider),
                                                                        "config": config], token: r.admin)
            }
            let scopes = ["repository:team-a/app:pull,push"]

            // alice signs in at the registry with the directory's password: imported, linked,
            // her email from the directory, in the directory's nested groups, reader for everyone.
            let first = try await r.token("alice", "alice-secret", scopes: scopes)
            #expect(first.status == .ok, "\(first.text)")
            #expect(try r.access(first) == [["repository", "team-a/app", "pull"]])
            let alice = try #require(try await store.user(username: "alice", realmId: realm.id))
            #expect(alice.federationLink == provider && alice.email == "alice@example.org" && alice.emailVerified)
            let paths = try await store.groupsOfUser(userId: alice.id, realmId: realm.id).map(\.path)
            #expect(paths == ["/ldap/engineering/devs"], "\(paths)")
            #expect(try await store.credentials(userId: alice.id).isEmpty, "the directory's password is never stored")
            let reset = try await api.call(.put, "/admin/realms/acme/users/\(alice.id)/reset-password", token: r.admin, json: ["type": "password", "value": "local-pw-1"])
            #expect(reset.status == .badRequest && reset.text.contains("directory"))

            // Which mapper made a group is never an administrator's to set or take away.
            let devs = try #require(try await store.group(path: "/ldap/engineering/devs", realmId: realm.id))
            #expect(devs.group.attributes["keyport.ldap.mapper"]?.isEmpty == false)
            #expect(try await api.call(.put, "/admin/realms/acme/groups/\(devs.group.id)", token: r.admin, json: ["name": "devs", "attributes": [:]]).status == .noContent)
            #expect(try await store.group(id: devs.group.id, realmId: realm.id)?.group.attributes == devs.group.attributes)
            #expect(try await api.call(.put, "/admin/realms/acme/groups/\(admins)", token: r.admin,
                                       json: ["name": "admins", "attributes": ["keyport.ldap.mapper": devs.group.attributes["keyport.ldap.mapper"].map { .array($0.map { .string($0) }) } ?? []]]).status == .noContent)
            #expect(try await store.group(id: admins, realmId: realm.id)?.group.attributes["keyport.ldap.mapper"] == nil)
            // A grant on the directory's group reaches her at her next token.
            let engineering = try #require(try await store.group(path: "/ldap/engineering", realmId: realm.id))
            let dev = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(engineering.group.id)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [dev]).status == .noContent)
            #expect(Self.pushes(try r.access(try await r.token("alice", "alice-secret", scopes: scopes)), "team-a/app"))

            // Out of the group in the directory: no push at the next sign-in (past the remembered password).
            try slapd.modify("dn: cn=devs,ou=groups,\(Slapd.suffix)\nchangetype: modify\ndelete: member\nmember: uid=alice,ou=people,\(Slapd.suffix)\n")
            #expect(Self.pushes(try r.access(try await r.token("alice", "alice-secret", scopes: scopes)), "team-a/app"), "remembered for a moment")
            api.clock.advance(seconds: 121)
            let removed = try await r.token("alice", "alice-secret", scopes: scopes)
            #expect(removed.status == .ok)
            #expect(!Self.pushes(try r.access(removed), "team-a/app"))
            #expect(try await store.groupsOfUser(userId: alice.id, realmId: realm.id).isEmpty)

            // bob at the token endpoint; member000 at the registry (imported before the directory goes).
            #expect(try await api.login(realm: "acme", username: "bob", password: "bob-secret")["access_token"]?.stringValue != nil)
            #expect(try await r.token("member000", "member-secret-0", scopes: scopes).status == .ok)
            // Deleted from the directory: refused.
            try slapd.modify("dn: uid=bob,ou=people,\(Slapd.suffix)\nchangetype: delete\n")
            api.clock.advance(seconds: 121)
            #expect(try await api.login(realm: "acme", username: "bob", password: "bob-secret").status == .unauthorized)
            // A filter in a name finds nobody, and imports nobody.
            #expect(try await r.token("*)(uid=*", "x", scopes: scopes).status == .unauthorized)
            #expect(try await store.directoryUserCount(providerId: provider, realmId: realm.id) == 3)

            // Wrong directory passwords count as local ones do, and lock alice out.
            for _ in 0..<3 { #expect(try await r.token("alice", "wrong-\(UUID())", scopes: scopes).status == .unauthorized) }
            #expect(try await r.token("alice", "alice-secret", scopes: scopes).status == .unauthorized)

            // The directory goes away: its people get 503, a local user and the locked-out alice
            // (decided before the directory is asked) answer as before.
            try await r.user("carol", password: "carol-pw")
            slapd.stop()
            #expect(try await r.token("alice", "alice-secret", scopes: scopes).status == .unauthorized)
            let down = try await r.token("member000", "not-remembered", scopes: scopes)
            #expect(down.status == .serviceUnavailable && down.text.contains("directory"), "\(down.status) \(down.text)")
            #expect(try await r.token("newcomer", "x", scopes: scopes).status == .serviceUnavailable)
            #expect(try await r.token("carol", "carol-pw", scopes: scopes).status == .ok)
            #expect(try await api.login(realm: "master").status == .ok)
        }
    }

    /// Tokens that stand for an earlier sign-in — a personal access token, docker's identity
    /// token, an OIDC refresh token — follow the directory as a password does: each door asks the
    /// directory again past the remembered window (a membership removed takes push away, one
    /// given back returns it), an entry deleted refuses them all, a directory that is down is a
    /// 503 for them; and a name nobody has is not asked again for a while.
    @Test func tokensOfADirectoryPersonFollowTheDirectory() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people + Self.groups)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let provider = try await Self.provider(api, r, slapd)
            _ = try await UserStorageComponentsTests().create(api, ["name": "groups", "providerId": "group-ldap-mapper", "parentId": .string(provider),
                                                                    "config": ["groups.dn": .string("ou=groups,\(Slapd.suffix)")]], token: r.admin)
            let scope = "repository:team-a/app:pull,push"
            #expect(try await r.token("alice", "alice-secret", scopes: [scope]).status == .ok)
            let alice = try #require(try await store.user(username: "alice", realmId: realm.id))
            let devs = try #require(try await store.group(path: "/engineering/devs", realmId: realm.id))
            let dev = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(devs.group.id)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [dev]).status == .noContent)

            let identity = try await r.login("alice", "alice-secret")
            let pat = try await r.pat(for: alice.id)
            let oidc = try #require(try await api.login(realm: "acme", username: "alice", password: "alice-secret")["refresh_token"]?.stringValue)
            func oidcRefresh() async throws -> APIResponse {
                try await api.call(.post, "/realms/acme/protocol/openid-connect/token",
                                   form: [("grant_type", "refresh_token"), ("client_id", "admin-cli"), ("refresh_token", oidc)])
            }
            func patPushes() async throws -> Bool { Self.pushes(try r.access(try await r.token("alice", pat, scopes: [scope])), "team-a/app") }
            func identityPushes() async throws -> Bool { Self.pushes(try r.access(try await r.refresh(identity, scope: scope)), "team-a/app") }
            #expect(try await patPushes())
            #expect(try await identityPushes())
            #expect(try await oidcRefresh().status == .ok)

            let member = "member: uid=alice,ou=people,\(Slapd.suffix)\n"
            // Out of the group in the directory: the identity token's next use past the window has no push.
            try slapd.modify("dn: cn=devs,ou=groups,\(Slapd.suffix)\nchangetype: modify\ndelete: member\n" + member)
            #expect(try await identityPushes(), "remembered for a moment")
            api.clock.advance(seconds: 121)
            #expect(try await !identityPushes())
            #expect(try await !store.groupsOfUser(userId: alice.id, realmId: realm.id).map(\.path).contains("/engineering/devs"))
            // Back in it: the personal access token's next use brings the membership back.
            try slapd.modify("dn: cn=devs,ou=groups,\(Slapd.suffix)\nchangetype: modify\nadd: member\n" + member)
            api.clock.advance(seconds: 121)
            #expect(try await patPushes())
            // Out again: an OIDC refresh brings that in.
            try slapd.modify("dn: cn=devs,ou=groups,\(Slapd.suffix)\nchangetype: modify\ndelete: member\n" + member)
            api.clock.advance(seconds: 121)
            #expect(try await oidcRefresh().status == .ok)
            #expect(try await !store.groupsOfUser(userId: alice.id, realmId: realm.id).map(\.path).contains("/engineering/devs"))

            // Deleted from the directory: every token of hers is refused.
            try slapd.modify("dn: uid=alice,ou=people,\(Slapd.suffix)\nchangetype: delete\n")
            api.clock.advance(seconds: 121)
            #expect(try await r.token("alice", pat, scopes: [scope]).status == .unauthorized)
            #expect(try await r.refresh(identity, scope: scope).status == .badRequest)
            let refused = try await oidcRefresh()
            #expect(refused.status == .badRequest && refused["error"]?.stringValue == "invalid_grant", "\(refused.text)")

            // A name nobody has: asked once, then remembered as nobody's for a while — the
            // directory going away does not change its answer until then.
            #expect(try await r.token("ghost", "x", scopes: [scope]).status == .unauthorized)
            #expect(try await r.token("bob", "bob-secret", scopes: [scope]).status == .ok)
            let bob = try #require(try await store.user(username: "bob", realmId: realm.id))
            let bobsPAT = try await r.pat(for: bob.id, token: try await api.token())
            slapd.stop()
            api.clock.advance(seconds: 20)
            #expect(try await r.token("ghost", "x", scopes: [scope]).status == .unauthorized)
            // The directory down: a token whose check is due is a clear 503, never a pass.
            api.clock.advance(seconds: 101)
            let down = try await r.token("bob", bobsPAT, scopes: [scope])
            #expect(down.status == .serviceUnavailable, "\(down.status) \(down.text)")
            #expect(try await r.token("ghost", "x", scopes: [scope]).status == .serviceUnavailable)
        }
    }

    /// A thousand people in ten teams, nested in two departments of one organisation: the group
    /// mapper's sync makes the thirteen groups (nested) before anyone signs in, so a grant can go
    /// on a department first; a full sync imports the thousand; a person of a team under that
    /// department pushes at their first sign-in, one of the other department does not.
    @Test func aThousandPeopleInNestedGroupsAndTheGroupMappersSync() async throws {
        var ldif = ""
        for i in 0..<1_000 { ldif += Slapd.person(String(format: "p%04d", i), password: "pw-\(i)") }
        func group(_ name: String, _ members: [String]) -> String {
            "dn: cn=\(name),ou=groups,\(Slapd.suffix)\nobjectClass: groupOfNames\ncn: \(name)\n"
                + members.map { "member: \($0)\n" }.joined() + "\n"
        }
        let dn = { (name: String) in "cn=\(name),ou=groups,\(Slapd.suffix)" }
        ldif += group("org", [dn("eng"), dn("ops")])
        ldif += group("eng", (0..<5).map { dn("team\($0)") })
        ldif += group("ops", (5..<10).map { dn("team\($0)") })
        for team in 0..<10 {
            ldif += group("team\(team)", (0..<100).map { "uid=" + String(format: "p%04d", team * 100 + $0) + ",ou=people,\(Slapd.suffix)" })
        }
        let slapd = try Slapd(ldif: ldif)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            #expect(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "ldap"]).status == .created)
            let provider = try await Self.provider(api, r, slapd, ["batchSizeForSync": ["200"], "pagination": ["true"]])
            let mapper = try await UserStorageComponentsTests().create(api, ["name": "groups", "providerId": "group-ldap-mapper", "parentId": .string(provider),
                                                                             "config": ["groups.dn": .string("ou=groups,\(Slapd.suffix)"), "groups.path": "/ldap"]], token: r.admin)
            let sync = "/admin/realms/acme/user-storage/\(provider)/mappers/\(mapper)/sync"

            // The groups, nested as in the directory, before anyone signs in.
            let made = try await api.call(.post, sync + "?direction=fedToKeycloak", token: r.admin)
            #expect(made.status == .ok && made["added"]?.int == 13 && made["failed"]?.int == 0, "\(made.text)")
            for path in ["/ldap/org", "/ldap/org/eng", "/ldap/org/ops", "/ldap/org/eng/team3", "/ldap/org/ops/team7"] {
                #expect(try await store.group(path: path, realmId: realm.id) != nil, "\(path)")
            }
            let again = try await api.call(.post, sync + "?direction=fedToKeycloak", token: r.admin)
            #expect(again["added"]?.int == 0 && again["updated"]?.int == 13, "\(again.text)")
            let eng = try #require(try await store.group(path: "/ldap/org/eng", realmId: realm.id))
            let dev = try await api.role("acme", "team-a-dev", client: r.clientId, token: r.admin)
            #expect(try await api.call(.post, "/admin/realms/acme/groups/\(eng.group.id)/role-mappings/clients/\(r.clientId)", token: r.admin, json: [dev]).status == .noContent)

            let users = try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/sync?action=triggerFullSync", token: r.admin)
            #expect(users["added"]?.int == 1_000 && users["failed"]?.int == 0, "\(users.text)")
            let scope = ["repository:team-a/app:pull,push"]
            #expect(Self.pushes(try r.access(try await r.token("p0342", "pw-342", scopes: scope)), "team-a/app"))
            #expect(!Self.pushes(try r.access(try await r.token("p0742", "pw-742", scopes: scope)), "team-a/app"))
            let p0342 = try #require(try await store.user(username: "p0342", realmId: realm.id))
            #expect(try await store.groupsOfUser(userId: p0342.id, realmId: realm.id).map(\.path) == ["/ldap/org/eng/team3"])
            #expect(try await store.group(path: "/ldap/org/eng/team3", realmId: realm.id)?.group.id
                    == (try await store.groupsOfUser(userId: p0342.id, realmId: realm.id).first?.group.id), "the synced group, not a second one")

            // Only a group mapper, only into Keyport, only by those who manage the realm.
            #expect(try await api.call(.post, sync + "?direction=keycloakToFed", token: r.admin).status == .badRequest)
            #expect(try await api.call(.post, sync, token: r.admin).status == .badRequest)
            let mappers = try await api.call(.get, "/admin/realms/acme/components?parent=\(provider)", token: r.admin)
            let username = try #require(mappers.items.first { $0["name"]?.stringValue == "username" }?["id"]?.stringValue)
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/mappers/\(username)/sync?direction=fedToKeycloak", token: r.admin).status == .badRequest)
            #expect(try await api.call(.post, "/admin/realms/acme/user-storage/\(mapper)/mappers/\(mapper)/sync?direction=fedToKeycloak", token: r.admin).status == .notFound)
            let viewer = try await UserStorageComponentsTests.admin(api, r, "viewer", roles: ["view-realm"])
            #expect(try await api.call(.post, sync + "?direction=fedToKeycloak", token: viewer).status == .forbidden)
            slapd.stop()
            #expect(try await api.call(.post, sync + "?direction=fedToKeycloak", token: r.admin).status == .serviceUnavailable)
        }
    }

    /// A group mapper's sync reads at most 5,000 groups: past that a clear 400 (narrow the mapper),
    /// never a 503 that says to try again, and nothing made.
    @Test func tooManyDirectoryGroupsForASyncIsABadRequest() async throws {
        var ldif = ""
        for n in 0...LDAPUserProvider.maxSyncedGroups {
            ldif += "dn: cn=g\(n),ou=groups,\(Slapd.suffix)\nobjectClass: groupOfNames\ncn: g\(n)\nmember: cn=nobody,\(Slapd.suffix)\n\n"
        }
        let slapd = try Slapd(ldif: ldif)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let provider = try await Self.provider(api, r, slapd, ["pagination": ["true"]])
            let mapper = try await UserStorageComponentsTests().create(api, ["name": "groups", "providerId": "group-ldap-mapper", "parentId": .string(provider),
                                                                             "config": ["groups.dn": .string("ou=groups,\(Slapd.suffix)")]], token: r.admin)
            let answer = try await api.call(.post, "/admin/realms/acme/user-storage/\(provider)/mappers/\(mapper)/sync?direction=fedToKeycloak", token: r.admin)
            #expect(answer.status == .badRequest && answer.text.contains("5000 groups"), "\(answer.status) \(answer.text)")
            #expect(try await store.group(path: "/g1", realmId: realm.id) == nil)
        }
    }

    @Test func anEmptyPasswordNeverReachesTheDirectory() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            _ = try await Self.provider(api, r, slapd)
            // slapd answers an unauthenticated bind (a DN, no password) with success.
            #expect(try await r.token("alice", "").status == .unauthorized)
            #expect(try await api.login(realm: "acme", username: "alice", password: "").status != .ok)
            #expect(try await r.token("alice", "alice-secret").status == .ok)
            // The realm has no brute-force protection, yet a directory's people get a lockout of
            // their own: three wrong passwords, then not even the right one reaches the directory
            // for sixteen minutes, and after that one try per wait — so Active
            // Directory's usual threshold (5 in 15 minutes) is never reached from here.
            for _ in 0..<3 {
                api.clock.advance(seconds: 2)
                #expect(try await r.token("alice", "wrong-\(UUID())").status == .unauthorized)
            }
            #expect(try await r.token("alice", "alice-secret").status == .unauthorized)
            api.clock.advance(seconds: 950)
            #expect(try await r.token("alice", "alice-secret").status == .unauthorized, "locked for sixteen minutes")
            api.clock.advance(seconds: 11)
            #expect(try await r.token("alice", "wrong-again").status == .unauthorized)
            api.clock.advance(seconds: 600)
            slapd.stop()
            #expect(try await r.token("alice", "alice-secret").status == .unauthorized, "locked again: the directory is not asked (else 503)")
        }
    }

    /// The directory's bad-password count is reached from here three times in a row at most, then
    /// once a wait: a realm that forgets failures after a minute does not start the count again
    /// for a directory's people, and a remembered right password does not clear failures the
    /// directory still counts (it binds instead). Wrong passwords sent at once:
    /// `DirectoryBindGateTests`.
    @Test func theDirectorysBadPasswordCountIsReachedThreeTimesAtMost() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            #expect(try await api.call(.put, "/admin/realms/acme", token: r.admin,
                                       json: ["bruteForceProtected": true, "failureFactor": 30, "maxDeltaTimeSeconds": 60]).status == .noContent)
            _ = try await Self.provider(api, r, slapd)
            #expect(try await r.token("member002", "member-secret-2").status == .ok)
            // A guess a minute and more apart: the realm forgets after 60 s, the directory's count
            // does not — the third locks.
            for _ in 0..<3 {
                api.clock.advance(seconds: 61)
                #expect(try await r.token("member002", "wrong-\(UUID())").status == .unauthorized)
            }
            api.clock.advance(seconds: 2)
            #expect(try await r.token("member002", "member-secret-2").status == .unauthorized, "locked after three")

            // member003 signs in (remembered), then one wrong password: the right one is checked by
            // the directory again, not taken from memory — so with the directory gone it is a 503.
            #expect(try await r.token("member003", "member-secret-3").status == .ok)
            #expect(try await r.token("member003", "member-secret-3").status == .ok)
            api.clock.advance(seconds: 2)
            #expect(try await r.token("member003", "wrong").status == .unauthorized)
            api.clock.advance(seconds: 2)
            slapd.stop()
            #expect(try await r.token("member003", "member-secret-3").status == .serviceUnavailable)
        }
    }

    /// Keycloak's sync: everyone imported (with the realm's default role), a change in the
    /// directory brought in by the changed-users sync, an entry deleted from the directory
    /// removed by the next full sync.
    @Test func aSyncImportsUpdatesAndRemoves() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let provider = try await Self.provider(api, r, slapd, ["batchSizeForSync": ["50"]])
            let path = "/admin/realms/acme/user-storage/\(provider)/sync"
            let full = try await api.call(.post, path + "?action=triggerFullSync", token: r.admin)
            #expect(full.status == .ok, "\(full.text)")
            let added = try #require(full["added"]?.int)
            #expect(added >= 242 && full["removed"]?.int == 0 && full["status"]?.stringValue?.contains("imported users") == true, "\(full.text)")
            #expect(try await store.directoryUserCount(providerId: provider, realmId: realm.id) == added)
            let alice = try #require(try await store.user(username: "alice", realmId: realm.id))
            #expect(alice.email == "alice@example.org" && alice.firstName == "Alice")
            #expect(try await store.userRoles(userId: alice.id, realmId: realm.id).map(\.name) == [realm.defaultRoleName])
            let synced = try #require(try await store.storageComponent(id: provider, realmId: realm.id)?.lastSync)
            // Answered in config as Keycloak does (seconds); sent back (Ansible, Keycloak's console), ignored.
            var shown = try #require(try await api.call(.get, "/admin/realms/acme/components/\(provider)", token: r.admin).json)
            #expect(shown["config"]?["lastSync"] == [.string(String(synced.secondsSince1970))], "\(shown)")
            shown["config"]?["lastSync"] = ["1"]
            #expect(try await api.call(.put, "/admin/realms/acme/components/\(provider)", token: r.admin, json: shown).status == .noContent)
            let after = try #require(try await store.storageComponent(id: provider, realmId: realm.id))
            #expect(after.lastSync == synced && after.config["lastSync"] == nil)

            // A change in the directory, brought in by the changed-users sync; nothing else moves.
            try slapd.modify("dn: uid=alice,ou=people,\(Slapd.suffix)\nchangetype: modify\nreplace: mail\nmail: alice@wonderland.example\n")
            let changed = try await api.call(.post, path + "?action=triggerChangedUsersSync", token: r.admin)
            #expect(changed.status == .ok && changed["updated"]?.int == 1 && changed["added"]?.int == 0, "\(changed.text)")
            #expect(try await store.user(id: alice.id, realmId: realm.id)?.email == "alice@wonderland.example")

            // Deleted from the directory: removed by the next full sync.
            try slapd.modify("dn: uid=bob,ou=people,\(Slapd.suffix)\nchangetype: delete\n")
            let again = try await api.call(.post, path + "?action=triggerFullSync", token: r.admin)
            #expect(again["removed"]?.int == 1 && again["added"]?.int == 0, "\(again.text)")
            #expect(try await store.user(username: "bob", realmId: realm.id) == nil)

            #expect(try await api.call(.post, path + "?action=dropEverything", token: r.admin).status == .badRequest)
            let viewer = try await UserStorageComponentsTests.admin(api, r, "viewer", roles: ["view-realm"])
            #expect(try await api.call(.post, path + "?action=triggerFullSync", token: viewer).status == .forbidden)
            // The directory gone: a clear 503, nobody removed.
            slapd.stop()
            let down = try await api.call(.post, path + "?action=triggerFullSync", token: r.admin)
            #expect(down.status == .serviceUnavailable, "\(down.text)")
            #expect(try await store.directoryUserCount(providerId: provider, realmId: realm.id) == added - 1)
        }
    }

    /// Keycloak's periodic sync: the first pass syncs everyone, the changed-users period brings
    /// changes, a new multiple of the full period syncs everyone again; two passes at once (two
    /// nodes) run a due sync once.
    @Test func periodicSyncsRunWhenTheirPeriodComesRoundAndOnce() async throws {
        let slapd = try Slapd(ldif: DirectoryClientTests.people)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let provider = try await Self.provider(api, r, slapd, ["fullSyncPeriod": ["86400"], "changedSyncPeriod": ["60"]])
            let directories = api.server.services.directories
            let first = try await directories.runDueSyncs()
            #expect(first.count == 1 && first[0].full && first[0].result.added >= 242, "\(first)")
            #expect(try await directories.runDueSyncs().isEmpty, "nothing is due yet")

            try slapd.modify("dn: uid=alice,ou=people,\(Slapd.suffix)\nchangetype: modify\nreplace: sn\nsn: Pleasance\n")
            api.clock.advance(seconds: 61)
            async let a = directories.runDueSyncs()
            async let b = directories.runDueSyncs()
            let both = try await a + b
            #expect(both.count == 1 && both.first?.full == false && both.first?.result.updated == 1, "\(both)")
            #expect(try await store.user(username: "alice", realmId: realm.id)?.lastName == "Pleasance")

            api.clock.advance(seconds: 86_400)
            let daily = try await directories.runDueSyncs()
            #expect(daily.count == 1 && daily[0].full, "\(daily)")
            #expect(try await store.storageComponent(id: provider, realmId: realm.id)?.lastSync == api.clock.now)
        }
    }

    /// An Active Directory-like directory (`sAMAccountName`, `userAccountControl`, `memberOf`): a
    /// vendor `ad` provider comes with its account-control mapper; groups read from the person's
    /// own `memberOf`; an account whose `ACCOUNTDISABLE` bit is set is disabled at its sign-in.
    @Test func activeDirectoryAccountsGroupsFromMemberOfAndTheDisabledBit() async throws {
        func person(_ name: String, flags: Int, groups: [String]) -> String {
            """
            dn: cn=\(name),ou=people,\(Slapd.suffix)
            objectClass: inetOrgPerson
            objectClass: adUser
            cn: \(name)
            sn: \(name.capitalized)
            sAMAccountName: \(name)
            userAccountControl: \(flags)
            \(groups.map { "memberOf: cn=\($0),ou=groups,\(Slapd.suffix)\n" }.joined())userPassword: \(name)-ad-pw


            """
        }
        let ldif = person("dana", flags: 512, groups: ["devs", "ops"]) + person("eve", flags: 514, groups: ["devs"])
            + "dn: cn=outside,\(Slapd.suffix)\nobjectClass: organizationalRole\ncn: outside\n\n"
            + ["devs", "ops"].map { "dn: cn=\($0),ou=groups,\(Slapd.suffix)\nobjectClass: groupOfNames\ncn: \($0)\nmember: cn=dana,ou=people,\(Slapd.suffix)\n\n" }.joined()
        let slapd = try Slapd(ldif: ldif, schema: Slapd.activeDirectorySchema)
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            let realm = try #require(try await store.realm(named: "acme"))
            let provider = try await UserStorageComponentsTests().create(api, UserStorageComponentsTests.providerJSON(url: slapd.url, changes: [
                "vendor": ["ad"], "bindDn": [Slapd.adminDN], "bindCredential": [Slapd.adminPassword], "usersDn": ["ou=people,\(Slapd.suffix)"],
                "usernameLDAPAttribute": ["sAMAccountName"], "rdnLDAPAttribute": ["cn"], "uuidLDAPAttribute": ["entryUUID"],
                "userObjectClasses": ["inetOrgPerson, adUser"],
            ]), token: r.admin)
            #expect(try await api.call(.post, "/admin/realms/acme/groups", token: r.admin, json: ["name": "ad"]).status == .created)
            _ = try await UserStorageComponentsTests().create(api, [
                "name": "groups", "providerId": "group-ldap-mapper", "parentId": .string(provider),
                "config": ["groups.dn": .string("ou=groups,\(Slapd.suffix)"), "groups.path": "/ad",
                           "user.roles.retrieve.strategy": "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE"],
            ], token: r.admin)

            #expect(try await r.token("dana", "dana-ad-pw").status == .ok)
            let dana = try #require(try await store.user(username: "dana", realmId: realm.id))
            #expect(Set(try await store.groupsOfUser(userId: dana.id, realmId: realm.id).map(\.path)) == ["/ad/devs", "/ad/ops"])
            #expect(dana.enabled)
            // The directory says eve is disabled: her right password does not sign her in, and she is disabled here.
            #expect(try await r.token("eve", "eve-ad-pw").status == .unauthorized)
            #expect(try await store.user(username: "eve", realmId: realm.id)?.enabled == false)
            // Re-enabled in the directory: still disabled here (the directory never enables).
            try slapd.modify("dn: cn=eve,ou=people,\(Slapd.suffix)\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n")
            #expect(try await r.token("eve", "eve-ad-pw").status == .unauthorized)
            // A memberOf outside groups.dn is no group of the mapper's.
            try slapd.modify("dn: cn=dana,ou=people,\(Slapd.suffix)\nchangetype: modify\nadd: memberOf\nmemberOf: cn=outside,\(Slapd.suffix)\n")
            api.clock.advance(seconds: 121)
            #expect(try await r.token("dana", "dana-ad-pw").status == .ok)
            #expect(Set(try await store.groupsOfUser(userId: dana.id, realmId: realm.id).map(\.path)) == ["/ad/devs", "/ad/ops"])
        }
    }
}
