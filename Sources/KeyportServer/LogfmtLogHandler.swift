import Foundation
import KeyportHTTP
import KeyportJSON
import KeyportModel
import Logging

/// One line per event in logfmt (`time=… level=info msg=request request_id=… status=200`):
/// greppable by a person, parseable by log shippers. Values are quoted and escaped, so a
/// hostile value cannot forge a second line.
public struct LogfmtLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let output: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level, output: @escaping @Sendable (String) -> Void = LogfmtLogHandler.standardError) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        var line = "time=\(Self.timestamp()) level=\(event.level) msg=\(Self.quote(event.message.description))"
        for key in fields.keys.sorted() where key != "hb.request.id" {
            line += " \(key)=\(Self.quote(fields[key]!.description))"
        }
        output(line + "\n")
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "=" && $0 != "\\" }
        if plain { return value }
        // The same escaping as a JSON string: one home for it.
        return JSONText.quoted(value)
    }

    /// `2026-11-29T20:15:38.123Z`, from the system clock in integer arithmetic: Foundation's
    /// date formatting per log line cost more than the request.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSince1970: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec / 1_000_000)).rfc3339(milliseconds: true)
    }
}
