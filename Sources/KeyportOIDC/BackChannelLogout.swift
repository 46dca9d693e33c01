import Foundation
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportOutboundHTTP
import KeyportStore
import KeyportTokens

/// OpenID Connect Back-Channel Logout 1.0: when a browser session ends, every client it signed
/// in that registered `backchannel.logout.url` gets a logout token (a JWT the realm signs, naming
/// the user and the session), so that its own session of the person ends too.
///
/// Bounded as everything else a request can start: at most `maxClients` deliveries per logout,
/// `window` of them at once (the next starts as one ends), within the server's outbound slots —
/// 64 in all, 16 for one realm, 4 to one destination; beyond those a delivery is skipped: a
/// relying party that never answers cannot starve the others — each within 5 seconds in all,
/// and nothing read back but the status line. Deliveries are not retried.
public struct BackChannelLogout: Sendable {
    let tokens: TokenService
    let sender: OutboundHTTP
    static let maxClients = 50
    /// Deliveries of one logout at once: two logouts of a realm fit its 16 outbound slots.
    static let window = 8
    static let eventName = "http://schemas.openid.net/event/backchannel-logout"

    public init(tokens: TokenService, sender: OutboundHTTP = .shared) {
        self.tokens = tokens
        self.sender = sender
    }

    /// Ends `session` with everything it signed in, and tells those clients: the one way a
    /// browser session ends on purpose (the person's logout, an administrator's). `false` when it
    /// was gone already.
    @discardableResult
    public func end(_ session: BrowserSession, realm: Realm) async throws -> Bool {
        let store = tokens.store
        // The clients it signed in are read before they go with it.
        var signedIn: [Client] = []
        for clientId in Set(try await store.sessions(browserSessionId: session.id, realmId: realm.id).map(\.clientId)) {
            if let client = try await store.client(id: clientId, realmId: realm.id) { signedIn.append(client) }
        }
        guard try await store.deleteBrowserSession(id: session.id, realmId: realm.id) else { return false }
        await notify(realm: realm, session: session, signedIn: signedIn)
        return true
    }

    /// The logout token for `client`: OIDC Back-Channel Logout §2.4.
    func token(realm: Realm, client: Client, userId: String, sessionId: String) async throws -> String {
        let now = tokens.environment.now().secondsSince1970
        var claims: [String: JSONValue] = [
            "iss": .string(tokens.issuer(for: realm)), "aud": .string(client.clientId), "sub": .string(userId), "iat": .number(Double(now)),
            "exp": .number(Double(now + 120)), "jti": .string(tokens.environment.newID()), "typ": "Logout",
            "events": .object([Self.eventName: .object([:])]),
        ]
        if client.attributes["backchannel.logout.session.required"] != "false" { claims["sid"] = .string(sessionId) }
        let keys = try await tokens.keyRing.keys(realmId: realm.id)
        guard let signer = keys.signer(for: .rs256) else { throw TokenServiceError.noActiveKey(realm.name) }
        return try JWS.sign(JSONValue.object(claims), with: signer.signer, kid: signer.key.id)
    }

    /// Tells the clients `signedIn` (those with a `backchannel.logout.url`) that `session` ended;
    /// returns the clientIds that confirmed (2xx).
    @discardableResult
    func notify(realm: Realm, session: BrowserSession, signedIn: [Client]) async -> [String] {
        let targets = signedIn.filter { !($0.attributes["backchannel.logout.url"] ?? "").isEmpty }.prefix(Self.maxClients)
        guard !targets.isEmpty else { return [] }
        return await withTaskGroup(of: String?.self) { group in
            var pending = targets.makeIterator()
            func start() -> Bool {
                guard let client = pending.next() else { return false }
                group.addTask {
                    guard let url = client.attributes["backchannel.logout.url"],
                          let token = try? await token(realm: realm, client: client, userId: session.userId, sessionId: session.id)
                    else { return nil }
                    let status = await sender.post(url: url, form: "logout_token=\(token)", partition: realm.id)
                    return (200..<300).contains(status ?? 0) ? client.clientId : nil
                }
                return true
            }
            for _ in 0..<Self.window { guard start() else { break } }
            var confirmed: [String] = []
            while let result = await group.next() {
                if let result { confirmed.append(result) }
                _ = start()
            }
            return confirmed.sorted()
        }
    }
}
