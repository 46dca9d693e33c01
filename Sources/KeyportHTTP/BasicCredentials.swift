import Foundation
import KeyportModel

/// HTTP Basic credentials (RFC 7617). The password is kept as `Sensitive`.
public struct BasicCredentials: Sendable {
    public let username: String
    public let password: Sensitive

    public init?(header: String?) {
        guard let header, header.count <= 8192 else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        username = String(text[..<colon])
        password = Sensitive(String(text[text.index(after: colon)...]))
    }
}

