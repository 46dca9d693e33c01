import KeyportModel

extension IdentityStore {
    /// The role Keycloak's text form names (a mapper's `role`): a realm role's name, or
    /// `clientId.roleName` — tried at each dot, since client ids and role names may hold dots.
    public func role(qualifiedName text: String, realmId: String) async throws -> Role? {
        guard !text.isEmpty, text.utf8.count <= 512 else { return nil }
        if let role = try await role(named: text, realmId: realmId, clientId: nil) { return role }
        var index = text.startIndex
        while let dot = text[index...].firstIndex(of: ".") {
            if let client = try await client(clientId: String(text[..<dot]), realmId: realmId),
               let role = try await role(named: String(text[text.index(after: dot)...]), realmId: realmId, clientId: client.id) {
                return role
            }
            index = text.index(after: dot)
        }
        return nil
    }
}
