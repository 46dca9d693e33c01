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

extension Timestamp {
    /// RFC 3339 in UTC (`2026-11-29T20:15:38Z`, or `…38.123Z` with `milliseconds`), computed with
    /// integer arithmetic (Howard Hinnant's civil-from-days): Foundation's formatters build an ICU
    /// formatter per call, which cost more than the rest of a registry token request.
    public func rfc3339(milliseconds: Bool = false) -> String {
        let ms = millisecondsSince1970
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ n: Int64, _ width: Int) -> String {
            let digits = String(n)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if milliseconds { text += "." + pad(ms - seconds * 1000, 3) }
        return text + "Z"
    }
}
