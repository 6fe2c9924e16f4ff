import DistilleryTestKit
import NN
import Tensor
import Testing

/// Every layer's forward and backward against PyTorch (Scripts/fixtures), rtol 1e-4.
@Suite struct LayerFixtureTests {
    @Test func linearMatchesPyTorch() throws {
        let f = try fixture("linear")
        let m = Sequential(layers: [Linear(5, 3)], inputShape: [5], seed: 0)
        try m.load("0.weight", from: f, key: "weight"); try m.load("0.bias", from: f, key: "bias")
        let (y, dx) = m.run(try f.values("x"), batch: 4, dy: try f.values("dy"))
        assertClose(y, try f.values("y"), "y")
        assertClose(dx, try f.values("dx"), "dx")
        assertClose(m.gradient("0.weight"), try f.values("dweight"), "dweight")
        assertClose(m.gradient("0.bias"), try f.values("dbias"), "dbias")
    }

    @Test func reluMatchesPyTorch() throws {
        let f = try fixture("relu")
        let m = Sequential(layers: [ReLU(shape: [6])], inputShape: [6], seed: 0)
        let (y, dx) = m.run(try f.values("x"), batch: 4, dy: try f.values("dy"))
        assertClose(y, try f.values("y"), "y")
        assertClose(dx, try f.values("dx"), "dx")
    }

    @Test(arguments: ["conv2d", "conv2d_stride2", "conv2d_k5"])
    func conv2dMatchesPyTorch(name: String) throws {
        let f = try fixture(name)
        let xs = try f.shape("x"), ws = try f.shape("weight")
        let stride = f.metaInt("stride") ?? 1, padding = f.metaInt("padding") ?? 0
        let conv = try Conv2D(inputShape: Array(xs.dropFirst()), outChannels: ws[0], kernel: ws[2], stride: stride, padding: padding)
        let m = Sequential(layers: [conv], inputShape: Array(xs.dropFirst()), seed: 0)
        try m.load("0.weight", from: f, key: "weight"); try m.load("0.bias", from: f, key: "bias")
        #expect([xs[0]] + conv.outputShape == (try f.shape("y")))
        let (y, dx) = m.run(try f.values("x"), batch: xs[0], dy: try f.values("dy"))
        assertClose(y, try f.values("y"), atol: 1e-5, "\(name) y")
        assertClose(dx, try f.values("dx"), atol: 1e-5, "\(name) dx")
        assertClose(m.gradient("0.weight"), try f.values("dweight"), atol: 1e-5, "\(name) dweight")
        assertClose(m.gradient("0.bias"), try f.values("dbias"), atol: 1e-5, "\(name) dbias")
    }

    @Test(arguments: ["maxpool2d", "maxpool2d_k3s2"])
    func maxPoolMatchesPyTorch(name: String) throws {
        let f = try fixture(name)
        let xs = try f.shape("x")
        let kernel = f.metaInt("kernel") ?? 2, stride = f.metaInt("stride") ?? kernel
        let pool = try MaxPool2D(inputShape: Array(xs.dropFirst()), kernel: kernel, stride: stride)
        let m = Sequential(layers: [pool], inputShape: Array(xs.dropFirst()), seed: 0)
        let (y, dx) = m.run(try f.values("x"), batch: xs[0], dy: try f.values("dy"))
        assertClose(y, try f.values("y"), "\(name) y")
        assertClose(dx, try f.values("dx"), "\(name) dx")
    }

    @Test(arguments: ["batchnorm1d", "batchnorm2d"])
    func batchNormMatchesPyTorch(name: String) throws {
        let f = try fixture(name)
        let xs = try f.shape("x")
        let m = Sequential(layers: [try BatchNorm(shape: Array(xs.dropFirst()))], inputShape: Array(xs.dropFirst()), seed: 0)
        try m.load("0.weight", from: f, key: "weight"); try m.load("0.bias", from: f, key: "bias")
        // Training mode: batch statistics, running-stat update.
        let (y, dx) = m.run(try f.values("x"), batch: xs[0], dy: try f.values("dy"))
        assertClose(y, try f.values("y"), atol: 1e-5, "\(name) y")
        assertClose(dx, try f.values("dx"), atol: 1e-5, "\(name) dx")
        assertClose(m.gradient("0.weight"), try f.values("dweight"), atol: 1e-5, "\(name) dweight")
        assertClose(m.gradient("0.bias"), try f.values("dbias"), atol: 1e-5, "\(name) dbias")
        assertClose(m.values("0.running_mean"), try f.values("running_mean"), "\(name) running_mean")
        assertClose(m.values("0.running_var"), try f.values("running_var"), "\(name) running_var")
        // Inference mode: the given running statistics.
        try m.load("0.running_mean", from: f, key: "eval_running_mean")
        try m.load("0.running_var", from: f, key: "eval_running_var")
        let (ye, dxe) = m.run(try f.values("x"), batch: xs[0], dy: try f.values("dy"), mode: .inference)
        assertClose(ye, try f.values("y_eval"), atol: 1e-5, "\(name) y_eval")
        assertClose(dxe, try f.values("dx_eval"), atol: 1e-5, "\(name) dx_eval")
        assertClose(m.gradient("0.weight"), try f.values("dweight_eval"), atol: 1e-5, "\(name) dweight_eval")
    }

