import Foundation
import KeyportJSON
@testable import KpadmKit
import Testing

/// `kpadm docker doctor`: each way a registry and its realm can disagree (the ones a newcomer
/// hit first) gives its own finding, naming the side to fix, with these exact words.
struct DockerDoctorTests {
    typealias Facts = DockerDoctor.Facts
    static let server = "https://kp.test"
    static let issuer = "https://kp.test/realms/acme"
    static let endpoint = "https://kp.test/realms/acme/protocol/docker-v2/auth"
    static let activeDER = Data("active certificate".utf8), passiveDER = Data("passive certificate".utf8), strangerDER = Data("another realm's".utf8)

    static func pem(_ der: Data, comment: String? = nil) -> String {
        (comment.map { "# \($0)\n" } ?? "") + "-----BEGIN CERTIFICATE-----\n\(der.base64EncodedString())\n-----END CERTIFICATE-----\n"
    }

    /// A registry set up exactly as `kpadm docker config` says, answering as it should.
    static func healthy(x5c: Bool = true) -> Facts {
        var facts = Facts(server: server, realm: "acme", service: "registry.acme.test", realmState: .found(enabled: true, dockerV2: true),
                          issuer: issuer, client: .found(protocolName: "docker-v2", enabled: true, x5c: x5c, algorithm: "RS256"))
        facts.keyportBundle = [DockerDoctor.BundleKey(algorithm: "RS256", status: "active", kid: "AAAA:BBBB", der: activeDER)]
        facts.keyportJWKS = [["kid": "AAAA:BBBB", "kty": "RSA", "n": "nnn", "e": "AQAB"]]
        facts.configPath = "config.yml"
        facts.config = ["auth.token.realm": endpoint, "auth.token.service": "registry.acme.test", "auth.token.issuer": issuer,
                        "auth.token.rootcertbundle": "/etc/docker/registry/keyport-acme.pem"]
        if !x5c { facts.config?["auth.token.jwks"] = "/etc/docker/registry/keyport-acme.jwks.json" }
        facts.registryBundle = .read(path: "/etc/docker/registry/keyport-acme.pem", text: pem(activeDER))
        facts.registryURL = "https://registry.acme.test"
        facts.challenge = .answered(status: 401, headers: ["Www-Authenticate": #"Bearer realm="\#(endpoint)",service="registry.acme.test""#], body: "")
        facts.tokenRealmURL = endpoint
        facts.tokenRealm = .answered(status: 401, headers: [:], body: "")
        facts.keyportClockOffset = 0.2
        facts.registryClockOffset = -0.4
        return facts
    }

    static func problems(_ facts: Facts) -> [String] {
        DockerDoctor.diagnose(facts).filter { $0.verdict == .problem }.map { "[\($0.side.rawValue)] \($0.message)" }
    }

    static func warnings(_ facts: Facts) -> [String] {
        DockerDoctor.diagnose(facts).filter { $0.verdict == .warning }.map { "[\($0.side.rawValue)] \($0.message)" }
    }

    @Test func aRegistrySetUpAsKeyportSaysHasNothingWrong() {
        let findings = DockerDoctor.diagnose(Self.healthy())
        #expect(findings.allSatisfy { $0.verdict == .ok }, "\(findings)")
        let fingerprint = DockerDoctor.fingerprint(Self.activeDER)
        #expect(findings.map(\.description) == [
            "ok      [keyport] docker-v2 is on for realm acme",
            "ok      [keyport] client 'registry.acme.test' is realm acme's docker-v2 client (its RS256 tokens carry x5c)",
            "ok      [registry] config.yml: service is registry.acme.test",
            "ok      [registry] config.yml: realm is \(Self.endpoint)",
            "ok      [registry] config.yml: issuer is \(Self.issuer)",
            "ok      [registry] rootcertbundle /etc/docker/registry/keyport-acme.pem holds realm acme's active RS256 key (kid AAAA:BBBB, SHA-256 \(fingerprint))",
            "ok      [registry] the registry at https://registry.acme.test asks for tokens of service registry.acme.test from \(Self.endpoint)",
            "ok      [keyport] the token realm \(Self.endpoint) answers for service registry.acme.test (HTTP 401: a login is asked for)",
            "ok      [clock] the registry's and Keyport's clocks agree within 1 s",
        ])
        #expect(fingerprint.count == 32 * 3 - 1 && fingerprint == fingerprint.uppercased())
    }

