import Foundation
import KeyportDockerV2
import KeyportModel
import KeyportStore
import Logging
import ServiceLifecycle

/// `--docker-certs-dir`: keeps, for every realm with docker-v2 on, the files a registry beside
/// Keyport reads — `{realm}.pem` (its `rootcertbundle`) and `{realm}.jwks.json` (registry 3.x's
/// `jwks`) — at start and whenever they would change (a new realm, the flag turned on, a key
/// status change), checked every `interval`. Files are replaced atomically, and only when
/// their content differs, so a registry never reads half a bundle.
struct RegistryCertificateWriter: Service {
    let directory: String
    let store: any IdentityStore
    let installation: RegistryInstallation
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await syncOnce()
            } catch {
                logger.warning("could not write the registry certificate files", metadata: ["dir": "\(directory)", "error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One pass; returns the files it (re)wrote.
    @discardableResult
    func syncOnce() async throws -> [String] {
        if !FileManager.default.fileExists(atPath: directory) {
            // A registry runs as another user: it must be able to reach the folder Keyport made
            // (an operator's own folder keeps the operator's mode).
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        var written: [String] = []
        for realm in try await store.realms() where realm.enabled && realm.dockerV2Enabled {
            let files = [("\(realm.name).pem", try await installation.certificateBundle(realm: realm)),
                         ("\(realm.name).jwks.json", try await installation.jwks(realm: realm))]
            for (name, content) in files {
                let path = (directory as NSString).appendingPathComponent(name)
                if let current = FileManager.default.contents(atPath: path), current == Data(content.utf8) { continue }
                // A name of this process's own: several nodes sharing the folder (one PostgreSQL, one
                // registry) each write a whole file and rename it; the last rename wins, whole.
                let temporary = "\(path).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
                try Data(content.utf8).write(to: URL(fileURLWithPath: temporary))
                // Certificates and public keys only: readable by the registry's user whatever
                // Keyport's umask (its systemd unit sets 0077 for the database's sake).
                chmod(temporary, 0o644)
                // rename(2) replaces the old file in one step.
                guard rename(temporary, path) == 0 else {
                    unlink(temporary)
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
                }
                written.append(name)
            }
        }
        if !written.isEmpty { logger.notice("wrote registry certificate files", metadata: ["dir": "\(directory)", "files": "\(written.joined(separator: ","))"]) }
        return written
    }
}
