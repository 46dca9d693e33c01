import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import KeyportKeys

/// The pages a person sees: sign-in, a new password, logout, and errors. Server-side HTML with
/// no external resources and no script; every value is escaped; the one style sheet is inline
/// and allowed by its hash, so the policy needs no `unsafe-inline`.
enum BrowserPages {
    struct Field {
        let name: String
        let label: String
        let type: String
        let autocomplete: String
        var value: String = ""
    }

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827;margin:0}\
        main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
        h1{font-size:1.4rem;margin:0 0 .25rem}p.realm{color:#4b5563;margin:0 0 1.5rem}\
        label{display:block;font-weight:600;margin:1rem 0 .25rem}\
        input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #6b7280;border-radius:.25rem;font-size:1rem}\
        input:focus,button:focus{outline:3px solid #2563eb;outline-offset:1px}\
        button{margin-top:1.5rem;width:100%;padding:.7rem;border:0;border-radius:.25rem;background:#1d4ed8;color:#fff;font-size:1rem;font-weight:600;cursor:pointer}\
        button.secondary{background:#fff;color:#1d4ed8;border:1px solid #1d4ed8}\
        .error{background:#fef2f2;border:1px solid #b91c1c;color:#7f1d1d;padding:.75rem;border-radius:.25rem;margin-bottom:1rem}\
        .info{background:#eff6ff;border:1px solid #1d4ed8;color:#1e3a8a;padding:.75rem;border-radius:.25rem;margin-bottom:1rem}\
        a{color:#1d4ed8}\
        nav ul{list-style:none;padding:0;margin:0}p.or{margin:1.5rem 0 .5rem;color:#4b5563;text-align:center}\
        a.idp{display:block;text-align:center;padding:.6rem;border:1px solid #1d4ed8;border-radius:.25rem;margin-top:.5rem;text-decoration:none;font-weight:600}
        """

    /// `Content-Security-Policy`: nothing but the inline style above, and no framing. No
    /// `form-action`: browsers apply it to the redirect after a form (to the client's redirect
    /// URI), which it would block.
    static let contentSecurityPolicy: String = {
        let digest = Data(SHA256.hash(data: Data(style.utf8))).base64EncodedString()
        return "default-src 'none'; style-src 'sha256-\(digest)'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    }()

    static let frameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let pragma = HTTPField.Name("Pragma")!

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func page(title: String, realmName: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer"><title>\(escape(title)) · \(escape(realmName))</title><style>\(style)</style></head>
        <body><main><h1>\(escape(title))</h1><p class="realm">\(escape(realmName))</p>
        \(body)
        </main></body></html>
        """
    }

    /// A form: its message (announced to screen readers, and the fields marked invalid), its
    /// inputs in order (the first, or the first empty one, takes focus), a button. What the form
    /// carries besides what the person types is in its `action` (`BrowserSignIn.formAction`).
    static func form(action: String, message: String?, isError: Bool = true, fields: [Field], button: String, focus: String? = nil,
                     id: String? = nil) -> String {
        var html = ""
        if let message {
            html += "<div id=\"message\" class=\"\(isError ? "error" : "info")\" role=\"\(isError ? "alert" : "status")\">\(escape(message))</div>"
        }
        html += "<form\(id.map { " id=\"\($0)\"" } ?? "") action=\"\(escape(action))\" method=\"post\" novalidate>"
        let focused = focus ?? fields.first { $0.value.isEmpty }?.name ?? fields.first?.name
        for field in fields {
            let invalid = message != nil && isError ? " aria-invalid=\"true\" aria-describedby=\"message\"" : ""
            html += "<label for=\"\(field.name)\">\(escape(field.label))</label>"
            html += "<input id=\"\(field.name)\" name=\"\(field.name)\" type=\"\(field.type)\" autocomplete=\"\(field.autocomplete)\""
            html += " value=\"\(escape(field.value))\"\(invalid)\(field.name == focused ? " autofocus" : "") required>"
        }
        html += "<button type=\"submit\">\(escape(button))</button></form>"
        return html
    }

    /// `providers`: the identity providers to offer (`Sign in with …`), by name and link.
    static func login(realmName: String, action: String, username: String, message: String?, isError: Bool = true,
                      providers: [ProviderLink] = []) -> String {
        page(title: "Sign in to your account", realmName: realmName, body: form(
            action: action, message: message, isError: isError,
            fields: [Field(name: "username", label: "Username or email", type: "text", autocomplete: "username", value: username),
                     Field(name: "password", label: "Password", type: "password", autocomplete: "current-password")],
            button: "Sign In", focus: username.isEmpty ? "username" : "password", id: "kc-form-login") + providerLinks(providers))
    }

    struct ProviderLink {
        let alias: String
        let name: String
        let url: String
    }

    /// Keycloak's ids (`social-{alias}`), so scripts written for its login page find the links.
    static func providerLinks(_ providers: [ProviderLink]) -> String {
        guard !providers.isEmpty else { return "" }
        var html = "<nav id=\"kc-social-providers\" aria-label=\"Other ways to sign in\"><p class=\"or\">Or sign in with</p><ul>"
        for p in providers {
            html += "<li><a class=\"idp\" id=\"social-\(escape(p.alias))\" href=\"\(escape(p.url))\">\(escape(p.name))</a></li>"
        }
        return html + "</ul></nav>"
    }

    /// An account that exists already: the person proves it is theirs with its password, and the
    /// provider's account is linked to it.
    static func linkAccount(realmName: String, providerName: String, action: String, username: String, message: String?) -> String {
        let intro = "<div class=\"info\" role=\"status\">An account with the username or email of your \(escape(providerName)) account exists already. "
            + "If it is yours, sign in to it to link your \(escape(providerName)) account; an administrator can also link them.</div>"
        return page(title: "Account already exists", realmName: realmName, body: intro + form(
            action: action, message: message, isError: true,
            fields: [Field(name: "username", label: "Username", type: "text", autocomplete: "username", value: username),
                     Field(name: "password", label: "Password", type: "password", autocomplete: "current-password")],
            button: "Link and sign in", focus: "password", id: "kc-link-form"))
    }

    /// `cancel`: where "Cancel" leads when the application asked for the change (`kc_action`).
    static func updatePassword(realmName: String, message: String?, isError: Bool, action: String, cancel: String? = nil) -> String {
        page(title: "Update password", realmName: realmName, body: form(
            action: action, message: message, isError: isError,
            fields: [Field(name: "password-new", label: "New password", type: "password", autocomplete: "new-password"),
                     Field(name: "password-confirm", label: "Confirm password", type: "password", autocomplete: "new-password")],
            button: "Submit", id: "kc-passwd-update-form") + (cancel.map { "<p><a id=\"cancel-aia\" href=\"\(escape($0))\">Cancel</a></p>" } ?? ""))
    }

    static func logoutConfirmation(realmName: String, action: String) -> String {
        page(title: "Logging out", realmName: realmName, body: """
            <p>Do you want to log out?</p><form action="\(escape(action))" method="post">\
            <button type="submit" name="confirmLogout" value="true">Logout</button></form>
            """)
    }

    static func message(title: String, realmName: String, text: String, isError: Bool) -> String {
        page(title: title, realmName: realmName,
             body: "<div class=\"\(isError ? "error" : "info")\" role=\"\(isError ? "alert" : "status")\">\(escape(text))</div>")
    }

    /// Every page's headers: the policy above, no framing, no sniffing, no caching, no referrer.
    static func headers(_ extra: HTTPFields = [:]) -> HTTPFields {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8",
            .contentSecurityPolicy: contentSecurityPolicy,
            BrowserPages.frameOptions: "DENY",
            .xContentTypeOptions: "nosniff",
            BrowserPages.referrerPolicy: "no-referrer",
            .cacheControl: "no-store, must-revalidate, max-age=0",
            BrowserPages.pragma: "no-cache",
        ]
        headers.append(contentsOf: extra)
        return headers
    }

    static func response(_ html: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        Response(status: status, headers: headers(extra), body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}
