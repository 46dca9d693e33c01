import Foundation
import KeyportJSON

/// Finding things by the names people use, as kcadm does.
struct Lookup {
    let client: AdminClient
    let realm: String

    var base: String { "/admin/realms/\(AdminClient.escape(realm))" }

    /// A user by username; `service-account-<clientId>` (which user listings leave out, as
    /// Keycloak's do) finds that client's service account.
    func userId(username: String) async throws(KpadmError) -> String {
        let users = try await client.call("GET", "\(base)/users", query: [("username", username), ("exact", "true")]).json?.arrayValue ?? []
        if let id = users.first?["id"]?.stringValue { return id }
        let prefix = "service-account-"
        if username.hasPrefix(prefix), let id = try? await serviceAccountUserId(clientId: String(username.dropFirst(prefix.count))) {
            return id
        }
        throw .failure("no user '\(username)' in realm \(realm)")
    }

    /// The service-account user of the client `clientId`.
    func serviceAccountUserId(clientId: String) async throws(KpadmError) -> String {
        let uuid = try await clientUUID(clientId: clientId)
        guard let id = try await client.call("GET", "\(base)/clients/\(uuid)/service-account-user").json?["id"]?.stringValue else {
            throw .failure("client '\(clientId)' has no service account")
        }
        return id
    }

    func clientUUID(clientId: String) async throws(KpadmError) -> String {
        let clients = try await client.call("GET", "\(base)/clients", query: [("clientId", clientId)]).json?.arrayValue ?? []
        guard let id = clients.first?["id"]?.stringValue else { throw .failure("no client '\(clientId)' in realm \(realm)") }
        return id
    }

    func groupId(name: String?, path: String?, id: String?) async throws(KpadmError) -> String? {
        if let id { return id }
        if let path {
            let trimmed = path.hasPrefix("/") ? String(path.dropFirst()) : path
            guard let found = try await client.call("GET", "\(base)/group-by-path/\(trimmed)").json?["id"]?.stringValue else {
                throw .failure("no group '\(path)' in realm \(realm)")
            }
            return found
        }
        guard let name else { return nil }
        let groups = try await client.call("GET", "\(base)/groups", query: [("search", name)]).json?.arrayValue ?? []
        var matches: [String] = []
        func walk(_ nodes: [JSONValue]) {
            for node in nodes {
                if node["name"]?.stringValue == name, let id = node["id"]?.stringValue { matches.append(id) }
                walk(node["subGroups"]?.arrayValue ?? [])
            }
        }
        walk(groups)
        guard matches.count == 1 else {
            throw .failure(matches.isEmpty ? "no group '\(name)' in realm \(realm)" : "several groups are named '\(name)': use --gpath or --gid")
        }
        return matches[0]
    }

    /// Role representations by name (a realm role, or the client's) or by id.
    func roles(names: [String], ids: [String], clientUUID: String?) async throws(KpadmError) -> [JSONValue] {
        var result: [JSONValue] = []
        for name in names {
            let path = clientUUID.map { "\(base)/clients/\($0)/roles/\(AdminClient.escape(name))" } ?? "\(base)/roles/\(AdminClient.escape(name))"
            let missing = "no \(clientUUID == nil ? "realm role" : "role of that client") '\(name)' in realm \(realm)"
            guard let role = try await found(path, else: missing) else { throw .failure(missing) }
            result.append(role)
        }
        for id in ids {
            let missing = "no role with id '\(id)' in realm \(realm)"
            guard let role = try await found("\(base)/roles-by-id/\(AdminClient.escape(id))", else: missing) else { throw .failure(missing) }
            result.append(role)
        }
        return result
    }

    /// The JSON at `path`, or a failure naming what is missing (the server's 404 says only "Could not find role").
    func found(_ path: String, else missing: String) async throws(KpadmError) -> JSONValue? {
        do {
            return try await client.call("GET", path).json
        } catch .refused(status: 404, _) {
            throw .failure(missing)
        }
    }
}
