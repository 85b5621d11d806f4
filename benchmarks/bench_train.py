"""Training throughput: kdlib's loop vs sentence-transformers' MarginMSELoss, same bi-encoder.

Both train MiniLM-L6 as a bi-encoder (kdlib: BERT_DOT, CLS vector; sentence-transformers: the
model as shipped, mean pooling) with Margin-MSE on the same real TREC DL triples,
the same batch size and the same truncation (query 30, passage 128 word pieces), with
3 and with all 6 layers. sentence-transformers runs its model and loss in a bare
optimisation loop (no Trainer overhead) in its default precision; kdlib runs
:func:`kdlib.train.train` as the CLI does (bf16 autocast where supported, length bucketing).

FLOP estimate of kdlib's training (forward + backward = 3 x forward):
``6 * N * T + 12 * L * d * sum(s^2)`` with ``N`` non-embedding parameters, ``T`` tokens
processed (padded), ``L`` layers, ``d`` width and ``s`` each padded sequence length (the
attention score and weighted-sum matmuls, ``2 * 2 * s^2 * d`` per layer forward).
Printed as a fraction of the measured bf16 matmul peak.

Run: ``.venv/bin/python benchmarks/bench_train.py [--steps 12] [--batch-size 16]``
(CPU or CUDA, detected).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device, matmul_peak, minilm_path, real_triples, sync  # noqa: E402

import torch  # noqa: E402

QUERY_LEN, PASSAGE_LEN = 30, 128


def teacher_scores(triples):
    rng = random.Random(1)
    return [(rng.gauss(2, 2), rng.gauss(-2, 2)) for _ in triples]


def bench_kdlib(layers: int, triples, scores, steps: int, batch_size: int, dev) -> dict:
    from kdlib import losses, models
    from kdlib.profiles import TrainConfig
    from kdlib.train import TrainingExample, train

    ranker = models.build("bert_dot", minilm_path(), num_layers=layers, query_max_len=QUERY_LEN,
                          passage_max_len=PASSAGE_LEN, dropout=0.0, attn_implementation="eager")
    examples = [TrainingExample(q, p, n, s[0], s[1]) for (q, p, n), s in zip(triples, scores)]
    config = TrainConfig(batch_size=batch_size, learning_rate=1e-5, max_steps=steps, warmup_steps=1,
                         log_every=steps, checkpoint_every=0, eval_every=0)
    # FLOPs of exactly the batches the loop will see (same bucketing, same padding).
    from kdlib.train.batching import StepSchedule

    schedule = StepSchedule([e.length() for e in examples], batch_size, seed=config.seed, start_step=0,
                            max_steps=steps)
    non_embedding = sum(p.numel() for n, p in ranker.named_parameters() if "embeddings" not in n)
    hidden = ranker.hidden_size
    flops = 0.0
    for step in range(2, steps + 1):  # step 1 is warm-up, excluded from the timing below
        batch = [examples[i] for i in schedule.batch_of_step(step)]
        feats = ranker.tokenize([e.query for e in batch for _ in (0, 1)],
                                [p for e in batch for p in (e.pos_text, e.neg_text)])
        for key, value in feats.items():
            if key.endswith("input_ids"):
                rows, width = value.shape
                # Queries are encoded once per pair in the 2B-pair layout (both shapes count).
                flops += 6 * non_embedding * rows * width + 12 * layers * hidden * rows * width**2
    times = []

    with tempfile.TemporaryDirectory() as out:
        train(ranker, losses.get("margin_mse"), examples, config, out, progress=False, device=dev.type,
              callback=lambda step, row: (sync(dev), times.append(time.perf_counter())))
    seconds = times[-1] - times[0]
    return {"triples_per_s": (steps - 1) * batch_size / seconds, "flops_per_s": flops / seconds}


def bench_st(layers: int, triples, scores, steps: int, batch_size: int, dev) -> dict:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    model = SentenceTransformer(minilm_path(), device=str(dev))
    model.max_seq_length = PASSAGE_LEN
    encoder = model[0].auto_model
    encoder.encoder.layer = encoder.encoder.layer[:layers]
    encoder.config.num_hidden_layers = layers
    loss = losses.MarginMSELoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    times = []
    for step in range(steps):
        chunk = triples[step * batch_size:(step + 1) * batch_size]
        labels = torch.tensor([s[0] - s[1] for s in scores[step * batch_size:(step + 1) * batch_size]], device=dev)
        features = []
        for column, limit in ((0, QUERY_LEN), (1, PASSAGE_LEN), (2, PASSAGE_LEN)):
            model.max_seq_length = limit
            texts = [t[column] for t in chunk]
            feats = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
            features.append({k: v.to(dev) for k, v in feats.items() if torch.is_tensor(v)})
        value = loss(features, labels)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
        sync(dev)
        times.append(time.perf_counter())
    return {"triples_per_s": (steps - 1) * batch_size / (times[-1] - times[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 6])
    args = parser.parse_args()
    dev = device()
    print(f"device: {dev} ({torch.cuda.get_device_name() if dev.type == 'cuda' else 'CPU'}), "
          f"torch threads: {torch.get_num_threads()}")
    peak_bf16 = matmul_peak(dev, torch.bfloat16)
    peak_fp32 = matmul_peak(dev, torch.float32)
    print(f"matmul peak: bf16 {peak_bf16 / 1e12:.3f} TFLOP/s, fp32 {peak_fp32 / 1e12:.3f} TFLOP/s")
    triples = real_triples(args.steps * args.batch_size)
    scores = teacher_scores(triples)
    for layers in args.layers:
        ours = bench_kdlib(layers, triples, scores, args.steps, args.batch_size, dev)
        theirs = bench_st(layers, triples, scores, args.steps, args.batch_size, dev)
        print(f"MiniLM {layers} layers, batch {args.batch_size}: kdlib {ours['triples_per_s']:.1f} triples/s, "
              f"sentence-transformers {theirs['triples_per_s']:.1f} triples/s, "
              f"ratio {ours['triples_per_s'] / theirs['triples_per_s']:.2f}x; kdlib "
              f"{ours['flops_per_s'] / 1e12:.3f} TFLOP/s = {ours['flops_per_s'] / peak_bf16:.0%} of bf16 peak")


if __name__ == "__main__":
    main()
