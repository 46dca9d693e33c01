import Foundation
import Hummingbird
import HTTPTypes

/// `application/x-www-form-urlencoded` bodies and query strings, keeping repeated keys and
/// their order (docker-v2 repeats `scope`).
public struct FormParameters: Sendable, Equatable {
    public let pairs: [(String, String)]

    public static func == (a: FormParameters, b: FormParameters) -> Bool {
        a.pairs.elementsEqual(b.pairs) { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public init(pairs: [(String, String)]) { self.pairs = pairs }

    public init(encoded: String) {
        pairs = encoded.split(separator: "&", omittingEmptySubsequences: true).map { item in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                // Most names and values need no decoding; the rest is decoded byte by byte
                // (Foundation's string calls were a fifth of a request with many scopes).
                guard s.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else { return String(s) }
                return Self.formDecoded(s.utf8)
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XY` a byte. A malformed
    /// escape leaves the text as it was (with `+` as spaces); bytes that are not UTF-8, and NUL,
    /// become U+FFFD (no name or scope holds one, so it is refused where it matters).
    static func formDecoded(_ bytes: Substring.UTF8View) -> String {
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var spaced = Array(bytes)
        for i in spaced.indices where spaced[i] == UInt8(ascii: "+") { spaced[i] = UInt8(ascii: " ") }
        var out: [UInt8] = []
        out.reserveCapacity(spaced.count)
        var i = 0
        while i < spaced.count {
            if spaced[i] == UInt8(ascii: "%") {
                guard i + 2 < spaced.count, let high = hex(spaced[i + 1]), let low = hex(spaced[i + 2]) else {
                    return String(decoding: spaced, as: UTF8.self)
                }
                // A NUL is no character of any name, scope or password here, and PostgreSQL refuses
                // it in text: it becomes U+FFFD (which matches nothing) rather than a database error.
                if high << 4 | low == 0 { out += [0xEF, 0xBF, 0xBD] } else { out.append(high << 4 | low) }
                i += 3
            } else {
                out.append(spaced[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
    public func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    /// Reads a form body (bounded by the context's upload limit).
    public static func body(of request: Request, context: some RequestContext) async throws -> FormParameters {
        let buffer = try await BodyReader.read(request, context: context)
        return FormParameters(encoded: String(buffer: buffer))
    }

    public static func query(of request: Request) -> FormParameters {
        FormParameters(encoded: request.uri.query ?? "")
    }
}

public enum BearerToken {
    /// The token of `Authorization: Bearer <token>`, if that is what the header holds.
    public static func from(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        // By byte: every admin request and userinfo comes through here, and Foundation's
        // trimming (through NSString) was a twentieth of a userinfo request.
        let bytes = Array(header.utf8)
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        var i = 0
        while i < bytes.count, bytes[i] == space { i += 1 }
        let schemeStart = i
        while i < bytes.count, bytes[i] != space { i += 1 }
        guard i - schemeStart == 6, zip(bytes[schemeStart..<i], "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        var start = i, end = bytes.count
        while start < end, bytes[start] == space || bytes[start] == tab { start += 1 }
        while end > start, bytes[end - 1] == space || bytes[end - 1] == tab { end -= 1 }
        return start < end ? String(decoding: bytes[start..<end], as: UTF8.self) : nil
    }
}

/// RFC 3986 percent-encoding of a query value: every byte but the unreserved characters
/// (`A–Z a–z 0–9 - . _ ~`) as `%XX` of its UTF-8, by byte (Foundation's
/// `addingPercentEncoding` was a fifteenth of the login page).
public enum PercentEncoding {
    public static func unreserved(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Query booleans as clients send them: `true`, `True`, `TRUE`, `false`, …
public func parseBoolean(_ value: String?) -> Bool? {
    switch value?.lowercased() {
    case "true": true
    case "false": false
    default: nil
    }
}
