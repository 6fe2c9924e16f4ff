#!/usr/bin/python3
"""PyTorch twin of `distillery-bench bench`: the same four workloads on synthetic data.

Run by Scripts/bench with Debian's python3-torch, 2 threads, and the OpenMP OpenBLAS in
front of the system one (LD_LIBRARY_PATH), so torch's GEMMs do not fight a pthread pool.
Prints one JSON object per case, like the Swift side.
"""
import json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(1)
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
CASES = (sys.argv[1] if len(sys.argv) > 1 else "mlp-train,student-kd,ensemble-infer,cnn-train").split(",")


def mlp(sizes, dropout=0.0):
    layers = [nn.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def cnn():  # cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn,dropout=0.3
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))


def timed(step):
    for _ in range(5):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= SECONDS:
            return n / elapsed


def train_throughput(model):
    B = 128
    x = torch.rand(B, 1, 28, 28) * 2 - 1
    y = torch.arange(B) % 10
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0)
    model.train()

    def step():
        opt.zero_grad(set_to_none=False)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return timed(step) * B


def student_kd():
    B, T, alpha = 128, 4.0, 0.9
    model = mlp([784, 64, 10])
    x = torch.rand(B, 1, 28, 28) * 2 - 1
    y = torch.arange(B) % 10
    target = F.softmax((torch.rand(B, 10) * 2 - 1) / T, dim=1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0)

    def step():
        opt.zero_grad(set_to_none=False)
        z = model(x)
        loss = alpha * T * T * F.kl_div(F.log_softmax(z / T, 1), target, reduction="batchmean") \
            + (1 - alpha) * F.cross_entropy(z, y)
        loss.backward()
        opt.step()
    return timed(step) * B


def ensemble_infer():
    B, T = 2000, 4.0
    teachers = [mlp([784, 1200, 1200, 10], 0.2).eval() for _ in range(3)]
    x = torch.rand(B, 1, 28, 28) * 2 - 1

    def step():
        with torch.no_grad():
            torch.stack([F.softmax(t(x) / T, 1) for t in teachers]).mean(0)
    return timed(step) * B


for case in CASES:
    if case == "mlp-train":
        v = train_throughput(mlp([784, 1200, 1200, 10], 0.2)); unit = "samples/s"
    elif case == "cnn-train":
        v = train_throughput(cnn()); unit = "samples/s"
    elif case == "student-kd":
        v = student_kd(); unit = "samples/s"
    elif case == "ensemble-infer":
        v = ensemble_infer(); unit = "rows/s"
    else:
        sys.exit(f"unknown case {case}")
    print(json.dumps({"case": case, "unit": unit, "value": int(v)}), flush=True)