    @Test func crossEntropyMatchesPyTorch() throws {
        let f = try fixture("cross_entropy")
        let z = try f.values("logits"), y = try f.labels()
        for (smoothing, suffix) in [(Float(0), ""), (Float(0.1), "_ls")] {
            var g = [Float](repeating: 0, count: z.count)
            let loss = g.withUnsafeMutableBufferPointer { gp in
                CrossEntropy.loss(logits: z, labels: y, batch: 6, classes: 10, smoothing: smoothing, gradient: gp.baseAddress!)
            }
            assertClose(loss, try f.scalar("loss" + suffix), "loss\(suffix)")
            assertClose(g, try f.values("dlogits" + suffix), atol: 1e-6, "dlogits\(suffix)")
        }
    }

    /// A whole MLP (Flatten → Linear → ReLU → Linear) and cross-entropy, through the arenas.
    @Test func mlpModelMatchesPyTorch() throws {
        let f = try fixture("mlp")
        let m = try ModelSpec(parsing: "mlp:16-8-3").build(dataShape: [1, 4, 4], seed: 0)
        for n in ["1.weight", "1.bias", "3.weight", "3.bias"] { try m.load(n, from: f) }
        try expectModelMatches(m, f, batch: 4, parameters: ["1.weight", "1.bias", "3.weight", "3.bias"])
    }

    /// Conv → BatchNorm → ReLU → MaxPool → Flatten → Linear and cross-entropy.
    @Test func cnnModelMatchesPyTorch() throws {
        let f = try fixture("cnn")
        let m = try ModelSpec(parsing: "cnn:1x4x4-c2-p2-fc3,bn").build(seed: 0)
        #expect(m.layers.map(\.kind) == ["Conv2D", "BatchNorm2D", "ReLU", "MaxPool2D", "Flatten", "Linear"])
        let names = ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"]
        for n in names { try m.load(n, from: f) }
        try expectModelMatches(m, f, batch: 3, parameters: names)
        assertClose(m.values("1.running_mean"), try f.values("1.running_mean"), "running_mean")
        assertClose(m.values("1.running_var"), try f.values("1.running_var"), "running_var")
    }

    private func expectModelMatches(_ m: Sequential, _ f: Fixture, batch: Int, parameters: [String]) throws {
        let x = try f.values("x"), labels = try f.labels()
        m.zeroGradients()
        var dx = [Float](repeating: 0, count: x.count)
        // One pointer to x spans forward and backward (the model does not copy its input).
        let (logits, loss): ([Float], Float) = x.withUnsafeBufferPointer { p in
            let logits = Array(UnsafeBufferPointer(start: m.forward(p.baseAddress!, batch: batch, mode: .training), count: batch * 3))
            var dz = [Float](repeating: 0, count: logits.count)
            let loss = dz.withUnsafeMutableBufferPointer {
                CrossEntropy.loss(logits: logits, labels: labels, batch: batch, classes: 3, gradient: $0.baseAddress!)
            }
            dz.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer { m.backward(d.baseAddress!, inputGradient: $0.baseAddress!) } }
            return (logits, loss)
        }
        assertClose(logits, try f.values("logits"), atol: 1e-5, "logits")
        assertClose(loss, try f.scalar("loss"), "loss")
        assertClose(dx, try f.values("dx"), atol: 1e-6, "dx")
        for n in parameters { assertClose(m.gradient(n), try f.values("grad." + n), atol: 1e-6, "grad.\(n)") }
    }
}
