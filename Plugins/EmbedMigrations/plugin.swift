import Foundation
import PackagePlugin

/// Compiles a store target's migrations into it as Swift source, so the binary carries its own
/// schema: no resource bundle to ship beside it, no path to get wrong. Each engine has its folder:
/// `Migrations/sqlite/*.sql` for `KeyportSQLite`, `Migrations/postgres/*.sql` for `KeyportPostgres`.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let engine = target.name == "KeyportPostgres" ? "postgres" : "sqlite"
        let directory = context.package.directoryURL.appending(path: "Migrations").appending(path: engine)
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) SQL migrations",
                executable: try context.tool(named: "MigrationEmbedder").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            ),
        ]
    }
}
