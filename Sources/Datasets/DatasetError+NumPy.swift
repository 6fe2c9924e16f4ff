/// What is wrong with a NumPy `.npy` file, an `.npz` archive or one of its arrays
/// (``DatasetError/numpy(path:array:problem:)``).
///
/// The first group is about the `.npy` format itself (numpy.lib.format, NEP 1), the second
/// about the `.npz` zip archive, the third about what a labelled data set needs
/// (``NumPyDataset``). Descriptors (`descr`) are NumPy's dtype strings, e.g. `<f4`.
public enum NumPyProblem: Error, Equatable, Sendable {
    /// The file is missing, not a regular file, unreadable, or larger than the reader's limit.
    case unreadable(reason: String)

    // The .npy format.

    /// The bytes do not start with the magic string `\x93NUMPY`.
    case notNumPy
    /// The format version is not 1.0, 2.0 or 3.0.
    case unsupportedVersion(major: Int, minor: Int)
    /// The file ends inside the preamble or the header.
    case truncatedHeader(expectedBytes: Int, foundBytes: Int)
    /// The header is not the dictionary literal NumPy writes (or not ASCII / UTF-8).
    case malformedHeader(reason: String)
    /// A multi-byte dtype stored big-endian (`>f4`).
    case bigEndian(descr: String)
    /// `'fortran_order': True`: the elements are stored column-major.
    case fortranOrder
    /// `'descr': '|O'`: Python objects, stored as a pickle, which is never unpickled.
    case objectArray
    /// Any other dtype (float64, complex, strings, structured arrays…).
    case unsupportedDType(descr: String)
    /// `'shape': ()`: a single scalar rather than an array of samples.
    case zeroDimensional
    /// The data section is shorter than the header's shape and dtype require.
    case truncatedData(expectedBytes: Int, foundBytes: Int)
    /// Bytes after the data section (a `.npy` file holds exactly one array).
    case trailingData(expectedBytes: Int, foundBytes: Int)
    /// The array (or archive entry) is larger than the reader's limit.
    case tooLarge(claimedBytes: Int, limitBytes: Int)

    // The .npz archive.

    /// The file is not a readable zip archive, or an entry is corrupt (CRC-32 mismatch,
    /// bad deflate stream, an entry of another compression method).
    case corruptArchive(reason: String)
    /// The archive holds no array of this name; `available` lists the names it does hold.
    case missingArray(available: [String])

    // A labelled data set.

    /// The samples (`x`) are neither `uint8` nor `float32`.
    case samplesDType(descr: String)
    /// The labels (`y`) are not integers.
    case labelsDType(descr: String)
    /// The samples are not `[N, D]` or `[N, C, H, W]`.
    case samplesRank(shape: [Int])
    /// The labels are not `[N]`.
    case labelsRank(shape: [Int])
    /// A split holds no samples.
    case emptySplit
    /// Train and test samples have different shapes (after the first axis).
    case sampleShapeMismatch(sampleShape: [Int], otherArray: String, otherSampleShape: [Int])
    /// Train and test samples have different dtypes.
    case dtypeMismatch(descr: String, otherArray: String, otherDescr: String)
    /// The samples and their labels differ in count.
    case countMismatch(count: Int, otherArray: String, otherCount: Int)
    /// A label is not a class id in `0..<classCount` (`classCount` is nil when the limit was
    /// the largest representable class id, 2³¹ − 1). `label` is the value's decimal text.
    case labelOutOfRange(index: Int, label: String, classCount: Int?)
    /// A float sample holds NaN or ±infinity (`value` is "nan", "inf" or "-inf").
    case nonFinite(sampleIndex: Int, value: String)
    /// The class count (the given one, or the largest label + 1) is outside
    /// 2…``NumPyDataset/maxClasses``.
    case classCount(count: Int, fromLabels: Bool)
    /// The run spec's pre-processing does not fit the samples (e.g. 3 means for 1 channel).
    case preprocessing(String)
}

