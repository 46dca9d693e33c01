import Foundation

/// Finds a key that appears twice in one JSON object (the text is otherwise left to the decoder).
public enum JSONDuplicateKeys {
    public static func first<C: Collection<UInt8>>(in bytes: C) -> String? {
        // One frame per open object (its keys) or array (nil).
        var frames: [Set<String>?] = []
        var expectKey = false
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "{"):
                guard frames.count < 10_000 else { return nil }
                frames.append([])
                expectKey = true
            case UInt8(ascii: "["):
                guard frames.count < 10_000 else { return nil }
                frames.append(nil)
                expectKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !frames.isEmpty { frames.removeLast() }
                expectKey = false
            case UInt8(ascii: ","):
                if let last = frames.last, last != nil { expectKey = true }
            case UInt8(ascii: ":"):
                expectKey = false
            case UInt8(ascii: "\""):
                var raw: [UInt8] = [UInt8(ascii: "\"")]
                var escaped = false
                while let c = iterator.next() {
                    raw.append(c)
                    if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { break }
                }
                guard expectKey, case let keys?? = frames.last else { continue }
                // Only a key with escapes (`\u006b`) needs decoding to compare; most have none.
                let key = raw.contains(UInt8(ascii: "\\"))
                    ? (try? JSONDecoder().decode(String.self, from: Data(raw))) ?? String(decoding: raw, as: UTF8.self)
                    : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                if keys.contains(key) { return key }
                frames[frames.count - 1]?.insert(key)
                expectKey = false
            default:
                continue
            }
        }
        return nil
    }
}
