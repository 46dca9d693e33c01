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
            guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw KpadmError.failure("cannot write \(temporary)")
            }
            chmod(temporary, 0o600)
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch let error as KpadmError {
            throw error
        } catch {
            throw .failure("cannot save the kpadm session to \(path): \(error.localizedDescription)")
        }
    }
}
