import _CryptoExtras
import Crypto
import Foundation
import KeyportKeys
import KeyportModel
import SwiftASN1
import Testing
import X509

@Suite("Realm keys")
struct RealmKeyTests {
    /// Tests/Vectors/README.md
    static let libtrustVectors: [(file: String, kid: String)] = [
        ("rfc7515-a2.pub.pem", "N7IT:YJBV:UNQ6:PRMI:ZUL7:KX22:2PPQ:C55G:NQLS:PJVC:ACCF:6TL2"),
        ("rsa2048.pem", "HFSY:26B3:GNEM:YEXM:LXZW:2LWI:FPK3:KXT2:R4OA:B72N:L2W7:5BZD"),
        ("ecp256.pem", "6JSN:YSS6:JCUZ:K7OS:SHB7:5ZDV:2UQW:PTAX:3XOD:A6VC:DRXI:GE6L"),
    ]

    @Test(arguments: libtrustVectors)
    func libtrustKeyIDsMatchTheVectors(file: String, kid: String) throws {
        let pem = try String(contentsOf: Paths.vectors.appendingPathComponent(file), encoding: .utf8)
        let spki: Data
        if pem.contains("BEGIN PUBLIC KEY") {
            spki = try _RSA.Signing.PublicKey(pemRepresentation: pem).derRepresentation
        } else if let rsa = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) {
            spki = rsa.publicKey.derRepresentation
            #expect(SigningKey(material: .rsa(rsa), certificateDER: []).libtrustKeyID == kid)
        } else {
            let ec = try P256.Signing.PrivateKey(pemRepresentation: pem)
            spki = ec.publicKey.derRepresentation
            #expect(SigningKey(material: .p256(ec), certificateDER: []).libtrustKeyID == kid)
        }
        #expect(LibtrustKeyID.compute(subjectPublicKeyInfoDER: spki) == kid)
    }

    /// RFC 7638 §3.1's worked example.
    /// RFC 4648 §10's vectors in the URL alphabet, and the two bytes that differ from standard base64.
    @Test func base64URLMatchesRFC4648() {
        let vectors: [(String, String)] = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Data(plain.utf8))
        }
        #expect(Base64URL.encode([0xfb, 0xff, 0xbf]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == Data([0xfb, 0xff, 0xbf]))
        #expect(Base64URL.decode("Zg==") == Data("f".utf8))
        #expect(Base64URL.decode("Zm9v!") == nil)
        #expect(Base64URL.decode("Zm9v\u{e9}") == nil)
    }

    @Test func jwkThumbprintMatchesRFC7638() {
        let jwk = PublicJWK(kty: "RSA", n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
                        e: "AQAB")
        #expect(jwk.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func aNewRealmKeyCarriesAParsableSelfSignedCertificate(algorithm: SigningAlgorithm) throws {
        let clock = TestClock()
        let factory = RealmKeyFactory(environment: testEnvironment(clock: clock))
        let key = try factory.makeKey(algorithm: algorithm, realmId: "r1", realmName: "acme")
        #expect(key.status == .active)
        #expect(key.algorithm == algorithm)

        let certificate = try Certificate(derEncoded: key.certificateDER)
        #expect(certificate.subject.description == "CN=acme")
        #expect(certificate.issuer == certificate.subject)
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        let now = Date(timeIntervalSince1970: TimeInterval(clock.now.secondsSince1970))
        #expect(certificate.notValidBefore <= now && now < certificate.notValidAfter)
        #expect(certificate.notValidAfter.timeIntervalSince(now) > 9 * 365 * 24 * 3600)

        // The certificate holds the stored private key's public key, and the ids derive from it.
        let loaded = try SigningKey(key)
        var spki = DER.Serializer()
        try spki.serialize(certificate.publicKey)
        #expect(Data(spki.serializedBytes) == loaded.subjectPublicKeyInfoDER)
        #expect(key.libtrustKeyID == LibtrustKeyID.compute(subjectPublicKeyInfoDER: loaded.subjectPublicKeyInfoDER))
        #expect(key.libtrustKeyID.split(separator: ":").count == 12)
        #expect(key.thumbprint == loaded.publicJWK.thumbprint)
        #expect(key.id == key.thumbprint)
        #expect(loaded.publicJWK.x5c == [Data(key.certificateDER).base64EncodedString()])
        #expect(key.privateKeyPEM.revealed.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect("\(key)".contains("***") && !"\(key)".contains("PRIVATE KEY"))
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func signaturesVerifyWithTheCertificatesPublicKey(algorithm: SigningAlgorithm) throws {
        let key = try RealmKeyFactory(environment: testEnvironment()).makeKey(algorithm: algorithm, realmId: "r1", realmName: "acme")
        let signer = try SigningKey(key)
        let message = Data("header.payload".utf8)
        let signature = try signer.sign(message)
        switch signer.material {
        case .rsa(let rsa):
            #expect(rsa.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: message, padding: .insecurePKCS1v1_5))
        case .p256(let ec):
            #expect(signature.count == 64)
            #expect(ec.publicKey.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: signature), for: message))
        }
    }

    @Test func aCorruptStoredKeyIsReportedNotCrashed() throws {
        var key = try RealmKeyFactory(environment: testEnvironment()).makeKey(algorithm: .es256, realmId: "r1", realmName: "acme")
        key.privateKeyPEM = Sensitive("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        #expect(throws: KeyError.unreadablePrivateKey) { try SigningKey(key) }
    }
}
