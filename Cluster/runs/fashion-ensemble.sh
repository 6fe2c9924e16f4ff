#!/usr/bin/env bash
# Recipe: compress an ensemble of Fashion-MNIST teachers into a student ≥100× smaller, and
# compare it with the same student trained from scratch on the same budget (3 seeds).
#
# Why this shape (docs/BENCHMARKS.md has the measurements): distillation pays when the
# student is big enough to over-fit the hard labels — the soft targets then act as a
# regulariser (Hinton et al. 2015 §3). Tiny students (≤ 25K parameters) gained nothing
# here at any T, α, rule or budget, which is what Cho & Hariharan (2019) report for large
# capacity gaps. So the ensemble is made large (3 CNNs + 5 MLPs, 14.5M parameters), the
# student is the largest MLP that stays ≥100× smaller (784-140-140-10, 131K), and the
# budget is long enough for the from-scratch student to over-fit (50 epochs).
#
#   Cluster/runs/fashion-ensemble.sh [OUT_DIR]
#
# Teachers are trained once and reused from OUT_DIR (delete them to retrain). Every step is
# a plain `distillery` command, so the recipe can be replayed by hand. The cluster version
# of this run (a YAML run spec) arrives with the control plane.
set -euo pipefail
DISTILLERY="${DISTILLERY:-distillery}"
OUT="${1:-runs-out}"
STUDENT_SEEDS="${STUDENT_SEEDS:-1 2 3}"
mkdir -p "$OUT"

# --- teachers ----------------------------------------------------------------------------
CNN="cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn,dropout=0.3"
MLP="mlp:784-1200-1200-10,dropout=0.2"
TEACHERS=()
for s in 1 2 3; do
  t="$OUT/cnn-t$s.safetensors"
  [[ -f "$t" ]] || "$DISTILLERY" train --model "$CNN" --epochs 12 --seed "$s" --out "$t"
  TEACHERS+=("$t")
done
for s in 1 2 3 4 5; do
  t="$OUT/mlp-t$s.safetensors"
  [[ -f "$t" ]] || "$DISTILLERY" train --model "$MLP" --epochs 10 --seed "$s" --out "$t"
  TEACHERS+=("$t")
done
TEACHER_LIST=$(IFS=,; echo "${TEACHERS[*]}")

# --- distillation vs. scratch, one run per seed --------------------------------------------
STUDENT="${STUDENT:-mlp:784-140-140-10}"
for seed in $STUDENT_SEEDS; do
  "$DISTILLERY" distill --teachers "$TEACHER_LIST" --student "$STUDENT" \
      --temperature "${TEMPERATURE:-4}" --alpha "${ALPHA:-0.9}" --ensemble "${ENSEMBLE:-mean-probs}" \
      --epochs "${EPOCHS:-50}" --lr "${LR:-1e-3}" --seed "$seed" --logits-cache "$OUT/cache" \
      --out "$OUT/student-s$seed.safetensors" --baseline --report "$OUT/report-s$seed.json"
done

# --- semi-supervised transfer: 5% of the labels, soft labels for all images ----------------
if [[ "${TRANSFER:-1}" == 1 ]]; then
  "$DISTILLERY" distill --teachers "$TEACHER_LIST" --student "$STUDENT" \
      --temperature "${TEMPERATURE:-4}" --alpha "${ALPHA:-0.9}" --ensemble "${ENSEMBLE:-mean-probs}" \
      --epochs "${EPOCHS:-50}" --lr "${LR:-1e-3}" --seed 1 --label-fraction 0.05 --logits-cache "$OUT/cache" \
      --out "$OUT/student-transfer.safetensors" --baseline --report "$OUT/report-transfer.json"
fi

# --- summary ------------------------------------------------------------------------------
/usr/bin/env python3 - "$OUT" $STUDENT_SEEDS <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
reports = [json.load(open(f"{out}/report-s{s}.json")) for s in seeds]
gains = [r["gain_points"] for r in reports]
r0 = reports[0]
print("\n=== recipe summary ===")
for t in r0["teachers"]:
    print(f"teacher  {t['spec']:<48} {t['parameters']:>9,} params  {100 * t['test_accuracy']:.2f}%")
print(f"ensemble ({len(r0['teachers'])} teachers, mean of probabilities)       {r0['ensemble']['parameters']:>9,} params  {100 * r0['ensemble']['test_accuracy']:.2f}%")
for s, r in zip(seeds, reports):
    print(f"seed {s}: student distilled {100 * r['student']['test_accuracy']:.2f}%  from scratch {100 * r['baseline']['test_accuracy']:.2f}%  gain {r['gain_points']:+.2f}")
print(f"student {r0['student']['spec']}: {r0['student']['parameters']:,} params, {r0['compression']:.0f}× smaller than the ensemble")
print(f"median gain over scratch: {statistics.median(gains):+.2f} points")
try:
    t = json.load(open(f"{out}/report-transfer.json"))
    print(f"transfer (5% labels): distilled {100 * t['student']['test_accuracy']:.2f}%  scratch on the labelled 5% {100 * t['baseline']['test_accuracy']:.2f}%  gain {t['gain_points']:+.2f}")
except FileNotFoundError:
    pass
PY
