"""Training throughput and MFU: kdlib's loop vs sentence-transformers / transformers peers.

For each encoder size it trains, with Margin-MSE on the same real TREC DL triples, the same
batch size and the same truncation (query 30, passage 128 word pieces):

- kdlib BERT_DOT and BERT_CAT through :func:`kdlib.train.train`, as the book runs them
  (bf16 autocast where supported, dropout 0, eager attention, length bucketing);
- the bi-encoder peer: sentence-transformers ``MarginMSELoss`` on the same encoder (mean
  pooling, as shipped), in a bare optimisation loop (no Trainer overhead);
- the cross-encoder peer: the ``AutoModelForSequenceClassification`` that
  sentence-transformers' ``CrossEncoder`` wraps, in the same bare loop.

Each peer runs twice: in its **default** precision (fp32, dropout 0.1 as configured) and in
**the same precision as kdlib** (kdlib's autocast, bf16 unless ``--precision`` says otherwise,
dropout 0, the faster of eager and sdpa attention): the ratio that matters is against the
second, a peer given its best settings.

FLOPs are counted from the padded shapes each loop actually saw, forward + backward =
3 x forward: ``6 * N * T + 12 * L * d * sum(s^2)`` (``N`` non-embedding parameters, ``T``
tokens, ``L`` layers, ``d`` width, ``s`` each padded sequence length). MFU divides them by the
best matmul rate of several square sizes in kdlib's precision (bf16 unless ``--precision``
says otherwise), measured in the same run on the same threads.

Host overhead per step (``host_overhead_ms``): the loop's time per step minus the time of the
same steps' forward, loss, backward, gradient clipping and optimiser step alone, run right
after on the same model with the batches the loop saw, collated and copied to the device
beforehand (``compute_ms``, :func:`compute_only_seconds`). What is left is everything else the
loop does: tokenising, collating, copying, statistics, device syncs, logging, Python. The
device is waited for only after the first (warm-up, not timed) and the last step of either.
``compute_only_mfu`` is the MFU the same steps would have without host overhead;
``first_step_s`` the time from calling ``train`` to the end of step 1 (model to device,
optimiser, tokenising ahead of the steps, warm-up), which the throughput does not count.

``--score`` also measures forward-only scoring (``score_<arch>``: (query, passage) pairs/s as
re-ranking runs them, :func:`bench_kdlib_scoring`), the rate validation and test re-ranking need.

Every figure is printed once as a ``RESULT`` line (``name key=value ...``) for tables and CI logs.
``--write-rates FILE`` turns the run's RESULT lines (or, with ``--rates-from LOG``, those of
earlier runs' logs, measuring nothing) into a rate file (:mod:`kdlib.repro.rates`: the measured
triples/s and pairs/s with the device, date, commit, precision, encoder shape and lengths),
written atomically: committed as ``kdlib/repro/rates/<device>.yaml``, it is what
``kdlib book --dry-run`` turns into GPU hours.

Run: ``PYTHONPATH=. python benchmarks/bench_train.py [--steps 10] [--batch-size 16]
[--encoders minilm:6 splade-tiny random:6:768] [--precision auto|bf16|fp16|fp32] [--repeats 1]
[--score] [--write-rates FILE]`` (CPU or CUDA, detected; ``--repeats N`` keeps the fastest of N
runs of every measurement).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import io
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (bench_triples, device, encoder_path, machine, matmul_peak, offline_tokenizer,  # noqa: E402
                     result_line, sync, texts_digest)

import torch  # noqa: E402

QUERY_LEN, PASSAGE_LEN = 30, 128


@dataclass(frozen=True)
class Shape:
    """The encoder a figure is about: a directory and the number of its layers to keep."""

    name: str
    path: str
    layers: int

    @classmethod
    def parse(cls, text: str, texts: list[str]) -> "Shape":
        """``minilm[:LAYERS]``, ``splade-tiny``, a directory, or ``random:LAYERS:WIDTH`` (a BERT with
        random weights, e.g. ``random:6:768`` for DistilBERT's shape, built offline with a
        word-piece vocabulary generated from ``texts``, the benchmark's own)."""
        from kdlib.models.encoders import random_shape

        shape = random_shape(text)  # kdlib's own parsing and shape of the random:LAYERS:WIDTH alias
        if shape is not None:
            return cls(f"random-L{shape.layers}-H{shape.width}", random_encoder(shape, texts), shape.layers)
        alias, _, layers = text.partition(":")
        path = encoder_path(alias)
        from transformers import AutoConfig

        total = AutoConfig.from_pretrained(path).num_hidden_layers
        return cls(f"{alias}-L{int(layers or total)}", path, int(layers or total))


def random_encoder(shape, texts: list[str]) -> str:
    """kdlib's ``random:LAYERS:WIDTH`` encoder (:class:`kdlib.models.encoders.RandomShape`:
    seeded random weights, throughput does not depend on them), but with a word-piece tokenizer
    generated from ``texts`` (:func:`_common.offline_tokenizer`) instead of MiniLM's, so that it
    needs no model package and no network; saved once to a temporary directory."""
    from kdlib.models.encoders import save_random_bert

    out = Path(tempfile.gettempdir()) / f"kdlib-bench-bert-L{shape.layers}-H{shape.width}-{texts_digest(texts)}"
    if not (out / "config.json").is_file():
        save_random_bert(out, shape, offline_tokenizer(texts, out))
    return str(out)


def teacher_scores(triples):
    rng = random.Random(1)
    return [(rng.gauss(2, 2), rng.gauss(-2, 2)) for _ in triples]


def encoder_flops(non_embedding: int, layers: int, width: int, shapes: list[tuple[int, int]]) -> float:
    """Training FLOPs (forward + backward) of encoding padded batches of ``(rows, length)``."""
    return sum(6 * non_embedding * rows * length + 12 * layers * width * rows * length**2 for rows, length in shapes)


def padded_shapes(features: dict) -> list[tuple[int, int]]:
    return [tuple(v.shape) for k, v in features.items() if k.endswith("input_ids")]


def bench_kdlib(arch: str, shape: Shape, triples, scores, steps: int, batch_size: int, dev,
                precision: str = "auto", repeats: int = 1) -> dict:
    """kdlib's loop on ``steps`` steps (the first is warm-up, not timed), then the same steps'
    forward, backward and optimiser work alone (:func:`compute_only_seconds`); the difference
    per step is the loop's host overhead. Each is run ``repeats`` times (the loop on a fresh
    model each time) and the fastest kept: other processes only ever slow a run down."""
    from kdlib import losses, models
    from kdlib.core.profiles import TrainConfig
    from kdlib.train import TrainingExample, train
    from kdlib.train.batching import StepSchedule, make_collate

    def build():
        return models.build(arch, shape.path, num_layers=shape.layers, query_max_len=QUERY_LEN,
                            passage_max_len=PASSAGE_LEN, dropout=0.0, attn_implementation="eager")

    ranker = build()
    examples = [TrainingExample(q, p, n, s[0], s[1]) for (q, p, n), s in zip(triples, scores)]
    config = TrainConfig(batch_size=batch_size, learning_rate=1e-5, max_steps=steps, warmup_steps=1,
                         log_every=steps, checkpoint_every=0, eval_every=0, precision=precision)
    # Exactly the batches the loop will see (same bucketing, same padding): their FLOPs, and the
    # inputs of the compute-only replay.
    schedule = StepSchedule([e.length() for e in examples], batch_size, seed=config.seed, start_step=0,
                            max_steps=steps)
    collate = make_collate(ranker.tokenize)
    collated = [collate([examples[i] for i in schedule.batch_of_step(step)]) for step in range(1, steps + 1)]
    non_embedding = sum(p.numel() for n, p in ranker.named_parameters() if "embeddings" not in n)
    flops = sum(encoder_flops(non_embedding, shape.layers, ranker.hidden_size, padded_shapes(c["features"]))
                for c in collated[1:])  # step 1 is warm-up, excluded from the timing below
    runs: list[tuple[float, float]] = []  # (seconds of steps 2.., seconds until step 1 ended)
    for attempt in range(repeats):
        ranker = ranker if attempt == 0 else build()
        # Tokenising above filled the ranker's word-piece memo; the loop must meet each text for
        # the first time, as in a one-epoch run (the embedded book's students see each triple once).
        ranker.__dict__.pop("_word_piece_memo", None)
        marks: dict[int, float] = {}

        def mark(step: int, row: dict) -> None:
            # Only the first and last steps wait for the device: a sync per step would keep the
            # host from running ahead of a GPU, which the loop is built to let it do.
            if step in (1, steps):
                sync(dev)
                marks[step] = time.perf_counter()

        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            train(ranker, losses.get("margin_mse"), examples, config, out, progress=False, device=dev.type,
                  callback=mark)
        runs.append((marks[steps] - marks[1], marks[1] - started))
    seconds, first_step = min(runs)
    compute = min(compute_only_seconds(ranker, losses.get("margin_mse"), collated, config, dev) for _ in range(repeats))
    return {"triples_per_s": (steps - 1) * batch_size / seconds, "flops_per_s": flops / seconds,
            "width": ranker.hidden_size,
            "step_ms": 1e3 * seconds / (steps - 1), "compute_ms": 1e3 * compute / (steps - 1),
            "host_overhead_ms": 1e3 * (seconds - compute) / (steps - 1),
            "compute_flops_per_s": flops / compute, "first_step_s": first_step}


def bench_kdlib_scoring(arch: str, shape: Shape, triples, batch_size: int, dev, precision: str = "auto",
                        repeats: int = 1) -> float:
    """Forward-only scoring pairs/s of kdlib's ``arch`` as re-ranking runs it: :meth:`Ranker.score`
    (eval and inference mode, pairs batched by length) under the training precision's autocast,
    with sdpa attention (the faster one for scoring), on the (query, passage) pairs of
    ``triples``. The first pass is warm-up, not timed; the fastest of ``repeats`` timed passes
    counts. The word-piece memo is emptied before each pass: re-ranking meets each pair once."""
    from kdlib import models
    from kdlib.runtime.precision import autocast, resolve_precision

    resolved = resolve_precision(precision, dev)
    ranker = models.build(arch, shape.path, num_layers=shape.layers, query_max_len=QUERY_LEN,
                          passage_max_len=PASSAGE_LEN, attn_implementation="sdpa").to(dev)
    queries = [q for q, _, _ in triples for _ in (0, 1)]
    passages = [p for _, a, b in triples for p in (a, b)]

    def run() -> float:
        ranker.__dict__.pop("_word_piece_memo", None)
        sync(dev)
        start = time.perf_counter()
        with autocast(dev, precision=resolved):
            ranker.score(queries, passages, batch_size=batch_size)  # returns CPU scores: waits for the device
        sync(dev)
        return time.perf_counter() - start

    run()
    return len(queries) / min(run() for _ in range(repeats))


def compute_only_seconds(ranker, loss_fn, collated: list[dict], config, dev) -> float:
    """Seconds that steps 2.. of ``collated`` take as forward, loss, backward, clipping and the
    optimiser step alone: batches collated and copied to the device beforehand, no logging,
    no statistics, no sync but the last. What the loop takes beyond this is host overhead."""
    from kdlib.train.optim import build_optimizer
    from kdlib.runtime.precision import autocast, resolve_precision

    precision = resolve_precision(config.precision, dev, bf16_allowed=config.bf16)
    optimizer = build_optimizer(ranker, config)  # the loop's (fused AdamW), fresh moments
    batches = [({k: v.to(dev) for k, v in c["features"].items()}, c["teacher"].to(dev)) for c in collated]
    ranker.train()

    def step(features: dict, teacher: torch.Tensor) -> None:
        with autocast(dev, precision=precision):
            scores = ranker(features)
        loss_fn(scores.float().view(-1, 2), teacher).backward()
        torch.nn.utils.clip_grad_norm_(ranker.parameters(), config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(*batches[0])  # warm-up, as the loop's step 1
    sync(dev)
    start = time.perf_counter()
    for features, teacher in batches[1:]:
        step(features, teacher)
    sync(dev)
    return time.perf_counter() - start


def _config_kwargs(same_precision: bool, attn: str) -> tuple[dict, dict]:
    config = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0} if same_precision else {}
    model = {"attn_implementation": attn} if same_precision else {}
    return config, model


def _autocast(dev, precision: str | None):
    """kdlib's autocast in ``precision`` (``None``: the peer's default, no autocast)."""
    if precision is None or precision == "fp32":
        return contextlib.nullcontext()
    from kdlib.runtime.precision import autocast

    return autocast(dev, precision=precision)


def _timed_loop(step_fn, steps: int, dev) -> float:
    """Seconds that steps 2..``steps`` of ``step_fn(step)`` take (the first is warm-up, not timed;
    the device is waited for after it and after the last, as for kdlib's loop)."""
    step_fn(0)
    sync(dev)
    start = time.perf_counter()
    for step in range(1, steps):
        step_fn(step)
    sync(dev)
    return time.perf_counter() - start


def bench_st_biencoder(shape: Shape, triples, scores, steps, batch_size, dev, *, precision: str | None,
                       attn: str = "eager") -> float:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    config_kwargs, model_kwargs = _config_kwargs(precision is not None, attn)
    model = SentenceTransformer(shape.path, device=str(dev), config_kwargs=config_kwargs, model_kwargs=model_kwargs)
    encoder = model[0].auto_model
    encoder.encoder.layer = encoder.encoder.layer[:shape.layers]
    encoder.config.num_hidden_layers = shape.layers
    loss = losses.MarginMSELoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()

    def step(i: int) -> None:
        chunk = triples[i * batch_size:(i + 1) * batch_size]
        labels = torch.tensor([s[0] - s[1] for s in scores[i * batch_size:(i + 1) * batch_size]], device=dev)
        features = []
        for column, limit in ((0, QUERY_LEN), (1, PASSAGE_LEN), (2, PASSAGE_LEN)):
            model.max_seq_length = limit
            texts = [t[column] for t in chunk]
            feats = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
            features.append({k: v.to(dev) for k, v in feats.items() if torch.is_tensor(v)})
        with _autocast(dev, precision):
            value = loss(features, labels)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()

    return (steps - 1) * batch_size / _timed_loop(step, steps, dev)


def bench_hf_crossencoder(shape: Shape, triples, scores, steps, batch_size, dev, *, precision: str | None,
                          attn: str = "eager") -> float:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    config_kwargs, model_kwargs = _config_kwargs(precision is not None, attn)
    model = AutoModelForSequenceClassification.from_pretrained(
        shape.path, num_labels=1, num_hidden_layers=shape.layers, **config_kwargs, **model_kwargs).to(dev)
    tokenizer = AutoTokenizer.from_pretrained(shape.path)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()

    def step(i: int) -> None:
        chunk = triples[i * batch_size:(i + 1) * batch_size]
        target = torch.tensor([s[0] - s[1] for s in scores[i * batch_size:(i + 1) * batch_size]], device=dev)
        queries = [t[0] for t in chunk for _ in (0, 1)]
        passages = [p for t in chunk for p in (t[1], t[2])]
        feats = tokenizer(queries, passages, truncation="only_second", max_length=QUERY_LEN + PASSAGE_LEN,
                          padding=True, return_tensors="pt").to(dev)
        with _autocast(dev, precision):
            logits = model(**feats).logits.float().view(-1, 2)
        value = torch.nn.functional.mse_loss(logits[:, 0] - logits[:, 1], target)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()

    return (steps - 1) * batch_size / _timed_loop(step, steps, dev)


PEERS = {"bert_dot": ("sentence-transformers MarginMSELoss", bench_st_biencoder),
         "bert_cat": ("transformers cross-encoder (CrossEncoder's model)", bench_hf_crossencoder)}


#: RESULT figures of a measurement copied into the rate file beside the rate (where present).
RATE_FIGURES = ("mfu", "compute_only_mfu", "host_overhead_ms", "peer_same_precision_triples_per_s",
                "ratio_vs_same_precision")


#: RESULT figures that are words even where they look like numbers (a torch version such as 2.10).
TEXT_FIGURES = ("device", "encoder", "peer", "precision", "torch")


def parse_result(line: str) -> tuple[str, dict[str, Any]] | None:
    """``(name, figures)`` of a ``RESULT name key=value ...`` line (numbers as numbers, but for
    :data:`TEXT_FIGURES`); ``None`` for any other line."""
    if not line.startswith("RESULT "):
        return None
    name, _, rest = line[len("RESULT "):].strip().partition(" ")
    figures: dict[str, Any] = {}
    for item in rest.split():
        key, _, value = item.partition("=")
        for kind in (() if key in TEXT_FIGURES else (int, float)):
            try:
                figures[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            figures[key] = value
    return name, figures


def rates_document(lines: Iterable[str], *, source: str, command: str, encoder: str | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rate document (:mod:`kdlib.repro.rates`) of a run's output ``lines``.

    ``train_<arch>`` RESULT lines give training triples/s, ``score_<arch>`` lines scoring
    pairs/s (by batch size; where an (architecture, batch) was measured more than once, the
    fastest counts: other work only ever slows a run down), the ``machine:`` line the device,
    ``matmul_peak`` the in-run peak, a ``texts:`` line that synthetic texts stood in. A rate file
    holds one encoder and one precision: ``encoder`` (as the lines name it, e.g.
    ``random-L6-H768``) picks one where the lines hold several.

    Raises:
        SystemExit: no measurement, several encoders and no ``encoder``, mixed precisions, or
            lines without the encoder's shape.
    """
    from kdlib.repro.rates import FORMAT, UNITS

    lines = list(lines)
    measured: dict[str, dict[str, dict[int, dict[str, Any]]]] = {"training": {}, "scoring": {}}
    device, torch_version, texts = None, None, "TREC DL 2020 BM25 run (the data pack)"
    peaks: dict[str, float] = {}
    conditions: dict[str, Any] = {}
    found = [result for result in map(parse_result, lines) if result]
    encoders = sorted({f["encoder"] for n, f in found if n.startswith(("train_", "score_"))})
    if not encoders:
        raise SystemExit("no train_<arch> or score_<arch> RESULT lines: nothing to write a rate file from")
    if encoder is None and len(encoders) > 1:
        raise SystemExit(f"RESULT lines of several encoders ({', '.join(encoders)}); a rate file holds one: "
                         f"pass --rates-encoder")
    encoder = encoder or encoders[0]
    if encoder not in encoders:
        raise SystemExit(f"no RESULT lines of encoder {encoder!r}; found {', '.join(encoders)}")
    for line in lines:
        if line.startswith("machine: "):
            device = re.sub(r", torch threads:.*$", "", line[len("machine: "):]).strip()
        elif line.startswith("texts: synthetic"):
            texts = "synthetic, MS MARCO-like lengths (no TREC DL data pack)"
    for name, figures in found:
        if name == "matmul_peak":  # one per run: the best of them
            for key, value in figures.items():
                if key.endswith("_tflops") and isinstance(value, (int, float)) and value == value:
                    peaks[key[:-len("_tflops")]] = max(value, peaks.get(key[:-len("_tflops")], 0))
            device = device or figures.get("device")
            torch_version = figures.get("torch", torch_version)
            continue
        kind = {"train": "training", "score": "scoring"}.get(name.partition("_")[0])
        if kind is None or figures.get("encoder") != encoder:
            continue
        arch = name.partition("_")[2]
        rate_key = "kdlib_triples_per_s" if kind == "training" else "kdlib_pairs_per_s"
        shape = re.fullmatch(r"random-L(\d+)-H(\d+)", encoder)
        layers = figures.get("layers", int(shape.group(1)) if shape else None)
        width = figures.get("width", int(shape.group(2)) if shape else None)
        if layers is None or width is None:
            raise SystemExit(f"RESULT {name}: no layers/width for encoder {encoder!r} (a log of an older bench_train)")
        now = {"precision": figures["precision"], "layers": layers, "width": width,
               "query": figures.get("query_len", QUERY_LEN), "passage": figures.get("passage_len", PASSAGE_LEN)}
        for key, value in now.items():
            if conditions.setdefault(key, value) != value:
                raise SystemExit(f"RESULT lines of encoder {encoder!r} mix {key} {conditions[key]!r} and {value!r}; "
                                 f"a rate file holds one")
        entry = {"batch_size": int(figures["batch"]), UNITS[kind]: float(figures[rate_key]),
                 **{k: figures[k] for k in RATE_FIGURES
                    if isinstance(figures.get(k), (int, float)) and figures[k] == figures[k]}}  # not NaN
        previous = measured[kind].setdefault(arch, {}).get(entry["batch_size"])
        if previous is None or previous[UNITS[kind]] < entry[UNITS[kind]]:
            measured[kind][arch][entry["batch_size"]] = entry
    if not measured["training"]:
        raise SystemExit(f"no train_<arch> RESULT lines of encoder {encoder!r}: a rate file needs a training rate")
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    provenance = {"device": device or "unknown", "date": today, "source": source, "commit": git_commit(),
                  "command": command, "texts": texts}
    if peaks:
        provenance["matmul_peak_tflops"] = peaks
    if torch_version:
        provenance["torch"] = str(torch_version)
    provenance.update(extra or {})
    return {"format": FORMAT, "provenance": provenance, "precision": conditions["precision"],
            "encoder": {"spec": encoder, "layers": conditions["layers"], "width": conditions["width"]},
            "lengths": {"query": conditions["query"], "passage": conditions["passage"]},
            **{kind: {arch: [by_batch[b] for b in sorted(by_batch)] for arch, by_batch in archs.items()}
               for kind, archs in measured.items()}}


def git_commit() -> str | None:
    """The checkout's commit (``-dirty`` when tracked files changed), or ``None`` outside git."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).resolve().parent, timeout=10)
        return done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def write_rate_file(path: str, lines: Iterable[str], *, source: str, encoder: str | None,
                    extra: dict[str, Any] | None = None) -> None:
    """Write the rate file of ``lines`` (:func:`rates_document`) to ``path`` atomically."""
    from kdlib.repro import rates

    command = " ".join(["benchmarks/bench_train.py", *sys.argv[1:]])
    document = rates_document(list(lines), source=source, command=command, encoder=encoder, extra=extra)
    rates.write(document, path, header="Written by benchmarks/bench_train.py --write-rates from its RESULT lines "
                                       "(kdlib/repro/rates/__init__.py describes the format).")
    print(f"rate file: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--encoders", nargs="+", default=["minilm:6", "splade-tiny"],
                        help="ALIAS[:LAYERS]: minilm, splade-tiny or a directory")
    parser.add_argument("--archs", nargs="+", default=["bert_dot", "bert_cat"], choices=sorted(PEERS))
    parser.add_argument("--no-peer", action="store_true", help="kdlib only (e.g. where sentence-transformers is absent)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run every measurement this many times and keep the fastest (a shared machine)")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"],
                        help="kdlib's training precision; the same-precision peer runs the same autocast "
                             "(fp16 without a gradient scaler: throughput only)")
    parser.add_argument("--score", action="store_true",
                        help="also measure forward-only scoring pairs/s of each architecture (RESULT score_<arch>)")
    parser.add_argument("--score-batch", type=int, default=256,
                        help="pairs per scoring batch (msmarco's eval.batch_size)")
    parser.add_argument("--score-pairs", type=int, default=4096, help="pairs scored per timed pass")
    parser.add_argument("--write-rates", metavar="FILE",
                        help="write a rate file (kdlib/repro/rates/ format) from the RESULT lines, atomically")
    parser.add_argument("--rates-from", nargs="+", metavar="LOG",
                        help="with --write-rates: take the RESULT lines from these logs and measure nothing")
    parser.add_argument("--rates-encoder", metavar="NAME",
                        help="the encoder (as RESULT lines name it, e.g. random-L6-H768) of the rate file, where "
                             "the lines hold several")
    parser.add_argument("--rates-source", help="the rate file's provenance.source (default: says which run)")
    args = parser.parse_args()
    if args.rates_from:
        if not args.write_rates:
            parser.error("--rates-from needs --write-rates")
        lines = [line for log in args.rates_from for line in Path(log).read_text().splitlines()]
        write_rate_file(args.write_rates, lines, encoder=args.rates_encoder,
                        source=args.rates_source
                        or f"benchmarks/bench_train.py RESULT lines of {', '.join(args.rates_from)}")
        return
    dev = device()
    lines = [f"machine: {machine(dev)}, torch threads: {torch.get_num_threads()}"]
    print(lines[0])
    peak_bf16 = matmul_peak(dev, torch.bfloat16)
    peak_fp32 = matmul_peak(dev, torch.float32)
    peak_fp16 = matmul_peak(dev, torch.float16) if dev.type == "cuda" else float("nan")
    lines.append(result_line("matmul_peak", device=dev.type, bf16_tflops=peak_bf16 / 1e12,
                             fp32_tflops=peak_fp32 / 1e12, fp16_tflops=peak_fp16 / 1e12, torch=torch.__version__))
    from kdlib.runtime.precision import resolve_precision

    resolved = resolve_precision(args.precision, dev)
    said = io.StringIO()  # bench_triples says on stdout when synthetic texts stand in; the rate file records it
    with contextlib.redirect_stdout(said):
        triples = bench_triples(args.steps * args.batch_size)
        score_triples = bench_triples(max(1, args.score_pairs // 2), seed=1) if args.score else []
    print(said.getvalue(), end="")
    lines += said.getvalue().splitlines()
    scores = teacher_scores(triples)
    for spec in args.encoders:
        shape = Shape.parse(spec, [text for triple in triples for text in triple])
        for arch in args.archs:
            ours = bench_kdlib(arch, shape, triples, scores, args.steps, args.batch_size, dev, args.precision,
                               args.repeats)
            peak = {"fp32": peak_fp32, "fp16": peak_fp16}.get(resolved, peak_bf16)
            figures = {"encoder": shape.name, "batch": args.batch_size, "precision": resolved,
                       "layers": shape.layers, "width": ours["width"], "query_len": QUERY_LEN,
                       "passage_len": PASSAGE_LEN,
                       "kdlib_triples_per_s": ours["triples_per_s"], "kdlib_tflops": ours["flops_per_s"] / 1e12,
                       "mfu": ours["flops_per_s"] / peak, "step_ms": ours["step_ms"],
                       "compute_ms": ours["compute_ms"], "host_overhead_ms": ours["host_overhead_ms"],
                       "compute_only_mfu": ours["compute_flops_per_s"] / peak,
                       "first_step_s": ours["first_step_s"], "load_1m": os.getloadavg()[0]}
            if not args.no_peer and arch == "bert_dot" and importlib.util.find_spec("sentence_transformers") is None:
                figures.update(peer="none:_sentence-transformers_is_not_installed")
            elif not args.no_peer:
                peer_name, peer = PEERS[arch]
                default = max(peer(shape, triples, scores, args.steps, args.batch_size, dev, precision=None)
                              for _ in range(args.repeats))
                same = max(peer(shape, triples, scores, args.steps, args.batch_size, dev, precision=resolved, attn=a)
                           for a in ("eager", "sdpa") for _ in range(args.repeats))
                figures.update(peer=peer_name, peer_default_triples_per_s=default,
                               peer_same_precision_triples_per_s=same,
                               ratio_vs_default=ours["triples_per_s"] / default,
                               ratio_vs_same_precision=ours["triples_per_s"] / same)
            lines.append(result_line(f"train_{arch}", **figures))
            if args.score:
                pairs_per_s = bench_kdlib_scoring(arch, shape, score_triples, args.score_batch, dev, args.precision,
                                                  args.repeats)
                lines.append(result_line(f"score_{arch}", encoder=shape.name, batch=args.score_batch,
                                         precision=resolved, layers=shape.layers, width=ours["width"],
                                         query_len=QUERY_LEN, passage_len=PASSAGE_LEN, kdlib_pairs_per_s=pairs_per_s))
    if args.write_rates:
        write_rate_file(args.write_rates, lines, encoder=args.rates_encoder,
                        source=args.rates_source or f"a run of benchmarks/bench_train.py on {machine(dev)}",
                        extra={"steps": args.steps})


if __name__ == "__main__":
    main()
