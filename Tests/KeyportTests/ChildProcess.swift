import Foundation
import Synchronization

/// A program run by a test, with its output collected line by line as it arrives.
final class ChildProcess: Sendable {
    let process: Process
    private let out = Mutex<[String]>([])
    private let err = Mutex<[String]>([])
    private let partial = Mutex<(String, String)>(("", ""))

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("KEYPORT_") { env[key] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        stdout.fileHandleForReading.readabilityHandler = { [self] handle in collect(handle.availableData, isError: false) }
        stderr.fileHandleForReading.readabilityHandler = { [self] handle in collect(handle.availableData, isError: true) }
        try process.run()
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
            if !process.isRunning { return condition(self) }
            usleep(10_000)
        }
        return condition(self)
    }

    /// Waits for the process to end (bounded), returning its exit status.
    func waitForExit(seconds limit: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        // Let the pipes drain.
        usleep(50_000)
        return process.terminationStatus
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
