"""``kdlib data check|fetch|stats|fetch-teachers``: the embedded TREC DL pack, and the
published teacher files of the full-scale profile.

Examples::

    kdlib data check
    kdlib data fetch-teachers                       # T1 and T2 of the msmarco profile, resumable
    kdlib data fetch-teachers --teacher T2 --dest /data/teachers
"""
from __future__ import annotations

import argparse
import json
import os


def configure(parser: argparse.ArgumentParser) -> None:
    from kdlib.data.datasets import PACK_DATASETS

    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("check", help="verify the checksums and print per-dataset counts")
    fetch = actions.add_parser(
        "fetch", help="copy the pack from a folder, or download it (GitHub, or a mirror)",
        description="Fetch the TREC DL pack and verify every file against the checksums shipped with kdlib.")
    source = fetch.add_mutually_exclusive_group()
    source.add_argument("--from", dest="from_dir", metavar="DIR", help="a local copy of the pack to copy from")
    source.add_argument("--mirror", metavar="URL", default=os.environ.get("KDLIB_DATA_MIRROR") or None,
                        help="a base URL serving the pack's files as URL/<relative path> "
                             "(default: $KDLIB_DATA_MIRROR, else the published sources on GitHub)")
    fetch.add_argument("--dest", metavar="DIR",
                       help="where to put the pack (default: data/trec-dl in kdlib's home: the repository "
                            "clone, $KDLIB_HOME or the working directory)")
    fetch.add_argument("--if-missing", action="store_true",
                       help="do nothing when a verified pack is already found (what `make book` runs)")
    stats = actions.add_parser("stats", help="print dataset statistics as JSON")
    stats.add_argument("--dataset", action="append", choices=PACK_DATASETS, help="dataset name (repeatable; default: all)")
    teachers = actions.add_parser(
        "fetch-teachers", help="download and check the published teacher files (Zenodo 4068216), resuming")
    teachers.add_argument("--profile", default="msmarco", help="profile whose teacher.published_files to fetch "
                          "(default: msmarco)")
    teachers.add_argument("--teacher", action="append", metavar="NAME", help="T1 or T2 (repeatable; default: all)")
    teachers.add_argument("--dest", metavar="DIR", help="folder for the files (default: $KDLIB_TEACHERS or data/teachers)")
    teachers.add_argument("--timeout", type=float, default=60.0, help="seconds a connection may stay silent")
    teachers.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="profile override, e.g. teacher.published_files.T2.url=URL (repeatable)")
    teachers.add_argument("--no-progress", action="store_true", help="no progress bar")


def _fetch_teachers(args: argparse.Namespace) -> int:
    from kdlib.core import profiles
    from kdlib.data.teacher_files import fetch_teachers

    files = profiles.apply_overrides(profiles.load(args.profile), args.set).teacher.published_files
    fetched = fetch_teachers(files, args.teacher, dest=args.dest, progress=not args.no_progress, timeout=args.timeout)
    for name, path in fetched.items():
        checked = "md5 OK" if files[name].md5 else "no md5 to check"
        print(f"{name}: {path} ({path.stat().st_size:,} bytes, {checked})")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "fetch-teachers":
        return _fetch_teachers(args)
    from kdlib.data import PACK_DATASETS, dataset_stats, fetch_pack, load_dataset, pack_dir, verify_pack
    from kdlib.data.pack import ensure_pack

    if args.action == "fetch":
        if args.if_missing and not args.dest:
            dest, fetched = ensure_pack(from_dir=args.from_dir, mirror=args.mirror)
        else:
            dest, fetched = fetch_pack(args.dest, args.from_dir, mirror=args.mirror), True
        files = verify_pack(dest)
        state = "ready" if fetched else "already present"
        print(f"data pack {state} in {dest}: {len(files)} files verified")
        return 0
    if args.action == "stats":
        names = args.dataset or list(PACK_DATASETS)
        print(json.dumps([dataset_stats(load_dataset(n)) for n in names], indent=2))
        return 0
    folder = pack_dir()
    files = verify_pack(folder)
    print(f"data pack {folder}: {len(files)} files, checksums OK")
    width = max(len(name) for name in PACK_DATASETS)
    header = f"{'dataset':<{width}} {'queries':>7} {'judged':>6} {'passages':>8} {'judgements':>10}  runs"
    print(header)
    for name in PACK_DATASETS:
        stats = dataset_stats(load_dataset(name))
        print(
            f"{name:<{width}} {stats['queries']:>7} {stats['judged_queries']:>6} {stats['passages']:>8} "
            f"{stats['judgements']:>10}  {', '.join(stats['runs'])}"
        )
    return 0
