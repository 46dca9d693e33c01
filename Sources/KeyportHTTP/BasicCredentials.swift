import Foundation
import KeyportModel

/// HTTP Basic credentials (RFC 7617). The password is kept as `Sensitive`.
public struct BasicCredentials: Sendable {
    public let username: String
    public let password: Sensitive

    public init?(header: String?) {
        guard let header, header.utf8.count <= 8192 else { return nil }
        let parts = header.utf8.split(separator: UInt8(ascii: " "), maxSplits: 1)
        guard parts.count == 2, String(Substring(parts[0])).lowercased() == "basic",
              let bytes = Base64.decode(Self.trimmed(parts[1])),
              let text = String(validating: bytes, as: UTF8.self), let colon = text.firstIndex(of: ":")
        else { return nil }
        username = String(text[..<colon])
        password = Sensitive(String(text[text.index(after: colon)...]))
    }

    /// Without the spaces and tabs around it.
    static func trimmed(_ bytes: Substring.UTF8View) -> [UInt8] {
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        return Array(bytes.drop(while: isBlank).reversed().drop(while: isBlank).reversed())
    }
}

/// Standard base64 (RFC 4648 §4) with its padding, as RFC 7617 sends it — strict: any other byte,
/// a missing pad or a length that is not a multiple of four is not base64. By hand, because
/// Foundation's decoder and string bridging showed in the token path's profile.
enum Base64 {
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func decode(_ input: [UInt8]) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let last = index + 4 == input.count
            let c2 = input[index + 2], c3 = input[index + 3]
            let pads = last ? (c3 == UInt8(ascii: "=") ? (c2 == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            var group: UInt32 = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                let value: UInt8
                if offset >= 4 - pads {
                    value = 0
                } else {
                    value = values[Int(byte)]
                    guard value != 0xFF else { return nil }
                }
                group = group << 6 | UInt32(value)
            }
            out.append(UInt8(truncatingIfNeeded: group >> 16))
            if pads < 2 { out.append(UInt8(truncatingIfNeeded: group >> 8)) }
            if pads < 1 { out.append(UInt8(truncatingIfNeeded: group)) }
            index += 4
        }
        return out
    }
}

