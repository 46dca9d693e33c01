import Foundation
import KeyportJSON

/// How both stores keep structured values in a text column: JSON with sorted keys, so the same
/// value is always the same text (exports compare byte for byte across engines).
public enum JSONColumn {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding [String: …] / [String] / Codable structs cannot fail.
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    /// A flat map (event details, attributes) by hand: a JSONEncoder per event showed in the
    /// token path's profile. Keys sorted, as above.
    public static func encode(_ value: [String: String]) -> String { JSONText.object(value) }

    public static func decode<T: Decodable>(_ type: T.Type, _ text: String?, default value: T) -> T {
        // Most rows hold an empty object or list: no decoder for those (a JSONDecoder per column
        // per row was most of a token request's read cost).
        guard let text, text != "{}", text != "[]", text != "null", let data = text.data(using: .utf8) else { return value }
        return (try? JSONDecoder().decode(T.self, from: data)) ?? value
    }
}

/// SQL text both stores build the same way.
public enum SQLText {
    /// `?, ?, ?` for an IN list (at least one, so the statement stays valid).
    public static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: max(count, 1)).joined(separator: ", ")
    }

    /// A value matched inside `LIKE … ESCAPE '\'`: its own `%`, `_` and `\` lose their meaning.
    public static func escapeLike(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }
}

/// A user row's columns, in the order the SQLite store reads them by position (by name, a
/// row's mapping lower-cased every column name it looked up: a tenth of a warm token request).
public enum UserColumns {
    public static let names = ["id", "realm_id", "username", "email", "email_verified", "first_name", "last_name", "enabled", "created_at",
                               "not_before", "attributes", "required_actions", "service_account_client_id"]

    /// `id, realm_id, …`, or `u.id, u.realm_id, …` with an alias.
    public static func list(_ alias: String? = nil) -> String {
        names.map { name in alias.map { "\($0).\(name)" } ?? name }.joined(separator: ", ")
    }
}

extension UserWithPassword {
    /// Both engines' statement (arguments: realm id, normalized username): the user's columns in
    /// `UserColumns` order, then the password's. A user has at most one credential of a type
    /// (`UNIQUE (user_id, type)`), so the join yields at most one row.
    public static let select = """
        SELECT \(UserColumns.list("u")), c.id AS password_id, c.secret AS password_secret, c.created_at AS password_created_at,
        c.user_label AS password_user_label
        FROM users u LEFT JOIN credentials c ON c.user_id = u.id AND c.type = 'password'
        WHERE u.realm_id = ? AND u.username = ?
        """
}
