"""DDP on CPU: two gloo processes end with the single-process weights.

Each rank sees half of every batch; DDP averages the gradients, so every optimiser step is
the single-process step up to float32 summation order. The check is on the weights after a
few steps, in fp32 and at a tight tolerance: without gradient synchronisation each rank
would step on its own half batch and the weights would differ by far more.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from kdlib.train import train
from train.test_train import StandInRanker, config, easy_examples, ranknet

STEPS = 6


def _config():
    # fp32: bf16 rounding would differ between a batch of 16 and two halves of 8.
    return config(max_steps=STEPS, log_every=1, checkpoint_every=3, num_threads=1, bf16=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world_size))
    try:
        ranker = StandInRanker()
        train(ranker, ranknet, easy_examples(), _config(), out, progress=False, device="cpu")
        # Every rank's own weights (rank 0 alone writes final/): they must agree across ranks too.
        torch.save(ranker.state_dict(), Path(out) / f"rank{rank}.pt")
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_two_gloo_processes_match_single_process(tmp_path):
    single = tmp_path / "single"
    train(StandInRanker(), ranknet, easy_examples(), _config(), single, progress=False, device="cpu")
    ddp = tmp_path / "ddp"
    mp.spawn(_worker, args=(2, _free_port(), str(ddp)), nprocs=2, join=True)
    assert (ddp / "DONE.json").is_file() and (ddp / "final" / "model.pt").is_file()
    reference = torch.load(single / "final" / "model.pt")
    initial = StandInRanker().state_dict()
    for rank in (0, 1):
        weights = torch.load(ddp / f"rank{rank}.pt")
        for key in reference:
            # Training moved the weights far more than the tolerance, so the check has teeth.
            assert (reference[key] - initial[key]).abs().max() > 1e-3
            torch.testing.assert_close(weights[key], reference[key], rtol=1e-5, atol=1e-6)
    assert _losses(ddp) == pytest.approx(_losses(single), rel=1e-5)