extension NumPyProblem {
    /// The operator-facing message for this problem in `array` of the file at `path`.
    func message(path: String, array: String) -> String {
        let place = array.isEmpty ? path : "array '\(array)' of \(path)"
        let name = array.isEmpty ? "the array" : "'\(array)'"
        switch self {
        case .unreadable(let reason):
            return "Cannot read NumPy file \(path): \(reason). Check the path, that it is a regular file "
                + "readable by this user, and that it is the data set's .npz (or .npy) file."
        case .notNumPy:
            return "Not a NumPy .npy array: \(place) does not start with the magic string \\x93NUMPY. "
                + "Save arrays with numpy.save / numpy.savez (or savez_compressed)."
        case .unsupportedVersion(let major, let minor):
            return "Unsupported .npy format version \(major).\(minor) in \(place): this reader supports "
                + "1.0, 2.0 and 3.0. Save the array again with numpy.save from NumPy ≥ 1.17."
        case .truncatedHeader(let expected, let found):
            return "Truncated .npy header in \(place): expected \(expected) bytes, found \(found). "
                + "The file is incomplete; save it again."
        case .malformedHeader(let reason):
            return "Malformed .npy header in \(place): \(reason). The header must be the dictionary NumPy writes, "
                + "e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }; save the array again "
                + "with numpy.save / numpy.savez."
        case .bigEndian(let descr):
            return "Big-endian array in \(place) (dtype '\(descr)'): only little-endian data is read. "
                + "Convert with x.astype(x.dtype.newbyteorder('<')) and save again."
        case .fortranOrder:
            return "Fortran-ordered (column-major) array in \(place): only C order is read. "
                + "Convert with numpy.ascontiguousarray(x) and save again."
        case .objectArray:
            return "Object array in \(place) (dtype '|O'): object arrays are never unpickled. "
                + "Store numbers: convert with x.astype(numpy.float32) (samples) or y.astype(numpy.int64) (labels)."
        case .unsupportedDType(let descr):
            var remedy = "Convert with x.astype(numpy.float32) (samples) or y.astype(numpy.int64) (labels)."
            if descr.hasSuffix("f8") || descr.hasSuffix("f2") { remedy = "Convert with x.astype(numpy.float32)." }
            return "Unsupported dtype '\(descr)' in \(place): supported are \(NumPyArray.DType.supportedList). "
                + remedy
        case .zeroDimensional:
            return "Zero-dimensional array (a single scalar, shape ()) in \(place): an array of samples "
                + "or labels needs at least one axis. Save the whole array, not one element."
        case .truncatedData(let expected, let found):
            return "Truncated data in \(place): the header's shape and dtype need \(expected) bytes, found \(found). "
                + "The file is incomplete; save it again."
        case .trailingData(let expected, let found):
            return "Unexpected bytes after the data in \(place): the header's shape and dtype need \(expected) "
                + "bytes, found \(found). The file is corrupt or not written by numpy.save; save it again."
        case .tooLarge(let claimed, let limit):
            return "Array too large in \(place): \(claimed) bytes, more than the limit of \(limit) bytes. "
                + "The file is corrupt, or the data set must be split into smaller files."
        case .corruptArchive(let reason):
            return "Cannot read \(place) as an .npz (zip) archive: \(reason). Write it again with numpy.savez "
                + "or numpy.savez_compressed."
        case .missingArray(let available):
            let there = available.isEmpty ? "none" : available.map { "'\($0)'" }.joined(separator: ", ")
            return "No array \(name) in \(path); the archive holds: \(there). Save it under that name "
                + "(numpy.savez(path, \(array.isEmpty ? "name" : array)=...)) or pass the names the archive uses."
        case .samplesDType(let descr):
            return "Samples \(name) in \(path) have dtype '\(descr)': samples must be uint8 ('|u1') or "
                + "float32 ('<f4'). Convert with x.astype(numpy.float32)."
        case .labelsDType(let descr):
            return "Labels \(name) in \(path) have dtype '\(descr)': labels must be integer class ids "
                + "(\(NumPyArray.DType.integerList)). Convert with y.astype(numpy.int64)."
        case .samplesRank(let shape):
            return "Samples \(name) in \(path) have shape \(tuple(shape)): accepted are [N, D] (feature rows) "
                + "and [N, C, H, W] (images). Reshape, e.g. x.reshape(len(x), -1) or x.reshape(-1, 1, H, W)."
        case .labelsRank(let shape):
            return "Labels \(name) in \(path) have shape \(tuple(shape)): labels must be one class id per "
                + "sample, shape [N]. Convert with y.reshape(-1) (or y.argmax(axis=1) for one-hot rows)."
        case .emptySplit:
            return "Empty split: \(name) in \(path) holds no samples. Every split needs at least one sample."
        case .sampleShapeMismatch(let shape, let other, let otherShape):
            return "Sample shape mismatch in \(path): \(name) holds samples of shape \(shape) but '\(other)' "
                + "samples of shape \(otherShape). Train and test samples must have the same shape."
        case .dtypeMismatch(let descr, let other, let otherDescr):
            return "Dtype mismatch in \(path): \(name) is '\(descr)' but '\(other)' is '\(otherDescr)'. "
                + "Store both splits with the same dtype, e.g. x.astype(numpy.float32)."
        case .countMismatch(let count, let other, let otherCount):
            return "Count mismatch in \(path): \(name) holds \(count) entries but '\(other)' holds \(otherCount). "
                + "Samples and labels of a split must correspond one to one."
        case .labelOutOfRange(let index, let label, let classCount):
            let range = classCount.map { "0..<\($0)" } ?? "0...\(Int32.max)"
            return "Label out of range in \(place): sample \(index) has label \(label), expected \(range). "
                + "Labels must be class ids counted from 0; pass the right class count or fix the labels."
        case .nonFinite(let sampleIndex, let value):
            return "Non-finite value in \(place): sample \(sampleIndex) holds \(value). "
                + "Replace or drop such samples (numpy.isfinite(x).all(axis=1)) before saving."
        case .classCount(let count, let fromLabels):
            let source = fromLabels ? "the largest label + 1 is \(count)" : "the class count given is \(count)"
            return "Unusable class count in \(place): \(source), but a data set needs 2…\(NumPyDataset.maxClasses) "
                + "classes. Check the labels, or pass the class count."
        case .preprocessing(let problem):
            return "The pre-processing does not fit the samples of \(place): \(problem). Fix dataset.scale, mean or std in the run spec."
        }
    }
}

/// `(60000, 784)`-style rendering of a shape, as NumPy prints it.
private func tuple(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
