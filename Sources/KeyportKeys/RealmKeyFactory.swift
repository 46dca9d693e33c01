import _CryptoExtras
import Crypto
import Foundation
import KeyportModel
import SwiftASN1
import X509

/// Makes a realm's signing keys: RSA-2048 for RS256 and P-256 for ES256, each with a
/// self-signed certificate (CN = realm name) that a registry can put in its
/// `rootcertbundle`.
public struct RealmKeyFactory: Sendable {
    /// Certificates last ten years, as Keycloak's generated ones do; rotation is by status, not expiry.
    public static let certificateLifetimeSeconds = 10 * 365 * 24 * 3600

    public let environment: TimeAndRandomness

    public init(environment: TimeAndRandomness) {
        self.environment = environment
    }

    /// RSA sizes a key provider may ask for (Keycloak's `keySize`); 2048 is the default.
    public static let rsaKeySizes = [2048, 3072, 4096]

    /// A new key for `realm`, ready to store. `rsaBits` is one of `rsaKeySizes` (RS256 only).
    public func makeKey(algorithm: SigningAlgorithm, realmId: String, realmName: String, status: KeyStatus = .active,
                        name: String? = nil, priority: Int = 100, rsaBits: Int = 2048) throws -> RealmKey {
        let material: SigningKey.Material = switch algorithm {
        case .rs256: .rsa(try _RSA.Signing.PrivateKey(keySize: .init(bitCount: Self.rsaKeySizes.contains(rsaBits) ? rsaBits : 2048)))
        case .es256: .p256(P256.Signing.PrivateKey())
        }
        let now = environment.now()
        let certificate = try Self.selfSignedCertificate(for: material, commonName: realmName, now: now, serial: environment.randomBytes(16))
        let key = SigningKey(material: material, certificateDER: certificate)
        let jwk = key.publicJWK
        return RealmKey(
            id: jwk.kid ?? jwk.thumbprint, realmId: realmId, name: name, algorithm: algorithm, status: status,
            privateKeyPEM: Sensitive(key.privateKeyPEM), certificateDER: certificate,
            libtrustKeyID: key.libtrustKeyID, thumbprint: jwk.thumbprint, priority: priority, createdAt: now)
    }

    /// Both keys a new realm starts with.
    public func makeRealmKeys(realmId: String, realmName: String) throws -> [RealmKey] {
        try SigningAlgorithm.allCases.map { try makeKey(algorithm: $0, realmId: realmId, realmName: realmName) }
    }

    static func selfSignedCertificate(for material: SigningKey.Material, commonName: String, now: Timestamp, serial: [UInt8]) throws -> [UInt8] {
        let name = try DistinguishedName { CommonName(commonName) }
        let publicKey: Certificate.PublicKey
        let privateKey: Certificate.PrivateKey
        let signatureAlgorithm: Certificate.SignatureAlgorithm
        switch material {
        case .rsa(let key):
            publicKey = Certificate.PublicKey(key.publicKey)
            privateKey = Certificate.PrivateKey(key)
            signatureAlgorithm = .sha256WithRSAEncryption
        case .p256(let key):
            publicKey = Certificate.PublicKey(key.publicKey)
            privateKey = Certificate.PrivateKey(key)
            signatureAlgorithm = .ecdsaWithSHA256
        }
        // Serial numbers are positive: clear the top bit.
        var serialBytes = serial
        if !serialBytes.isEmpty { serialBytes[0] &= 0x7F }
        let notBefore = Date(timeIntervalSince1970: TimeInterval(now.secondsSince1970 - 60))
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(bytes: serialBytes[...]),
            publicKey: publicKey,
            notValidBefore: notBefore,
            notValidAfter: notBefore.addingTimeInterval(TimeInterval(certificateLifetimeSeconds)),
            issuer: name,
            subject: name,
            signatureAlgorithm: signatureAlgorithm,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
            },
            issuerPrivateKey: privateKey)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}
