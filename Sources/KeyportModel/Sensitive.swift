/// A secret value (password, private key, client secret) that cannot leak through string
/// interpolation, `print`, a log line or an error message: its description is always `***`.
///
/// Reading the value takes an explicit `.revealed`, which makes every place that needs the
/// secret itself easy to find.
public struct Sensitive: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let revealed: String

    public init(_ value: String) { self.revealed = value }

    public var description: String { "***" }
    public var debugDescription: String { "***" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
