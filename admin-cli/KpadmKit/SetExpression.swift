import KeyportJSON

/// kcadm's `-s key=value`: the value is parsed as JSON when it is valid JSON, else taken as a
/// string — except a value that starts like a JSON array, object or string (`[`, `{`, `"`) and
/// does not parse: that is a typo in JSON, refused rather than stored as text. The key is a dotted path into nested objects (`attributes.team=a`), with quoted
/// segments for keys holding dots (`attributes."docker.grant"=["repository:x:pull"]`).
public struct SetExpression: Equatable, Sendable {
    public let path: [String]
    public let value: JSONValue

    public init(path: [String], value: JSONValue) {
        self.path = path
        self.value = value
    }

    public init(parsing text: String) throws(KpadmError) {
        guard let equals = Self.assignmentIndex(in: text) else {
            throw .usage("-s needs key=value, not '\(text)'")
        }
        let key = String(text[..<equals])
        let raw = String(text[text.index(after: equals)...])
        path = try Self.parsePath(key)
        if let parsed = JSONValue.parse(raw) {
            value = parsed
        } else if let first = raw.first, first == "[" || first == "{" || first == "\"" {
            throw .usage("-s \(key)=…: the value starts like JSON but is not valid JSON: \(raw)\n"
                + "  (a string that starts with \(first) must be written as JSON: \(key)='\"…\"')")
        } else {
            value = .string(raw)
        }
    }

    /// The first `=` outside a quoted key segment.
    static func assignmentIndex(in text: String) -> String.Index? {
        var quoted = false
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c == "\"" { quoted.toggle() }
            if c == "=" && !quoted { return index }
            index = text.index(after: index)
        }
        return nil
    }

    static func parsePath(_ key: String) throws(KpadmError) -> [String] {
        var segments: [String] = []
        var current = ""
        var quoted = false
        for c in key {
            if c == "\"" { quoted.toggle(); continue }
            if c == "." && !quoted {
                segments.append(current)
                current = ""
                continue
            }
            current.append(c)
        }
        segments.append(current)
        guard !quoted else { throw .usage("unbalanced quotes in -s key '\(key)'") }
        guard segments.allSatisfy({ !$0.isEmpty }) else { throw .usage("-s key '\(key)' has an empty part") }
        return segments
    }

    /// Sets the value at the path in `object`, creating objects on the way.
    public func apply(to object: inout JSONValue) {
        object = Self.setting(path[...], value, in: object)
    }

    static func setting(_ path: ArraySlice<String>, _ value: JSONValue, in node: JSONValue) -> JSONValue {
        guard let head = path.first else { return value }
        var dictionary = node.objectValue ?? [:]
        dictionary[head] = setting(path.dropFirst(), value, in: dictionary[head] ?? .object([:]))
        return .object(dictionary)
    }
}

/// kcadm's `-q key=value` query parameters.
public struct QueryParameter: Equatable, Sendable {
    public let name: String
    public let value: String

    public init(parsing text: String) throws(KpadmError) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { throw .usage("-q needs key=value, not '\(text)'") }
        name = String(text[..<equals])
        value = String(text[text.index(after: equals)...])
    }
}

extension JSONValue {
    /// Deep merge: objects merge key by key, everything else is replaced (kcadm's update).
    public func merging(_ other: JSONValue) -> JSONValue {
        guard let mine = objectValue, let theirs = other.objectValue else { return other }
        var merged = mine
        for (key, value) in theirs { merged[key] = mine[key].map { $0.merging(value) } ?? value }
        return .object(merged)
    }

    /// Only the named fields (dotted for nested ones), of an object or of each item of a list.
    public func projected(_ fields: [String]) -> JSONValue {
        if let items = arrayValue { return .array(items.map { $0.projected(fields) }) }
        guard objectValue != nil else { return self }
        var result: JSONValue = .object([:])
        for field in fields {
            let path = field.split(separator: ".").map(String.init)
            var node: JSONValue? = self
            for key in path { node = node?.objectValue?[key] }
            if let node { SetExpression(path: path, value: node).apply(to: &result) }
        }
        return result
    }
}
