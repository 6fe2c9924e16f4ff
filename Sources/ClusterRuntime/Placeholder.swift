import ClusterCore
import RunSpec
import ClusterStore
import ServiceLifecycle
enum ClusterRuntimePlaceholder {}
