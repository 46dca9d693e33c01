/// A JSON string literal for `text`, escaped as RFC 8259 requires — for the few hot answers
/// written by hand instead of through a `JSONEncoder`.
public enum JSONText {
    public static func quoted(_ text: String) -> String {
        // Tokens and ids need no escape: copied whole (a scalar-by-scalar append of a 1 KB JWT
        // was a seventh of a warm token request's profile).
        let utf8 = text.utf8
        if !needsEscape(utf8) { return "\"" + text + "\"" }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count + 16)
        out.append(UInt8(ascii: "\""))
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case ..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default:
                // Bytes of multi-byte UTF-8 sequences are all ≥ 0x80: copied as they are.
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// A flat object with its keys sorted: `{"a":"1","b":"2"}`.
    public static func object(_ members: [String: String]) -> String {
        var out = "{"
        for (index, key) in members.keys.sorted().enumerated() {
            if index > 0 { out += "," }
            out += quoted(key) + ":" + quoted(members[key] ?? "")
        }
        return out + "}"
    }

    private static func needsEscape(_ utf8: String.UTF8View) -> Bool {
        // Over the contiguous bytes when there are (native strings): a closure per byte of a
        // 1 KB token showed in the profile.
        let scan = { (bytes: UnsafeBufferPointer<UInt8>) -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return true }
            return false
        }
        return utf8.withContiguousStorageIfAvailable(scan) ?? Array(utf8).withUnsafeBufferPointer(scan)
    }
}
