/// A realm's signing key with its self-signed certificate and the ids registries and OIDC
/// clients use to find it. The private key never leaves the server through any API.
public struct RealmKey: Sendable, Equatable, Identifiable {
    /// The JWK `kid` (the key's RFC 7638 thumbprint).
    public var id: String
    public var realmId: String
    /// The key provider's name (Keycloak's component name, e.g. `rsa-generated`).
    public var name: String
    public var algorithm: SigningAlgorithm
    public var status: KeyStatus
    /// PKCS#8 PEM.
    public var privateKeyPEM: Sensitive
    /// DER of the self-signed X.509 certificate (CN = realm name).
    public var certificateDER: [UInt8]
    /// libtrust key id: what registry 2.x matches a docker-v2 token's `kid` against.
    public var libtrustKeyID: String
    /// RFC 7638 JWK thumbprint (base64url SHA-256).
    public var thumbprint: String
    /// Among the active keys of one algorithm, the highest priority signs (then the newest).
    public var priority: Int
    public var createdAt: Timestamp

    public init(
        id: String, realmId: String, name: String? = nil, algorithm: SigningAlgorithm, status: KeyStatus, privateKeyPEM: Sensitive,
        certificateDER: [UInt8], libtrustKeyID: String, thumbprint: String, priority: Int = 100, createdAt: Timestamp
    ) {
        self.id = id
        self.realmId = realmId
        self.name = name ?? algorithm.generatedProviderName
        self.algorithm = algorithm
        self.status = status
        self.privateKeyPEM = privateKeyPEM
        self.certificateDER = certificateDER
        self.libtrustKeyID = libtrustKeyID
        self.thumbprint = thumbprint
        self.priority = priority
        self.createdAt = createdAt
    }
}

extension RealmKey {
    /// Keys a realm may hold at once (every one is generated, parsed and kept in memory).
    public static let limitPerRealm = 20
    /// Bounds of a key's priority (Keycloak's is a long; these keep arithmetic on it safe).
    public static let priorityRange = -1_000_000_000...1_000_000_000
}

public enum SigningAlgorithm: String, Sendable, Equatable, CaseIterable {
    case rs256 = "RS256"
    case es256 = "ES256"

    /// Keycloak's provider (and default component name) that generates keys of this algorithm.
    public var generatedProviderName: String {
        switch self {
        case .rs256: "rsa-generated"
        case .es256: "ecdsa-generated"
        }
    }
}

/// `active` keys sign and verify; `passive` keys only verify (tokens in flight survive a
/// rotation); `disabled` keys do neither.
public enum KeyStatus: String, Sendable, Equatable, CaseIterable {
    case active, passive, disabled
}
