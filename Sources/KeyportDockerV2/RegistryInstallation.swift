import Foundation
import Hummingbird
import KeyportHTTP
import KeyportKeys
import KeyportModel
import KeyportTokens

/// What a registry needs to trust this realm, as Keycloak's "installation" outputs plus the
/// two files Keycloak leaves the user to find: the certificate bundle and a JWKS.
public struct RegistryInstallation: Sendable {
    let keyRing: RealmKeyRing
    let realmIssuer: RealmIssuer

    public init(keyRing: RealmKeyRing, issuer: RealmIssuer) {
        self.keyRing = keyRing
        self.realmIssuer = issuer
    }

    public static let providers = ["docker-v2-registry-config-file", "docker-v2-variable-override", "docker-v2-cert-bundle", "docker-v2-jwks"]

    public func file(provider: String, realm: Realm, client: Client) async throws -> (contentType: String, body: String)? {
        guard client.protocolName == .dockerV2 else { return nil }
        let issuer = realmIssuer.url(for: realm)
        let tokenRealm = "\(issuer)/protocol/docker-v2/auth"
        switch provider {
        case "docker-v2-registry-config-file":
            let bundle = Self.bundlePath(realm: realm, client: client), jwks = Self.jwksPath(realm: realm, client: client)
            // Which registry configuration verifies which token shape (docs/operations.md,
            // "Which registry configuration"): registry 2.x and 3.x verify a token carrying x5c
            // against rootcertbundle only; registry 3.x looks kid up in its JWKS only for tokens
            // without x5c.
            let trust = DockerClientSettings(client).x5c
                ? """
                    # Tokens carry x5c (docker.token.x5c: true, the default): registry 2.x and 3.x
                    # verify them against rootcertbundle. Save docker-v2-cert-bundle there, and
                    # refresh it (then restart the registry) after a key rotation. Registry 3.x
                    # needs the bundle too: it checks x5c tokens against the bundle only, so a JWKS
                    # alone fails every token (set docker.token.x5c to false on this client for that).
                        rootcertbundle: \(bundle)

                    """
                : """
                    # Tokens carry kid and no x5c (docker.token.x5c: false): registry 3.x finds the
                    # key by kid in the JWKS (save docker-v2-jwks there), registry 2.x by kid among
                    # rootcertbundle's certificates (save docker-v2-cert-bundle there). Keep the line
                    # your registry has; both are refreshed the same way after a key rotation.
                        rootcertbundle: \(bundle)
                        jwks: \(jwks)

                    """
            // The notifications section holds a secret shown once, so it is made on its own.
            let audit = """
                # An audit trail of pushes, pulls, deletes and mounts (kpadm docker events): its
                # section holds a secret shown once, so it is written by
                #   kpadm docker config -r \(realm.name) --service \(client.clientId) --format registry-config --notifications
                # (this file with it), or kpadm docker notifications enable (the section alone).

                """
            return ("text/yaml; charset=utf-8", audit + """
                # The registry's auth section for Keyport realm '\(realm.name)', service '\(client.clientId)'.
                auth:
                  token:
                    realm: \(tokenRealm)
                    service: \(client.clientId)
                    issuer: \(issuer)

                """ + trust)
        case "docker-v2-variable-override":
            let jwks = DockerClientSettings(client).x5c ? "" : "-e REGISTRY_AUTH_TOKEN_JWKS=\(Self.jwksPath(realm: realm, client: client)) \\\n"
            return ("text/plain; charset=utf-8", """
                -e REGISTRY_AUTH_TOKEN_REALM=\(tokenRealm) \\
                -e REGISTRY_AUTH_TOKEN_SERVICE=\(client.clientId) \\
                -e REGISTRY_AUTH_TOKEN_ISSUER=\(issuer) \\
                -e REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=\(Self.bundlePath(realm: realm, client: client)) \\

                """ + jwks)
        case "docker-v2-cert-bundle":
            return ("application/x-pem-file", try await certificateBundle(realm: realm))
        case "docker-v2-jwks":
            return ("application/json", try await jwks(realm: realm))
        default:
            return nil
        }
    }

    /// PEM certificates of every active and passive key: a registry holding the bundle keeps
    /// accepting tokens through a key rotation.
    public func certificateBundle(realm: Realm) async throws -> String {
        try await keyRing.keys(realmId: realm.id).usable.map { entry in
            "# \(entry.key.algorithm.rawValue) \(entry.key.status.rawValue) kid \(entry.key.libtrustKeyID)\n" + entry.signer.certificatePEM
        }.joined()
    }

    /// A JWKS whose `kid`s are the libtrust ids docker-v2 tokens carry (registry 3.x's `auth.token.jwks`).
    public func jwks(realm: Realm) async throws -> String {
        let keys = try await keyRing.keys(realmId: realm.id).usable.map { entry -> PublicJWK in
            var jwk = entry.signer.publicJWK
            jwk.kid = entry.key.libtrustKeyID
            return jwk
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(["keys": keys]), as: UTF8.self) + "\n"
    }

    static func bundlePath(realm: Realm, client: Client) -> String { "/etc/docker/registry/keyport-\(realm.name).pem" }
    static func jwksPath(realm: Realm, client: Client) -> String { "/etc/docker/registry/keyport-\(realm.name).jwks.json" }
}
