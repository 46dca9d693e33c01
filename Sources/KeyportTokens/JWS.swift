import Crypto
import _CryptoExtras
import Foundation
import KeyportKeys
import KeyportModel

/// JSON Web Signature in compact form (`header.payload.signature`), RS256 and ES256 only.
///
/// Why not a general JWT library: docker-v2 needs exact control of the header (`kid` as a
/// libtrust id, `x5c`) and claims (`aud` as a string), and verification here is deliberately
/// narrow — the algorithm is taken from the key the `kid` names, never from the token, so
/// `alg: none` and algorithm confusion cannot happen.
public enum JWS {
    public struct Header: Codable, Sendable, Equatable {
        public var alg: String
        public var typ: String?
        public var kid: String?
        public var x5c: [String]?

        public init(alg: String, typ: String? = "JWT", kid: String?, x5c: [String]? = nil) {
            self.alg = alg
            self.typ = typ
            self.kid = kid
            self.x5c = x5c
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Signs `claims` with `key`, the header naming it by `kid`.
    public static func sign<Claims: Encodable>(_ claims: Claims, with key: SigningKey, kid: String, x5c: Bool = false) throws -> String {
        let header = Header(alg: key.algorithm.rawValue, kid: kid, x5c: x5c ? [Data(key.certificateDER).base64EncodedString()] : nil)
        let signingInput = Base64URL.encode(try encoder.encode(header)) + "." + Base64URL.encode(try encoder.encode(claims))
        let signature = try key.sign(Data(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    public enum VerificationError: Error, Equatable {
        case malformed
        case unknownKey
        case badSignature
    }

    /// The parts of a compact JWS, before any trust is placed in them.
    public struct Parsed: Sendable {
        public let header: Header
        public let payload: Data
        let signingInput: Data
        let signature: Data
    }

    public static func parse(_ token: String) throws -> Parsed {
        // By byte: every token checked comes through here (splitting the String by Character was
        // a twentieth of a userinfo request).
        guard token.utf8.count <= 16_384 else { throw VerificationError.malformed }
        let bytes = Array(token.utf8)
        let dot = UInt8(ascii: ".")
        guard let first = bytes.firstIndex(of: dot), let second = bytes[(first + 1)...].firstIndex(of: dot),
              !bytes[(second + 1)...].contains(dot),
              let headerData = Base64URL.decode(utf8: bytes[..<first]),
              let payload = Base64URL.decode(utf8: bytes[(first + 1)..<second]),
              let signature = Base64URL.decode(utf8: bytes[(second + 1)...]),
              let header = try? JSONDecoder().decode(Header.self, from: headerData)
        else { throw VerificationError.malformed }
        return Parsed(header: header, payload: payload, signingInput: Data(bytes[..<second]), signature: signature)
    }

    /// Verifies the signature with the key `keyFor` returns for the header's `kid`, and
    /// decodes the claims. Claims (issuer, expiry, …) are the caller's to check.
    public static func verify<Claims: Decodable>(_ token: String, as: Claims.Type, keyFor: (String) -> SigningKey?) throws -> (Header, Claims) {
        let parsed = try parse(token)
        try verifySignature(of: parsed, keyFor: keyFor)
        guard let claims = try? JSONDecoder().decode(Claims.self, from: parsed.payload) else { throw VerificationError.malformed }
        return (parsed.header, claims)
    }
}

extension JWS {
    /// Verifies a parsed token's signature with the key `keyFor` returns for its header's `kid`
    /// (for a caller that read the unverified payload first, to find the realm whose keys apply).
    public static func verifySignature(of parsed: Parsed, keyFor: (String) -> SigningKey?) throws {
        guard let kid = parsed.header.kid, let key = keyFor(kid) else { throw VerificationError.unknownKey }
        guard parsed.header.alg == key.algorithm.rawValue, key.isValidSignature(parsed.signature, for: parsed.signingInput) else {
            throw VerificationError.badSignature
        }
    }
}

extension SigningKey {
    /// Checks a JWS signature made by this key's private half.
    public func isValidSignature(_ signature: Data, for message: Data) -> Bool {
        switch material {
        case .rsa(let key):
            return key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: message, padding: .insecurePKCS1v1_5)
        case .p256(let key):
            guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.publicKey.isValidSignature(sig, for: message)
        }
    }
}
