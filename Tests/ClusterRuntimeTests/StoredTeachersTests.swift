import Foundation
import NN
import Testing
@testable import ClusterRuntime

/// The coordinator's index of stored teachers reads checkpoint headers through NN's reader.
@Suite struct StoredTeachersTests {
    static func teacher(key: String?, complete: Bool = true) -> SafeTensors {
        var metadata = ["spec": "mlp:4-2"]
        if let key { metadata["key"] = key }
        if complete { metadata["complete"] = "true" }
        return SafeTensors(tensors: [.init(name: "0.weight", shape: [2, 4], floats: (0..<8).map(Float.init))], metadata: metadata)
    }

    @Test func metadataComesFromTheHeaderOfAFileOrOfBytes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stored-teachers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/teacher-0.safetensors"
        let file = Self.teacher(key: "k1")
        try file.write(to: path)
        #expect(StoredTeachers.metadataOfFile(at: path) == file.metadata)
        #expect(StoredTeachers.metadata(of: file.encoded()) == file.metadata)

        // A truncated checkpoint, garbage and a missing file have no metadata.
        let bytes = file.encoded()
        #expect(StoredTeachers.metadata(of: bytes.dropLast(4)) == nil)
        #expect(StoredTeachers.metadata(of: [UInt8](repeating: 0x41, count: 64)) == nil)
        try Data(bytes.dropLast(4)).write(to: URL(fileURLWithPath: path))
        #expect(StoredTeachers.metadataOfFile(at: path) == nil)
        #expect(StoredTeachers.metadataOfFile(at: dir + "/missing") == nil)
    }

    @Test func scanIndexesCompleteTrainedTeachersByKey() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("stored-teachers-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for run in ["run-1", "run-2"] {
            try FileManager.default.createDirectory(atPath: root + "/" + run, withIntermediateDirectories: true)
        }
        try Self.teacher(key: "k1").write(to: root + "/run-1/teacher-0.safetensors")
        try Self.teacher(key: "k2", complete: false).write(to: root + "/run-1/teacher-1.safetensors")
        try Self.teacher(key: "k3").write(to: root + "/run-2/teacher-0-online.safetensors")
        try Self.teacher(key: "k1").write(to: root + "/run-2/teacher-12.safetensors")
        try Self.teacher(key: nil).write(to: root + "/run-2/teacher-2.safetensors")
        let index = StoredTeachers.scan(artifactsDirectory: root)
        #expect(index.byKey == ["k1": root + "/run-2/teacher-12.safetensors"])
    }
}
