import Crypto
import Foundation

/// The public half of a realm key as a JSON Web Key, and its RFC 7638 thumbprint.
public struct PublicJWK: Sendable, Equatable, Codable {
    public var kty: String
    public var kid: String?
    public var use: String?
    public var alg: String?
    // RSA
    public var n: String?
    public var e: String?
    // EC
    public var crv: String?
    public var x: String?
    public var y: String?
    public var x5c: [String]?
    public var x5t: String?
    public var x5tS256: String?

    enum CodingKeys: String, CodingKey {
        case kty, kid, use, alg, n, e, crv, x, y, x5c, x5t
        case x5tS256 = "x5t#S256"
    }

    public init(kty: String, kid: String? = nil, use: String? = nil, alg: String? = nil, n: String? = nil, e: String? = nil,
                crv: String? = nil, x: String? = nil, y: String? = nil, x5c: [String]? = nil, x5t: String? = nil, x5tS256: String? = nil) {
        self.kty = kty
        self.kid = kid
        self.use = use
        self.alg = alg
        self.n = n
        self.e = e
        self.crv = crv
        self.x = x
        self.y = y
        self.x5c = x5c
        self.x5t = x5t
        self.x5tS256 = x5tS256
    }

    /// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
    public var thumbprint: String {
        let canonical: String
        switch kty {
        case "RSA": canonical = #"{"e":"\#(e ?? "")","kty":"RSA","n":"\#(n ?? "")"}"#
        default: canonical = #"{"crv":"\#(crv ?? "")","kty":"EC","x":"\#(x ?? "")","y":"\#(y ?? "")"}"#
        }
        return Base64URL.encode(SHA256.hash(data: Data(canonical.utf8)))
    }
}

public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
