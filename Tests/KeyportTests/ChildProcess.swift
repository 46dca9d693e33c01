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
///
/// Each pipe is read by a thread of its own with blocking `read`s until end of file, and that
/// thread closes it. Not `FileHandle.readabilityHandler`: on Linux it watches the descriptor with
/// a dispatch source whose cancellation is asynchronous, so a descriptor closed (and reused) before
/// the cancellation lands crashes libdispatch's event loop (`_dispatch_event_loop_drain`), and with
/// it the whole test process, now and then.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let exit = Mutex<Int32?>(nil)
    private let output = CollectedOutput()

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil) throws {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("KEYPORT_") { env[key] = nil }
        env.merge(environment) { $1 }
        let stdout = try Spawn.pipe(), stderr = try Spawn.pipe()
        defer { close(stdout.write); close(stderr.write) }
        do {
            pid = try Spawn.start(executable.path, arguments, environment: env, directory: directory?.path, stdout: stdout.write, stderr: stderr.write)
        } catch {
            close(stdout.read)
            close(stderr.read)
            throw error
        }
        output.drain(stdout.read, isError: false)
        output.drain(stderr.read, isError: true)
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

    /// Lines so far, with an unfinished last line included.
    var stdoutLines: [String] { output.lines(isError: false) }
    var stderrLines: [String] { output.lines(isError: true) }

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
        // The reading threads end by themselves at end of file, now that the child is gone.
    }
}

/// The lines a child wrote to stdout and stderr, each pipe drained by its own thread.
private final class CollectedOutput: Sendable {
    private struct Stream { var lines: [String] = []; var unfinished: [UInt8] = [] }
    private let streams = Mutex<(out: Stream, err: Stream)>((Stream(), Stream()))

    /// Reads `fd` to its end on a new thread, then closes it.
    func drain(_ fd: Int32, isError: Bool) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    append(buffer[..<count], isError: isError)
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(fd)
        }
        thread.start()
    }

    /// Bytes, not text, until a line is whole: a character may arrive split across two reads.
    private func append(_ bytes: ArraySlice<UInt8>, isError: Bool) {
        streams.withLock { state in
            var stream = isError ? state.err : state.out
            stream.unfinished += bytes
            while let newline = stream.unfinished.firstIndex(of: UInt8(ascii: "\n")) {
                stream.lines.append(String(decoding: stream.unfinished[..<newline], as: UTF8.self))
                stream.unfinished.removeSubrange(...newline)
            }
            if isError { state.err = stream } else { state.out = stream }
        }
    }

    /// Lines so far, with an unfinished last line included.
    func lines(isError: Bool) -> [String] {
        streams.withLock { state in
            let stream = isError ? state.err : state.out
            return stream.lines + (stream.unfinished.isEmpty ? [] : [String(decoding: stream.unfinished, as: UTF8.self)])
        }
    }
}
