import Foundation

extension LabeledImages {
    /// Copies the samples at `indices` into caller-owned buffers, in order: row `r` of
    /// `pixels` (`features` floats at `pixels + r × features`) and `labels[r]` receive
    /// sample `indices[indices.startIndex + r]`.
    ///
    /// This is on the training hot path: one `memcpy` per row, no allocation.
    /// `pixels` must have room for `indices.count × features` floats and `labels` for
    /// `indices.count` values; every index must be in `0..<count`.
    public func gather(indices: ArraySlice<Int>, into pixels: UnsafeMutablePointer<Float>,
                       labels: UnsafeMutablePointer<Int32>) {
        let features = self.features
        let rowBytes = features * MemoryLayout<Float>.stride
        let count = self.count
        self.pixels.withUnsafeBufferPointer { source in
            self.labels.withUnsafeBufferPointer { sourceLabels in
                var row = 0
                for index in indices {
                    precondition(index >= 0 && index < count, "LabeledImages.gather: index \(index) out of 0..<\(count)")
                    if rowBytes > 0, let base = source.baseAddress {
                        memcpy(pixels + row * features, base + index * features, rowBytes)
                    }
                    labels[row] = sourceLabels[index]
                    row += 1
                }
            }
        }
    }

    /// The samples at `indices` as new arrays: `indices.count × features` pixels and
    /// `indices.count` labels. Convenience around ``gather(indices:into:labels:)``.
    public func gather(indices: ArraySlice<Int>) -> (pixels: [Float], labels: [Int32]) {
        var outPixels = [Float](repeating: 0, count: indices.count * features)
        var outLabels = [Int32](repeating: 0, count: indices.count)
        outPixels.withUnsafeMutableBufferPointer { p in
            outLabels.withUnsafeMutableBufferPointer { l in
                guard let labelBase = l.baseAddress else { return }
                // With zero features the pixel buffer may have no address; any valid pointer will do.
                if let pixelBase = p.baseAddress {
                    gather(indices: indices, into: pixelBase, labels: labelBase)
                } else {
                    var dummy: Float = 0
                    gather(indices: indices, into: &dummy, labels: labelBase)
                }
            }
        }
        return (outPixels, outLabels)
    }
}
