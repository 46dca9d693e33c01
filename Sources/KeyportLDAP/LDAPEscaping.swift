/// Values a person typed, made safe to put in an LDAP filter or a DN. A username such as
/// `*)(uid=*` must find nobody, and a name with a comma must not become two RDNs.
public enum LDAPEscaping {
    /// RFC 4515 §3: in an assertion value `*`, `(`, `)`, `\` and NUL are written as `\XX`.
    /// Every other byte (UTF-8 included) is left as it is.
    public static func filterValue(_ value: String) -> String {
        var escaped: [UInt8] = []
        escaped.reserveCapacity(value.utf8.count + 8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\\"), 0:
                escaped.append(UInt8(ascii: "\\"))
                escaped += hex(byte)
            default:
                escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    /// RFC 4514 §2.4: in an attribute value of a DN, `"`, `+`, `,`, `;`, `<`, `>`, `\` are
    /// escaped with a backslash (and `=`, which RFC 4514 permits escaping and Active Directory
    /// expects), as are a leading space or `#` and a trailing space; NUL is `\00`.
    public static func dnValue(_ value: String) -> String {
        let bytes = Array(value.utf8)
        var escaped: [UInt8] = []
        escaped.reserveCapacity(bytes.count + 8)
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "<"),
                 UInt8(ascii: ">"), UInt8(ascii: "\\"), UInt8(ascii: "="):
                escaped += [UInt8(ascii: "\\"), byte]
            case 0:
                escaped += Array("\\00".utf8)
            case UInt8(ascii: " ") where index == 0 || index == bytes.count - 1:
                escaped += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "#") where index == 0:
                escaped += [UInt8(ascii: "\\"), byte]
            default:
                escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    /// Two lowercase hex digits.
    public static func hexText(_ byte: UInt8) -> String { String(decoding: hex(byte), as: UTF8.self) }

    static func hex(_ byte: UInt8) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]]
    }
}
