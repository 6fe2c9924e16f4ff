import Foundation
import NN

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

    /// The `__metadata__` of a whole safetensors file's bytes (an artifact just received), or
    /// nil when they are not a valid checkpoint. NN's header decoder checks it, with the limits
    /// and rules of a full checkpoint read.
    static func metadata(of bytes: some Collection<UInt8>) -> [String: String]? {
        let bytes = Array(bytes)
        return try? SafeTensors.decodeHeader(bytes, fileSize: bytes.count, source: SafeTensors.inMemorySource).metadata
    }

    /// Reads only the header of the safetensors file at `path` (`SafeTensors.readHeader`: 8
    /// bytes and the JSON header, never the weights), or nil when it is missing or not a valid
    /// checkpoint.
    public static func metadataOfFile(at path: String) -> [String: String]? {
        try? SafeTensors.readHeader(from: path).metadata
    }

    private static func completeKey(_ metadata: [String: String]?) -> String? {
        guard let metadata, metadata["complete"] == "true", let key = metadata["key"], !key.isEmpty else { return nil }
        return key
    }
}
