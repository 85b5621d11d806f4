"""``kdlib seeds``: how far another training seed moves the comparisons of claims 2 and 3.

The book trains every student once, with the profile's ``train.seed``. This command retrains
the students the two claims compare (the label-only baseline, T1, T2, and T1 on the baseline's
judged queries) with other training seeds, the data seed unchanged, each seed in its own
profile ``<profile>-seed<N>`` (cached like a book cell, never in the book's results), and
prints per test set, student and comparison:

- the effect with each seed (mean per-query difference, in the comparison's direction) and
  how many seeds give p < .05 each way (a paired test over the test queries);
- the **seed-averaged effect**: each query's difference averaged over the seeds, with its 95%
  confidence interval and one paired test: training noise averages out over the seeds, the
  spread over test queries stays.

The profile's own seed is always included (its students are the book's). Example::

    kdlib seeds --seeds 1 2 3 4 --csv seed_effects.csv
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Sequence

from kdlib.models import ARCHITECTURES

#: The rows compared: (label, teacher, loss, trained on the judged queries only).
SEED_ROWS = (
    ("baseline", "baseline", "ranknet", False),
    ("T1", "T1", "margin_mse", False),
    ("T2", "T2", "margin_mse", False),
    ("T1 (judged queries)", "T1", "margin_mse", True),
)
#: (comparison, better row, worse row): claim 2 on the same queries, the matrix's students
#: against their baseline, and claim 3.
COMPARISONS = (
    ("T1 (judged queries) - baseline", "T1 (judged queries)", "baseline"),
    ("T1 - baseline", "T1", "baseline"),
    ("T2 - baseline", "T2", "baseline"),
    ("T2 - T1", "T2", "T1"),
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="embedded", help="tiny, embedded (default) or a YAML file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4],
                        help="training seeds besides the profile's own (default: 1 2 3 4)")
    parser.add_argument("--archs", nargs="+", choices=ARCHITECTURES, default=None,
                        help="the students (default: the profile's architectures)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")


def seed_profile(profile, seed: int):
    """``profile`` trained with ``train.seed`` = ``seed``; the profile itself for its own seed."""
    from kdlib.core.profiles import override

    if seed == profile.train.seed:
        return profile
    return dataclasses.replace(override(profile, {"train.seed": seed}), name=f"{profile.name}-seed{seed}")


def per_query_rows(profile, archs: Sequence[str]) -> dict:
    """Per test set, the per-query values of every seed row (columns ``arch/label``); the
    students are trained on first use."""
    import pandas as pd

    from kdlib import repro
    from kdlib.repro.report import judged_query_profile

    judged = judged_query_profile(profile) or profile
    rows = [(f"{arch}/{label}", judged if on_judged else profile, (arch, teacher, loss))
            for arch in archs for label, teacher, loss, on_judged in SEED_ROWS]
    for _, source, row in rows:  # trained (or read from the cache) once, before any measuring
        repro.student(source, *row)
    out = {}
    # Each test set with the measure its claims are checked on (nDCG@10, MRR@10 on the dev sample).
    for dataset, measure in repro.test_sets(profile).items():
        columns = {name: repro.per_query(source, [row], measure, dataset=dataset).iloc[:, 0]
                   for name, source, row in rows}
        out[dataset] = (measure, pd.DataFrame(columns))
    return out


def seed_effects(profile, seeds: Sequence[int], archs: Sequence[str]):
    """The table described in the module docstring, one row per (test set, student, comparison)."""
    import pandas as pd

    from kdlib.eval.significance import paired_test

    seeds = list(dict.fromkeys([profile.train.seed, *seeds]))  # the book's seed first, each seed once
    values = {seed: per_query_rows(seed_profile(profile, seed), archs) for seed in seeds}
    rows = []
    for dataset, (measure, _) in values[seeds[0]].items():
        for arch in archs:
            for name, better, worse in COMPARISONS:
                pairs = [(values[s][dataset][1][f"{arch}/{worse}"], values[s][dataset][1][f"{arch}/{better}"])
                         for s in seeds]
                tests = [paired_test(a, b) for a, b in pairs]
                mean_worse = sum(a for a, _ in pairs) / len(seeds)
                mean_better = sum(b for _, b in pairs) / len(seeds)
                averaged = paired_test(mean_worse, mean_better)
                effects = [t.difference for t in tests]
                rows.append({
                    "test_set": dataset, "measure": measure, "arch": arch, "comparison": name,
                    **{f"seed {s}": e for s, e in zip(seeds, effects)},
                    "sd over seeds": pd.Series(effects).std(ddof=1) if len(seeds) > 1 else float("nan"),
                    "seed-averaged": averaged.difference, "ci_low": averaged.ci_low, "ci_high": averaged.ci_high,
                    "p": averaged.p_value,
                    "seeds p<.05 up": sum(t.p_value < 0.05 and t.difference > 0 for t in tests),
                    "seeds p<.05 down": sum(t.p_value < 0.05 and t.difference < 0 for t in tests),
                })
    return pd.DataFrame(rows)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from kdlib.core import profiles
    from kdlib.core.artifacts import write_atomic

    profile = profiles.load(args.profile)
    archs = args.archs or list(profile.student.architectures)
    table = seed_effects(profile, args.seeds, archs)
    with pd.option_context("display.width", 250, "display.max_rows", None, "display.max_columns", None):
        print(table.round(3).to_string(index=False))
    if args.csv:
        write_atomic(args.csv, table.to_csv(index=False))
    return 0
