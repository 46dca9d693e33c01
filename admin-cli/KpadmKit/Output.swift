import Foundation
import KeyportJSON

/// JSON on stdout (indented on a terminal, compact otherwise, keys sorted); messages for
/// people on stderr.
public enum Output {
    public static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    public static func json(_ value: JSONValue) {
        print(value.encoded(pretty: isTerminal))
    }

    public static func line(_ text: String) {
        print(text)
    }

    public static func message(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
