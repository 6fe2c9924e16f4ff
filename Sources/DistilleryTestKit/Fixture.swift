import Foundation
import NN

/// A golden fixture written by `Scripts/fixtures` (PyTorch): a safetensors file of named F32
/// tensors with its configuration in the metadata.
public struct Fixture {
    public let name: String
    public let file: SafeTensors

    /// Loads `<directory>/<name>.safetensors`; a missing or bad file is a test failure with the
    /// reason, so the error is thrown.
    public init(_ name: String, directory: URL) throws {
        self.name = name
        file = try SafeTensors.read(from: directory.appendingPathComponent("\(name).safetensors").path)
    }

    /// The values of tensor `key`.
    public func values(_ key: String) throws -> [Float] {
        guard let t = file[name: key] else { throw FixtureError.missing(fixture: name, tensor: key) }
        return try t.floats()
    }

    public func shape(_ key: String) throws -> [Int] {
        guard let t = file[name: key] else { throw FixtureError.missing(fixture: name, tensor: key) }
        return t.shape
    }

    public func scalar(_ key: String) throws -> Float { try values(key)[0] }

    /// Labels are stored as F32 whole numbers.
    public func labels(_ key: String = "labels") throws -> [Int32] { try values(key).map { Int32($0) } }

    public func meta(_ key: String) -> String? { file.metadata[key] }
    public func metaInt(_ key: String) -> Int? { file.metadata[key].flatMap { Int($0) } }
    public func metaFloat(_ key: String) -> Float? { file.metadata[key].flatMap { Float($0) } }
}

public enum FixtureError: Error, CustomStringConvertible {
    case missing(fixture: String, tensor: String)
    public var description: String {
        switch self {
        case .missing(let f, let t): return "fixture \(f) has no tensor \(t); regenerate with Scripts/fixtures"
        }
    }
}
