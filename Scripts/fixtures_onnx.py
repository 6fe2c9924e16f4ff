"""ONNX test fixtures for Tests/ONNXTests/Fixtures (run through Scripts/fixtures-onnx).

Two phases, because PyTorch (Debian's python3-torch, /usr/bin/python3) and onnxruntime (the
virtual environment of Scripts/onnx-venv) live in different interpreters:
  export DIR     torch.onnx.export of each model at opsets 13 and 17 -> DIR/NAME.onnx, and the
                 fixed input batch DIR/input.npy (4 Fashion-MNIST-shaped samples, shared)
  reference DIR  the opset-17 MLP, CNN (batch norm kept) and ResNet converted to opset 18 by
                 onnx.version_converter -> DIR/NAME_op18.onnx; the input as DIR/input.pb and onnxruntime's outputs as DIR/NAME.output.pb (TensorProto),
                 and DIR/NAME.ops.txt (the op types of the graph, one per line, sorted)
"""
import sys
import os


def export(out):
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(7)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 10))

        def forward(self, x):
            return self.net(x)

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(4, 8, 3, stride=1, padding=1, groups=2), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
                nn.AvgPool2d(2))
            self.head = nn.Linear(8 * 7 * 7, 10)

        def forward(self, x):
            return torch.log_softmax(self.head(torch.flatten(self.features(x), 1)), dim=1)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.proj = None
            if stride != 1 or cin != cout:
                self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = self.b2(self.c2(y))
            return torch.relu(y + (x if self.proj is None else self.proj(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
            self.block1 = Block(4, 4, 1)
            self.block2 = Block(4, 8, 2)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            x = self.pool(self.block2(self.block1(self.stem(x))))
            return self.fc(x.view(x.size(0), -1))

    class GELUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            return self.fc(nn.functional.gelu(x.view(x.size(0), -1)))

    def randomize_bn(model):
        # Non-trivial running statistics so BatchNormalization matters.
        g = torch.Generator().manual_seed(11)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                with torch.no_grad():
                    m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                    m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        return model

    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    dyn = {"input": {0: "batch_size"}, "logits": {0: "batch_size"}}
    models = {
        "mlp": (MLP(), dict(dynamic_axes=dyn)),
        "cnn_bn_folded": (randomize_bn(CNN()), dict(dynamic_axes=dyn, training=torch.onnx.TrainingMode.EVAL,
                                                    do_constant_folding=True)),
        "cnn_bn_kept": (randomize_bn(CNN()), dict(dynamic_axes=dyn, training=torch.onnx.TrainingMode.PRESERVE,
                                                  do_constant_folding=False)),
        "resnet": (randomize_bn(ResNet()), dict(dynamic_axes=dyn)),
        # A fixed batch of 4 (no dynamic axes): the exporter folds x.view(x.size(0), -1) to Reshape [4, -1].
        "resnet_fixed": (randomize_bn(ResNet()), dict()),
        "gelu": (GELUNet(), dict(dynamic_axes=dyn)),
    }
    for name, (model, options) in models.items():
        model.eval()
        for opset in (13, 17):
            if name in ("gelu", "resnet_fixed") and opset != 13:
                continue
            stem = os.path.join(out, f"{name}_op{opset}")
            torch.onnx.export(model, x, stem + ".onnx", opset_version=opset, input_names=["input"],
                              output_names=["logits"], **options)
    np.save(os.path.join(out, "input.npy"), x.numpy())


def reference(out):
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    from onnx import version_converter

    # Opset 18 (what current PyTorch exports by default; torch 1.13 stops at 17): the opset-17
    # exports converted by onnx's own version converter.
    for name in ("mlp", "cnn_bn_kept", "resnet"):
        converted = version_converter.convert_version(onnx.load(os.path.join(out, f"{name}_op17.onnx")), 18)
        onnx.save(converted, os.path.join(out, f"{name}_op18.onnx"))
    x = np.load(os.path.join(out, "input.npy"))
    with open(os.path.join(out, "input.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "input").SerializeToString())
    for file in sorted(os.listdir(out)):
        if not file.endswith(".onnx"):
            continue
        stem = os.path.join(out, file[:-5])
        model = onnx.load(stem + ".onnx")
        onnx.checker.check_model(model)
        session = onnxruntime.InferenceSession(stem + ".onnx", providers=["CPUExecutionProvider"])
        (y,) = session.run(None, {"input": x})
        with open(stem + ".output.pb", "wb") as f:
            f.write(numpy_helper.from_array(y, "logits").SerializeToString())
        with open(stem + ".ops.txt", "w") as f:
            f.write("".join(op + "\n" for op in sorted({n.op_type for n in model.graph.node})))
        print(file, y.shape, sorted({n.op_type for n in model.graph.node}))
    os.remove(os.path.join(out, "input.npy"))


if __name__ == "__main__":
    {"export": export, "reference": reference}[sys.argv[1]](sys.argv[2])
