import Foundation

/// The trained teachers the coordinator holds, by `TrainedTeacherKey`, so a later run can
/// ship one to whichever worker its teacher is placed on instead of training it again
/// (docs/PROTOCOL.md "Teacher checkpoints").
///
/// Every trained teacher arrives as artifact `teacher-<i>.safetensors` of its run; its
/// safetensors metadata carries `key` (the recipe key) and `complete` = "true". The index
/// is built from the state directory's artifacts when first needed (headers only) and kept
/// up to date as new ones arrive. The coordinator offers a stored teacher to every worker it
/// places that teacher on; a worker that has it (its cache keeps every teacher it trained or
/// received under the checkpoint's hash) acknowledges at once, one that lost it fetches it.
public struct StoredTeachers: Sendable {
    /// Absolute path of each stored teacher's checkpoint file, by recipe key.
    private(set) var byKey: [String: String] = [:]

    /// The index of every complete trained-teacher checkpoint under `artifacts/<run>/`
    /// (online teachers' `-online` checkpoints are what a run made of them, not a recipe's result).
    static func scan(artifactsDirectory: String) -> StoredTeachers {
        var index = StoredTeachers()
        let fm = FileManager.default
        let runs = ((try? fm.contentsOfDirectory(atPath: artifactsDirectory)) ?? []).sorted()
        for run in runs {
            let dir = artifactsDirectory + "/" + run
            for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where isTrainedTeacher(name) {
                let path = dir + "/" + name
                if let key = completeKey(metadataOfFile(at: path)) { index.byKey[key] = path }
            }
        }
        return index
    }

    /// Records a teacher checkpoint stored at `path`; ignored unless it is a complete trained
    /// teacher (metadata `complete` = "true" and a `key`).
    mutating func record(metadata: [String: String]?, path: String) {
        guard let key = Self.completeKey(metadata) else { return }
        byKey[key] = path
    }

    /// `teacher-<digits>.safetensors`: the artifact name of a trained teacher.
    static func isTrainedTeacher(_ artifactName: String) -> Bool {
        guard artifactName.hasPrefix("teacher-"), artifactName.hasSuffix(".safetensors") else { return false }
        let middle = artifactName.dropFirst("teacher-".count).dropLast(".safetensors".count)
        return !middle.isEmpty && middle.allSatisfy(\.isASCII) && middle.allSatisfy(\.isNumber)
    }

    /// The `__metadata__` of safetensors bytes (whole file or at least its header), or nil.
    /// Layout: u64 little-endian header length N, then N bytes of JSON.
    static func metadata(of bytes: some Collection<UInt8>) -> [String: String]? {
        guard let length = headerLength(bytes.prefix(8)), bytes.count >= 8 + length else { return nil }
        let header = Data(bytes.dropFirst(8).prefix(length))
        guard let root = try? JSONSerialization.jsonObject(with: header) as? [String: Any],
              let meta = root["__metadata__"] as? [String: String] else { return nil }
        return meta
    }

    /// Reads only the header of the safetensors file at `path`.
    public static func metadataOfFile(at path: String) -> [String: String]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 8), let length = headerLength(head),
              let json = try? handle.read(upToCount: length), json.count == length else { return nil }
        return metadata(of: [UInt8](head) + [UInt8](json))
    }

    /// The header length N from the first 8 bytes (u64 little-endian), if they are 8 and N is
    /// at most 100 MiB.
    private static func headerLength(_ first8: some Collection<UInt8>) -> Int? {
        guard first8.count == 8 else { return nil }
        let length = first8.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return length <= 100 << 20 ? Int(length) : nil
    }

    private static func completeKey(_ metadata: [String: String]?) -> String? {
        guard let metadata, metadata["complete"] == "true", let key = metadata["key"], !key.isEmpty else { return nil }
        return key
    }
}
