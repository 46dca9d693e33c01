import Crypto
import _CryptoExtras
import Foundation
import KeyportKeys

/// A public key another issuer signs with, read from its JSON Web Key Set (RFC 7517), and the
/// JWS algorithms it may verify. The algorithm is taken from the key (and the JWK's own `alg`
/// when it names one), never trusted from a token: `none`, HMAC with a public key as the secret
/// and other algorithm confusions cannot happen.
public struct VerificationKey: Sendable {
    enum Material: Sendable {
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
    }
    public let kid: String?
    /// The JWK's `alg`, when it names one: then only that algorithm.
    public let alg: String?
    let material: Material

    /// The algorithms this key's type can verify.
    var algorithms: Set<String> {
        switch material {
        case .rsa: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case .p256: ["ES256"]
        case .p384: ["ES384"]
        }
    }

    /// Whether `signature` over `input` is this key's under `alg`.
    public func isValidSignature(_ signature: Data, for input: Data, alg: String) -> Bool {
        guard algorithms.contains(alg), self.alg == nil || self.alg == alg else { return false }
        switch material {
        case .rsa(let key):
            let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
            let padding: _RSA.Signing.Padding = alg.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5
            switch alg.suffix(3) {
            case "256": return key.isValidSignature(sig, for: SHA256.hash(data: input), padding: padding)
            case "384": return key.isValidSignature(sig, for: SHA384.hash(data: input), padding: padding)
            default: return key.isValidSignature(sig, for: SHA512.hash(data: input), padding: padding)
            }
        case .p256(let key):
            guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: input)
        case .p384(let key):
            guard let sig = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: input)
        }
    }
}

/// The signing keys of a JSON Web Key Set: RSA (2,048 bits or more) and EC P-256/P-384; keys
/// for encryption, of other types or that do not parse are left out, at most `maxKeys`.
public struct JSONWebKeySet: Sendable {
    public let keys: [VerificationKey]
    public static let maxKeys = 100

    public init(keys: [VerificationKey]) { self.keys = keys }

    public enum ParseError: Error { case notAKeySet }

    struct Document: Decodable { var keys: [PublicJWK] }

    public init(json: [UInt8]) throws {
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(json)) else { throw ParseError.notAKeySet }
        keys = document.keys.prefix(Self.maxKeys).compactMap(Self.key)
    }

    /// One JWK as a verification key, or nil when it is not a signing key Keyport can use.
    public static func key(_ jwk: PublicJWK) -> VerificationKey? {
        if let use = jwk.use, use != "sig" { return nil }
        switch jwk.kty {
        case "RSA":
            guard let n = jwk.n.flatMap(Base64URL.decode), let e = jwk.e.flatMap(Base64URL.decode),
                  n.drop(while: { $0 == 0 }).count >= 256, e.count <= 8,
                  let key = try? _RSA.Signing.PublicKey(n: n, e: e)
            else { return nil }
            return VerificationKey(kid: jwk.kid, alg: jwk.alg, material: .rsa(key))
        case "EC":
            guard let x = jwk.x.flatMap(Base64URL.decode), let y = jwk.y.flatMap(Base64URL.decode) else { return nil }
            switch jwk.crv {
            case "P-256":
                guard x.count == 32, y.count == 32, let key = try? P256.Signing.PublicKey(rawRepresentation: x + y) else { return nil }
                return VerificationKey(kid: jwk.kid, alg: jwk.alg, material: .p256(key))
            case "P-384":
                guard x.count == 48, y.count == 48, let key = try? P384.Signing.PublicKey(rawRepresentation: x + y) else { return nil }
                return VerificationKey(kid: jwk.kid, alg: jwk.alg, material: .p384(key))
            default: return nil
            }
        default: return nil
        }
    }

    /// The key a token's header names by `kid`; the set's only key when the header names none,
    /// or when that key itself has no `kid` (a configured PEM key without a key id).
    public func key(kid: String?) -> VerificationKey? {
        if let kid, let named = keys.first(where: { $0.kid == kid }) { return named }
        guard keys.count == 1, kid == nil || keys[0].kid == nil else { return nil }
        return keys[0]
    }

    /// A PEM public key (Keycloak's `publicKeySignatureVerifier`, used when `useJwksUrl` is off;
    /// Keycloak also takes a certificate there, Keyport does not), named `kid` (Keycloak's
    /// `publicKeySignatureVerifierKeyId`) when given.
    public static func fromPEM(_ pem: String, kid: String?) -> JSONWebKeySet? {
        let text = pem.contains("-----BEGIN") ? pem : "-----BEGIN PUBLIC KEY-----\n\(pem)\n-----END PUBLIC KEY-----"
        if let key = try? _RSA.Signing.PublicKey(pemRepresentation: text), key.keySizeInBits >= 2048 {
            return JSONWebKeySet(keys: [VerificationKey(kid: kid, alg: nil, material: .rsa(key))])
        }
        if let key = try? P256.Signing.PublicKey(pemRepresentation: text) {
            return JSONWebKeySet(keys: [VerificationKey(kid: kid, alg: nil, material: .p256(key))])
        }
        if let key = try? P384.Signing.PublicKey(pemRepresentation: text) {
            return JSONWebKeySet(keys: [VerificationKey(kid: kid, alg: nil, material: .p384(key))])
        }
        return nil
    }
}
