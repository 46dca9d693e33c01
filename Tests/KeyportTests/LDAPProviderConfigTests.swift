@testable import KeyportLDAP
import Testing

/// An LDAP provider's component config as Keycloak's admin API and realm files carry it: read with
/// Keycloak's defaults, every value checked, and the bind credential never carried to another host.
@Suite("LDAP provider settings")
struct LDAPProviderConfigTests {
    /// What Keycloak 26's admin console sends for a new OpenLDAP provider (config values are lists).
    static let keycloakConsole: [String: [String]] = [
        "enabled": ["true"], "vendor": ["other"], "connectionUrl": ["ldap://ldap.example.org:389"], "startTls": ["false"],
        "connectionTimeout": [""], "readTimeout": [""], "authType": ["simple"], "bindDn": ["cn=admin,dc=example,dc=org"],
        "bindCredential": ["secret"], "editMode": ["READ_ONLY"], "usersDn": ["ou=people,dc=example,dc=org"],
        "usernameLDAPAttribute": ["uid"], "rdnLDAPAttribute": ["uid"], "uuidLDAPAttribute": ["entryUUID"],
        "userObjectClasses": ["inetOrgPerson, organizationalPerson"], "customUserSearchFilter": [""], "searchScope": ["1"],
        "pagination": ["true"], "referral": [""], "importEnabled": ["true"], "syncRegistrations": ["false"],
        "batchSizeForSync": [""], "fullSyncPeriod": ["-1"], "changedSyncPeriod": ["-1"], "trustEmail": ["false"],
        "allowKerberosAuthentication": ["false"], "useKerberosForPasswordAuthentication": ["false"], "cachePolicy": ["DEFAULT"],
        "usePasswordModifyExtendedOp": ["false"], "validatePasswordPolicy": ["false"], "connectionPooling": ["true"],
    ]

    @Test func keycloaksConsolePayloadReadsWithItsDefaults() throws {
        let config = try LDAPProviderConfig.parse(Self.keycloakConsole)
        #expect(config.enabled && config.vendor == .other && config.editMode == .readOnly)
        #expect(config.directory.url == "ldap://ldap.example.org:389" && !config.directory.startTLS)
        #expect(config.directory.connectTimeoutMilliseconds == DirectorySettings.defaultTimeoutMilliseconds)
        #expect(config.bindDN == "cn=admin,dc=example,dc=org")
        #expect(config.userObjectClasses == ["inetOrgPerson", "organizationalPerson"])
        #expect(config.searchScope == .oneLevel && config.pagination && config.batchSizeForSync == 1_000)
        #expect(config.fullSyncPeriod == nil && config.changedSyncPeriod == nil && config.customUserSearchFilter == nil)
        #expect(config.userFilter(username: "alice") == "(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=alice))")
        #expect(config.userFilter(username: "*)(uid=*") == "(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=\\2a\\29\\28uid=\\2a))")

        // Active Directory: its attributes by default, and a custom filter joined in.
        var ad = Self.keycloakConsole
        ad["vendor"] = ["ad"]
        for key in ["usernameLDAPAttribute", "rdnLDAPAttribute", "uuidLDAPAttribute", "userObjectClasses"] { ad[key] = nil }
        ad["customUserSearchFilter"] = ["(memberOf=CN=Registry,OU=Groups,DC=corp,DC=example)"]
        ad["connectionUrl"] = ["ldaps://dc1.corp.example ldaps://dc2.corp.example:636"]
        ad["searchScope"] = ["2"]
        ad["fullSyncPeriod"] = ["86400"]
        let adConfig = try LDAPProviderConfig.parse(ad)
        #expect(adConfig.uuidAttribute == "objectGUID" && adConfig.usernameAttribute == "cn" && adConfig.searchScope == .subtree)
        #expect(adConfig.fullSyncPeriod == 86_400)
        #expect(adConfig.userFilter(username: "jo") == "(&(objectClass=person)(objectClass=organizationalPerson)(objectClass=user)(memberOf=CN=Registry,OU=Groups,DC=corp,DC=example)(cn=jo))")
    }

