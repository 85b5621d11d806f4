"""The one training loop, for teachers and students alike.

Each optimiser step takes ``B`` triples, turns them into ``2B`` aligned (query, passage)
pairs (:mod:`kdlib.train.feed`: word pieces tokenised once, ahead of the steps), scores them,
reshapes the scores to ``(B, 2)`` (positive in column 0) and applies the loss, e.g. Margin-MSE
(paper, Eq. 1):

    L = mean_b ( (s_b+ - s_b-) - (t_b+ - t_b-) )^2

with student scores ``s`` and teacher scores ``t``, or RankNet on labels only.

Precision (``TrainConfig.precision``, :mod:`kdlib.runtime.precision`): bf16 autocast where the
device runs it natively; on a GPU without bf16, fp16 autocast with a dynamic gradient
scaler (a step whose gradients overflow is skipped); else fp32. Speed on a CPU: bf16
autocast when supported, dynamic padding with length bucketing, ``torch.set_num_threads``,
freed memory kept for reuse (:mod:`kdlib.train.host_memory`). Host work per step is kept small
(``benchmarks/bench_train.py`` prints it as ``host_overhead_ms``): batches assembled from
pre-tokenised pieces, pinned memory and asynchronous copies on CUDA, and no device sync inside
a step (bf16 and fp32): the step statistics (loss, mean scores) stay on the device and are
fetched in one transfer when a log row, a validation, a checkpoint or the end needs them.
Robustness: atomic checkpoints (resume after any kill gives the same weights as an
uninterrupted run), a non-finite loss stops with the step named (found when the statistics
are fetched, before anything is saved), a ``DONE.json`` marker makes a finished run a no-op.
Under ``torchrun``: DDP.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from tqdm import tqdm

from kdlib.core.artifacts import write_json
from kdlib.core.profiles import TrainConfig
from kdlib.data.examples import TrainingExample
from kdlib.data.id_examples import count_without_teacher, example_lengths
from kdlib.runtime import distributed
from kdlib.runtime import precision as amp
from kdlib.train import checkpoint as ckpt
from kdlib.train.batching import StepSchedule
from kdlib.train.errors import ExamplesError, NonFiniteLossError
from kdlib.train.feed import make_feed
from kdlib.train.host_memory import keep_freed_memory
from kdlib.train.logs import TRAIN_LOG, VALIDATION_LOG, append_row, read_rows, truncate_after
from kdlib.train.optim import build_optimizer, build_scheduler
from kdlib.train.result import TrainResult
from kdlib.train.validation import Validation

StepCallback = Callable[[int, dict[str, Any]], None]


def train(
    ranker: Any,
    loss: Any,
    examples: Sequence[TrainingExample],
    config: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    validation: Validation | None = None,
    device: str = "auto",
    max_steps_this_session: int | None = None,
    callback: StepCallback | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``ranker`` on ``examples`` with ``loss``; resumable, validated, logged.

    Args:
        ranker: a kdlib Ranker (an ``nn.Module`` with ``tokenize``, ``forward`` returning
            ``(2B,)`` scores, ``parameter_groups`` and ``save_pretrained``), built for
            training (dropout ``config.dropout``, eager attention).
        loss: a :mod:`kdlib.losses` loss, called as ``loss(student (B, 2), teacher (B, 2) | None)``.
        examples: the training triples: a list, or an
            :class:`~kdlib.data.id_examples.IdTripleExamples` whose texts are fetched per batch.
        config: the loop's hyper-parameters.
        out_dir: run directory: ``train_log.jsonl``, ``validation.jsonl``, ``checkpoint/``,
            ``best/``, ``final/``, ``DONE.json``.
        validation: evaluated every ``config.eval_every`` steps and at the end; the best
            model is kept in ``out_dir/best``, early stopping after
            ``config.early_stopping_patience`` validations without improvement.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        max_steps_this_session: stop (as if killed) after this many steps of this call;
            calling again resumes from the last checkpoint.
        callback: called as ``callback(step, row)`` after every optimiser step (hooks for
            tests and notebooks).
        progress: show a tqdm bar (rank 0 only).

    Returns:
        A :class:`TrainResult`; ``result.model_dir`` is the model to use downstream.

    Raises:
        NonFiniteLossError: the loss became NaN/inf (the message names the step).
        ExamplesError: the loss needs teacher scores that the examples lack.
    """
    out = Path(out_dir)
    done = out / ckpt.DONE_MARKER
    if done.is_file():
        return TrainResult.read(done)
    _check_examples(examples, loss, config)
    info = distributed.setup(device)
    if info.enabled and config.batch_size < info.world_size * config.grad_accum:
        raise ExamplesError(
            f"batch_size {config.batch_size} < world_size {info.world_size} x grad_accum {config.grad_accum}"
        )
    if info.device.type == "cpu":
        torch.set_num_threads(cpu_threads(config.num_threads, info.world_size))
        keep_freed_memory()
    torch.manual_seed(config.seed)
    precision = amp.resolve_precision(config.precision, info.device, bf16_allowed=config.bf16)
    scaler = amp.make_scaler(precision, info.device)

    ranker.to(info.device)
    ranker.train()
    optimizer = build_optimizer(ranker, config)
    scheduler = build_scheduler(optimizer, config)
    state: dict[str, Any] = {
        "step": 0, "best_score": None, "best_step": None, "bad_validations": 0,
        "window": _empty_window(), "last_loss": None,
    }
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(".checkpoint-*"):
            shutil.rmtree(stale, ignore_errors=True)
    distributed.barrier(info)
    found = ckpt.find_checkpoint(out)
    if found is not None:
        state = ckpt.load_checkpoint(found, model=ranker, optimizer=optimizer, scheduler=scheduler)
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    start_step = state["step"]
    if info.is_main:
        (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(config), indent=1))
        for name in (TRAIN_LOG, VALIDATION_LOG):
            if start_step:
                truncate_after(out / name, start_step)
            elif (out / name).exists():
                (out / name).unlink()
    distributed.barrier(info)

    model: torch.nn.Module = ranker
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(ranker, device_ids=[info.device.index] if info.device.type == "cuda" else None)

    schedule = StepSchedule(
        example_lengths(examples), config.batch_size, seed=config.seed, start_step=start_step,
        max_steps=config.max_steps, grad_accum=config.grad_accum, rank=info.rank, world_size=info.world_size,
    )
    feed = make_feed(ranker, examples, schedule, device=info.device)
    pending = _PendingStats(info)
    bar = tqdm(total=config.max_steps, initial=start_step, desc="train", disable=not (progress and info.is_main),
               dynamic_ncols=True)
    session_start = time.perf_counter()
    session_triples = 0
    window_start = time.perf_counter() - state["window"]["seconds"]
    stopped_early = False
    step = start_step
    stopped_by_session = False
    try:
        for step in range(start_step + 1, config.max_steps + 1):
            micro = feed.micro_batches(step)
            sums, skipped = _train_step(model, ranker, loss, micro, optimizer, scheduler, config, info, precision,
                                        scaler)
            pending.add(step, sums, len(schedule.batch_of_step(step)))
            if skipped:
                state["skipped_steps"] = state.get("skipped_steps", 0) + 1
            last = step == config.max_steps
            logs = step % config.log_every == 0 or last
            validates = validation is not None and ((config.eval_every and step % config.eval_every == 0) or last)
            checkpoints = bool(config.checkpoint_every and step % config.checkpoint_every == 0)
            session_ends = max_steps_this_session is not None and step - start_step >= max_steps_this_session
            if logs or validates or checkpoints or session_ends:
                # One transfer for the steps since the last one; raises on a non-finite loss
                # before anything below (validation, checkpoint, final model) saves weights.
                session_triples += pending.settle(state["window"])
            row: dict[str, Any] = {"step": step}
            if logs:
                window = state["window"]
                seconds = time.perf_counter() - window_start
                row = {
                    "step": step,
                    "loss": window["loss"] / window["steps"],
                    "lr": scheduler.get_last_lr()[0],
                    "triples_per_s": window["triples"] / max(seconds, 1e-9),
                    "mean_pos_score": window["pos"] / window["triples"],
                    "mean_neg_score": window["neg"] / window["triples"],
                    "epoch": (step - 1) // schedule.steps_per_epoch,
                }
                if scaler.is_enabled():
                    row["loss_scale"] = scaler.get_scale()
                    row["skipped_steps"] = state.get("skipped_steps", 0)
                state["last_loss"] = row["loss"]
                if info.is_main:
                    append_row(out / TRAIN_LOG, row)
                state["window"] = _empty_window()
                window_start = time.perf_counter()
                bar.set_postfix(loss=f"{row['loss']:.4f}", tps=f"{row['triples_per_s']:.1f}", refresh=False)
            if validates:
                stopped_early = _validate(ranker, validation, state, step, out, info, config, precision)
                bar.set_postfix(loss=f"{state['last_loss'] or float('nan'):.4f}", val=f"{state['validations'][-1]['score']:.4f}", refresh=False)
            bar.update(1)
            if callback is not None:
                callback(step, row)
            if stopped_early or last:
                break
            if checkpoints:
                state["step"] = step
                state["window"]["seconds"] = time.perf_counter() - window_start
                state["scaler"] = scaler.state_dict()
                if info.is_main:
                    ckpt.save_checkpoint(out, model=ranker, optimizer=optimizer, scheduler=scheduler, state=state)
                distributed.barrier(info)
            if session_ends:
                stopped_by_session = True
                break
    finally:
        bar.close()
        feed.close()

    elapsed = time.perf_counter() - session_start
    result = TrainResult(
        out_dir=out, steps=step, finished=not stopped_by_session, final_loss=state.get("last_loss"),
        validations=list(state.get("validations", [])), stopped_early=stopped_early, resumed_from=start_step,
        triples_per_s=session_triples * info.world_size / max(elapsed, 1e-9),
        best_score=state.get("best_score"), best_step=state.get("best_step"),
        best_dir=(out / "best") if state.get("best_step") is not None else None,
    )
    if stopped_by_session:
        return result
    if info.is_main:
        ranker.save_pretrained(out / "final")  # swapped in atomically
        result.final_dir = out / "final"
        write_json(done, result.to_json())
        # The run is complete: the resumable state (weights + 2x optimiser moments) is dead weight.
        for name in (ckpt.CHECKPOINT, ckpt.CHECKPOINT + ".old"):
            shutil.rmtree(out / name, ignore_errors=True)
    else:
        result.final_dir = out / "final"
    distributed.barrier(info)
    return result


