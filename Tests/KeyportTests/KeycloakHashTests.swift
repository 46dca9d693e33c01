import Foundation
import Hummingbird
import KeyportHTTP
import KeyportJSON
import KeyportModel
@testable import KeyportPasswords
import Testing

@Suite("Keycloak password hashes")
struct KeycloakHashTests {
    /// Keycloak export credentials for the password `Secret-pw-1` (hashes computed with
    /// Python's hashlib and Debian's argon2 command).
    static let exported: [(algorithm: String, secretData: String, credentialData: String)] = [
        ("pbkdf2-sha256",
         #"{"value":"5HgMatto68U9mGi/TjeaiInYKMsF0z5s9lP00Jsqo+c55krCgrY1V1Pbjt6H5wPxRAPqXET6wsVaqGBjGqMV6A==","salt":"a2V5Y2xvYWstc2FsdC0xNg==","additionalParameters":{}}"#,
         #"{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}"#),
        ("pbkdf2-sha512",
         #"{"value":"VKHcSfr0a76HFgz0S9vEeAxreMPTIrIAUrj0gf1r+3ZwQn8g0uONUUhulyuT5WuXNqaZ/hk+ji2ykqGcDoSXxA==","salt":"a2V5Y2xvYWstc2FsdC0xNg==","additionalParameters":{}}"#,
         #"{"hashIterations":210000,"algorithm":"pbkdf2-sha512","additionalParameters":{}}"#),
        ("pbkdf2",
         #"{"value":"JikIVaGtlpZb7UcJ4Qzh+Uqc5byJV5Lo3j7m3GpgYLd6SbM6x7IpO+JMtNUkeSPEY3BzZ9/86fgX2ZQMAWmC0Q==","salt":"a2V5Y2xvYWstc2FsdC0xNg==","additionalParameters":{}}"#,
         #"{"hashIterations":20000,"algorithm":"pbkdf2","additionalParameters":{}}"#),
        ("pbkdf2-sha256 (32-byte output)",
         #"{"value":"5HgMatto68U9mGi/TjeaiInYKMsF0z5s9lP00Jsqo+c=","salt":"a2V5Y2xvYWstc2FsdC0xNg==","additionalParameters":{}}"#,
         #"{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}"#),
        ("argon2",
         #"{"value":"jp6q3IvY1fLC6KM7h4L17hT8W3i2ckEC6gL4oJjcc30=","salt":"a2V5Y2xvYWtzYWx0MTIzNA==","additionalParameters":{}}"#,
         #"{"hashIterations":3,"algorithm":"argon2","additionalParameters":{"hashLength":["32"],"memory":["7168"],"type":["id"],"version":["1.3"],"parallelism":["1"]}}"#),
    ]

    @Test func pbkdf2MatchesRFC6070() throws {
        let hash = PBKDF2Hash(digest: .sha1, iterations: 1, salt: Array("salt".utf8), hash: [UInt8](repeating: 0, count: 20))
        #expect(try hash.derive("password").map { String(format: "%02x", $0) }.joined() == "0c60c80f961f0e71f3a9b524af6012062fe037a6")
    }

    @Test(arguments: exported.map { $0.algorithm })
    func eachExportedHashVerifiesAndRehashesToArgon2id(_ algorithm: String) async throws {
        let entry = try #require(Self.exported.first { $0.algorithm == algorithm })
        let stored = try KeycloakCredential.storedHash(secretData: entry.secretData, credentialData: entry.credentialData)
        let hasher = PasswordHasher(threads: 1, randomBytes: TimeAndRandomness.live.randomBytes)
        #expect(try await hasher.verify(Sensitive("Secret-pw-2"), against: Sensitive(stored), policy: .keycloakDefault) == .mismatch)
        guard case .match(let rehashed?) = try await hasher.verify(Sensitive("Secret-pw-1"), against: Sensitive(stored), policy: .keycloakDefault) else {
            Issue.record("\(algorithm): the right password must match and be rehashed")
            return
        }
        #expect(rehashed.revealed.hasPrefix("$argon2id$v=19$m=7168,t=5,p=1$"))
    }

    @Test(arguments: [
        (#"{"value":"!!","salt":"c2FsdA=="}"#, #"{"hashIterations":1,"algorithm":"pbkdf2"}"#),
        (#"{"value":"aGFzaGhhc2hoYXNo","salt":"c2FsdA=="}"#, #"{"hashIterations":1,"algorithm":"md5"}"#),
        (#"{"value":"aGFzaGhhc2hoYXNo"}"#, #"{"hashIterations":1000,"algorithm":"pbkdf2-sha256"}"#),
        (#"{"value":"aGFzaGhhc2hoYXNo","salt":"c2FsdHNhbHQ="}"#, #"{"hashIterations":99999999,"algorithm":"pbkdf2-sha256"}"#),
        ("not json", "{}"),
    ])
    func unusableCredentialsAreRefused(_ secretData: String, _ credentialData: String) {
        #expect(throws: KeycloakCredential.Unsupported.self) {
            try KeycloakCredential.storedHash(secretData: secretData, credentialData: credentialData)
        }
    }

    /// A user carried over with each Keycloak algorithm logs in through docker-v2, and is
    /// stored as argon2id afterwards.
    @Test func carriedOverUsersLogInThroughDockerV2AndAreRehashed() async throws {
        try await APIHarness.run { api in
            let r = try await RegistryRealm.make(api)
            let store = api.server.services.store
            for (index, entry) in Self.exported.enumerated() {
                let name = "user\(index)"
                let id = try await r.user(name)
                let stored = try KeycloakCredential.storedHash(secretData: entry.secretData, credentialData: entry.credentialData)
                try await store.setCredential(Credential(id: UUID().uuidString.lowercased(), userId: id, secret: Sensitive(stored),
                                                         createdAt: api.clock.now), revokeTokensBefore: nil)
                #expect(try await r.token(name, "Secret-pw-2").status == .unauthorized, "\(entry.algorithm)")
                #expect(try await r.token(name, "Secret-pw-1").status == .ok, "\(entry.algorithm)")
                let after = try await store.credentials(userId: id).first?.secret.revealed ?? ""
                #expect(after.hasPrefix("$argon2id$v=19$m=7168,t=5,p=1$"), "\(entry.algorithm): \(after.prefix(20))")
                #expect(try await r.token(name, "Secret-pw-1").status == .ok, "\(entry.algorithm) after the rehash")
            }
        }
    }
}

@Suite("Keycloak hashed credentials through the admin API")
struct KeycloakHashedCredentialAPITests {
    @Test func usersCreatedWithKeycloakHashesLogInAndAreRehashed() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token()
            try await api.createRealm("acme", token: admin)
            for (index, entry) in KeycloakHashTests.exported.enumerated() {
                let name = "moved\(index)"
                let credential: JSONValue = ["type": "password", "secretData": .string(entry.secretData), "credentialData": .string(entry.credentialData)]
                let id = try await api.createUser("acme", name, token: admin, extra: ["credentials": [credential]])
                #expect(try await api.login(realm: "acme", username: name, password: "nope").status == .unauthorized, "\(entry.algorithm)")
                #expect(try await api.login(realm: "acme", username: name, password: "Secret-pw-1").status == .ok, "\(entry.algorithm)")
                let stored = try await api.server.services.store.credentials(userId: id).first?.secret.revealed ?? ""
                #expect(stored.hasPrefix("$argon2id$v=19$m=7168,t=5,p=1$"), "\(entry.algorithm)")
                // Never echoed back.
                #expect(!(try await api.call(.get, "/admin/realms/acme/users/\(id)/credentials", token: admin).text.contains("secretData")))
            }
            let bad: JSONValue = ["type": "password", "secretData": #"{"value":"aGFzaA=="}"#, "credentialData": #"{"algorithm":"md5"}"#]
            let refused = try await api.call(.post, "/admin/realms/acme/users", token: admin, json: ["username": "x", "credentials": [bad]])
            #expect(refused.status == .badRequest)
            #expect(refused["errorMessage"]?.stringValue == "Cannot use the hashed credential: unknown hash algorithm 'md5'")
        }
    }
}
