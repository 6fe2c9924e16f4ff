import GRDB
enum ClusterStorePlaceholder {}
