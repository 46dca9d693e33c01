import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway OpenLDAP server (Debian's `slapd`, from `scripts/install-deps --test`): its own
/// folder, an mdb database loaded with `slapadd`, plain LDAP and LDAPS on free loopback ports,
/// and a certificate made for the run. Gone when the value is.
final class Slapd: @unchecked Sendable {
    static let suffix = "dc=example,dc=org"
    static let adminDN = "cn=admin,dc=example,dc=org"
    static let adminPassword = "admin-secret"

    let folder: URL
    let port: Int
    let tlsPort: Int
    /// The CA that signed the server's certificate (for 127.0.0.1 and localhost).
    let caFile: String
    /// A CA the server's certificate does not chain to.
    let otherCAFile: String
    private let process: ChildProcess

    var url: String { "ldap://127.0.0.1:\(port)" }
    var tlsURL: String { "ldaps://127.0.0.1:\(tlsPort)" }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Active Directory's attributes a test directory can carry (an auxiliary class, `adUser`):
    /// `sAMAccountName`, `userAccountControl` and a `memberOf` kept by hand.
    static let activeDirectorySchema = """
    attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
    attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
    attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
    objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'adUser' SUP top AUXILIARY MAY ( sAMAccountName $ userAccountControl $ memberOf ) )

    """

    /// `ldif` is added below the suffix's own entry and `ou=people` and `ou=groups`; `schema`
    /// (slapd.conf schema statements) is loaded besides the standard ones.
    init(ldif: String = "", schema: String = "") throws {
        folder = temporaryDirectory()
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        // Which directory answers: a port found free can be taken by another test's slapd before
        // this one binds it, and then that one would answer here.
        let marker = "keyport-test-\(UInt64.random(in: 0...UInt64.max))"
        caFile = folder.appendingPathComponent("ca.pem").path
        otherCAFile = folder.appendingPathComponent("other-ca.pem").path
        try Self.makeCertificates(in: folder)
        let schemaFile = folder.appendingPathComponent("extra.schema")
        try schema.write(to: schemaFile, atomically: true, encoding: .utf8)
        let config = """
        include /etc/ldap/schema/core.schema
        include /etc/ldap/schema/cosine.schema
        include /etc/ldap/schema/inetorgperson.schema
        include /etc/ldap/schema/nis.schema
        include \(schemaFile.path)
        pidfile \(folder.path)/slapd.pid
        modulepath /usr/lib/ldap
        moduleload back_mdb
        TLSCertificateFile \(folder.path)/server.pem
        TLSCertificateKeyFile \(folder.path)/server.key
        sizelimit 500
        database mdb
        maxsize 104857600
        suffix "\(Self.suffix)"
        rootdn "\(Self.adminDN)"
        rootpw \(Self.adminPassword)
        directory \(data.path)
        access to attrs=userPassword by anonymous auth by self write by * none
        access to * by * read

        """
        let configFile = folder.appendingPathComponent("slapd.conf")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let base = """
        dn: \(Self.suffix)
        objectClass: dcObject
        objectClass: organization
        o: Example
        description: \(marker)
        dc: example

        dn: ou=people,\(Self.suffix)
        objectClass: organizationalUnit
        ou: people

        dn: ou=groups,\(Self.suffix)
        objectClass: organizationalUnit
        ou: groups


        """
        let ldifFile = folder.appendingPathComponent("data.ldif")
        try (base + ldif).write(to: ldifFile, atomically: true, encoding: .utf8)
        let added = try Spawn.output("/usr/sbin/slapadd", ["-q", "-f", configFile.path, "-l", ldifFile.path])
        guard added.status == 0 else { throw Failure(description: "slapadd failed (\(added.status)): is slapd installed?") }
        var attempt = 0
        while true {
            attempt += 1
            let plain = Self.freePort()
            var tls = Self.freePort()
            while tls == plain { tls = Self.freePort() }
            let started = try ChildProcess(URL(fileURLWithPath: "/usr/sbin/slapd"),
                                           ["-d", "0", "-f", configFile.path, "-h", "ldap://127.0.0.1:\(plain)/ ldaps://127.0.0.1:\(tls)/ ldaps://127.0.0.2:\(tls)/"])
            // Ready when both ports accept a connection (bounded) and the directory there is this one.
            let ready = started.waitUntil(seconds: 20) { _ in Self.accepts(plain) && Self.accepts(tls) }
                && (try? Spawn.output("/usr/bin/ldapsearch", ["-x", "-H", "ldap://127.0.0.1:\(plain)", "-b", Self.suffix, "-s", "base", "description"]))?
                    .output.contains(marker) == true
            if ready {
                port = plain
                tlsPort = tls
                process = started
                return
            }
            started.signal(SIGKILL)
            _ = started.waitForExit(seconds: 10)
            guard attempt < 3 else {
                throw Failure(description: "slapd did not start: \(started.stderrLines.suffix(5).joined(separator: " | "))")
            }
        }
    }

    /// Changes the directory while it runs (`ldapmodify` LDIF: `changetype: modify`, `delete`, `add`).
    func modify(_ ldif: String) throws {
        let file = folder.appendingPathComponent("change-\(UInt64.random(in: 0...UInt64.max)).ldif")
        try ldif.write(to: file, atomically: true, encoding: .utf8)
        let done = try Spawn.output("/usr/bin/ldapmodify", ["-x", "-H", url, "-D", Self.adminDN, "-w", Self.adminPassword, "-f", file.path])
        guard done.status == 0 else { throw Failure(description: "ldapmodify failed (\(done.status)): is ldap-utils installed?") }
    }

    /// The directory goes away (its port refuses from now on).
    func stop() {
        process.signal(SIGKILL)
        _ = process.waitForExit(seconds: 10)
    }

    deinit {
        // SIGKILL: a child spawned from a test's thread inherits its blocked signals, SIGTERM
        // among them; a throwaway database needs no clean shutdown.
        process.signal(SIGKILL)
        _ = process.waitForExit(seconds: 10)
        try? FileManager.default.removeItem(at: folder)
    }

    /// An inetOrgPerson under ou=people.
    static func person(_ uid: String, password: String, mail: String? = nil, given: String = "Given", family: String = "Family",
                       rdn: String? = nil) -> String {
        """
        dn: \(rdn ?? "uid=\(uid)"),ou=people,\(suffix)
        objectClass: inetOrgPerson
        uid: \(uid)
        cn: \(given) \(family)
        sn: \(family)
        givenName: \(given)
        \(mail.map { "mail: \($0)\n" } ?? "")userPassword: \(password)


        """
    }

    static func freePort() -> Int {
        let listener = HangingListener()
        defer { listener.close() }
        return listener.port
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } } == 0
    }

    /// A CA, the server's certificate signed by it (127.0.0.1 and localhost), and an unrelated CA.
    static func makeCertificates(in folder: URL) throws {
        let path = folder.path
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(path)/ca.key",
             "-out", "\(path)/ca.pem", "-subj", "/CN=Keyport test directory CA", "-days", "2"],
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(path)/other-ca.key",
             "-out", "\(path)/other-ca.pem", "-subj", "/CN=Someone else's CA", "-days", "2"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(path)/server.key",
             "-out", "\(path)/server.csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "\(path)/server.csr", "-CA", "\(path)/ca.pem", "-CAkey", "\(path)/ca.key", "-CAcreateserial",
             "-out", "\(path)/server.pem", "-days", "2", "-extfile", "\(path)/san.cnf"],
        ]
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: "\(path)/san.cnf", atomically: true, encoding: .utf8)
        for step in steps {
            let result = try Spawn.output("/usr/bin/openssl", step)
            guard result.status == 0 else { throw Failure(description: "openssl \(step[0]) failed") }
        }
        // slapd reads its key as whichever user runs it.
        chmod("\(path)/server.key", 0o644)
    }
}
