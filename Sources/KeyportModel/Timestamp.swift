/// A point in time as milliseconds since the Unix epoch: what Keycloak's representations
/// carry (`createdTimestamp`) and what the store keeps. Integer, so it round-trips exactly.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var millisecondsSince1970: Int64

    public init(millisecondsSince1970: Int64) { self.millisecondsSince1970 = millisecondsSince1970 }
    public init(secondsSince1970: Int64) {
        let (ms, overflow) = secondsSince1970.multipliedReportingOverflow(by: 1000)
        self.millisecondsSince1970 = overflow ? (secondsSince1970 < 0 ? .min : .max) : ms
    }

    public var secondsSince1970: Int64 { millisecondsSince1970 / 1000 }

    /// Saturates at the ends of time instead of trapping: a duration read from a request or an
    /// old database row can be anything, and arithmetic on it must never crash the process.
    public func adding(seconds: Int) -> Timestamp {
        let (ms, overflow) = Int64(seconds).multipliedReportingOverflow(by: 1000)
        return adding(milliseconds: overflow ? (seconds < 0 ? .min : .max) : ms)
    }

    public func adding(milliseconds: Int64) -> Timestamp {
        let (sum, overflow) = millisecondsSince1970.addingReportingOverflow(milliseconds)
        return Timestamp(millisecondsSince1970: overflow ? (milliseconds < 0 ? .min : .max) : sum)
    }

    /// Milliseconds from `other` to `self`, saturating.
    public func milliseconds(since other: Timestamp) -> Int64 {
        let (d, overflow) = millisecondsSince1970.subtractingReportingOverflow(other.millisecondsSince1970)
        return overflow ? (other.millisecondsSince1970 > 0 ? .min : .max) : d
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.millisecondsSince1970 < b.millisecondsSince1970 }

    public init(from decoder: Decoder) throws {
        self.millisecondsSince1970 = try decoder.singleValueContainer().decode(Int64.self)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(millisecondsSince1970)
    }

    public var description: String { "\(millisecondsSince1970)ms" }
}
