#!/usr/bin/env bash
# The GPU checks of issues 9 and 10 as one prepared script, for a session lent an accelerator
# (the library's `device` tool runs it in the repository root; figures come back as RESULT lines).
#   1. DistilBERT-shaped (random weights) training throughput and MFU of BERT_DOT and BERT_CAT,
#      batch 32 and 128, bf16 and fp16, against the same-precision peers at batch 32;
#   2. the miniature msmarco book (tests/test_book_msmarco.py) on the GPU.
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]   (about 6 minutes on an H100-class GPU)
set -uo pipefail
out="${1:-${OUT:-/tmp/kdlib-gpu-check}}"
mkdir -p "$out"
python -m pip install -q -e '.[test,bench]' >"$out/install.log" 2>&1 || { tail -20 "$out/install.log"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
for precision in bf16 fp16; do
  for batch in 32 128; do
    peer=--no-peer; [ "$batch" = 32 ] && peer=
    timeout 240 python benchmarks/bench_train.py --steps 12 --batch-size "$batch" --precision "$precision" \
      --encoders random:6:768 $peer 2>&1 | grep -E "RESULT|Error|error" | tee -a "$out/bench_train.txt"
  done
done
timeout 300 python -m pytest -q -x tests/test_book_msmarco.py 2>&1 | tail -5 | tee "$out/msmarco_book.txt"
