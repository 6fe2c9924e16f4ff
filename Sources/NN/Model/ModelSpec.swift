/// A model described by a short string usable in YAML and on the command line.
///
/// Grammar (whitespace is not allowed; options may come in any order):
///
///     spec     = mlp | cnn
///     mlp      = "mlp:" INT ("-" INT)+ options        e.g. mlp:784-1200-1200-10,dropout=0.2
///     cnn      = "cnn:" SHAPE ("-" block)+ options     e.g. cnn:1x28x28-c32-c32-p2-c64-c64-p2-fc256-fc10,bn,dropout=0.3
///     SHAPE    = INT "x" INT "x" INT                   channels x height x width
///     block    = "c" INT ["k" INT] ["s" INT] ["p" INT] convolution: out channels, kernel (3), stride (1), padding (kernel/2)
///              | "p" INT ["s" INT]                     max pool: window, stride (= window)
///              | "fc" INT                              fully connected: outputs
///     options  = ("," option)*
///     option   = "dropout=" P        dropout before every hidden fully connected layer's successor (0 ≤ P < 1)
///              | "in-dropout=" P     dropout on the flattened input (mlp only)
///              | "bn"                batch norm after every convolution and hidden fully connected layer
///
/// Meaning: an `mlp` is Flatten, then Linear layers of the listed sizes (the first number is
/// the input size) with [BatchNorm,] ReLU and Dropout between them. A `cnn` is its blocks in
/// order; every convolution is followed by [BatchNorm and] ReLU; Flatten comes before the
/// first `fc`; every `fc` but the last is followed by [BatchNorm,] ReLU and Dropout. The last
/// layer (the logits) is always a plain Linear.
public struct ModelSpec: Sendable, Equatable, CustomStringConvertible {
    public enum Block: Sendable, Equatable {
        case conv(channels: Int, kernel: Int, stride: Int, padding: Int)
        case pool(window: Int, stride: Int)
        case dense(Int)
    }
    public enum Family: String, Sendable { case mlp, cnn }

    public let family: Family
    /// Per-sample input shape: `[features]` for mlp, `[C, H, W]` for cnn.
    public let inputShape: [Int]
    public let blocks: [Block]
    public let dropout: Float
    public let inputDropout: Float
    public let batchNorm: Bool

    /// Number of classes (outputs of the last layer).
    public var outputCount: Int {
        if case .dense(let n) = blocks.last! { return n }
        return 0
    }

    static let allowed = """
        allowed: mlp:IN-HIDDEN…-OUT[,dropout=P][,in-dropout=P][,bn] (e.g. mlp:784-1200-1200-10,dropout=0.2) \
        or cnn:CxHxW-BLOCK…-fcOUT[,dropout=P][,bn] with blocks cN[kK][sS][pP] (conv), pK[sS] (max pool), fcN (dense) \
        (e.g. cnn:1x28x28-c32-p2-c64-p2-fc128-fc10,bn,dropout=0.3)
        """

    /// Parses a spec string; errors quote the spec, say what is wrong and what is allowed.
    public init(parsing text: String) throws(ModelSpecError) {
        func fail(_ why: String) -> ModelSpecError { .invalid("model spec '\(text)': \(why); \(ModelSpec.allowed)") }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let head = parts.first, let colon = head.firstIndex(of: ":") else {
            throw fail("missing family prefix 'mlp:' or 'cnn:'")
        }
        guard let family = Family(rawValue: String(head[..<colon])) else {
            throw fail("unknown family '\(head[..<colon])'")
        }
        self.family = family
        let body = head[head.index(after: colon)...].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        var dropout: Float = 0, inputDropout: Float = 0, batchNorm = false
        for option in parts.dropFirst() {
            guard !option.isEmpty else { throw fail("empty option (stray comma)") }
            let kv = option.split(separator: "=", maxSplits: 1).map(String.init)
            func probability() throws(ModelSpecError) -> Float {
                guard kv.count == 2, let p = Float(kv[1]), p >= 0, p < 1 else {
                    throw fail("option '\(option)' needs a probability in [0, 1)")
                }
                return p
            }
            switch kv[0] {
            case "dropout": dropout = try probability()
            case "in-dropout":
                guard family == .mlp else { throw fail("'in-dropout' applies to mlp only") }
                inputDropout = try probability()
            case "bn":
                guard kv.count == 1 else { throw fail("'bn' takes no value") }
                batchNorm = true
            default: throw fail("unknown option '\(option)' (options: dropout=P, in-dropout=P, bn)")
            }
        }
        self.dropout = dropout; self.inputDropout = inputDropout; self.batchNorm = batchNorm

        func positive(_ s: Substring, _ what: String) throws(ModelSpecError) -> Int {
            guard let n = Int(s), n > 0, n <= 1 << 20 else { throw fail("\(what) '\(s)' must be a whole number in 1…1048576") }
            return n
        }
        switch family {
        case .mlp:
            guard body.count >= 2 else { throw fail("an mlp needs at least an input and an output size") }
            var sizes: [Int] = []
            for s in body { sizes.append(try positive(Substring(s), "layer size")) }
            inputShape = [sizes[0]]
            blocks = sizes.dropFirst().map { .dense($0) }
        case .cnn:
            guard body.count >= 2 else { throw fail("a cnn needs an input shape and at least one block") }
            let dims = body[0].split(separator: "x", omittingEmptySubsequences: false)
            guard dims.count == 3 else { throw fail("input shape '\(body[0])' must be CxHxW, e.g. 1x28x28") }
            var shape: [Int] = []
            for d in dims { shape.append(try positive(d, "input dimension")) }
            inputShape = shape
            var parsed: [Block] = []
            for token in body.dropFirst() { parsed.append(try ModelSpec.parseBlock(token, fail: fail)) }
            blocks = parsed
        }
        guard case .dense = blocks.last else { throw fail("the last block must be fcN, the number of classes") }
    }

