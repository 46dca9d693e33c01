import Foundation
import PackagePlugin

/// Bakes the git revision the binaries were built from into `KeyportBuildInfo`, for
/// `keyport --version` and `kpadm --version`. A prebuild command runs at every build, but it
/// rewrites its output only when the revision changed, so an unchanged tree recompiles nothing.
/// Outside a git checkout (a source archive, a container build without `.git`) the revision comes
/// from `KEYPORT_REVISION`, else it is "unknown".
@main
struct BuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = context.package.directoryURL.appending(path: "Plugins/BuildInfo/write-build-info.sh")
        return [
            .prebuildCommand(
                displayName: "Recording the git revision",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, context.package.directoryURL.path, output.path,
                            ProcessInfo.processInfo.environment["KEYPORT_REVISION"] ?? ""],
                outputFilesDirectory: output
            ),
        ]
    }
}