    @Test func wrongOrUnboundedValuesAreNamed() {
        let cases: [(String, [String], String)] = [
            ("connectionUrl", ["http://ldap.example.org"], "connectionUrl"),
            ("connectionUrl", [""], "connectionUrl is required"),
            ("editMode", ["WRITABLE"], "READ_ONLY"),
            ("editMode", ["UNSYNCED"], "READ_ONLY"),
            ("usersDn", ["not a dn"], "usersDn is not a DN"),
            ("bindDn", [""], "bindDn is required"),
            ("vendor", ["novell"], "vendor is one of"),
            ("searchScope", ["3"], "searchScope"),
            ("batchSizeForSync", ["1000000"], "batchSizeForSync is a number from 1 to 5000"),
            ("connectionTimeout", ["-5"], "connectionTimeout"),
            ("readTimeout", ["99999999999999999999"], "readTimeout"),
            ("fullSyncPeriod", ["5"], "at least 60"),
            ("usernameLDAPAttribute", ["uid)(x"], "usernameLDAPAttribute is an LDAP attribute name"),
            ("userObjectClasses", ["person,(x"], "userObjectClasses"),
            ("customUserSearchFilter", ["uid=*"], "customUserSearchFilter"),
            ("customUserSearchFilter", ["(a))((b)"], "customUserSearchFilter"),
            ("customUserSearchFilter", ["(a=\\)"], "customUserSearchFilter"),
            ("allowKerberosAuthentication", ["true"], "Kerberos"),
            ("pagination", ["yes"], "pagination is true or false"),
            ("startTls", ["true"], "ldaps://"),
            ("usersDn", [String(repeating: "ou=x,", count: 300) + "dc=org"], "usersDn is too long"),
        ]
        for (key, value, message) in cases {
            var config = Self.keycloakConsole
            config[key] = value
            if key == "startTls" { config["connectionUrl"] = ["ldaps://ldap.example.org"] }
            do {
                _ = try LDAPProviderConfig.parse(config)
                Issue.record("\(key)=\(value) was taken")
            } catch {
                #expect(error.message.contains(message), "\(key): \(error.message)")
            }
        }
        // authType none needs no bind DN.
        var anonymous = Self.keycloakConsole
        anonymous["authType"] = ["none"]
        anonymous["bindDn"] = nil
        #expect((try? LDAPProviderConfig.parse(anonymous))?.bindDN == nil)
    }

    @Test func theBindCredentialIsNeverCarriedToAnotherHostOrName() {
        let old = Self.keycloakConsole
        var same = old
        same["usersDn"] = ["ou=staff,dc=example,dc=org"]
        same["connectionUrl"] = ["LDAP://ldap.example.org:389 "]
        #expect(!LDAPProviderConfig.credentialMustBeReentered(old: old, new: same))
        for (key, value) in [("connectionUrl", "ldap://attacker.example:389"), ("connectionUrl", "ldap://ldap.example.org:3389"),
                             ("bindDn", "cn=other,dc=example,dc=org")] {
            var changed = old
            changed[key] = [value]
            #expect(LDAPProviderConfig.credentialMustBeReentered(old: old, new: changed), "\(key)")
        }
        // Dropping StartTLS would send it in clear to the same host.
        var tls = old
        tls["startTls"] = ["true"]
        #expect(LDAPProviderConfig.credentialMustBeReentered(old: tls, new: old))
        #expect(!LDAPProviderConfig.credentialMustBeReentered(old: old, new: tls))
    }

    @Test func attributeNamesAndDNs() {
        for name in ["uid", "entryUUID", "objectGUID", "userCertificate;binary", "2.5.4.3", "sAMAccountName"] {
            #expect(LDAPProviderConfig.isAttributeName(name), "\(name)")
        }
        for name in ["", "1uid", "u id", "uid=", "(uid)", "uid*", "ü"] {
            #expect(!LDAPProviderConfig.isAttributeName(name), "\(name)")
        }
        for dn in ["dc=example,dc=org", "uid=o\\,brien,ou=people,dc=example,dc=org", "CN=Jo Bloggs,OU=Users,DC=corp,DC=example"] {
            #expect(LDAPProviderConfig.isDN(dn), "\(dn)")
        }
        for dn in ["", "example.org", "dc=example,", "=x", "dc=ex\u{0}ample"] {
            #expect(!LDAPProviderConfig.isDN(dn), "\(dn)")
        }
    }
}
