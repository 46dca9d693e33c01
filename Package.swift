// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way: model ← store ← (passwords, keys, auth) ← server ← executables.
let package = Package(
    name: "Keyport",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "keyport", targets: ["keyport"]),
        .executable(name: "keyport-bench", targets: ["keyport-bench"]),
        .executable(name: "bare-hummingbird", targets: ["bare-hummingbird"]),
        .executable(name: "kpadm", targets: ["kpadm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // libargon2 from the system (Debian: libargon2-dev).
        .systemLibrary(
            name: "CArgon2",
            pkgConfig: "libargon2",
            providers: [.apt(["libargon2-dev"])]
        ),
        // OpenLDAP's client library from the system (Debian: libldap-dev), the reference client.
        .systemLibrary(
            name: "CLDAP",
            pkgConfig: "ldap",
            providers: [.apt(["libldap-dev"])]
        ),
        .target(name: "KeyportModel"),
        // The version and the git revision, for --version on both executables.
        .plugin(name: "BuildInfo", capability: .buildTool()),
        .target(name: "KeyportBuildInfo", plugins: ["BuildInfo"]),
        .target(name: "KeyportStore", dependencies: ["KeyportModel", .product(name: "Crypto", package: "swift-crypto")]),
        // Every statement, binding and row decoder of the store, once, for both engines (a dialect
        // writes what differs); the engines below keep connections, transactions and locks.
        .target(name: "KeyportSQL", dependencies: ["KeyportModel", "KeyportStore", "KeyportJSON"]),
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"]
        ),
        .target(
            name: "KeyportSQLite",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportSQL",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for reading rows straight off a statement (SQLiteStatements.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // The shared store of several nodes: the same protocol on PostgreSQL (postgres-nio).
        .target(
            name: "KeyportPostgres",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportSQL",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        .target(
            name: "KeyportPasswords",
            dependencies: [
                "CArgon2", "KeyportModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "KeyportKeys",
            dependencies: [
                "KeyportModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // Authentication: passwords checked, sessions and their tokens, what the token path reuses.
        .target(
            name: "KeyportAuth",
            dependencies: ["KeyportModel", "KeyportStore", "KeyportPasswords", "KeyportKeys",
                           .product(name: "Crypto", package: "swift-crypto")]
        ),
        // What a realm, client, user, role or group becomes from Keycloak's representations, for every door.
        .target(
            name: "KeyportProvisioning",
            dependencies: ["KeyportModel", "KeyportStore", "KeyportAuth", "KeyportKeys", "KeyportPasswords", "KeycloakRepresentations", "KeyportFederation",
                           // LDAP providers and mappers checked by the parsers that run them.
                           "KeyportLDAP"]
        ),
        // Personal access tokens: made, shown, revoked and checked, with their registry grants.
        .target(
            name: "KeyportAccessTokens",
            dependencies: ["KeyportModel", "KeyportStore", "KeyportAuth", "KeycloakRepresentations", "DockerV2Grammar"]
        ),
        // The event log's writer: what is worth a row, batched off the request path.
        .target(name: "KeyportEvents", dependencies: ["KeyportModel", "KeyportStore"]),
        .target(
            name: "KeyportTokens",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportKeys",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Any JSON value; shared by the server and kpadm.
        .target(name: "KeyportJSON"),
        // Keycloak's JSON shapes, once, for the admin API and realm files.
        .target(name: "KeycloakRepresentations", dependencies: ["KeyportModel", "KeyportJSON"]),
        // What every HTTP surface shares: the request context, body and header parsing.
        .target(
            name: "KeyportHTTP",
            dependencies: [
                "KeyportModel", "KeyportJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // The admin console: its pages and plain ES modules, compiled in; every action it takes
        // is an admin API call with the signed-in administrator's token.
        .executableTarget(name: "AssetEmbedder"),
        .plugin(name: "EmbedConsole", capability: .buildTool(), dependencies: ["AssetEmbedder"]),
        .target(
            name: "KeyportConsole",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportTokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            exclude: ["Assets"],
            plugins: ["EmbedConsole"]
        ),
        // The server's own outbound HTTP calls (back-channel logout, identity providers' JWKS): bounded, no redirects.
        .target(
            name: "KeyportOutboundHTTP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Directories (LDAP, Active Directory): libldap's blocking calls on threads of their own,
        // bounded per directory, per realm and in all; filters and DNs escaped.
        .target(
            name: "KeyportLDAP",
            dependencies: [
                "CLDAP",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // People from directories at sign-in: imported from a realm's LDAP providers, their
        // passwords checked by a bind, their profile, groups and roles brought in by the mappers.
        .target(
            name: "KeyportUserFederation",
            dependencies: ["KeyportModel", "KeyportStore", "KeyportAuth", "KeyportLDAP", "KeyportProvisioning"]
        ),
        // Identities from elsewhere: another issuer's signed JWTs (a CI job's, a workload's) checked
        // against the realm's identity providers, for every door that accepts them.
        .target(
            name: "KeyportFederation",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportKeys", "KeyportJSON", "KeyportOutboundHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "KeyportOIDC",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportAuth", "KeyportKeys", "KeyportTokens", "KeyportHTTP", "KeyportPasswords",
                "KeycloakRepresentations", "KeyportEvents", "KeyportAccessTokens", "KeyportJSON", "DockerV2Grammar", "KeyportDockerV2",
                "KeyportOutboundHTTP", "KeyportFederation", "KeyportProvisioning",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The docker-v2 scope and grant grammar, with no dependencies: the server and kpadm share it.
        .target(name: "DockerV2Grammar"),
        .target(
            name: "KeyportDockerV2",
            dependencies: [
                "DockerV2Grammar", "KeyportModel", "KeyportStore", "KeyportAuth", "KeyportKeys", "KeyportTokens", "KeyportHTTP", "KeyportJSON",
                "KeyportEvents", "KeyportAccessTokens", "KeyportFederation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "KeyportAdminAPI",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportAuth", "KeyportKeys", "KeyportTokens", "KeyportHTTP", "KeyportPasswords",
                "KeyportProvisioning", "KeyportEvents", "KeyportAccessTokens", "KeycloakRepresentations", "KeyportJSON",
                // Realms from full representations and partial imports: the realm file importer's rules.
                "KeyportRealmExchange",
                // An identity provider's discovery document, read for the administrator (import-config).
                "KeyportOutboundHTTP",
                // A directory's connection test, run for the administrator (testLDAPConnection).
                "KeyportLDAP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Keycloak's realm export format, both ways.
        .target(
            name: "KeyportRealmExchange",
            dependencies: ["KeyportModel", "KeyportStore", "KeyportAuth", "KeyportProvisioning", "KeyportPasswords", "KeyportJSON", "KeycloakRepresentations",
                           // LDAP mappers' targets resolved from the file's roles and groups.
                           "KeyportLDAP"]
        ),
        .target(
            name: "KeyportServer",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportSQLite", "KeyportPostgres", "KeyportPasswords", "KeyportKeys", "KeyportAuth",
                "KeyportTokens", "KeyportHTTP", "KeyportJSON", "KeyportOIDC", "KeyportAdminAPI", "KeyportDockerV2", "KeyportRealmExchange", "KeyportBuildInfo",
                "KeyportProvisioning", "KeyportEvents", "DockerV2Grammar", "KeyportConsole", "KeyportFederation", "KeyportOutboundHTTP",
                "KeyportUserFederation", "KeyportLDAP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "keyport",
            dependencies: [
                "KeyportServer", "KeyportModel", "KeyportStore", "KeyportSQLite", "KeyportPostgres", "KeyportAuth", "KeyportRealmExchange", "KeyportBuildInfo", "KeyportPasswords",
                "KeyportProvisioning",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // kpadm, the admin CLI: it only talks to the admin REST API, so it depends on no server module.
        .target(
            name: "KpadmKit",
            dependencies: [
                "KeyportJSON", "DockerV2Grammar", "KeyportBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "admin-cli/KpadmKit"
        ),
        .executableTarget(name: "kpadm", dependencies: ["KpadmKit"], path: "admin-cli/kpadm"),
        // Programs that print figures; also the write load of the crash-safety test.
        .executableTarget(
            name: "keyport-bench",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportSQLite", "KeyportPasswords",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/KeyportBench"
        ),
        // The benchmark's floor: Hummingbird with nothing of Keyport's.
        .executableTarget(
            name: "bare-hummingbird",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Benchmarks/BareHummingbird"
        ),
        .testTarget(
            name: "KeyportTests",
            dependencies: [
                "KeyportModel", "KeyportStore", "KeyportSQL", "KeyportSQLite", "KeyportPostgres", "KeyportPasswords", "KeyportKeys",
                "KeyportAuth", "KeyportProvisioning", "KeyportEvents", "KeyportAccessTokens", "KeyportServer", "KeyportHTTP", "KeyportTokens", "KeyportOIDC", "KeyportAdminAPI", "KeyportDockerV2", "DockerV2Grammar", "KpadmKit", "KeyportRealmExchange", "KeycloakRepresentations", "KeyportFederation", "KeyportOutboundHTTP",
                "KeyportJSON", "KeyportLDAP", "KeyportUserFederation",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
