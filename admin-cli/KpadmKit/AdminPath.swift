/// kcadm's paths: relative to `/admin/realms/{realm}`, except `realms…` and `serverinfo`
/// which are at the admin root.
public enum AdminPath {
    public static func resolve(_ path: String, realm: String?) throws(KpadmError) -> String {
        var p = path
        while p.hasPrefix("/") { p.removeFirst() }
        while p.hasSuffix("/") { p.removeLast() }
        guard !p.isEmpty else { throw .usage("a path is needed, e.g. users or clients/<id>/roles") }
        guard !p.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { throw .usage("'.' and '..' are not path segments: \(path)") }
        if p == "realms" || p.hasPrefix("realms/") || p == "serverinfo" { return "/admin/\(p)" }
        guard let realm, !realm.isEmpty else { throw .usage("which realm? give -r REALM") }
        return "/admin/realms/\(realm)/\(p)"
    }

    /// What `create` says it made: `users` → user, `clients/x/roles` → role, `children` → group.
    public static func thing(_ path: String) -> String {
        let last = path.split(separator: "/").last.map(String.init) ?? path
        switch last {
        case "children", "groups": return "group"
        case "roles": return "role"
        case "realms": return "realm"
        case "clients": return "client"
        case "users": return "user"
        default: return last.hasSuffix("s") ? String(last.dropLast()) : last
        }
    }
}
