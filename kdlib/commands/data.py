"""``kdlib data check|fetch|stats``: verify, obtain and describe the embedded TREC DL pack."""
from __future__ import annotations

import argparse
import json


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("check", help="verify the checksums and print per-dataset counts")
    fetch = actions.add_parser("fetch", help="copy the pack from a folder, or download it from GitHub")
    fetch.add_argument("--from", dest="from_dir", metavar="DIR", help="a local copy of the pack to copy from")
    fetch.add_argument("--dest", metavar="DIR", help="where to put the pack (default: data/trec-dl in the repository)")
    stats = actions.add_parser("stats", help="print dataset statistics as JSON")
    stats.add_argument("--dataset", action="append", help="dataset name (repeatable; default: all)")


def run(args: argparse.Namespace) -> int:
    from kdlib.data import DATASETS, dataset_stats, fetch_pack, load_dataset, pack_dir, verify_pack
    from kdlib.data.pack import DEFAULT_DEST

    if args.action == "fetch":
        dest = fetch_pack(args.dest or DEFAULT_DEST, args.from_dir)
        files = verify_pack(dest)
        print(f"data pack ready in {dest}: {len(files)} files verified")
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
