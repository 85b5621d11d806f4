"""Precision selection and the gradient-scaler wiring of the training loop, on a CPU.

What needs a GPU and is not tested here: fp16 autocast on CUDA (``auto`` on a pre-Ampere
GPU) and its speed; ``torch.amp.GradScaler("cuda")``. The scaler logic itself is the same
object on both devices and is exercised below with torch's CPU GradScaler and with fakes.
"""
from __future__ import annotations

import json
import math

import pytest
import torch
from train.test_train import StandInRanker, config, easy_examples, ranknet

from kdlib.runtime import precision as amp
from kdlib.train import train


def test_resolve_precision(monkeypatch):
    native = {"cpu": False, "cuda": True}
    monkeypatch.setattr(amp, "bf16_supported", lambda device_type: native[device_type])
    assert amp.resolve_precision("auto", "cuda") == "bf16"  # Ampere and newer
    assert amp.resolve_precision("auto", "cpu") == "fp32"
    assert amp.resolve_precision("auto", "cuda", bf16_allowed=False) == "fp32"  # TrainConfig(bf16=False)
    native["cuda"] = False  # V100, T4: no bf16
    assert amp.resolve_precision("auto", "cuda") == "fp16"
    assert amp.resolve_precision("bf16", "cuda") == "fp32"
    assert amp.resolve_precision("fp16", "cpu") == "fp16" and amp.resolve_precision("fp32", "cuda") == "fp32"
    native["cpu"] = True
    assert amp.resolve_precision("auto", "cpu") == "bf16"  # unchanged CPU behaviour
    with pytest.raises(ValueError, match="precision must be one of"):
        amp.resolve_precision("fp8", "cpu")


def test_autocast_contexts():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with amp.autocast("cpu", precision="fp32"):
        assert (a @ b).dtype == torch.float32
    with amp.autocast("cpu", precision="fp16"):
        assert (a @ b).dtype == torch.float16
    with amp.autocast("cpu", precision="bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with amp.autocast("cpu", enabled=False):  # the older call, unchanged
        assert (a @ b).dtype == torch.float32


def test_null_scaler_is_the_identity():
    scaler = amp.make_scaler("bf16", "cpu")
    assert isinstance(scaler, amp.NullScaler) and not scaler.is_enabled()
    loss = torch.tensor(2.0)
    assert scaler.scale(loss) is loss and scaler.state_dict() == {}
    assert isinstance(amp.make_scaler("fp16", "cpu"), torch.amp.GradScaler)


class RecordingScaler:
    """A scaler that scales by 8 (exact in binary), records the calls, and can fake an overflow."""

    def __init__(self, calls, overflow_at=()):
        self.calls, self.overflow_at, self.scale_value, self.steps = calls, set(overflow_at), 8.0, 0

    def scale(self, loss):
        self.calls.append("scale")
        return loss * self.scale_value

    def unscale_(self, optimizer):
        self.calls.append("unscale_")
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.div_(self.scale_value)

    def step(self, optimizer):
        self.steps += 1
        self.calls.append("step")
        if self.steps in self.overflow_at:
            self.calls.append("skip")
            return
        optimizer.step()

    def update(self):
        self.calls.append("update")
        if self.steps in self.overflow_at:
            self.scale_value /= 2

    def is_enabled(self):
        return True

    def get_scale(self):
        return self.scale_value

    def state_dict(self):
        return {"scale": self.scale_value}

    def load_state_dict(self, state):
        self.scale_value = state["scale"]


def _weights(ranker):
    return {k: v.detach().clone() for k, v in ranker.state_dict().items()}


def test_scaler_wiring_order_and_exactness(tmp_path, monkeypatch):
    reference = StandInRanker()
    train(reference, ranknet, easy_examples(), config(max_steps=6, precision="fp32"), tmp_path / "ref", progress=False)

    calls = []
    clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: (calls.append("clip"), clip(*a, **k))[1])
    monkeypatch.setattr(amp, "make_scaler", lambda precision, device: RecordingScaler(calls))
    scaled = StandInRanker()
    train(scaled, ranknet, easy_examples(), config(max_steps=6, precision="fp32"), tmp_path / "scaled", progress=False)
    assert calls[:5] == ["scale", "unscale_", "clip", "step", "update"]  # unscaled before clipping
    assert calls.count("step") == 6
    # Scaling by 8 and unscaling is exact: the same weights as the unscaled loop, bit for bit.
    for name, value in _weights(reference).items():
        assert torch.equal(value, scaled.state_dict()[name]), name


