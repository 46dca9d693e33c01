import Foundation
import Hummingbird
import KeyportHTTP
import KeyportModel
import Testing

@Suite("Brute-force detection")
struct BruteForceTests {
    @Test func theFailureRuleFollowsKeycloak() {
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 3
        policy.waitIncrementSeconds = 60
        policy.maxFailureWaitSeconds = 150
        policy.quickLoginCheckMilliSeconds = 1000
        policy.minimumQuickLoginWaitSeconds = 30
        policy.maxDeltaTimeSeconds = 600
        let t0 = Timestamp(secondsSince1970: 1_000_000)
        var f = LoginFailures(userId: "u", realmId: "r")
        f = f.recordingFailure(at: t0, policy: policy, ipAddress: "1.2.3.4")
        #expect(f.numFailures == 1 && f.lockedUntil < t0)
        // A second failure within the quick-login window locks for the minimum wait.
        f = f.recordingFailure(at: Timestamp(millisecondsSince1970: t0.millisecondsSince1970 + 500), policy: policy, ipAddress: nil)
        #expect(f.numFailures == 2 && f.lockedUntil == Timestamp(millisecondsSince1970: t0.millisecondsSince1970 + 500).adding(seconds: 30))
        // The third reaches the failure factor: one wait increment.
        f = f.recordingFailure(at: t0.adding(seconds: 100), policy: policy, ipAddress: nil)
        #expect(f.numFailures == 3 && f.lockedUntil == t0.adding(seconds: 160))
        // Six failures: two increments, capped at the maximum.
        for i in 0..<3 { f = f.recordingFailure(at: t0.adding(seconds: 200 + i * 10), policy: policy, ipAddress: nil) }
        #expect(f.numFailures == 6 && f.lockedUntil == t0.adding(seconds: 220 + 120))
        for i in 0..<3 { f = f.recordingFailure(at: t0.adding(seconds: 300 + i * 10), policy: policy, ipAddress: nil) }
        #expect(f.lockedUntil == t0.adding(seconds: 320 + 150))
        // After maxDeltaTime without failures, counting starts again.
        f = f.recordingFailure(at: t0.adding(seconds: 2000), policy: policy, ipAddress: nil)
        #expect(f.numFailures == 1)
    }

    /// Issue 24, item 13: two nodes, one clock 300 ms behind the other. The failure the slow
    /// node records after the fast node's is no "quick" retry (Keycloak: `deltaTime > 0`), and
    /// the last failure never moves backwards.
    @Test func aSkewedClockOnAnotherNodeIsNoQuickRetry() {
        var policy = BruteForcePolicy()
        policy.enabled = true
        policy.failureFactor = 5
        policy.quickLoginCheckMilliSeconds = 1000
        policy.minimumQuickLoginWaitSeconds = 60
        let fast = Timestamp(secondsSince1970: 1_000_000)
        let slow = Timestamp(millisecondsSince1970: fast.millisecondsSince1970 - 300)
        var f = LoginFailures(userId: "u", realmId: "r").recordingFailure(at: fast, policy: policy, ipAddress: nil)
        f = f.recordingFailure(at: slow, policy: policy, ipAddress: nil)
        #expect(f.numFailures == 2)
        #expect(f.lockedUntil < slow, "not locked: two failures of five, none a quick retry")
        #expect(f.lastFailure == fast)
        // A real quick retry still locks.
        f = f.recordingFailure(at: Timestamp(millisecondsSince1970: fast.millisecondsSince1970 + 200), policy: policy, ipAddress: nil)
        #expect(f.lockedUntil > fast)
    }

    @Test func aLockedUserGetsTheSameAnswerUntilTheWaitIsOverOrAnAdminUnlocks() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin, extra: [
                "bruteForceProtected": true, "failureFactor": 3, "waitIncrementSeconds": 60, "quickLoginCheckMilliSeconds": 0,
                "dockerV2Enabled": true,
            ])
            let id = try await api.createUser("acme", "alice", password: "pw", token: admin)
            for _ in 0..<3 {
                api.clock.advance(seconds: 2)
                #expect(try await api.login(realm: "acme", username: "alice", password: "wrong").status == .unauthorized)
            }
            // Locked: the right password gets the very answer a wrong one gets.
            let locked = try await api.login(realm: "acme", username: "alice", password: "pw")
            #expect(locked.status == .unauthorized)
            #expect(locked["error_description"]?.stringValue == "Invalid user credentials")
            let admin2 = try await api.token()
            let status = try await api.call(.get, "/admin/realms/acme/attack-detection/brute-force/users/\(id)", token: admin2)
            #expect(status["numFailures"]?.int == 3)
            #expect(status["disabled"]?.bool == true)
            // docker-v2 sees the same lock, with its one answer for every failure.
            let client = try await api.createClient("acme", ["clientId": "reg", "protocol": "docker-v2"], token: admin2)
            _ = client
            let docker = try await api.call(.get, "/realms/acme/protocol/docker-v2/auth?service=reg",
                                            headers: [.authorization: "Basic " + Data("alice:pw".utf8).base64EncodedString()])
            #expect(docker.status == .unauthorized)
            #expect(docker.text.contains("Invalid username or password."))

            api.clock.advance(seconds: 61)
            #expect(try await api.login(realm: "acme", username: "alice", password: "pw").status == .ok)
            // Success cleared the count.
            let admin3 = try await api.token()
            #expect(try await api.call(.get, "/admin/realms/acme/attack-detection/brute-force/users/\(id)", token: admin3)["numFailures"]?.int == 0)

            // Lock again, then an administrator unlocks.
            for _ in 0..<3 {
                api.clock.advance(seconds: 2)
                _ = try await api.login(realm: "acme", username: "alice", password: "wrong")
            }
            #expect(try await api.login(realm: "acme", username: "alice", password: "pw").status == .unauthorized)
            #expect(try await api.call(.delete, "/admin/realms/acme/attack-detection/brute-force/users/\(id)", token: admin3).status == .noContent)
            #expect(try await api.login(realm: "acme", username: "alice", password: "pw").status == .ok)
            await api.server.services.events.waitUntilIdle()
            let events = try await api.call(.get, "/admin/realms/acme/events?type=LOGIN_ERROR", token: admin3)
            #expect(events.items.contains { $0["error"]?.stringValue == "user_temporarily_disabled" })
        }
    }

    @Test func permanentLockoutDisablesTheUser() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin, extra: [
                "bruteForceProtected": true, "permanentLockout": true, "failureFactor": 2, "quickLoginCheckMilliSeconds": 0,
            ])
            let id = try await api.createUser("acme", "bob", password: "pw", token: admin)
            for _ in 0..<2 {
                api.clock.advance(seconds: 2)
                _ = try await api.login(realm: "acme", username: "bob", password: "wrong")
            }
            #expect(try await api.call(.get, "/admin/realms/acme/users/\(id)", token: admin)["enabled"]?.bool == false)
        }
    }

    @Test func withoutProtectionNothingIsCounted() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            let id = try await api.createUser("acme", "carl", password: "pw", token: admin)
            for _ in 0..<40 { _ = try await api.login(realm: "acme", username: "carl", password: "wrong") }
            #expect(try await api.login(realm: "acme", username: "carl", password: "pw").status == .ok)
            #expect(try await api.call(.get, "/admin/realms/acme/attack-detection/brute-force/users/\(id)", token: try await api.token())["numFailures"]?.int == 0)
        }
    }
}
