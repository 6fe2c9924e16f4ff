/// The software version every node reports when it registers and shows in `status`.
/// Workers must share the coordinator's major.minor (`ClusterCore.VersionPolicy`).
public enum DistilleryVersion {
    public static let current = "0.11.0"
}