def test_overflowing_step_is_skipped_and_logged(tmp_path, monkeypatch):
    calls, seen = [], {}
    monkeypatch.setattr(amp, "make_scaler", lambda precision, device: RecordingScaler(calls, overflow_at={3}))
    ranker = StandInRanker()
    seen[0] = _weights(ranker)
    train(ranker, ranknet, easy_examples(), config(max_steps=5, log_every=5, precision="fp32"), tmp_path,
          progress=False, callback=lambda step, row: seen.__setitem__(step, _weights(ranker)))
    assert all(torch.equal(seen[2][k], seen[3][k]) for k in seen[2])  # step 3 changed nothing
    assert not all(torch.equal(seen[3][k], seen[4][k]) for k in seen[3])
    row = json.loads((tmp_path / "train_log.jsonl").read_text().splitlines()[-1])
    assert row["skipped_steps"] == 1 and row["loss_scale"] == 4.0


def test_fp16_with_torch_grad_scaler_on_cpu(tmp_path, monkeypatch):
    """The real GradScaler through CPU fp16 autocast: a huge initial scale overflows fp16
    gradients, those steps are skipped (weights unchanged) and the scale backs off."""
    monkeypatch.setattr(amp, "make_scaler",
                        lambda precision, device: torch.amp.GradScaler("cpu", init_scale=2.0 ** 40, growth_interval=1000))
    ranker, seen = StandInRanker(), {}
    seen[0] = _weights(ranker)
    result = train(ranker, ranknet, easy_examples(), config(max_steps=40, log_every=40, checkpoint_every=20,
                                                           precision="fp16"), tmp_path, progress=False,
                   callback=lambda step, row: seen.__setitem__(step, _weights(ranker)))
    row = json.loads((tmp_path / "train_log.jsonl").read_text().splitlines()[-1])
    assert result.finished and 0 < row["skipped_steps"] < 40 and row["loss_scale"] < 2.0 ** 40
    assert all(torch.equal(seen[0][k], seen[1][k]) for k in seen[0])  # the first step overflowed
    assert not all(torch.equal(seen[39][k], seen[40][k]) for k in seen[0])  # later steps update
    assert math.isfinite(row["loss"]) and row["loss"] < 0.7  # finite, learning


def test_fp16_scaler_state_survives_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(amp, "make_scaler",
                        lambda precision, device: torch.amp.GradScaler("cpu", init_scale=2.0 ** 40))
    cfg = config(max_steps=10, checkpoint_every=5, precision="fp16")
    train(StandInRanker(), ranknet, easy_examples(), cfg, tmp_path, progress=False, max_steps_this_session=5)
    saved = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert saved["scaler"]["scale"] < 2.0 ** 40 and saved["skipped_steps"] >= 1
    resumed = {}
    monkeypatch.setattr(amp, "make_scaler", lambda precision, device: resumed.setdefault(
        "scaler", torch.amp.GradScaler("cpu", init_scale=2.0 ** 40)))
    train(StandInRanker(), ranknet, easy_examples(), cfg, tmp_path, progress=False,
          callback=lambda step, row: resumed.setdefault("first", (step, resumed["scaler"].get_scale())))
    assert resumed["first"][0] == 6 and resumed["first"][1] <= saved["scaler"]["scale"]
