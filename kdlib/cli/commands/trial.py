"""``kdlib trial``: try a setting on one student cell, judged on validation queries.

Every row of the book's "Settings tried" table is one such trial. It computes in a scratch
profile (``artifacts/<profile>-trials/``), never in the book's results, and reports the
validation curve and the fit on the training queries beside BM25 and the teacher T2
(:mod:`kdlib.repro.trial`).

Examples::

    kdlib trial bert_cat T2 --set train.max_steps=1024 --set data.candidate_pairs_per_query=256
    kdlib trial tk baseline --profile tiny --json
"""
from __future__ import annotations

import argparse

from kdlib.models import ARCHITECTURES
from kdlib.repro.settings import SETTING_NAMES


def configure(parser: argparse.ArgumentParser) -> None:
    from kdlib.losses import LOSSES

    parser.add_argument("arch", choices=ARCHITECTURES, help="the student architecture")
    parser.add_argument("teacher", choices=SETTING_NAMES, help="the teacher setting (baseline: labels only)")
    parser.add_argument("--loss", default="margin_mse", choices=sorted(LOSSES), help="the distillation loss")
    parser.add_argument("--profile", default="embedded", help="tiny, embedded (default), msmarco or a YAML file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a profile override, e.g. train.max_steps=512 (repeatable)")
    parser.add_argument("--test", action="store_true",
                        help="also report the test set's nDCG@10 (never choose a setting on it)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")


def run(args: argparse.Namespace) -> int:
    from kdlib.core import profiles
    from kdlib.repro.trial import run_trial

    result = run_trial(profiles.load(args.profile), args.arch, args.teacher, args.loss,
                       overrides=args.set, with_test=args.test)
    print(result.to_json() if args.json else result.describe())
    return 0
