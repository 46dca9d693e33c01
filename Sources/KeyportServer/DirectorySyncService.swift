import KeyportUserFederation
import Logging
import ServiceLifecycle

/// Runs the realms' periodic directory syncs (`DirectoryUsers.runDueSyncs`) once a minute until
/// the server shuts down; what ran is logged.
struct DirectorySyncService: Service {
    let directories: DirectoryUsers
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                for sync in try await directories.runDueSyncs() {
                    logger.info("directory sync", metadata: ["realm": "\(sync.realm)", "provider": "\(sync.provider)", "full": "\(sync.full)",
                                                             "added": "\(sync.result.added)", "updated": "\(sync.result.updated)",
                                                             "removed": "\(sync.result.removed)", "failed": "\(sync.result.failed)"])
                }
            } catch {
                logger.warning("could not run the periodic directory syncs", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
        directories.shutdown()
    }
}
