"""``kdlib data check|fetch|stats``: verify, obtain and describe the embedded TREC DL pack."""
from __future__ import annotations

import argparse
import json
import os


def configure(parser: argparse.ArgumentParser) -> None:
    from kdlib.data.datasets import DATASETS

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
    stats.add_argument("--dataset", action="append", choices=DATASETS, help="dataset name (repeatable; default: all)")


def run(args: argparse.Namespace) -> int:
    from kdlib.data import DATASETS, dataset_stats, fetch_pack, load_dataset, pack_dir, verify_pack
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
        names = args.dataset or list(DATASETS)
        print(json.dumps([dataset_stats(load_dataset(n)) for n in names], indent=2))
        return 0
    folder = pack_dir()
    files = verify_pack(folder)
    print(f"data pack {folder}: {len(files)} files, checksums OK")
    header = f"{'dataset':<14} {'queries':>7} {'judged':>6} {'passages':>8} {'judgements':>10}  runs"
    print(header)
    for name in DATASETS:
        stats = dataset_stats(load_dataset(name))
        print(
            f"{name:<14} {stats['queries']:>7} {stats['judged_queries']:>6} {stats['passages']:>8} "
            f"{stats['judgements']:>10}  {', '.join(stats['runs'])}"
        )
    return 0
