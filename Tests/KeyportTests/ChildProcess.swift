import Foundation
import Synchronization

/// Starts programs without Foundation's `Process`: on Linux its `run()` copies each
/// `/proc/self/fd` entry's whole 256-byte name and now and then reads past glibc's buffer
/// (swift-corelibs-foundation#5472) — a crash that comes more often the more files a test
/// process holds open. `posix_spawn` with the child's descriptors set up by file actions.
enum Spawn {
    // glibc's GNU extensions (2.29+, 2.34+), which Swift's Glibc module does not declare.
    @_silgen_name("pipe2") private static func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
    @_silgen_name("posix_spawn_file_actions_addclosefrom_np")
    private static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
    @_silgen_name("posix_spawn_file_actions_addchdir_np")
    private static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// `pipe2` with close-on-exec: no other child inherits either end.
    static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe2(&fds, O_CLOEXEC) == 0 else { throw Failure(description: "pipe2: \(errno)") }
        return (fds[0], fds[1])
    }

    /// Starts `path` with `arguments` and exactly `environment`; the child's 0, 1 and 2 are the
    /// given descriptors (nil: /dev/null), and every other descriptor is closed in it.
    static func start(_ path: String, _ arguments: [String], environment: [String: String], directory: String? = nil,
                      stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, target, mode) in [(stdin, Int32(0), O_RDONLY), (stdout, 1, O_WRONLY), (stderr, 2, O_WRONLY)] {
            if let fd { posix_spawn_file_actions_adddup2(&actions, fd, target) } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", mode, 0)
            }
        }
        _ = addCloseFrom(&actions, 3)
        if let directory { _ = addChdir(&actions, directory) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard result == 0 else { throw Failure(description: "posix_spawn \(path): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Foundation's `terminationStatus`: the exit code, or the signal that ended it.
    static func status(_ raw: Int32) -> Int32 { raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f }

    /// Runs `path` to its end: its exit status and everything it wrote to stdout.
    static func output(_ path: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
        let out = try pipe()
        let inPipe = try input.map { _ in try pipe() }
        let pid = try start(path, arguments, environment: ProcessInfo.processInfo.environment, stdin: inPipe?.read, stdout: out.write)
        close(out.write)
        if let inPipe, let input {
            close(inPipe.read)
            input.withUnsafeBytes { bytes in _ = write(inPipe.write, bytes.baseAddress, bytes.count) }
            close(inPipe.write)
        }
        let text = String(decoding: FileHandle(fileDescriptor: out.read, closeOnDealloc: true).readDataToEndOfFile(), as: UTF8.self)
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
        return (status(raw), text)
    }
}

/// A program run by a test, with its output collected line by line as it arrives.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let exit = Mutex<Int32?>(nil)
    private let out = Mutex<[String]>([])
    private let err = Mutex<[String]>([])
    private let partial = Mutex<(String, String)>(("", ""))
    private let readers: [FileHandle]

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil) throws {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("KEYPORT_") { env[key] = nil }
        env.merge(environment) { $1 }
        let stdout = try Spawn.pipe(), stderr = try Spawn.pipe()
        defer { close(stdout.write); close(stderr.write) }
        pid = try Spawn.start(executable.path, arguments, environment: env, directory: directory?.path, stdout: stdout.write, stderr: stderr.write)
        readers = [FileHandle(fileDescriptor: stdout.read, closeOnDealloc: true), FileHandle(fileDescriptor: stderr.read, closeOnDealloc: true)]
        readers[0].readabilityHandler = { [self] handle in collect(handle.availableData, isError: false) }
        readers[1].readabilityHandler = { [self] handle in collect(handle.availableData, isError: true) }
    }

    /// Whether it still runs (reaps it when it has ended).
    var isRunning: Bool {
        exit.withLock { status in
            guard status == nil else { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = Spawn.status(raw) }
            return status == nil
        }
    }

    private func collect(_ data: Data, isError: Bool) {
        guard !data.isEmpty else { return }
        let text = String(decoding: data, as: UTF8.self)
        let complete: [String] = partial.withLock { state in
            var buffer = (isError ? state.1 : state.0) + text
            var lines: [String] = []
            while let newline = buffer.firstIndex(of: "\n") {
                lines.append(String(buffer[..<newline]))
                buffer = String(buffer[buffer.index(after: newline)...])
            }
            if isError { state.1 = buffer } else { state.0 = buffer }
            return lines
        }
        if isError { err.withLock { $0 += complete } } else { out.withLock { $0 += complete } }
    }

    /// Lines so far, with an unfinished last line included.
    var stdoutLines: [String] { out.withLock { $0 } + partial.withLock { $0.0.isEmpty ? [] : [$0.0] } }
    var stderrLines: [String] { err.withLock { $0 } + partial.withLock { $0.1.isEmpty ? [] : [$0.1] } }

    /// Waits (bounded) until `condition` holds for the output or the process ends.
    @discardableResult
    func waitUntil(seconds limit: Double = 30, _ condition: (ChildProcess) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(limit)
        while Date() < deadline {
            if condition(self) { return true }
            if !isRunning { return condition(self) }
            usleep(10_000)
        }
        return condition(self)
    }

    /// Waits for the process to end (bounded), returning its exit status.
    func waitForExit(seconds limit: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(limit)
        while isRunning && Date() < deadline { usleep(10_000) }
        if isRunning { return nil }
        // Let the pipes drain.
        usleep(50_000)
        return exit.withLock { $0 }
    }

    func signal(_ number: Int32) { kill(pid, number) }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
        }
        for reader in readers { reader.readabilityHandler = nil }
    }
}
