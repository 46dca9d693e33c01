import Foundation
import KeyportJSON
import KeyportModel

/// A value bound to a statement's `?`: what both engines store (text, integers, booleans, bytes).
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case bool(Bool)
    case blob([UInt8])
}

/// A Swift value that binds as one `SQLValue`.
public protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .bool(self) } }
extension Array: SQLBindable where Element == UInt8 { public var sqlValue: SQLValue { .blob(self) } }
extension Timestamp: SQLBindable { public var sqlValue: SQLValue { .integer(millisecondsSince1970) } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// One statement with its arguments, written once for both engines.
public struct SQLStatement: Sendable {
    public var sql: String
    public var arguments: [SQLValue]
    /// Whether the engine may keep the prepared statement (SQLite's statement cache): true for
    /// the fixed texts; false for texts built from a request (filters, `IN` lists), which would
    /// otherwise fill the cache with one entry per shape.
    public var cacheable: Bool

    public init(_ sql: String, _ arguments: [any SQLBindable] = [], cacheable: Bool = true) {
        self.sql = sql
        self.arguments = arguments.map(\.sqlValue)
        self.cacheable = cacheable
    }

    /// Values already bound: the token path's statements skip the boxing of `SQLBindable`s.
    public init(sql: String, values: [SQLValue], cacheable: Bool = true) {
        self.sql = sql
        self.arguments = values
        self.cacheable = cacheable
    }
}

/// A result row as both drivers give it, read by position: the order is the `columns` list the
/// statement selected, declared once next to each decoder (by name, a lookup per column per
/// row was a tenth of a warm token request).
public protocol SQLRow {
    func text(_ index: Int) -> String?
    func integer(_ index: Int) -> Int64?
    func boolean(_ index: Int) -> Bool?
    func bytes(_ index: Int) -> [UInt8]?
}

extension SQLRow {
    public func string(_ index: Int) -> String { text(index) ?? "" }
    public func int(_ index: Int) -> Int { Int(clamping: integer(index) ?? 0) }
    public func optionalInt(_ index: Int) -> Int? { integer(index).map { Int(clamping: $0) } }
    public func bool(_ index: Int) -> Bool { boolean(index) ?? false }
    public func timestamp(_ index: Int) -> Timestamp { Timestamp(millisecondsSince1970: integer(index) ?? 0) }
    public func optionalTimestamp(_ index: Int) -> Timestamp? { integer(index).map(Timestamp.init(millisecondsSince1970:)) }
    public func json<T: Decodable>(_ index: Int, default value: T) -> T { JSONColumn.decode(T.self, text(index), default: value) }
}

/// The columns a decoder reads, in its order: `id, realm_id, …`, or `u.id, u.realm_id, …`.
public struct SQLColumns: Sendable {
    public let names: [String]
    /// `id, realm_id, …`, joined once.
    private let joined: String
    /// `?, ?, …` for an INSERT of every column.
    public let placeholders: String
    public init(_ names: [String]) {
        self.names = names
        joined = names.joined(separator: ", ")
        placeholders = SQLText.placeholders(names.count)
    }
    public var count: Int { names.count }
    public func list(_ alias: String? = nil) -> String {
        guard let alias else { return joined }
        return names.map { "\(alias).\($0)" }.joined(separator: ", ")
    }
}

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
