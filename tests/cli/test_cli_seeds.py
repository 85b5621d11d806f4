"""``kdlib seeds``: the students of claims 2 and 3 retrained with other seeds, apart from the
book's results, with per-seed and seed-averaged effects on every test set."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from kdlib import repro
from kdlib.cli import main
from kdlib.cli.commands.seeds import COMPARISONS, seed_profile
from kdlib.core import profiles


def test_seed_profile_changes_only_the_training_seed_and_the_name():
    tiny = profiles.load("tiny")
    assert seed_profile(tiny, tiny.train.seed) is tiny  # the book's own students
    other = seed_profile(tiny, 7)
    assert other.name == "tiny-seed7" and other.train.seed == 7
    assert dataclasses.replace(other, name=tiny.name, train=tiny.train) == tiny
    assert other.data == tiny.data  # the data seed (triples, pairs) stays


def test_seeds_reports_every_comparison_per_seed_and_averaged(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    tiny = profiles.override(profiles.load("tiny"), {"train.max_steps": 2, "train.eval_every": 2,
                                                     "train.checkpoint_every": 2})
    path = profiles.write(tiny, tmp_path / "tiny-short.yaml")
    out = tmp_path / "seeds.csv"
    assert main(["seeds", "--profile", str(path), "--seeds", "7", "--archs", "bert_dot", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out)
    test_sets = repro.test_sets(tiny)
    assert len(table) == len(test_sets) * len(COMPARISONS)
    assert set(table["test_set"]) == set(test_sets) and "T2 - T1" in printed
    seed_columns = [f"seed {tiny.train.seed}", "seed 7"]
    # The averaged effect is the mean of the per-seed effects (the mean of per-query means),
    # inside its own confidence interval; the seeds really differ.
    assert table["seed-averaged"].values == pytest.approx(table[seed_columns].mean(axis=1).values, abs=1e-9)
    assert (table["ci_low"] <= table["seed-averaged"]).all() and (table["seed-averaged"] <= table["ci_high"]).all()
    assert not table[seed_columns[0]].equals(table[seed_columns[1]])
    # The profile's own seed is the book's students: its effect is their difference on the test set.
    loaded = profiles.load(str(path))
    test = loaded.data.test
    row = table[(table["test_set"] == test) & (table["comparison"] == "T2 - baseline")].iloc[0]
    t2 = repro.student(loaded, "bert_dot", "T2", "margin_mse").metrics["nDCG@10"]
    baseline = repro.student(loaded, "bert_dot", "baseline", "ranknet").metrics["nDCG@10"]
    assert row[seed_columns[0]] == pytest.approx(t2 - baseline, abs=1e-9)
    # Other seeds compute in their own profiles, never in the book's results.
    assert (tmp_path / "artifacts" / f"{loaded.name}-seed7").is_dir()
