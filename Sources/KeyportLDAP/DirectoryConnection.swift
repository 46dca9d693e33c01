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

    /// Process-wide set-up, once: libldap's global state is not safe to initialise from several
    /// threads at once, and a directory that closes its end must not kill the process with SIGPIPE
    /// (libldap writes with plain `write`).
    private static let prepared: Void = {
        signal(SIGPIPE, SIG_IGN)
        var version: Int32 = 3
        _ = ldap_set_option(nil, LDAP_OPT_PROTOCOL_VERSION, &version)
    }()

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
        if let caFile = settings.caFile {
            failed = failed || keyport_ldap_set_string(created, LDAP_OPT_X_TLS_CACERTFILE, caFile) != LDAP_SUCCESS
        }
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
    /// for the next page (empty at the last one).
    func search(base: String, scope: SearchScope, filter: String, attributes: [String], pageSize: Int? = nil,
                cookie: [UInt8] = [], limits: SearchLimits = .standard) throws(DirectoryError) -> (entries: [DirectoryEntry], cookie: [UInt8]) {
        guard let handle else { throw .unavailable("The connection is closed") }
        let read = min(max(settings.readTimeoutMilliseconds, 100), DirectorySettings.maxTimeoutMilliseconds)
        var control: UnsafeMutablePointer<LDAPControl>?
        if let pageSize {
            var value = berval()
            let size = ber_int_t(min(max(pageSize, 1), limits.maxEntries))
            let made: Int32 = cookie.withUnsafeBufferPointer { bytes in
                guard let base = bytes.baseAddress else { return ldap_create_page_control(handle, size, nil, 0, &control) }
                value.bv_len = ber_len_t(bytes.count)
                value.bv_val = UnsafeMutableRawPointer(mutating: base).assumingMemoryBound(to: CChar.self)
                return ldap_create_page_control(handle, size, &value, 0, &control)
            }
            guard made == LDAP_SUCCESS else { throw describe(made) }
        }
        defer { if let control { ldap_control_free(control) } }
        var message: OpaquePointer?
        defer { if let message { ldap_msgfree(message) } }
        // A size limit sent with a paged search bounds the whole search, not a page: pages are
        // bounded by their size and counted here; the caller bounds the pages.
        let sizeLimit = pageSize == nil ? Int32(clamping: limits.maxEntries) : 0
        let result: Int32 = withCStrings(attributes) { names in
            var controls: [UnsafeMutablePointer<LDAPControl>?] = [control, nil]
            return controls.withUnsafeMutableBufferPointer { list in
                keyport_ldap_search(handle, base, scope.rawValue, filter, names, control == nil ? nil : list.baseAddress,
                                    read, sizeLimit, &message)
            }
        }
        // The entries before a size limit are not the whole answer: say so rather than act on part.
        if result == LDAP_SIZELIMIT_EXCEEDED { throw .tooLarge }
        if result == LDAP_NO_SUCH_OBJECT { return ([], []) }
        guard result == LDAP_SUCCESS, let message else { throw describe(result) }
        var entries: [DirectoryEntry] = []
        var bytes = 0
        var entry = ldap_first_entry(handle, message)
        while let current = entry {
            guard entries.count < limits.maxEntries else { throw .tooLarge }
            let read = try self.entry(current, handle: handle, budget: limits.maxBytes - bytes)
            bytes += read.bytes
            entries.append(read.entry)
            entry = ldap_next_entry(handle, current)
        }
        var next: [UInt8] = []
        if pageSize != nil {
            var code: Int32 = 0
            var returned: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
            guard ldap_parse_result(handle, message, &code, nil, nil, nil, &returned, 0) == LDAP_SUCCESS else {
                throw .unavailable("The directory's answer cannot be read")
            }
            defer { if let returned { ldap_controls_free(returned) } }
            if let returned, let pageControl = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, returned, nil) {
                var count: ber_int_t = 0
                var value = berval()
                if ldap_parse_pageresponse_control(handle, pageControl, &count, &value) == LDAP_SUCCESS, let data = value.bv_val {
                    next = Array(UnsafeRawBufferPointer(start: data, count: Int(value.bv_len)))
                    ber_memfree(data)
                }
            }
        }
        return (entries, next)
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
        switch code {
        case LDAP_INVALID_CREDENTIALS:
            return .invalidCredentials
        case LDAP_SERVER_DOWN, LDAP_CONNECT_ERROR, LDAP_TIMEOUT, LDAP_UNAVAILABLE, LDAP_BUSY:
            var reason = String(cString: ldap_err2string(code))
            if let handle, let diagnostic = keyport_ldap_diagnostic(handle) {
                let text = String(cString: diagnostic)
                ldap_memfree(diagnostic)
                if !text.isEmpty { reason += ": " + String(text.prefix(200)) }
            }
            // A broken connection cannot be trusted for the next call.
            close()
            return .unavailable(reason)
        default:
            var message = String(cString: ldap_err2string(code))
            if let handle, let diagnostic = keyport_ldap_diagnostic(handle) {
                let text = String(cString: diagnostic)
                ldap_memfree(diagnostic)
                if !text.isEmpty { message += ": " + String(text.prefix(200)) }
            }
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
