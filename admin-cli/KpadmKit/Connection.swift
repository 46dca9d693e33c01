import ArgumentParser
import Foundation

/// Help texts shared by options that several commands declare.
enum OptionHelp {
    static let realm = "The realm to work on (default: the one logged in to)"
    static let service = "The registry's docker-v2 client: its clientId, the registry's auth.token.service"
    static let config = "Session file (default ~/.keyport/kpadm.json)"
    static let server = "Server URL for one-shot use, e.g. http://localhost:8080 (with /auth only if Keyport runs with --http-relative-path /auth)"
    static let authRealm = "Realm to log in to for one-shot use (default master)"
    static let password = "Password for one-shot use; prefer KPADM_PASSWORD"
    static let client = "Client id to log in with (default admin-cli)"
    static let secret = "Client secret, for a service account; prefer KPADM_CLIENT_SECRET"
}

/// How a command reaches the server: the stored session, or one-shot credentials
/// (`--server`/`--user`/`--password`, `KPADM_PASSWORD`) for scripts and CI.
public struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(OptionHelp.config))
    var config: String?

    @Option(name: .customLong("server"), help: ArgumentHelp(OptionHelp.server))
    var server: String?

    @Option(name: .customLong("realm"), help: ArgumentHelp(OptionHelp.authRealm))
    var authRealm: String?

    // --login-user too: the one name that works for every command (where --user names the user a
    // command is about, as in `docker access`, one-shot login takes --login-user only).
    @Option(name: [.customLong("user"), .customLong("login-user")],
            help: "Username for one-shot use (password from --password, KPADM_PASSWORD or the terminal); --login-user works everywhere")
    var user: String?

    @Option(name: .customLong("password"), help: ArgumentHelp(OptionHelp.password))
    var password: String?

    @Option(name: .customLong("client"), help: ArgumentHelp(OptionHelp.client))
    var client: String?

    @Option(name: .customLong("secret"), help: ArgumentHelp(OptionHelp.secret))
    var secret: String?

    public init() {}

    var connection: Connection {
        Connection(config: config, server: server, authRealm: authRealm, user: user, password: password, client: client, secret: secret)
    }
    var sessionPath: String { connection.sessionPath }
    func client() async throws(KpadmError) -> AdminClient { try await connection.client() }
    func credentials() throws(KpadmError) -> AdminClient.Credentials { try connection.credentials() }
}

/// Where and as whom to connect, however the command was told.
struct Connection {
    var config: String?
    var server: String?
    var authRealm: String?
    var user: String?
    var password: String?
    var client: String?
    var secret: String?

    var sessionPath: String { config ?? Session.defaultPath }

    /// A client for this command: one-shot login when `--server` is given, else the stored session.
    func client() async throws(KpadmError) -> AdminClient {
        if let server {
            let credentials = try credentials()
            let session = try await AdminClient.login(server: server, realm: authRealm ?? "master", credentials: credentials)
            return AdminClient(session: session, sessionPath: nil)
        }
        guard let session = try Session.load(from: sessionPath) else {
            throw .failure("not logged in: run kpadm config credentials --server URL --realm master --user NAME (or give --server/--user here)")
        }
        return AdminClient(session: session, sessionPath: sessionPath)
    }

    func credentials() throws(KpadmError) -> AdminClient.Credentials {
        let environment = ProcessInfo.processInfo.environment
        let secret = secret ?? environment["KPADM_CLIENT_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        if let user {
            var resolved = password ?? environment["KPADM_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            if resolved == nil { resolved = try Terminal.readSecret(prompt: "Password for \(user): ") }
            return .init(username: user, password: resolved, clientId: client ?? "admin-cli", secret: secret)
        }
        guard let client else { throw .usage("give --user NAME, or --client ID --secret S for a service account") }
        guard secret != nil else { throw .usage("a service account needs --secret (or KPADM_CLIENT_SECRET)") }
        return .init(username: nil, password: nil, clientId: client, secret: secret)
    }
}

enum Terminal {
    /// Reads a secret without echo from the terminal, or a line from standard input when it is not one.
    static func readSecret(prompt: String) throws(KpadmError) -> String {
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data(prompt.utf8))
            var original = termios()
            tcgetattr(STDIN_FILENO, &original)
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSANOW, &original)
                FileHandle.standardError.write(Data("\n".utf8))
            }
            guard let line = readLine(strippingNewline: true) else { throw .usage("no password given") }
            return line
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw .usage("no password: give it on standard input, in KPADM_PASSWORD, or with --password")
        }
        return line
    }
}
