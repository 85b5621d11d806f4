"""``kdlib check``: compare a profile's results.csv with the committed expected values.

Examples::

    kdlib check --profile tiny            # after `kdlib book --profile tiny`
    kdlib check --profile embedded --write  # a maintainer records new expected values
"""
from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="embedded", help="the profile whose results.csv to check")
    parser.add_argument("--results", help="a results.csv to check (default: artifacts/<profile>/results.csv)")
    parser.add_argument("--write", action="store_true",
                        help="record the current results as the expected values instead of checking")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from kdlib import repro
    from kdlib.core import profiles
    from kdlib.repro import check as reproduce

    profile = profiles.load(args.profile)
    path = args.results or repro.results_path(profile)
    try:
        results = pd.read_csv(path)
    except FileNotFoundError:
        print(f"kdlib check: error: no results at {path}; run `kdlib book --profile {args.profile}` first",
              file=sys.stderr)
        return 2
    if args.write:
        print(f"wrote {reproduce.write_expected(results, profile.name)}")
        return 0
    expected = reproduce.expected_path(profile.name)
    if not expected.is_file():
        print(f"kdlib check: error: no expected values for profile {profile.name!r} ({expected})", file=sys.stderr)
        return 2
    differences = reproduce.check(results, pd.read_csv(expected))
    for difference in differences:
        print(difference.describe())
    print(f"{len(results)} rows checked against {expected}: "
          f"{'all as expected' if not differences else f'{len(differences)} differ'}")
    return 1 if differences else 0
