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

Every figure is printed once as a ``RESULT`` line (``name key=value ...``) for tables and CI logs.

Run: ``.venv/bin/python benchmarks/bench_train.py [--steps 10] [--batch-size 16]
[--encoders minilm:6 splade-tiny random:6:768] [--precision auto|bf16|fp16|fp32]``
(CPU or CUDA, detected).
"""
from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from _common import device, encoder_path, machine, matmul_peak, real_triples, result_line, sync  # noqa: E402

QUERY_LEN, PASSAGE_LEN = 30, 128


@dataclass(frozen=True)
class Shape:
    """The encoder a figure is about: a directory and the number of its layers to keep."""

    name: str
    path: str
    layers: int

    @classmethod
    def parse(cls, text: str) -> "Shape":
        """``minilm[:LAYERS]``, ``splade-tiny``, a directory, or ``random:LAYERS:WIDTH`` (a BERT with
        random weights, e.g. ``random:6:768`` for DistilBERT's shape, built offline)."""
        if text.startswith("random:"):
            _, layers, width = text.split(":")
            return cls(f"random-L{layers}-H{width}", random_encoder(int(layers), int(width)), int(layers))
        alias, _, layers = text.partition(":")
        path = encoder_path(alias)
        from transformers import AutoConfig

        total = AutoConfig.from_pretrained(path).num_hidden_layers
        return cls(f"{alias}-L{int(layers or total)}", path, int(layers or total))


def random_encoder(layers: int, width: int) -> str:
    """A BERT of the given shape with random weights and MiniLM's tokenizer, saved once to a
    temporary directory (throughput does not depend on the weights)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = Path(tempfile.gettempdir()) / f"kdlib-bench-bert-L{layers}-H{width}"
    if not (out / "config.json").is_file():
        config = BertConfig(hidden_size=width, num_hidden_layers=layers, num_attention_heads=width // 64,
                            intermediate_size=4 * width, vocab_size=30522)
        BertModel(config).save_pretrained(out)
        AutoTokenizer.from_pretrained(encoder_path("minilm")).save_pretrained(out)
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
                precision: str = "auto") -> dict:
    from kdlib import losses, models
    from kdlib.core.profiles import TrainConfig
    from kdlib.train import TrainingExample, train
    from kdlib.train.batching import StepSchedule

    ranker = models.build(arch, shape.path, num_layers=shape.layers, query_max_len=QUERY_LEN,
                          passage_max_len=PASSAGE_LEN, dropout=0.0, attn_implementation="eager")
    examples = [TrainingExample(q, p, n, s[0], s[1]) for (q, p, n), s in zip(triples, scores)]
    config = TrainConfig(batch_size=batch_size, learning_rate=1e-5, max_steps=steps, warmup_steps=1,
                         log_every=steps, checkpoint_every=0, eval_every=0, precision=precision)
    # FLOPs of exactly the batches the loop will see (same bucketing, same padding).
    schedule = StepSchedule([e.length() for e in examples], batch_size, seed=config.seed, start_step=0,
                            max_steps=steps)
    non_embedding = sum(p.numel() for n, p in ranker.named_parameters() if "embeddings" not in n)
    flops = 0.0
    for step in range(2, steps + 1):  # step 1 is warm-up, excluded from the timing below
        batch = [examples[i] for i in schedule.batch_of_step(step)]
        feats = ranker.tokenize([e.query for e in batch for _ in (0, 1)],
                                [p for e in batch for p in (e.pos_text, e.neg_text)])
        flops += encoder_flops(non_embedding, shape.layers, ranker.hidden_size, padded_shapes(feats))
    times: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        train(ranker, losses.get("margin_mse"), examples, config, out, progress=False, device=dev.type,
              callback=lambda step, row: (sync(dev), times.append(time.perf_counter())))
    seconds = times[-1] - times[0]
    return {"triples_per_s": (steps - 1) * batch_size / seconds, "flops_per_s": flops / seconds}


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
    """Seconds that steps 2..``steps`` of ``step_fn(step)`` take (the first is warm-up, not timed)."""
    times = []
    for step in range(steps):
        step_fn(step)
        sync(dev)
        times.append(time.perf_counter())
    return times[-1] - times[0]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--encoders", nargs="+", default=["minilm:6", "splade-tiny"],
                        help="ALIAS[:LAYERS]: minilm, splade-tiny or a directory")
    parser.add_argument("--archs", nargs="+", default=["bert_dot", "bert_cat"], choices=sorted(PEERS))
    parser.add_argument("--no-peer", action="store_true", help="kdlib only (e.g. where sentence-transformers is absent)")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"],
                        help="kdlib's training precision; the same-precision peer runs the same autocast "
                             "(fp16 without a gradient scaler: throughput only)")
    args = parser.parse_args()
    dev = device()
    print(f"machine: {machine(dev)}, torch threads: {torch.get_num_threads()}")
    peak_bf16 = matmul_peak(dev, torch.bfloat16)
    peak_fp32 = matmul_peak(dev, torch.float32)
    peak_fp16 = matmul_peak(dev, torch.float16) if dev.type == "cuda" else float("nan")
    result_line("matmul_peak", device=dev.type, bf16_tflops=peak_bf16 / 1e12, fp32_tflops=peak_fp32 / 1e12,
                fp16_tflops=peak_fp16 / 1e12)
    from kdlib.runtime.precision import resolve_precision

    resolved = resolve_precision(args.precision, dev)
    triples = real_triples(args.steps * args.batch_size)
    scores = teacher_scores(triples)
    for spec in args.encoders:
        shape = Shape.parse(spec)
        for arch in args.archs:
            ours = bench_kdlib(arch, shape, triples, scores, args.steps, args.batch_size, dev, args.precision)
            peak = {"fp32": peak_fp32, "fp16": peak_fp16}.get(resolved, peak_bf16)
            figures = {"encoder": shape.name, "batch": args.batch_size, "precision": resolved,
                       "kdlib_triples_per_s": ours["triples_per_s"], "kdlib_tflops": ours["flops_per_s"] / 1e12,
                       "mfu": ours["flops_per_s"] / peak}
            if not args.no_peer:
                peer_name, peer = PEERS[arch]
                default = peer(shape, triples, scores, args.steps, args.batch_size, dev, precision=None)
                same = max(peer(shape, triples, scores, args.steps, args.batch_size, dev, precision=resolved, attn=a)
                           for a in ("eager", "sdpa"))
                figures.update(peer=peer_name, peer_default_triples_per_s=default,
                               peer_same_precision_triples_per_s=same,
                               ratio_vs_default=ours["triples_per_s"] / default,
                               ratio_vs_same_precision=ours["triples_per_s"] / same)
            result_line(f"train_{arch}", **figures)


if __name__ == "__main__":
    main()
