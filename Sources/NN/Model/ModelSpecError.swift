/// A model spec or layer configuration that cannot be built, with what is allowed.
public enum ModelSpecError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let m): return m }
    }
}