    @Test func aMissingRealmEndsTheCheck() {
        var facts = Self.healthy()
        facts.realmState = .missing
        #expect(DockerDoctor.diagnose(facts).map(\.description) == ["problem [keyport] realm acme does not exist on https://kp.test"])
    }

    @Test func theRealmSideIsNamed() {
        var off = Self.healthy()
        off.realmState = .found(enabled: true, dockerV2: false)
        #expect(Self.problems(off) == ["[keyport] docker-v2 is off for realm acme: every token request gets 404 — turn it on: kpadm docker enable -r acme"])

        var noClient = Self.healthy()
        noClient.client = .missing
        noClient.keyportBundle = []
        #expect(Self.problems(noClient) == ["[keyport] realm acme has no client 'registry.acme.test': create it with kpadm docker client create -r acme --service registry.acme.test"])

        var oidc = Self.healthy()
        oidc.client = .found(protocolName: "openid-connect", enabled: true, x5c: true, algorithm: "RS256")
        #expect(Self.problems(oidc) == ["[keyport] client 'registry.acme.test' of realm acme is an openid-connect client, not docker-v2: registries get no token for it"])

        var disabled = Self.healthy()
        disabled.client = .found(protocolName: "docker-v2", enabled: false, x5c: true, algorithm: "RS256")
        #expect(Self.problems(disabled) == ["[keyport] client 'registry.acme.test' of realm acme is disabled: every token request for it is refused"])

        var noKey = Self.healthy()
        noKey.keyportBundle = [DockerDoctor.BundleKey(algorithm: "RS256", status: "passive", kid: "P", der: Self.passiveDER)]
        #expect(Self.problems(noKey) == ["[keyport] realm acme has no active RS256 key, so registry.acme.test's tokens cannot be signed: kpadm keys rotate -r acme"])
    }

    @Test func theConfigFileSideIsNamed() {
        var wrongService = Self.healthy()
        wrongService.config?["auth.token.service"] = "registry.acme.io"
        #expect(Self.problems(wrongService) == ["[registry] config.yml: service is 'registry.acme.io', but the docker-v2 client is 'registry.acme.test': tokens name registry.acme.test as their audience and the registry refuses them (its log: token intended for another audience) — set service: registry.acme.test"])

        var wrongIssuer = Self.healthy()
        wrongIssuer.config?["auth.token.issuer"] = "http://localhost:8080/realms/acme"
        #expect(Self.problems(wrongIssuer) == ["[registry] config.yml: issuer is 'http://localhost:8080/realms/acme', but Keyport signs realm acme's tokens with iss '\(Self.issuer)': the registry refuses every token (its log: token from untrusted issuer) — set issuer: \(Self.issuer)"])

        var otherRealm = Self.healthy()
        otherRealm.config?["auth.token.realm"] = "https://kp.test/realms/other/protocol/docker-v2/auth"
        otherRealm.registryURL = nil
        otherRealm.challenge = nil
        #expect(Self.problems(otherRealm) == ["[registry] config.yml: realm is 'https://kp.test/realms/other/protocol/docker-v2/auth', but realm acme's token endpoint is \(Self.endpoint): clients are sent elsewhere for tokens — set realm: \(Self.endpoint)"])

        // Another name for the same Keyport is fine if clients reach it: a warning, not a problem.
        var otherHost = Self.healthy()
        otherHost.config?["auth.token.realm"] = "http://keyport:8080/realms/acme/protocol/docker-v2/auth"
        otherHost.registryURL = nil
        otherHost.challenge = nil
        #expect(Self.problems(otherHost) == [])
        #expect(Self.warnings(otherHost) == ["[registry] config.yml: realm is http://keyport:8080/realms/acme/protocol/docker-v2/auth, not the address Keyport publishes (\(Self.endpoint)): fine only if every client reaches Keyport there"])

        var flow = Self.healthy()
        flow.config = RegistryConfigFile.parse("auth: {token: {realm: x, service: y}}\n")
        flow.registryBundle = nil
        #expect(Self.problems(flow) == [])
        #expect(Self.warnings(flow) == ["[registry] config.yml writes auth in flow style ({…}), which the doctor does not read: write it as block YAML (kpadm docker config -r acme --service registry.acme.test --format registry-config) to have it checked"])

        var noAuth = Self.healthy()
        noAuth.config = ["http.addr": ":5000", "storage.filesystem.rootdirectory": "/var/lib/registry"]
        noAuth.registryBundle = nil
        #expect(Self.problems(noAuth) == ["[registry] config.yml has no auth.token section: the registry does not ask Keyport for tokens — write it with kpadm docker config -r acme --service registry.acme.test --format registry-config"])
    }

