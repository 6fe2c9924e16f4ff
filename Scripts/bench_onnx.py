"""onnxruntime twin of `distillery-bench onnx`: inference throughput of one ONNX teacher.

Run by Scripts/bench (BENCH=onnx) with the venv's python (Scripts/onnx-venv): CPU execution
provider, intra_op_num_threads=2, inter_op_num_threads=1, sequential execution, the default
graph optimisations (ORT_ENABLE_ALL: onnxruntime fuses Conv+BatchNormalization+Relu itself).
The input is the Swift side's benchInput: x[i] = ((i·2654435761) mod 2³²)/2³²·2 − 1.
Prints one JSON object per batch size, like the Swift side.

    $(Scripts/onnx-venv) Scripts/bench_onnx.py MODEL.onnx [--batch 128,1000] [--seconds 3]
                                               [--sample-shape 1,28,28] [--threads 2]
"""
import argparse
import json
import os
import sys
import timeit

import numpy as np
import onnxruntime as ort


def bench_input(count):
    i = np.arange(count, dtype=np.uint64)
    h = (i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    return (h.astype(np.float64) / 4294967296.0 * 2 - 1).astype(np.float32)


def timed(step, seconds):
    """Calls per second: 5 warm-up calls, then calls until `seconds` have passed (as the Swift side)."""
    timer = timeit.Timer(step)
    timer.timeit(5)
    calls, elapsed = 0, 0.0
    while elapsed < seconds:
        elapsed += timer.timeit(1)
        calls += 1
    return calls / elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--batch", default="128,1000")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--sample-shape", default="1,28,28")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = a.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(a.model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    shape = [int(s) for s in a.sample_shape.split(",")]
    model = os.path.splitext(os.path.basename(a.model))[0]
    for batch in (int(b) for b in a.batch.split(",")):
        x = bench_input(batch * int(np.prod(shape))).reshape([batch] + shape)
        checksum = float(session.run(None, {name: x})[0].astype(np.float64).sum())
        rate = timed(lambda: session.run(None, {name: x}), a.seconds) * batch
        print(json.dumps({"model": model, "side": "onnxruntime", "batch": batch, "samples_per_s": round(rate, 1),
                          "checksum": round(checksum, 3)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
