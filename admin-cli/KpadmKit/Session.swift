import Foundation
import KeyportJSON

/// What `kpadm config credentials` keeps between commands, in `~/.keyport/kpadm.json`
/// (mode 0600). Never a password or a client secret: only tokens, which expire.
public struct Session: Codable, Equatable, Sendable {
    public var server: String
    public var realm: String
    public var clientId: String
    public var username: String?
    public var accessToken: String
    public var expiresAt: Double
    public var refreshToken: String?
    public var refreshExpiresAt: Double?

    public static var defaultPath: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".keyport/kpadm.json")
    }

    public static func load(from path: String) throws(KpadmError) -> Session? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), let session = try? JSONDecoder().decode(Session.self, from: data) else {
            throw .failure("cannot read the kpadm session in \(path): log in again with kpadm config credentials")
        }
        return session
    }

    /// Writes the session owner-only, creating the folder owner-only too.
    public func save(to path: String) throws(KpadmError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let data = try encoder.encode(self)
            let temporary = path + ".tmp"
            // Created 0600 by open(2) itself: FileManager would create it with the umask's mode
            // (0644) and change it afterwards, leaving an instant in which anyone can read the tokens.
            _ = unlink(temporary)
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw KpadmError.failure("cannot write \(temporary)") }
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == data.count else { throw KpadmError.failure("cannot write \(temporary)") }
            guard rename(temporary, path) == 0 else { throw KpadmError.failure("cannot write \(path)") }
        } catch let error as KpadmError {
            throw error
        } catch {
            throw .failure("cannot save the kpadm session to \(path): \(error.localizedDescription)")
        }
    }
}
