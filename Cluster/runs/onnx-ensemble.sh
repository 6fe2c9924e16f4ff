#!/usr/bin/env bash
# Prepares the files of Cluster/runs/onnx-ensemble.yaml — what a user who trained an ensemble
# in PyTorch brings — and the two references the cluster's run is compared with:
#   1. DIR/fashion-mnist.npz       Fashion-MNIST as .npz (Scripts/fashion-npz)
#   2. DIR/{mlp,cnn,resnet}.onnx   PyTorch teachers exported to ONNX (Scripts/torch-teachers,
#                                  single-threaded: ≈ 10–15 min on this machine) + teachers.json
#   3. DIR/ensemble.json           each teacher's and the ensemble's test accuracy by
#      DIR/train-logits.npy        onnxruntime, and the teachers' training-split logits
#                                  (Scripts/ensemble-ort, in the venv of Scripts/onnx-venv)
#   4. DIR/torch-distill.json      the student distilled by the same recipe in PyTorch
#                                  (Scripts/torch-distill; skip with REFERENCE=0)
#
#   Cluster/runs/onnx-ensemble.sh [DIR]        DIR defaults to .distillery/onnx-ensemble
#
# Idempotent: a step whose outputs exist (and are newer than their inputs, for 3 and 4) is
# skipped; delete a file to redo its step. TEACHER_EPOCHS=N overrides the teachers' epochs
# (5/5/3), STUDENT_EPOCHS=N the student's (10, as in the run spec); TRAIN_LIMIT=N and
# TEST_LIMIT=M make a small npz for a quick try (use another DIR: the spec expects full data).
# Run from anywhere; paths are relative to the repository. The run spec reads
# DIR = .distillery/onnx-ensemble.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-.distillery/onnx-ensemble}"
NPZ="$OUT/fashion-mnist.npz"
mkdir -p "$OUT"

# --- 1. data ---------------------------------------------------------------------------------
[[ -f "$NPZ" ]] || Scripts/fashion-npz "$NPZ" --train-limit "${TRAIN_LIMIT:-0}" --test-limit "${TEST_LIMIT:-0}"

# --- 2. teachers -----------------------------------------------------------------------------
TEACHERS=(mlp cnn resnet)
MISSING=()
for t in "${TEACHERS[@]}"; do [[ -f "$OUT/$t.onnx" ]] || MISSING+=("$t"); done
if (( ${#MISSING[@]} )); then
  Scripts/torch-teachers "$NPZ" --out "$OUT" --only "$(IFS=,; echo "${MISSING[*]}")" \
      ${TEACHER_EPOCHS:+--epochs "$TEACHER_EPOCHS"}
fi
FILES=()
for t in "${TEACHERS[@]}"; do FILES+=("$OUT/$t.onnx"); done

# --- 3. onnxruntime reference ------------------------------------------------------------------
stale() {  # stale OUTPUT INPUT…: the output is missing or older than an input
  local out=$1; shift
  [[ -f "$out" ]] || return 0
  for f in "$@"; do [[ "$f" -nt "$out" ]] && return 0; done
  return 1
}
if stale "$OUT/ensemble.json" "$NPZ" "${FILES[@]}" || stale "$OUT/train-logits.npy" "$NPZ" "${FILES[@]}"; then
  PY=$(Scripts/onnx-venv)
  "$PY" Scripts/ensemble-ort "$NPZ" "${FILES[@]}" --json "$OUT/ensemble.json" --dump-logits "$OUT/train-logits.npy"
fi

# --- 4. PyTorch reference of the student -------------------------------------------------------
if [[ "${REFERENCE:-1}" == 1 ]] && stale "$OUT/torch-distill.json" "$OUT/train-logits.npy"; then
  Scripts/torch-distill "$NPZ" --logits "$OUT/train-logits.npy" --student mlp:784-64-10 \
      --temperature 4 --alpha 0.9 --ensemble mean-probs --epochs "${STUDENT_EPOCHS:-10}" --batch 128 \
      --lr 0.001 --optimizer adamw --schedule cosine --seed 1 --validation 5000 \
      --json "$OUT/torch-distill.json"
fi

# --- summary -----------------------------------------------------------------------------------
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
e = json.load(open(f"{out}/ensemble.json"))
print("\n=== onnx-ensemble references ===")
for t in e["teachers"]:
    print(f"teacher  {t['file']:<40} {100 * t['test_accuracy']:.2f}%  (onnxruntime)")
print(f"ensemble (mean of probabilities)         {100 * e['ensemble']['test_accuracy']:.2f}%  (onnxruntime; the cluster must agree within 0.05 points)")
if os.path.exists(f"{out}/torch-distill.json"):
    d = json.load(open(f"{out}/torch-distill.json"))
    print(f"student  {d['student']['spec']:<40} {100 * d['student']['test_accuracy']:.2f}%  (PyTorch reference; the cluster's within ±0.5 points)")
print("\nnext: distillery submit Cluster/runs/onnx-ensemble.yaml --watch")
PY
