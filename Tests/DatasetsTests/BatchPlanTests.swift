import Datasets
import Testing

@Suite("BatchPlan and gather")
struct BatchPlanTests {
    @Test("keeping the last partial batch covers every index exactly once")
    func coverKeepLast() {
        let plan = BatchPlan(count: 103, batchSize: 10, dropLast: false, seed: 9, epoch: 2)
        #expect(plan.stepsPerEpoch == 11)
        #expect(plan.range(step: 0) == 0..<10)
        #expect(plan.range(step: 10) == 100..<103)
        #expect(plan.batch(step: 10).count == 3)
        let all = (0..<plan.stepsPerEpoch).flatMap { Array(plan.batch(step: $0)) }
        #expect(all.sorted() == Array(0..<103))
        #expect(all == plan.permutation)
        #expect(plan.permutation == Permutation.of(count: 103, seed: 9, epoch: 2))
        #expect(Array(plan).count == 11)
        #expect(Array(plan).flatMap { Array($0) } == all)
    }

    @Test("dropLast skips the partial batch; every step is full and distinct")
    func coverDropLast() {
        let plan = BatchPlan(count: 103, batchSize: 10, dropLast: true, seed: 9, epoch: 2)
        #expect(plan.stepsPerEpoch == 10)
        let all = plan.flatMap { batch -> [Int] in
            #expect(batch.count == 10)
            return Array(batch)
        }
        #expect(Set(all).count == 100)
        #expect(all == Array(plan.permutation.prefix(100)))
        #expect(BatchPlan(count: 100, batchSize: 10, dropLast: true, seed: 1, epoch: 0).stepsPerEpoch == 10)
        #expect(BatchPlan(count: 9, batchSize: 10, dropLast: true, seed: 1, epoch: 0).stepsPerEpoch == 0)
        #expect(BatchPlan(count: 0, batchSize: 10, dropLast: false, seed: 1, epoch: 0).stepsPerEpoch == 0)
    }

    @Test("sequential plans visit samples in order")
    func sequential() {
        let plan = BatchPlan.sequential(count: 7, batchSize: 3)
        #expect(plan.map { Array($0) } == [[0, 1, 2], [3, 4, 5], [6]])
    }

    @Test("micro-batches of the replicas partition each step, sizes within one")
    func microBatches() {
        let plan = BatchPlan(count: 50, batchSize: 11, dropLast: false, seed: 4, epoch: 0)
        for step in 0..<plan.stepsPerEpoch {
            let parts = (0..<3).map { plan.microBatch(step: step, replica: $0, of: 3) }
            #expect(parts.flatMap { Array($0) } == Array(plan.batch(step: step)))
            let sizes = parts.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
    }

    @Test("gather copies the selected rows and labels into caller buffers")
    func gatherRows() {
        let data = indexedImages(count: 20, features: 5)
        let indices = [13, 0, 19, 13, 7]
        let pixels = UnsafeMutablePointer<Float>.allocate(capacity: 5 * 5 + 1)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: 5 + 1)
        defer { pixels.deallocate(); labels.deallocate() }
        pixels[25] = -1
        labels[5] = -1
        // Gather from a slice that does not start at 0, as BatchPlan hands out.
        let slice = ([99] + indices)[1...]
        data.gather(indices: slice, into: pixels, labels: labels)
        for (row, index) in indices.enumerated() {
            #expect(labels[row] == Int32(index % 10))
            for k in 0..<5 { #expect(pixels[row * 5 + k] == Float(index * 1000 + k)) }
        }
        #expect(pixels[25] == -1 && labels[5] == -1)  // nothing written past the end

        let copied = data.gather(indices: indices[...])
        #expect(copied.labels == indices.map { Int32($0 % 10) })
        #expect(copied.pixels == indices.flatMap { i in (0..<5).map { Float(i * 1000 + $0) } })
    }
}
