"""``kdlib book``: execute the notebooks with papermill and build the Jupyter Book."""
from __future__ import annotations

import argparse
import time


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="embedded", help="tiny, embedded (default), msmarco or a YAML file")
    parser.add_argument("--dry-run", action="store_true", help="print the plan (runs, inputs, GPU hours) only")
    parser.add_argument("--rates", metavar="NAME|FILE",
                        help="with --dry-run: the rate file of the GPU hours (a shipped name such as h200, or a "
                             "YAML file; `none` for FLOPs over an assumed device); default: the profile's `rates`")
    parser.add_argument("--force", action="store_true", help="re-execute notebooks even when unchanged")
    parser.add_argument("--only", action="append", metavar="NOTEBOOK",
                        help="execute only this notebook (e.g. 01_data); repeatable")
    parser.add_argument("--jobs", type=int, default=1,
                        help="execute the distillation matrix's notebooks N at a time (threads split among them)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="profile override, e.g. train.max_steps=20 (repeatable; as in `kdlib train`)")
    parser.add_argument("--no-build", action="store_true", help="execute notebooks but skip jupyter-book")


def run(args: argparse.Namespace) -> int:
    from kdlib.book import runner
    from kdlib.core import profiles
    from kdlib.core.errors import KdlibError

    if not runner.NOTEBOOK_DIR.is_dir():
        raise KdlibError(
            f"the book is built from a clone of the repository (its notebooks/, book/ and _config.yml), "
            f"and {runner.NOTEBOOK_DIR} does not exist: this kdlib is a plain installation; clone the "
            f"repository and run `make book` there"
        )
    profile = profiles.apply_overrides(profiles.load(args.profile), args.set)
    if args.dry_run:
        runner.dry_run(profile, rates=args.rates)
        return 0
    start = time.perf_counter()
    timings = runner.execute(profile, force=args.force, only=args.only, jobs=args.jobs)
    executed = sum(s for _, s, cached in timings if not cached)
    print(f"[kdlib book] notebooks: {len(timings)} ({sum(c for *_, c in timings)} unchanged), "
          f"{executed:.0f} s executing")
    if not args.no_build:
        html = runner.build_book()
        print(f"[kdlib book] built in {time.perf_counter() - start:.0f} s; open {html / 'index.html'}")
    return 0
