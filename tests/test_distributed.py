"""DDP on CPU: two gloo processes train to (nearly) the single-process loss curve."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from kdlib.train import train
from test_train import StandInRanker, config, easy_examples, ranknet

STEPS = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world_size))
    try:
        train(StandInRanker(), ranknet, easy_examples(), config(max_steps=STEPS, log_every=2, checkpoint_every=4,
              num_threads=1), out, progress=False, device="cpu")
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_two_gloo_processes_match_single_process(tmp_path):
    single = tmp_path / "single"
    train(StandInRanker(), ranknet, easy_examples(), config(max_steps=STEPS, log_every=2, checkpoint_every=4,
          num_threads=1), single, progress=False, device="cpu")
    ddp = tmp_path / "ddp"
    mp.spawn(_worker, args=(2, _free_port(), str(ddp)), nprocs=2, join=True)
    assert (ddp / "DONE.json").is_file() and (ddp / "final" / "model.pt").is_file()
    # Each rank sees half of every batch; DDP averages the gradients, so the curve is the
    # single-process one up to floating-point (and bf16) rounding.
    assert _losses(ddp) == pytest.approx(_losses(single), rel=2e-2)
    a, b = torch.load(ddp / "final" / "model.pt"), torch.load(single / "final" / "model.pt")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=5e-2, atol=5e-3)
