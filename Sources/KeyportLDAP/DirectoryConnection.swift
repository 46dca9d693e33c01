import CLDAP

#if canImport(Glibc)
import Glibc
#endif

/// One entry of a search: its DN and the attributes asked for, names lowercased (LDAP attribute
/// names are case-insensitive), values as the directory sent them.
public struct DirectoryEntry: Sendable, Equatable {
    public let dn: String
    public let attributes: [String: [[UInt8]]]

    public init(dn: String, attributes: [String: [[UInt8]]]) {
        self.dn = dn
        self.attributes = attributes
    }

    /// The values of `name` that are UTF-8 text.
    public func strings(_ name: String) -> [String] {
        (attributes[name.lowercased()] ?? []).compactMap { String(validating: $0, as: UTF8.self) }
    }

    public func first(_ name: String) -> String? { strings(name).first }
}

/// How deep a search looks below its base (Keycloak's `searchScope`: 1 one level, 2 subtree).
public enum SearchScope: Int32, Sendable {
    case base = 0, oneLevel = 1, subtree = 2
}

/// Bounds on what one search may bring into memory.
public struct SearchLimits: Sendable {
    public var maxEntries: Int
    public var maxBytes: Int
    public static let standard = SearchLimits(maxEntries: 1_000, maxBytes: 32 << 20)
    public init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }
}

/// One libldap handle: opened with referrals off, protocol 3, bounded connect and read times and
/// (for ldaps:// and StartTLS) a verified certificate and host name. Blocking: used by one
/// thread at a time, from the directory pool's threads only, never from an event loop.
final class DirectoryConnection {
    private var handle: OpaquePointer?
    let settings: DirectorySettings
    /// The last failure was the connection itself going away (not a timeout): a pooled connection
    /// the directory closed while it sat idle, worth one fresh try.
    private(set) var droppedByDirectory = false

    /// Process-wide set-up, once: libldap's global state is not safe to initialise from several
    /// threads at once, and a directory that closes its end must not kill the process with SIGPIPE
    /// (libldap writes with plain `write`).
    private static let prepared: Void = {
        signal(SIGPIPE, SIG_IGN)
        var version: Int32 = 3
        _ = ldap_set_option(nil, LDAP_OPT_PROTOCOL_VERSION, &version)
        // The TLS library's own set-up runs here, once: libldap's first context creation is not
        // safe to run from several threads at once.
        var zero: Int32 = 0
        _ = ldap_set_option(nil, LDAP_OPT_X_TLS_NEWCTX, &zero)
    }()

    /// Debian's bundle of the system's trusted CAs: the trust anchors when no CA file is given.
    static let systemCAFile = "/etc/ssl/certs/ca-certificates.crt"
    /// The largest message read from a directory (an entry with its values).
    static let maxMessageBytes = 16 << 20

    init(settings: DirectorySettings) throws(DirectoryError) {
        self.settings = settings
        _ = Self.prepared
        if let problem = DirectorySettings.problem(url: settings.url) { throw .badSettings(problem) }
        var created: OpaquePointer?
        let started = ldap_initialize(&created, settings.url)
        guard started == LDAP_SUCCESS, let created else { throw .badSettings("The connection URL cannot be used") }
        handle = created
        let connect = min(max(settings.connectTimeoutMilliseconds, 100), DirectorySettings.maxTimeoutMilliseconds)
        let read = min(max(settings.readTimeoutMilliseconds, 100), DirectorySettings.maxTimeoutMilliseconds)
        var failed = keyport_ldap_set_int(created, LDAP_OPT_PROTOCOL_VERSION, 3) != LDAP_SUCCESS
        failed = failed || keyport_ldap_set_off(created, LDAP_OPT_REFERRALS) != LDAP_SUCCESS
        failed = failed || keyport_ldap_set_timeval(created, LDAP_OPT_NETWORK_TIMEOUT, connect) != LDAP_SUCCESS
        failed = failed || keyport_ldap_set_timeval(created, LDAP_OPT_TIMEOUT, read) != LDAP_SUCCESS
        // TLS for this handle only: the certificate must verify (and name the host), TLS 1.2 at least.
        failed = failed || keyport_ldap_set_int(created, LDAP_OPT_X_TLS_REQUIRE_CERT, LDAP_OPT_X_TLS_DEMAND) != LDAP_SUCCESS
        failed = failed || keyport_ldap_set_int(created, LDAP_OPT_X_TLS_PROTOCOL_MIN, (3 << 8) + 3) != LDAP_SUCCESS
        // Exactly the given CAs, or the system's: never a CA folder that ldap.conf, ~/.ldaprc or
        // LDAPTLS_* in the environment would add.
        failed = failed || keyport_ldap_set_string(created, LDAP_OPT_X_TLS_CACERTDIR, nil) != LDAP_SUCCESS
        failed = failed || keyport_ldap_set_string(created, LDAP_OPT_X_TLS_CACERTFILE, settings.caFile ?? Self.systemCAFile) != LDAP_SUCCESS
        failed = failed || keyport_ldap_limit_incoming(created, ber_len_t(Self.maxMessageBytes)) != 0
        if !failed, settings.url.lowercased().contains("ldaps://") || settings.startTLS {
            if keyport_ldap_set_int(created, LDAP_OPT_X_TLS_NEWCTX, 0) != LDAP_SUCCESS {
                close()
                throw .badSettings("The TLS settings cannot be used (is the CA file a readable PEM file?)")
            }
        }
        if failed {
            close()
            throw .badSettings("The connection settings cannot be used")
        }
        if settings.startTLS {
            let result = ldap_start_tls_s(created, nil, nil)
            if result != LDAP_SUCCESS {
                let error = describe(result)
                close()
                throw error
            }
        }
    }

