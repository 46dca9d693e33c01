import KeyportModel
import KeyportStore
import Logging
import ServiceLifecycle

/// Deletes events older than each realm's `eventsExpiration` (docker-v2 events, which every
/// registry pull writes, after `dockerEventsRetention` when the realm sets none), admin events
/// older than its `adminEventsExpiration` attribute, what registries reported (as long as docker-v2
/// events, at most `RegistryEvent.limitPerRealm` a realm), and expired sessions, once at start and
/// then hourly, until the server shuts down.
struct EventRetentionService: Service {
    let store: any IdentityStore
    let environment: TimeAndRandomness
    let dockerEventsRetention: Int
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await purgeOnce()
            } catch {
                logger.warning("could not purge expired events", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }

    /// One pass: returns how many events went.
    @discardableResult
    func purgeOnce() async throws -> Int {
        let now = environment.now()
        var removed = 0
        for realm in try await store.realms() {
            // Keycloak keeps the admin events' expiry as the realm attribute `adminEventsExpiration` (seconds).
            if let text = realm.attributes["adminEventsExpiration"], let seconds = Int(text), RealmBounds.eventsExpirationSeconds.contains(seconds) {
                removed += try await store.deleteAdminEvents(realmId: realm.id, before: now.adding(seconds: -seconds))
            }
            // What registries report is kept as long as the realm's docker-v2 events.
            let registryCutoff = now.adding(seconds: -(realm.eventsExpiration ?? dockerEventsRetention))
            removed += try await store.deleteRegistryEvents(realmId: realm.id, before: registryCutoff, keeping: RegistryEvent.limitPerRealm)
            guard let seconds = realm.eventsExpiration else {
                removed += try await store.deleteEvents(realmId: realm.id, before: now.adding(seconds: -dockerEventsRetention), authMethod: "docker-v2")
                continue
            }
            removed += try await store.deleteEvents(realmId: realm.id, before: now.adding(seconds: -seconds))
        }
        _ = try await store.deleteExpiredSessions(before: now)
        _ = try await store.deleteExpiredBrowserSessions(before: now)
        _ = try await store.deleteExpiredClientAssertions(before: now)
        return removed
    }
}
