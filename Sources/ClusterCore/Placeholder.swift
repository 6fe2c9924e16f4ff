// Placeholder until the target lands.
enum ClusterCorePlaceholder {}
