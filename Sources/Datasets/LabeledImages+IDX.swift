extension LabeledImages {
    /// Loads a pair of IDX files — images (magic `0x00000803`, dims `[count, height, width]`)
    /// and labels (magic `0x00000801`, dims `[count]`) — gzip-compressed or raw.
    ///
    /// Pixel bytes are scaled to `[0, 1]` as `Float(byte) / 255`; the sample shape is
    /// `[1, height, width]` (one channel).
    ///
    /// - Parameter classCount: the number of classes; every label must be below it.
    /// - Throws: ``DatasetError`` — any error of ``IDXReader/read(path:expectedDimensions:byteLimit:)``,
    ///   ``DatasetError/countMismatch(imagesPath:imageCount:labelsPath:labelCount:)`` if the
    ///   files disagree on the number of samples, and
    ///   ``DatasetError/labelOutOfRange(path:index:label:classCount:)``.
    public static func loadIDX(images: String, labels: String, classCount: Int = 10) throws(DatasetError) -> LabeledImages {
        // Check both headers first: a mismatch is reported before decompressing anything large.
        let imageDims = try IDXReader.readDimensions(path: images, expectedDimensions: 3)
        let labelDims = try IDXReader.readDimensions(path: labels, expectedDimensions: 1)
        guard imageDims[0] == labelDims[0] else {
            throw .countMismatch(imagesPath: images, imageCount: imageDims[0], labelsPath: labels, labelCount: labelDims[0])
        }

        let labelArray = try IDXReader.read(path: labels, expectedDimensions: 1)
        let imageArray = try IDXReader.read(path: images, expectedDimensions: 3)
        // Re-check: the files could have changed between the two reads.
        guard imageArray.dims[0] == labelArray.dims[0] else {
            throw .countMismatch(imagesPath: images, imageCount: imageArray.dims[0],
                                 labelsPath: labels, labelCount: labelArray.dims[0])
        }

        var labelValues: [Int32] = []
        labelValues.reserveCapacity(labelArray.data.count)
        for (index, byte) in labelArray.data.enumerated() {
            guard Int(byte) < classCount else {
                throw .labelOutOfRange(path: labels, index: index, label: Int(byte), classCount: classCount)
            }
            labelValues.append(Int32(byte))
        }

        return LabeledImages(
            pixels: unitScaled(imageArray.data),
            labels: labelValues,
            sampleShape: [1, imageArray.dims[1], imageArray.dims[2]],
            classCount: max(classCount, 1)
        )
    }

    /// `Float(Double(byte) · (1/255))` = `Float(byte) / 255` for every byte (``Preprocessing/idxDefault``'s scale, as a shard
    /// of the same files gives), through a 256-entry table.
    static func unitScaled(_ bytes: [UInt8]) -> [Float] {
        let table = byteTable(scale: Preprocessing.idxDefault.scale)
        return [Float](unsafeUninitializedCapacity: bytes.count) { out, initialized in
            table.withUnsafeBufferPointer { lookup in
                bytes.withUnsafeBufferPointer { source in
                    for i in 0..<source.count {
                        out.initializeElement(at: i, to: lookup[Int(source[i])])
                    }
                }
            }
            initialized = bytes.count
        }
    }

    /// `Float(Double(b) · scale)` for every byte value `b`: how byte values become floats, in
    /// IDX files and byte shards alike.
    public static func byteTable(scale: Double) -> [Float] { (0...255).map { Float(Double($0) * scale) } }
}
