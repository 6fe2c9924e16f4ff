import Datasets

/// Small learnable image sets for training tests: uniform random pixels in [0, 1) from a
/// seeded LCG, labelled by the brightest of the first ten pixels.
public enum SyntheticImages {
    public static func brightestPixel(count: Int, features: Int = 24, seed: UInt64) -> LabeledImages {
        precondition(features >= 10, "labels come from the first ten pixels")
        var state = seed
        var pixels = [Float](repeating: 0, count: count * features)
        var labels = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            for k in 0..<features {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                pixels[i * features + k] = Float(state >> 40) / Float(1 << 24)
            }
            labels[i] = Int32((0..<10).max { pixels[i * features + $0] < pixels[i * features + $1] }!)
        }
        return LabeledImages(pixels: pixels, labels: labels, sampleShape: [1, 1, features], classCount: 10)
    }
}
