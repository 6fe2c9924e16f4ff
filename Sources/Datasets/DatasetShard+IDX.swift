extension DatasetShard {
    /// One split of an IDX data set as raw bytes, read and checked as
    /// ``LabeledImages/loadIDX(images:labels:classCount:)`` does, but not converted to floats.
    struct RawSplit {
        let imagesPath: String
        /// `[1, height, width]`, as ``LabeledImages/loadIDX(images:labels:classCount:)`` gives.
        let sampleShape: [Int]
        let pixels: [UInt8]
        let labels: [UInt8]

        var count: Int { labels.count }

        /// Reads `split` from `directory` (file names as ``FashionMNIST/files(split:directory:)``).
        static func read(_ split: FashionMNIST.Split, directory: String, classCount: Int) throws(DatasetError) -> RawSplit {
            let paths = FashionMNIST.files(split: split, directory: directory)
            // Both headers first: a count mismatch is reported before decompressing anything large.
            let imageDims = try IDXReader.readDimensions(path: paths.images, expectedDimensions: 3)
            let labelDims = try IDXReader.readDimensions(path: paths.labels, expectedDimensions: 1)
            guard imageDims[0] == labelDims[0] else {
                throw .countMismatch(imagesPath: paths.images, imageCount: imageDims[0],
                                     labelsPath: paths.labels, labelCount: labelDims[0])
            }
            let labels = try IDXReader.read(path: paths.labels, expectedDimensions: 1)
            let images = try IDXReader.read(path: paths.images, expectedDimensions: 3)
            guard images.dims[0] == labels.dims[0] else {  // the files may have changed in between
                throw .countMismatch(imagesPath: paths.images, imageCount: images.dims[0],
                                     labelsPath: paths.labels, labelCount: labels.dims[0])
            }
            if let bad = labels.data.firstIndex(where: { Int($0) >= classCount }) {
                throw .labelOutOfRange(path: paths.labels, index: bad, label: Int(labels.data[bad]), classCount: classCount)
            }
            return RawSplit(imagesPath: paths.images, sampleShape: [1, images.dims[1], images.dims[2]],
                            pixels: images.data, labels: labels.data)
        }
    }
}
