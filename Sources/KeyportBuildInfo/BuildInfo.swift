/// What `keyport --version` and `kpadm --version` print.
public enum KeyportBuildInfo {
    /// The release number; raised by hand at each release (see docs/operations.md, "Upgrading").
    public static let version = "0.3.0"
    /// The git revision the binary was built from (`-modified` when the tree had uncommitted
    /// changes), written at build time by Plugins/BuildInfo.
    public static let revision = generatedRevision
    /// `0.3.0 (revision 4904ff7a1b2c)`.
    public static var description: String { "\(version) (revision \(revision))" }
}
