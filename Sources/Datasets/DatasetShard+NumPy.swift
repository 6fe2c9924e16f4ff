extension DatasetShard {
    /// Reads the data set in the `.npz` archive at `path` (``NumPyDataset``: every check of the
    /// arrays, each refusal naming the file and the array), keeps the first `trainLimit`
    /// training samples (0 = all) and every test sample, and packs them with their stored
    /// values (uint8 or float32), the class count (`classes`, or the largest label + 1) and
    /// `preprocessing`.
    public static func packNumPy(path: String, arrays: NumPyDataset.ArrayNames, name: String, classes: Int?,
                                 trainLimit: Int, preprocessing: Preprocessing) throws(DatasetError) -> DatasetShard {
        let data = try NumPyDataset(path: path, names: arrays, classes: classes)
        if let problem = preprocessing.problem(sampleShape: data.sampleShape) {
            throw .numpy(path: path, array: arrays.xTrain, problem: .preprocessing(problem))
        }
        let keep = trainLimit > 0 ? min(trainLimit, data.train.count) : data.train.count
        let features = data.features
        func split(_ s: NumPyDataset.Split, keep: Int) -> Split {
            switch s.samples {
            case .uint8(let v): return Split(values: .uint8(Array(v[0 ..< keep * features])), labels: Array(s.labels[0 ..< keep]))
            case .float32(let v): return Split(values: .float32(Array(v[0 ..< keep * features])), labels: Array(s.labels[0 ..< keep]))
            }
        }
        return try DatasetShard(name: name, sampleShape: data.sampleShape, classCount: data.classCount, preprocessing: preprocessing,
                                train: split(data.train, keep: keep), test: split(data.test, keep: data.test.count))
    }
}
