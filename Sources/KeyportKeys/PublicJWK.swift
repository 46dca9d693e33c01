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
    // Byte by byte: every token signed or checked goes through here, and Foundation's
    // `replacingOccurrences` (three string searches through NSString) was a tenth of a
    // userinfo request's time.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let standard = Data(bytes).base64EncodedData()
        var url = [UInt8]()
        url.reserveCapacity(standard.count)
        for byte in standard {
            switch byte {
            case UInt8(ascii: "+"): url.append(UInt8(ascii: "-"))
            case UInt8(ascii: "/"): url.append(UInt8(ascii: "_"))
            case UInt8(ascii: "="): continue
            default: url.append(byte)
            }
        }
        return String(decoding: url, as: UTF8.self)
    }

    /// Also takes the standard alphabet and padding, as before (a JWK from elsewhere may carry them).
    public static func decode(_ text: String) -> Data? {
        decode(utf8: text.utf8)
    }

    public static func decode(utf8 text: some Collection<UInt8>) -> Data? {
        var standard = [UInt8]()
        standard.reserveCapacity(text.count + 3)
        for byte in text {
            switch byte {
            case UInt8(ascii: "-"): standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): standard.append(UInt8(ascii: "/"))
            default: standard.append(byte)
            }
        }
        while standard.count % 4 != 0 { standard.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(standard))
    }
}