def cpu_threads(configured: int | None, world_size: int = 1) -> int:
    """Torch threads for CPU training: the profile's setting, else an explicit
    ``OMP_NUM_THREADS`` (e.g. set by ``kdlib book --jobs``), else the cores shared
    among the local ranks."""
    if configured:
        return configured
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    cores = os.cpu_count() or 1
    return max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", world_size))))


def _empty_window() -> dict[str, float]:
    return {"loss": 0.0, "pos": 0.0, "neg": 0.0, "triples": 0, "steps": 0, "seconds": 0.0}


def _check_examples(examples: Sequence[TrainingExample], loss: Any, config: TrainConfig) -> None:
    if not examples:
        raise ExamplesError("no training examples")
    if getattr(loss, "requires_teacher", False):
        missing = count_without_teacher(examples)
        if missing:
            raise ExamplesError(
                f"loss {getattr(loss, 'name', type(loss).__name__)} needs teacher scores; "
                f"{missing} of {len(examples)} examples have none"
            )
    if config.max_steps < 1:
        raise ExamplesError(f"max_steps must be >= 1, got {config.max_steps}")


def _to_device(features: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in features.items()}


class _PendingStats:
    """Per-step statistics left on the device until a log row, a validation, a checkpoint or
    the end needs them, then fetched (and summed over ranks) in one transfer: reading them
    every step would make the host wait for the device every step."""

    def __init__(self, info: distributed.DistInfo) -> None:
        self.info = info
        self.steps: list[tuple[int, int]] = []  # (step, triples of all ranks)
        self.sums: list[torch.Tensor] = []  # per step: loss x size, sum pos, sum neg (this rank)

    def add(self, step: int, sums: torch.Tensor, triples: int) -> None:
        self.steps.append((step, triples))
        self.sums.append(sums)

    def settle(self, window: dict[str, float]) -> int:
        """Add the pending steps to the log ``window`` in step order; returns their triples.

        Raises:
            NonFiniteLossError: naming the first step whose mean loss is not finite.
        """
        if not self.steps:
            return 0
        reduced = distributed.all_reduce_sum(torch.stack(self.sums), self.info).cpu()
        steps, self.steps, self.sums = self.steps, [], []
        added = 0
        for (step, triples), totals in zip(steps, reduced):
            mean_loss = float(totals[0] / triples)
            if not math.isfinite(mean_loss):
                raise NonFiniteLossError(step, mean_loss)
            window["loss"] += mean_loss
            window["pos"] += float(totals[1])
            window["neg"] += float(totals[2])
            window["triples"] += triples
            window["steps"] += 1
            added += triples
        return added