    deinit { close() }

    func close() {
        if let handle { _ = ldap_unbind_ext_s(handle, nil, nil) }
        handle = nil
    }

    var isOpen: Bool { handle != nil }

    /// A simple bind. An empty password is refused here, before the directory sees it: RFC 4513
    /// §5.1.2 makes a bind with a name and no password an unauthenticated one, which many servers
    /// answer with success.
    func bind(dn: String, password: String) throws(DirectoryError) {
        guard let handle else { throw .unavailable("The connection is closed") }
        guard !dn.isEmpty, !password.isEmpty, !password.utf8.contains(0) else { throw .invalidCredentials }
        let result = password.withCString { keyport_ldap_simple_bind(handle, dn, $0, password.utf8.count) }
        guard result == LDAP_SUCCESS else { throw describe(result) }
    }

    /// One search, or one page of it when `pageSize` is set (RFC 2696): the entries and the cookie
    /// for the next page (empty at the last one). Messages are read one at a time and counted as
    /// they arrive: a directory that sends more entries or bytes than `limits` allow (one that
    /// ignores the page size, say) is cut off, never buffered whole; the page control is critical,
    /// so a directory that cannot page says so instead of sending everything.
    func search(base: String, scope: SearchScope, filter: String, attributes: [String], pageSize: Int? = nil,
                cookie: [UInt8] = [], limits: SearchLimits = .standard) throws(DirectoryError) -> (entries: [DirectoryEntry], cookie: [UInt8]) {
        guard let handle else { throw .unavailable("The connection is closed") }
        let read = min(max(settings.readTimeoutMilliseconds, 100), DirectorySettings.maxTimeoutMilliseconds)
        var control: UnsafeMutablePointer<LDAPControl>?
        if let pageSize {
            var value = berval()
            let size = ber_int_t(clamping: min(max(pageSize, 1), limits.maxEntries))
            let made: Int32 = cookie.withUnsafeBufferPointer { bytes in
                guard let base = bytes.baseAddress else { return ldap_create_page_control(handle, size, nil, 1, &control) }
                value.bv_len = ber_len_t(bytes.count)
                value.bv_val = UnsafeMutableRawPointer(mutating: base).assumingMemoryBound(to: CChar.self)
                return ldap_create_page_control(handle, size, &value, 1, &control)
            }
            guard made == LDAP_SUCCESS else { throw describe(made) }
        }
        defer { if let control { ldap_control_free(control) } }
        // The directory stops at one more than the limit (unpaged); a page is bounded by its size.
        let sizeLimit = pageSize == nil ? Int32(clamping: limits.maxEntries) : 0
        var messageId: Int32 = 0
        let started: Int32 = withCStrings(attributes) { names in
            var controls: [UnsafeMutablePointer<LDAPControl>?] = [control, nil]
            return controls.withUnsafeMutableBufferPointer { list in
                keyport_ldap_search_start(handle, base, scope.rawValue, filter, names, control == nil ? nil : list.baseAddress,
                                          read, sizeLimit, &messageId)
            }
        }
        guard started == LDAP_SUCCESS else { throw describe(started) }

        // The whole page within one read timeout, however slowly its messages drip in.
        let deadline = Self.milliseconds() + Int64(read)
        var entries: [DirectoryEntry] = []
        var bytes = 0
        while true {
            let left = deadline - Self.milliseconds()
            guard left > 0 else { throw abandon(messageId, .unavailable("The directory did not answer in time")) }
            var message: OpaquePointer?
            let got = keyport_ldap_next(handle, messageId, Int(left), &message)
            if got == 0 { throw abandon(messageId, .unavailable("The directory did not answer in time")) }
            guard got > 0, let message else { throw describe(keyport_ldap_result_code(handle)) }
            if keyport_ldap_is_entry(message) != 0 {
                defer { ldap_msgfree(message) }
                guard entries.count < limits.maxEntries else { throw abandon(messageId, .tooManyEntries) }
                guard let first = ldap_first_entry(handle, message) else { continue }
                let one: (entry: DirectoryEntry, bytes: Int)
                do { one = try entry(first, handle: handle, budget: limits.maxBytes - bytes) } catch { throw abandon(messageId, error) }
                bytes += one.bytes
                entries.append(one.entry)
                continue
            }
            guard keyport_ldap_is_result(message) != 0 else {
                // A continuation reference (referrals are not followed) or anything else: skipped.
                ldap_msgfree(message)
                continue
            }
            // The final message: its result code, and the cookie for the next page.
            var code: Int32 = 0
            var returned: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
            let parsed = ldap_parse_result(handle, message, &code, nil, nil, nil, &returned, 1)
            defer { if let returned { ldap_controls_free(returned) } }
            guard parsed == LDAP_SUCCESS else { throw .unavailable("The directory's answer cannot be read") }
            if code == LDAP_SIZELIMIT_EXCEEDED { throw .tooManyEntries }
            if code == LDAP_NO_SUCH_OBJECT { return ([], []) }
            guard code == LDAP_SUCCESS else { throw describe(code) }
            var next: [UInt8] = []
            if pageSize != nil, let returned, let pageControl = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, returned, nil) {
                var count: ber_int_t = 0
                var value = berval()
                if ldap_parse_pageresponse_control(handle, pageControl, &count, &value) == LDAP_SUCCESS, let data = value.bv_val {
                    next = Array(UnsafeRawBufferPointer(start: data, count: Int(value.bv_len)))
                    ber_memfree(data)
                }
            }
            return (entries, next)
        }
    }

    /// Gives up on a search: the directory is told, and the connection is closed (whatever the
    /// directory still sends for it must not be read as the next call's answer).
    private func abandon(_ messageId: Int32, _ error: DirectoryError) -> DirectoryError {
        if let handle { _ = ldap_abandon_ext(handle, messageId, nil, nil) }
        close()
        return error
    }

    static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
    }

    private func entry(_ entry: OpaquePointer, handle: OpaquePointer, budget: Int) throws(DirectoryError) -> (entry: DirectoryEntry, bytes: Int) {
        guard let dnPointer = ldap_get_dn(handle, entry) else { throw .unavailable("An entry without a DN") }
        let dn = String(cString: dnPointer)
        ldap_memfree(dnPointer)
        var bytes = dn.utf8.count
        var attributes: [String: [[UInt8]]] = [:]
        var ber: OpaquePointer?
        var name = ldap_first_attribute(handle, entry, &ber)
        defer { if let ber { ber_free(ber, 0) } }
        while let current = name {
            let key = String(cString: current).lowercased()
            ldap_memfree(current)
            if let values = ldap_get_values_len(handle, entry, key) {
                var list: [[UInt8]] = []
                var index = 0
                while let value = values[index] {
                    bytes += Int(value.pointee.bv_len)
                    guard bytes <= budget else {
                        ldap_value_free_len(values)
                        throw .tooLarge
                    }
                    list.append(value.pointee.bv_val.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(value.pointee.bv_len))) } ?? [])
                    index += 1
                }
                ldap_value_free_len(values)
                attributes[key, default: []] += list
            }
            name = ldap_next_attribute(handle, entry, ber)
        }
        return (DirectoryEntry(dn: dn, attributes: attributes), bytes)
    }

    /// The error for a result code, with the server's diagnostic when it has one (a server's
    /// diagnostic never carries the password: it never sees one it could echo in clear).
    private func describe(_ code: Int32) -> DirectoryError {
        droppedByDirectory = code == LDAP_SERVER_DOWN
        if code == LDAP_INVALID_CREDENTIALS { return .invalidCredentials }
        var message = String(cString: ldap_err2string(code))
        if let handle, let diagnostic = keyport_ldap_diagnostic(handle) {
            let text = String(cString: diagnostic)
            ldap_memfree(diagnostic)
            if !text.isEmpty { message += ": " + String(text.prefix(200)) }
        }
        switch code {
        case LDAP_SERVER_DOWN, LDAP_CONNECT_ERROR, LDAP_TIMEOUT, LDAP_UNAVAILABLE, LDAP_BUSY:
            // A broken connection cannot be trusted for the next call.
            close()
            return .unavailable(message)
        default:
            return .refused(code: code, message: message)
        }
    }
}

/// `strings` as a NULL-terminated array of C strings for the length of `body`.
private func withCStrings<T>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