    private static func parseBlock(_ token: String, fail: (String) -> ModelSpecError) throws(ModelSpecError) -> Block {
        // Split into (letters, number) pairs: "c32k5s2p0" → [("c",32),("k",5),("s",2),("p",0)].
        var pairs: [(String, Int)] = []
        var i = token.startIndex
        while i < token.endIndex {
            let letterStart = i
            while i < token.endIndex, token[i].isLetter { i = token.index(after: i) }
            let digitStart = i
            while i < token.endIndex, token[i].isNumber { i = token.index(after: i) }
            guard letterStart < digitStart, digitStart < i, let n = Int(token[digitStart..<i]), n <= 1 << 20 else {
                throw fail("block '\(token)' is not of the form cN[kK][sS][pP], pK[sS] or fcN")
            }
            pairs.append((String(token[letterStart..<digitStart]), n))
        }
        guard let (kind, n) = pairs.first else { throw fail("empty block (stray '-')") }
        var extra: [String: Int] = [:]
        for (k, v) in pairs.dropFirst() {
            guard extra[k] == nil else { throw fail("block '\(token)' repeats '\(k)'") }
            extra[k] = v
        }
        func only(_ keys: Set<String>) throws(ModelSpecError) {
            if let bad = extra.keys.first(where: { !keys.contains($0) }) {
                throw fail("block '\(token)': '\(bad)' is not allowed here (allowed: \(keys.sorted().joined(separator: ", ")))")
            }
        }
        switch kind {
        case "c":
            try only(["k", "s", "p"])
            let k = extra["k"] ?? 3, s = extra["s"] ?? 1, p = extra["p"] ?? k / 2
            guard n > 0, k > 0, s > 0 else { throw fail("block '\(token)': channels, kernel and stride must be > 0") }
            return .conv(channels: n, kernel: k, stride: s, padding: p)
        case "p":
            try only(["s"])
            let s = extra["s"] ?? n
            guard n > 0, s > 0 else { throw fail("block '\(token)': window and stride must be > 0") }
            return .pool(window: n, stride: s)
        case "fc":
            try only([])
            guard n > 0 else { throw fail("block '\(token)': outputs must be > 0") }
            return .dense(n)
        default:
            throw fail("unknown block '\(token)'")
        }
    }

    /// The canonical spelling: parsing it gives back an equal spec.
    public var description: String {
        var s = family.rawValue + ":"
        switch family {
        case .mlp:
            s += ([inputShape[0]] + blocks.map { if case .dense(let n) = $0 { return n }; return 0 }).map(String.init).joined(separator: "-")
        case .cnn:
            s += inputShape.map(String.init).joined(separator: "x")
            for b in blocks {
                switch b {
                case .conv(let c, let k, let st, let p):
                    s += "-c\(c)" + (k != 3 ? "k\(k)" : "") + (st != 1 ? "s\(st)" : "") + (p != k / 2 ? "p\(p)" : "")
                case .pool(let w, let st): s += "-p\(w)" + (st != w ? "s\(st)" : "")
                case .dense(let n): s += "-fc\(n)"
                }
            }
        }
        if batchNorm { s += ",bn" }
        if dropout > 0 { s += ",dropout=\(dropout)" }
        if inputDropout > 0 { s += ",in-dropout=\(inputDropout)" }
        return s
    }

    /// Builds the layers for samples of `dataShape` (checked against the spec's input) and
    /// initialises them from `seed`.
    public func build(dataShape: [Int]? = nil, seed: UInt64) throws(ModelSpecError) -> Sequential {
        let features = inputShape.reduce(1, *)
        let sampleShape: [Int]
        if let dataShape {
            guard dataShape.reduce(1, *) == features, family == .mlp || dataShape == inputShape else {
                throw .invalid("model spec '\(self)' expects inputs of shape \(inputShape) but the data has samples of shape \(dataShape)")
            }
            sampleShape = dataShape
        } else {
            sampleShape = family == .mlp ? [features] : inputShape
        }
        var layers: [any Layer] = []
        var shape = sampleShape
        var dropoutIndex: UInt64 = 0
        func add(_ layer: any Layer) { layers.append(layer); shape = layer.outputShape }
        func addDropout(_ p: Float) {
            guard p > 0 else { return }
            dropoutIndex += 1
            add(Dropout(shape: shape, probability: p, seed: seed &+ 0x0D50_0000 &+ dropoutIndex))
        }
        if family == .mlp {
            add(Flatten(shape: shape))
            addDropout(inputDropout)
        }
        for (i, block) in blocks.enumerated() {
            let isLast = i == blocks.count - 1
            switch block {
            case .conv(let c, let k, let s, let p):
                add(try Conv2D(inputShape: shape, outChannels: c, kernel: k, stride: s, padding: p))
                if batchNorm { add(try BatchNorm(shape: shape)) }
                add(ReLU(shape: shape))
            case .pool(let w, let s):
                add(try MaxPool2D(inputShape: shape, kernel: w, stride: s))
            case .dense(let n):
                if shape.count != 1 { add(Flatten(shape: shape)) }
                add(Linear(shape[0], n))
                if !isLast {
                    if batchNorm { add(try BatchNorm(shape: shape)) }
                    add(ReLU(shape: shape))
                    addDropout(dropout)
                }
            }
        }
        return Sequential(layers: layers, inputShape: sampleShape, seed: seed)
    }
}
