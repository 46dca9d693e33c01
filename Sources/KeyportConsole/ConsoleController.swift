import Foundation
import HTTPTypes
import Hummingbird
import KeyportModel
import KeyportStore
import KeyportTokens

/// The admin console at Keycloak's path, `/admin/{realm}/console/`, and the account console at
/// `/realms/{realm}/account/`: a page each and their plain ES modules and style sheet, compiled
/// into the binary (`EmbedConsole`).
///
/// A console holds no power of its own. It signs its person in through the authorization
/// endpoint as the realm's public `security-admin-console` or `account-console` client (code
/// flow with PKCE S256), keeps the tokens in the page's memory only (never in storage a later
/// script could read), and does everything through the admin (or account) REST API with that
/// token — so what an administrator sees and may do is decided by the API's rules, delegated
/// admins included.
/// The page's policy allows scripts and styles from this server only (no inline code, no
/// `eval`), connections to this server only, and no framing.
public struct ConsoleController: Sendable {
    let store: any IdentityStore
    let issuer: RealmIssuer
    let version: String

    public init(store: any IdentityStore, issuer: RealmIssuer, version: String) {
        self.store = store
        self.issuer = issuer
        self.version = version
    }

    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
        "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
    ].joined(separator: "; ")

    static let contentTypes = ["js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "html": "text/html; charset=utf-8"]

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/admin") { _, _ in redirect(to: "\(issuer.baseURL)/admin/master/console/") }
        // The page lives at the folder's URL (its scripts are relative to it); without the
        // slash, a redirect to it.
        router.get("/admin/{realm}/console") { request, context in
            let name = context.parameters.get("realm") ?? ""
            guard request.uri.path.hasSuffix("/") else { return redirect(to: "\(issuer.baseURL)/admin/\(Self.pathEscaped(name))/console/") }
            return try await page(realmName: name, template: "console.html")
        }
        router.get("/admin/{realm}/console/{asset}") { _, context in asset(named: context.parameters.get("asset") ?? "") }

        // The account console, at Keycloak's path: the same scripts and style sheet under `resources/`.
        router.get("/realms/{realm}/account") { request, context in
            let name = context.parameters.get("realm") ?? ""
            guard request.uri.path.hasSuffix("/") else { return redirect(to: "\(issuer.baseURL)/realms/\(Self.pathEscaped(name))/account/") }
            return try await page(realmName: name, template: "account.html")
        }
        router.get("/realms/{realm}/account/resources/{asset}") { _, context in asset(named: context.parameters.get("asset") ?? "") }
    }

    func redirect(to location: String) -> Response {
        Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// A console's page for a realm that exists; its name and the server's base URL ride on
    /// the page as escaped attributes for the scripts to read.
    func page(realmName: String, template name: String) async throws -> Response {
        guard realmName.utf8.count <= RealmBounds.realmNameLength.upperBound, let realm = try await store.realm(named: realmName) else {
            return Response(status: .notFound, headers: Self.pageHeaders(contentType: "text/plain; charset=utf-8"),
                            body: .init(byteBuffer: ByteBuffer(string: "Realm not found.\n")))
        }
        let template = embeddedAssets[name] ?? ""
        let html = template
            .replacingOccurrences(of: "{{realm}}", with: Self.escape(realm.name))
            .replacingOccurrences(of: "{{base}}", with: Self.escape(issuer.baseURL))
            .replacingOccurrences(of: "{{version}}", with: Self.escape(version))
        return Response(status: .ok, headers: Self.pageHeaders(contentType: "text/html; charset=utf-8"), body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func asset(named name: String) -> Response {
        let kind = (name as NSString).pathExtension
        guard kind != "html", let text = embeddedAssets[name], let type = Self.contentTypes[kind] else {
            return Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "Not found.\n")))
        }
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-cache"]
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func pageHeaders(contentType: String) -> HTTPFields {
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-store", .contentSecurityPolicy: contentSecurityPolicy]
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return headers
    }

    /// HTML text and attribute escaping.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func pathEscaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}
