import Crypto
import Foundation

/// The key id Docker's libtrust gives a public key, which registry 2.x matches a token's
/// `kid` against: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 without
/// padding, in 12 groups of 4 joined by `:`.
public enum LibtrustKeyID {
    public static func compute(subjectPublicKeyInfoDER der: some DataProtocol) -> String {
        let digest = Array(SHA256.hash(data: Data(der)).prefix(30))
        let encoded = base32(digest)
        var groups: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 4, limitedBy: encoded.endIndex) ?? encoded.endIndex
            groups.append(String(encoded[index..<end]))
            index = end
        }
        return groups.joined(separator: ":")
    }

    /// RFC 4648 base32, no padding (30 bytes give exactly 48 characters).
    static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var output = ""
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return output
    }
}