def _train_step(
    model: torch.nn.Module,
    ranker: Any,
    loss_fn: Any,
    micro: list[dict[str, Any]],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    config: TrainConfig,
    info: distributed.DistInfo,
    precision: str,
    scaler: Any,
) -> tuple[torch.Tensor, bool]:
    """One optimiser step over this rank's micro-batches.

    Returns ``(sums, skipped)``: ``sums`` a float64 tensor on the device (loss x micro-batch size
    summed, sum of positive scores, sum of negative scores; this rank's), for
    :class:`_PendingStats`, and whether the update was skipped.

    With fp16 the backward pass runs on the scaled loss, the gradients are unscaled before
    clipping, and ``scaler.step`` skips the update (and the scheduler does not advance) when
    they overflowed; ``skipped`` says so (reading the scale waits for the device: fp16 steps
    sync, bf16 and fp32 steps, with a :class:`NullScaler`, do not).
    """
    shard = sum(b["size"] for b in micro)
    sums: torch.Tensor | None = None
    for i, batch in enumerate(micro):
        sync = i == len(micro) - 1 or not info.enabled
        context = contextlib.nullcontext() if sync else model.no_sync()
        with context:
            with amp.autocast(info.device, precision=precision):
                scores = model(_to_device(batch["features"], info.device))
            scores = scores.float().view(-1, 2)
            teacher = batch["teacher"]
            if teacher is not None:
                teacher = teacher.to(info.device, non_blocking=True)
            value = loss_fn(scores, teacher)
            # Weight by the micro-batch's share so the accumulated gradient is the shard mean.
            scaler.scale(value * (batch["size"] / shard)).backward()
        detached = scores.detach().double()
        micro_sums = torch.stack([value.detach().double() * batch["size"], detached[:, 0].sum(), detached[:, 1].sum()])
        sums = micro_sums if sums is None else sums + micro_sums
    scaler.unscale_(optimizer)  # true gradients before clipping
    if config.max_grad_norm and config.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(ranker.parameters(), config.max_grad_norm)
    scale = scaler.get_scale()
    scaler.step(optimizer)  # skipped when fp16 gradients overflowed
    scaler.update()
    skipped = scaler.is_enabled() and scaler.get_scale() < scale
    if not skipped:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    if sums is None:  # this rank's shard of the step was empty
        sums = torch.zeros(3, dtype=torch.float64, device=info.device)
    return sums, skipped


def _validate(
    ranker: Any, validation: Validation, state: dict[str, Any], step: int, out: Path,
    info: distributed.DistInfo, config: TrainConfig, precision: str,
) -> bool:
    """Validate, keep the best model, update early stopping; returns whether to stop."""
    # Every rank validates the same (synchronised) weights, so all reach the same decision.
    score = validation(ranker, precision=precision)
    best = state.get("best_score")
    improved = best is None or score > best
    if improved:
        state["best_score"], state["best_step"], state["bad_validations"] = score, step, 0
        if info.is_main:
            ranker.save_pretrained(out / "best")  # swapped in atomically
    else:
        state["bad_validations"] = state.get("bad_validations", 0) + 1
    row = {"step": step, "measure": validation.measure, "score": score, "best_score": state["best_score"],
           "best_step": state["best_step"]}
    state.setdefault("validations", []).append(row)
    if info.is_main:
        append_row(out / VALIDATION_LOG, row)
    distributed.barrier(info)
    patience = config.early_stopping_patience
    return patience is not None and state["bad_validations"] >= patience
