#!/usr/bin/env bash
# The GPU checks of issues 10 and 19 as one prepared script, for a machine lent an accelerator:
# DistilBERT-shaped (random weights: random:6:768) training of BERT_DOT and BERT_CAT in bf16 at
# batch 32 and 256 (throughput, MFU, host overhead per step), against the same-precision peers
# at batch 32, and forward-only scoring (pairs/s at batch 256). Every figure comes back as a RESULT
# line (benchmarks/README.md says how to read them), and OUT_DIR/rates.yaml is the rate file written
# from them (device, date, commit, precision, shape, lengths): committed as
# kdlib/repro/rates/<device>.yaml, it is what `kdlib book --dry-run` turns into GPU hours.
#
# Needs a python with torch and transformers (and sentence-transformers for the BERT_DOT peer),
# and nothing else: no pip install, no network, no model package (the random encoder's
# word-piece tokenizer is generated from the benchmark's texts), no data pack (synthetic texts
# of the same lengths stand in when the TREC DL pack is absent, and the output says so).
#
# Usage, from anywhere in the repository:  bash benchmarks/gpu_check.sh [OUT_DIR]
#   (about 3 minutes on an H100/H200; the full log goes to OUT_DIR/bench_train.log, started afresh)
# Overrides, e.g. to try it on a CPU in a minute:
#   GPU_CHECK_ENCODER=random:2:128 GPU_CHECK_STEPS=4 GPU_CHECK_BATCHES="8 16" bash benchmarks/gpu_check.sh
#   PYTHON=/path/to/python (default python3)
#   GPU_CHECK_BOOK=1 also runs the miniature msmarco book on the GPU (tests/book/test_book_msmarco.py,
#   issue 9; needs pytest, ir_datasets and the MiniLM package, so it is off by default)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp/kdlib-gpu-check}}"
mkdir -p "$out"
py="${PYTHON:-python3}"
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
encoder="${GPU_CHECK_ENCODER:-random:6:768}"
steps="${GPU_CHECK_STEPS:-12}"
batches="${GPU_CHECK_BATCHES:-32 256}"
peer_batch="${batches%% *}"  # the peers run at the first batch size only

if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
fi
status=0
: > "$out/bench_train.log"  # the rate file is written from this run's lines only
for batch in $batches; do
  peer=--no-peer
  [ "$batch" = "$peer_batch" ] && peer=
  timeout 240 "$py" benchmarks/bench_train.py --steps "$steps" --batch-size "$batch" --precision bf16 \
    --encoders "$encoder" --score $peer 2>&1 | tee -a "$out/bench_train.log" | grep -E "^(RESULT|machine|texts)|Error|error:"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
done
"$py" benchmarks/bench_train.py --rates-from "$out/bench_train.log" --write-rates "$out/rates.yaml" \
  --rates-source "benchmarks/gpu_check.sh (batches $batches, $steps steps; log $out/bench_train.log)" || status=1
if [ "${GPU_CHECK_BOOK:-0}" = 1 ]; then
  timeout 300 "$py" -m pytest -q -x tests/book/test_book_msmarco.py 2>&1 | tail -5 | tee "$out/msmarco_book.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
exit "$status"
