"""Score training triples with one teacher or the mean of several (the paper's T2).

The output is the published teacher-file format (Hofstätter et al., 2020, Zenodo 4068216),
one triple a line::

    pos_score<TAB>neg_score<TAB>qid<TAB>pos_pid<TAB>neg_pid

With ``K`` teachers the written score of each pair is the per-pair mean
``t(Q, P) = (1/K) sum_k M_k(Q, P)`` (T2 = mean of BERT-Base_CAT, BERT-Large_CAT and
ALBERT-Large_CAT in the paper).

Scoring is streamed and resumable: lines go to ``OUT.partial`` in chunks; after each
chunk is flushed and fsynced, ``OUT.progress`` records the line count and byte size.
A restart truncates ``OUT.partial`` to the recorded size and carries on from there, so
no line is repeated or skipped; ``OUT`` appears (atomic rename) only when complete.
Under ``torchrun`` each rank scores a contiguous block of whole batches into its own
shard, and rank 0 concatenates the shards in rank order (identical to one process).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm import tqdm

from kdlib.core.artifacts import open_atomic, write_json
from kdlib.core.errors import KdlibError
from kdlib.runtime.inference import no_grad_autocast


def _load_teachers(teachers: Sequence[Any], device: torch.device) -> list[Any]:
    loaded = []
    for teacher in teachers:
        if isinstance(teacher, (str, os.PathLike)):
            from kdlib.models import load

            teacher = load(teacher)
        teacher.to(device)
        teacher.eval()
        loaded.append(teacher)
    if not loaded:
        raise KdlibError("score_triples needs at least one teacher")
    return loaded


def _progress_path(path: Path) -> Path:
    return path.with_name(path.name + ".progress")


def _partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def shard_path(out_path: str | os.PathLike, rank: int, world_size: int) -> Path:
    """The file rank ``rank`` of ``world_size`` scores its block into."""
    out = Path(out_path)
    return out.with_name(f"{out.name}.shard-{rank}-of-{world_size}")


def shard_range(n_triples: int, batch_size: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[start, end)`` of rank ``rank``'s block: whole batches, as even as possible.

    Whole batches keep every pair in the same batch as in a single-process run, so the
    scores (and the file) are identical however many ranks score.
    """
    n_batches = -(-n_triples // batch_size)
    per, extra = divmod(n_batches, world_size)
    first = rank * per + min(rank, extra)
    last = first + per + (1 if rank < extra else 0)
    return min(first * batch_size, n_triples), min(last * batch_size, n_triples)


def _resume_position(partial: Path, progress: Path) -> int:
    """Lines already safely written; truncates ``partial`` to them (drops a torn tail)."""
    if not partial.exists():
        return 0
    if not progress.exists():
        partial.unlink()
        return 0
    mark = json.loads(progress.read_text())
    with open(partial, "r+b") as handle:
        handle.truncate(mark["bytes"])
    return int(mark["lines"])


def _write_progress(progress: Path, lines: int, size: int) -> None:
    write_json(progress, {"lines": lines, "bytes": size})


def _score_block(
    teachers: list[Any], triples: Sequence[Any], dataset: Any, out: Path, *, batch_size: int,
    flush_every: int, bf16: bool, device: torch.device, progress_bar: bool, stop_after: int | None,
) -> bool:
    """Score ``triples`` into ``out`` (resumably); returns whether the block is complete."""
    partial, progress = _partial_path(out), _progress_path(out)
    done = _resume_position(partial, progress)
    if done > len(triples):
        raise KdlibError(f"{progress} records {done} lines but there are only {len(triples)} triples")
    flush_lines = max(batch_size, (flush_every // batch_size) * batch_size)
    bar = tqdm(total=len(triples), initial=done, desc=f"score {out.name}", disable=not progress_bar, dynamic_ncols=True)
    written_this_call = 0
    with open(partial, "a", encoding="utf-8") as handle:
        position = done
        while position < len(triples):
            chunk = triples[position:position + flush_lines]
            lines = _score_chunk(teachers, chunk, dataset, batch_size=batch_size, bf16=bf16, device=device)
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
            position += len(chunk)
            _write_progress(progress, position, handle.tell())
            bar.update(len(chunk))
            written_this_call += len(chunk)
            if stop_after is not None and written_this_call >= stop_after and position < len(triples):
                bar.close()
                return False
    bar.close()
    os.replace(partial, out)
    progress.unlink(missing_ok=True)
    return True


def _score_chunk(
    teachers: list[Any], chunk: Sequence[Any], dataset: Any, *, batch_size: int, bf16: bool, device: torch.device
) -> list[str]:
    queries = [dataset.queries[t.qid] for t in chunk for _ in (0, 1)]
    passages = [dataset.passages[p] for t in chunk for p in (t.pos_pid, t.neg_pid)]
    total = torch.zeros(len(queries), dtype=torch.float64)
    with no_grad_autocast(device, bf16=bf16):
        for teacher in teachers:
            # Pairs are interleaved (pos, neg) so a batch of 2*batch_size pairs = batch_size triples.
            total += teacher.score(queries, passages, batch_size=2 * batch_size).double().cpu()
    mean = (total / len(teachers)).view(-1, 2).tolist()
    return [f"{pos:.6f}\t{neg:.6f}\t{t.qid}\t{t.pos_pid}\t{t.neg_pid}\n" for (pos, neg), t in zip(mean, chunk)]


def merge_shards(out_path: str | os.PathLike, world_size: int) -> Path:
    """Concatenate the complete shards of ``out_path`` in rank order into ``out_path`` (atomically)."""
    out = Path(out_path)
    shards = [shard_path(out, r, world_size) for r in range(world_size)]
    missing = [str(s) for s in shards if not s.is_file()]
    if missing:
        raise KdlibError(f"cannot merge {out}: shards not complete: {missing}")
    with open_atomic(out, "wb") as target:
        for shard in shards:
            target.write(shard.read_bytes())
    for shard in shards:
        shard.unlink()
    return out


def score_triples(
    teachers: Sequence[Any],
    triples: Sequence[Any],
    out_path: str | os.PathLike,
    *,
    dataset: Any,
    batch_size: int = 64,
    flush_every: int = 1024,
    bf16: bool = True,
    device: str = "auto",
    rank: int | None = None,
    world_size: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> Path | None:
    """Score ``triples`` with ``teachers`` (per-pair mean) into ``out_path``.

    Args:
        teachers: rankers, or directories saved with ``save_pretrained`` (loaded with
            :func:`kdlib.models.load`); several are averaged per pair.
        triples: :class:`kdlib.data.Triple` ``(qid, pos_pid, neg_pid)``, in output order.
        out_path: the teacher file to write (published format).
        dataset: gives the texts (``queries``, ``passages``) of the ids.
        batch_size: triples per forward pass (``2 * batch_size`` pairs).
        flush_every: triples between flushes (progress marks).
        bf16: bf16 autocast where supported.
        device: ``auto``, ``cpu`` or ``cuda``.
        rank / world_size: sharding (default: ``RANK`` / ``WORLD_SIZE`` of ``torchrun``).
        progress: tqdm bar.
        stop_after: stop (as if killed) after about this many triples of this call (tests).

    Returns:
        ``out_path`` when the file is complete (on rank 0), else ``None``.

    Raises:
        KeyError: a triple names a query or passage without text in ``dataset``.
    """
    from kdlib.runtime import distributed

    out = Path(out_path)
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    rank = int(os.environ.get("RANK", "0")) if rank is None else rank
    world_size = int(os.environ.get("WORLD_SIZE", "1")) if world_size is None else world_size
    info = distributed.setup(device) if world_size > 1 and "RANK" in os.environ else None
    dev = info.device if info is not None else distributed.pick_device(device)
    if dev.type == "cpu" and world_size > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    models = _load_teachers(teachers, dev)
    triples = list(triples)
    if world_size == 1:
        complete = _score_block(models, triples, dataset, out, batch_size=batch_size, flush_every=flush_every,
                                bf16=bf16, device=dev, progress_bar=progress, stop_after=stop_after)
        return out if complete else None
    start, end = shard_range(len(triples), batch_size, rank, world_size)
    target = shard_path(out, rank, world_size)
    complete = target.is_file() or _score_block(
        models, triples[start:end], dataset, target, batch_size=batch_size, flush_every=flush_every,
        bf16=bf16, device=dev, progress_bar=progress and rank == 0, stop_after=stop_after)
    if info is not None:
        distributed.barrier(info)
    if rank == 0 and all(shard_path(out, r, world_size).is_file() for r in range(world_size)):
        return merge_shards(out, world_size)
    return out if (complete and out.is_file()) else None