    @Test func whatTheRegistryTrustsMustHoldTheSigningKey() {
        var jwksOnly = Self.healthy()
        jwksOnly.config?["auth.token.rootcertbundle"] = nil
        jwksOnly.config?["auth.token.jwks"] = "/etc/docker/registry/keyport-acme.jwks.json"
        jwksOnly.registryBundle = nil
        #expect(Self.problems(jwksOnly) == ["[registry] config.yml has jwks but no rootcertbundle, and registry.acme.test's tokens carry x5c: registry 3 checks those against rootcertbundle only and refuses every token — add rootcertbundle (kpadm docker config -r acme --service registry.acme.test --format cert-bundle), or set the client's docker.token.x5c to false"])

        var kidOnly = Self.healthy(x5c: false)
        kidOnly.config?["auth.token.jwks"] = nil
        #expect(Self.problems(kidOnly) == [])
        #expect(Self.warnings(kidOnly) == ["[registry] registry.acme.test's tokens carry no x5c: registry 2.x finds their key by kid in rootcertbundle, but registry 3 only in jwks, which config.yml does not name — for registry 3 add jwks (kpadm docker config -r acme --service registry.acme.test --format jwks)"])

        var stale = Self.healthy()
        stale.registryBundle = .read(path: "/etc/docker/registry/keyport-acme.pem", text: Self.pem(Self.strangerDER))
        let active = DockerDoctor.fingerprint(Self.activeDER), stranger = DockerDoctor.fingerprint(Self.strangerDER)
        #expect(Self.problems(stale) == ["[registry] rootcertbundle /etc/docker/registry/keyport-acme.pem does not hold realm acme's active RS256 key (kid AAAA:BBBB, SHA-256 \(active)), which signs registry.acme.test's tokens: the registry refuses them (its log: untrusted key, or certificate signed by unknown authority) — write it again with kpadm docker config -r acme --service registry.acme.test --format cert-bundle -o /etc/docker/registry/keyport-acme.pem, then restart the registry (it reads the bundle only at start). It holds: SHA-256 \(stranger)"])

        var empty = Self.healthy()
        empty.registryBundle = .read(path: "b.pem", text: "not a certificate\n")
        #expect(Self.problems(empty) == ["[registry] rootcertbundle b.pem holds no certificate: the registry cannot check any token — write it with kpadm docker config -r acme --service registry.acme.test --format cert-bundle -o b.pem, then restart the registry"])

        var elsewhere = Self.healthy()
        elsewhere.registryBundle = .unreadable(path: "/etc/docker/registry/keyport-acme.pem", reason: "no such file here")
        #expect(Self.warnings(elsewhere) == ["[registry] cannot read the registry's rootcertbundle /etc/docker/registry/keyport-acme.pem (no such file here): to check it, give a copy with --cert-bundle FILE"])

        // Mid-rotation: the next key is in Keyport's bundle but not the registry's.
        var rotating = Self.healthy()
        rotating.keyportBundle.append(DockerDoctor.BundleKey(algorithm: "RS256", status: "passive", kid: "CCCC:DDDD", der: Self.passiveDER))
        #expect(Self.problems(rotating) == [])
        #expect(Self.warnings(rotating) == ["[registry] rootcertbundle /etc/docker/registry/keyport-acme.pem lacks realm acme's passive RS256 key (kid CCCC:DDDD): once it signs (kpadm keys rotate), the registry refuses its tokens until the bundle is written again and the registry restarted"])

        var jwks = Self.healthy(x5c: false)
        jwks.registryJWKS = .read(path: "k.json", text: #"{"keys":[{"kid":"OTHER","kty":"RSA","n":"x","e":"AQAB"}]}"#)
        #expect(Self.problems(jwks) == ["[registry] jwks k.json does not hold realm acme's active RS256 key (kid AAAA:BBBB): registry 3 refuses registry.acme.test's tokens (its log: token signed by untrusted key) — write it again with kpadm docker config -r acme --service registry.acme.test --format jwks -o k.json, then restart the registry"])
        jwks.registryJWKS = .read(path: "k.json", text: #"{"keys":[{"kid":"AAAA:BBBB","kty":"RSA","n":"other","e":"AQAB"}]}"#)
        #expect(Self.problems(jwks) == ["[registry] jwks k.json has kid AAAA:BBBB with another key than realm acme's: the registry refuses its tokens — write it again with kpadm docker config -r acme --service registry.acme.test --format jwks -o k.json, then restart the registry"])
        jwks.registryJWKS = .read(path: "k.json", text: #"{"keys":[{"kid":"AAAA:BBBB","kty":"RSA","n":"nnn","e":"AQAB"}]}"#)
        #expect(Self.problems(jwks) == [])
    }

    @Test func theRunningRegistrysChallengeIsChecked() {
        let url = "https://registry.acme.test"
        func challenge(_ header: String?, status: Int = 401) -> Facts {
            var facts = Self.healthy()
            facts.challenge = .answered(status: status, headers: header.map { ["WWW-Authenticate": $0] } ?? [:], body: "")
            return facts
        }
        #expect(Self.problems(challenge(nil, status: 200)) == ["[registry] the registry at \(url) answers /v2/ without a token: it does not use token auth, so Keyport decides nothing there — give it the auth.token section (kpadm docker config -r acme --service registry.acme.test --format registry-config)"])
        #expect(Self.problems(challenge(#"Basic realm="Registry Realm""#)) == ["[registry] the registry at \(url) asks for 'Basic realm=\"Registry Realm\"', not a Bearer token: its auth section is not token auth — give it the auth.token section (kpadm docker config -r acme --service registry.acme.test --format registry-config)"])
        #expect(Self.problems(challenge(#"Bearer realm="\#(Self.endpoint)",service="registry.acme.io""#)) == ["[registry] the registry at \(url) names service 'registry.acme.io' in its challenge, but the docker-v2 client is 'registry.acme.test': clients ask Keyport for tokens of another service — set its service: registry.acme.test and restart it"])
        // What the newcomer met: an older registry on the port, sending clients to another Keyport realm.
        let old = "http://127.0.0.1:8080/realms/demo/protocol/docker-v2/auth"
        #expect(Self.problems(challenge(#"Bearer realm="\#(old)",service="registry.acme.test""#)) == ["[registry] the registry at \(url) sends clients to \(old) for tokens, not to realm acme's token endpoint \(Self.endpoint): a right password then fails there with \"Invalid username or password\" (is an older registry on that port?) — set its realm: \(Self.endpoint)"])
        let sameRealmOtherHost = "http://old-keyport:9000/realms/acme/protocol/docker-v2/auth"
        #expect(Self.problems(challenge(#"Bearer realm="\#(sameRealmOtherHost)",service="registry.acme.test""#)) == ["[registry] the registry at \(url) is not running config.yml: its challenge says realm \(sameRealmOtherHost), the file says \(Self.endpoint) — is another registry on that port, or was it not restarted since the file changed?"])
        #expect(Self.problems(challenge(nil, status: 404)) == ["[registry] the registry at \(url) answered /v2/ with HTTP 404, not 401 with a Bearer challenge: is it a registry?"])

        var down = Self.healthy()
        down.challenge = .unreachable("Could not connect to the server.")
        #expect(Self.problems(down) == ["[network] cannot reach the registry at \(url)/v2/: Could not connect to the server."])
        var untrusted = Self.healthy()
        untrusted.challenge = .tls("The certificate for this server is invalid.")
        #expect(Self.problems(untrusted) == ["[network] TLS with the registry at \(url) failed: The certificate for this server is invalid. — clients need the CA that signed its certificate (docker: /etc/docker/certs.d/<host:port>/ca.crt)"])
    }

    @Test func theTokenRealmIsAskedAsClientsAskIt() {
        var off = Self.healthy()
        off.tokenRealm = .answered(status: 404, headers: [:], body: #"{"error":"docker_v2_disabled","error_description":"The docker-v2 protocol is not enabled for realm 'acme'"}"#)
        #expect(Self.problems(off) == ["[keyport] the token realm \(Self.endpoint) refuses service registry.acme.test with HTTP 404: The docker-v2 protocol is not enabled for realm 'acme'"])
        var stranger = Self.healthy()
        stranger.tokenRealm = .answered(status: 404, headers: [:], body: "<html>nginx</html>")
        #expect(Self.problems(stranger) == ["[keyport] the token realm \(Self.endpoint) refuses service registry.acme.test with HTTP 404 (not an answer of Keyport's docker-v2 endpoint)"])
        var unreachable = Self.healthy()
        unreachable.tokenRealm = .unreachable("Could not connect to the server.")
        #expect(Self.problems(unreachable) == ["[network] the token realm \(Self.endpoint) cannot be reached from here: Could not connect to the server. — docker, podman and skopeo must reach it"])
        var anonymous = Self.healthy()
        anonymous.tokenRealm = .answered(status: 200, headers: [:], body: "{}")
        anonymous.tokenRealmURL = "http://kp.test:8080/realms/acme/protocol/docker-v2/auth"
        #expect(Self.problems(anonymous) == [])
        #expect(Self.warnings(anonymous) == ["[network] the token realm http://kp.test:8080/realms/acme/protocol/docker-v2/auth is plain http: passwords cross the network in clear text — serve Keyport behind TLS"])
        var local = Self.healthy()
        local.tokenRealmURL = "http://127.0.0.1:8080/realms/acme/protocol/docker-v2/auth"
        #expect(Self.warnings(local) == [])
    }

    @Test func clocksThatDisagreeAreAProblemOnlyBeyondAMinute() {
        var ahead = Self.healthy()
        ahead.registryClockOffset = 125
        #expect(Self.problems(ahead) == ["[clock] the registry's clock is 125 s ahead of Keyport's: it refuses tokens as not yet valid or expired (its log: token not to be used before / after) — synchronise both with NTP"])
        var behind = Self.healthy()
        behind.keyportClockOffset = 300
        behind.registryClockOffset = 0
        #expect(Self.problems(behind).first?.hasPrefix("[clock] the registry's clock is 300 s behind Keyport's") == true)
        var near = Self.healthy()
        near.registryClockOffset = 30
        #expect(Self.problems(near) == [])
        var here = Self.healthy()
        here.registryURL = nil
        here.challenge = nil
        here.registryClockOffset = nil
        here.keyportClockOffset = -90
        #expect(Self.warnings(here) == ["[clock] this machine's clock is 90 s ahead of Keyport's: if the registry runs here, it refuses tokens as not yet valid or expired — synchronise with NTP"])
    }

    @Test func aRegistryConfigFileReadsAsTheRegistryReadsIt() {
        let values = RegistryConfigFile.parse("""
            version: 0.1
            # the token realm
            http:
              addr: ":5000"   # all interfaces
            auth:
              token:
                realm: https://id.acme.test/realms/acme/protocol/docker-v2/auth
                service: 'registry.acme.test'
                issuer: "https://id.acme.test/realms/acme"
                rootcertbundle: /etc/docker/registry/keyport-acme.pem
            notifications:
              endpoints:
                - name: keyport
                  url: https://id.acme.test/realms/acme/protocol/docker-v2/notifications
                  headers:
                    Authorization: [Bearer s3cr#t]
                - name: other
            storage:
              filesystem:
                rootdirectory: /var/lib/registry
            """)
        #expect(values["auth.token.realm"] == "https://id.acme.test/realms/acme/protocol/docker-v2/auth")
        #expect(values["auth.token.service"] == "registry.acme.test")
        #expect(values["auth.token.issuer"] == "https://id.acme.test/realms/acme")
        #expect(values["auth.token.rootcertbundle"] == "/etc/docker/registry/keyport-acme.pem")
        #expect(values["http.addr"] == ":5000")
        #expect(values["notifications.endpoints.0.url"] == "https://id.acme.test/realms/acme/protocol/docker-v2/notifications")
        #expect(values["notifications.endpoints.0.headers.Authorization"] == "[Bearer s3cr#t]")
        #expect(values["notifications.endpoints.1.name"] == "other")
        #expect(values["storage.filesystem.rootdirectory"] == "/var/lib/registry")
        #expect(values["version"] == "0.1")
    }

    @Test func challengesAndBundlesAreRead() {
        #expect(DockerDoctor.parseBearerChallenge(#"Bearer realm="https://id/realms/a/protocol/docker-v2/auth",service="r.test",scope="repository:x:pull""#)
            == ["realm": "https://id/realms/a/protocol/docker-v2/auth", "service": "r.test", "scope": "repository:x:pull"])
        #expect(DockerDoctor.parseBearerChallenge(#"Basic realm="x""#) == nil)
        #expect(DockerDoctor.parseBearerChallenge(#"Bearer realm="unterminated"#) == nil)
        let keys = DockerDoctor.parseBundle(Self.pem(Self.activeDER, comment: "RS256 active kid AAAA:BBBB") + Self.pem(Self.passiveDER, comment: "ES256 passive kid CCCC"))
        #expect(keys == [DockerDoctor.BundleKey(algorithm: "RS256", status: "active", kid: "AAAA:BBBB", der: Self.activeDER),
                         DockerDoctor.BundleKey(algorithm: "ES256", status: "passive", kid: "CCCC", der: Self.passiveDER)])
    }
}
