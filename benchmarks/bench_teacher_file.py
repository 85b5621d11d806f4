"""Peak memory of streaming a teacher file (published format) into training examples.

A synthetic MS MARCO-shaped cache is written to a temporary ``IR_DATASETS_HOME`` (a passage
collection and the training queries, read by the real ``ir_datasets`` code and docs store),
then teacher files of each size in the published format (``pos_score neg_score qid pos_pid
neg_pid``). Each file is read by :func:`kdlib.data.teacher_stream.iter_teacher_examples` in
a fresh process, which prints its peak resident set size (``ru_maxrss``). Streaming means
the peak does not grow with the file: the goal is peaks within 10% of each other, and
under 1.5 GB (the full T2 file has 39.8M lines).

Run: ``.venv/bin/python benchmarks/bench_teacher_file.py [--sizes 200000 2000000]``
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = "msmarco-passage/train/triples-small"
_WORDS = [f"w{i}" for i in range(5000)]


def _write_cache(home: Path, passages: int, queries: int, seed: int) -> None:
    """A synthetic msmarco-passage collection and training queries where ir_datasets reads them."""
    rng = random.Random(seed)
    root = home / "msmarco-passage"
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "irds_version.txt").write_text("v2")
    with open(root / "collection.tsv", "w") as out:
        for pid in range(passages):
            out.write(f"{pid}\t{' '.join(rng.choices(_WORDS, k=rng.randint(30, 90)))}\n")
    with open(root / "train" / "queries.tsv", "w") as out:
        for qid in range(queries):
            out.write(f"{qid}\t{' '.join(rng.choices(_WORDS, k=rng.randint(3, 9)))}\n")


def _write_teacher_file(path: Path, lines: int, passages: int, queries: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w") as out:
        for _ in range(lines):
            out.write(f"{rng.uniform(-5, 10):.6f}\t{rng.uniform(-10, 5):.6f}\t{rng.randrange(queries)}\t"
                      f"{rng.randrange(passages)}\t{rng.randrange(passages)}\n")


def _child(path: str, batch: int) -> None:
    """Stream one file; print a JSON line with the counts, the time and the peak RSS."""
    import ir_datasets

    from kdlib.data import irds
    from kdlib.data.teacher_stream import StreamStats, iter_teacher_examples

    queries = irds.load_queries(TRAIN)
    passages = irds.LazyPassages(ir_datasets.load(TRAIN))
    passages.get_many(["0"])  # open the docs store
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = StreamStats()
    start = time.perf_counter()
    chars = 0
    for example in iter_teacher_examples(path, queries, passages, batch=batch, stats=stats):
        chars += len(example.pos_text)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"lines": stats.lines, "kept": stats.kept, "seconds": seconds,
                      "rss_before_mb": before / 1024, "peak_rss_mb": peak / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 2_000_000], help="lines per teacher file")
    parser.add_argument("--passages", type=int, default=200_000, help="passages in the synthetic collection")
    parser.add_argument("--queries", type=int, default=100_000, help="training queries")
    parser.add_argument("--batch", type=int, default=4096, help="lines resolved per get_many")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.batch)
        return
    with tempfile.TemporaryDirectory(prefix="kdlib-bench-teacher-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "IR_DATASETS_HOME": str(home), "IR_DATASETS_TMP": str(home / "tmp"),
               "IR_DATASETS_SKIP_DISK_FREE": "true", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        _write_cache(home, args.passages, args.queries, args.seed)
        # Build the docs store once, outside the measured processes.
        build = "import ir_datasets; ir_datasets.load('%s').docs_store().build()" % TRAIN
        subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True)
        print(f"synthetic collection: {args.passages:,} passages, {args.queries:,} training queries; "
              f"get_many batches of {args.batch} lines")
        print(f"{'lines':>10} {'kept':>10} {'seconds':>8} {'lines/s':>9} {'RSS before':>11} {'peak RSS':>9}")
        peaks = []
        for size in args.sizes:
            path = home / f"teacher_{size}.tsv"
            _write_teacher_file(path, size, args.passages, args.queries, args.seed + size)
            out = subprocess.run([sys.executable, __file__, "--child", str(path), "--batch", str(args.batch)],
                                 env=env, check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            peaks.append(row["peak_rss_mb"])
            print(f"{row['lines']:>10,} {row['kept']:>10,} {row['seconds']:>8.1f} "
                  f"{row['lines'] / row['seconds']:>9,.0f} {row['rss_before_mb']:>8.0f} MB {row['peak_rss_mb']:>6.0f} MB")
            path.unlink()
        spread = (max(peaks) - min(peaks)) / min(peaks)
        print(f"peak RSS spread: {spread:.1%} (goal: within 10%); largest peak {max(peaks):.0f} MB (goal: under 1536 MB)")


if __name__ == "__main__":
    main()
