import Datasets

extension DatasetSpec {
    /// What selects a shard: everything of the data set but `validation` (every node derives
    /// the validation split itself, so runs that differ only there share one shard).
    public var shardSelection: DatasetSpec {
        var selection = self
        selection.validation = 0
        return selection
    }

    /// Reads the data set on the coordinator and packs the shard every worker of a run gets:
    /// the first `trainLimit` training samples (0 = all), every test sample, the class count
    /// and the pre-processing. Errors name the file and what is wrong.
    public func packShard() throws(DatasetError) -> DatasetShard {
        switch format {
        case .idx:
            let classes = classes > 0 ? classes : (knownFacts?.classes ?? FashionMNIST.classCount)
            return try DatasetShard.pack(directory: path, trainLimit: trainLimit, name: name, classCount: classes,
                                         preprocessing: preprocessing)
        case .npz:
            return try DatasetShard.packNumPy(path: path, arrays: arrays, name: name,
                                              classes: classes > 0 ? classes : nil, trainLimit: trainLimit,
                                              preprocessing: preprocessing)
        }
    }
}
