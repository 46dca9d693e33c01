// Keycloak reads its representations with Jackson, which turns a JSON boolean or number into
// text where a field holds strings: `"attributes": {"pkce.required": true}` is stored as
// "true". Tools send such maps (python-keycloak's fixtures, Terraform, hand-written realm
// files), so Keyport reads them the same way instead of refusing the whole object.

/// A JSON string, boolean or number, as text (`true` → "true", `5` → "5").
public struct ScalarText: Decodable, Sendable {
    public let text: String

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            text = s
        } else if let b = try? c.decode(Bool.self) {
            text = b ? "true" : "false"
        } else if let i = try? c.decode(Int64.self) {
            text = String(i)
        } else if let d = try? c.decode(Double.self) {
            text = String(d)
        } else {
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a string"))
        }
    }
}

extension KeyedDecodingContainer {
    /// Every string-to-string map of this module's representations (client, realm and
    /// component attributes, mapper configs) goes through here: synthesized `Decodable`
    /// prefers this overload to the generic one. A `null` value leaves the key out.
    func decodeIfPresent(_ type: [String: String].Type, forKey key: Key) throws -> [String: String]? {
        guard let raw = try decodeIfPresent([String: ScalarText?].self, forKey: key) else { return nil }
        return raw.compactMapValues { $0?.text }
    }
}
