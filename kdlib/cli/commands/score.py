"""``kdlib score``: write a teacher file (``pos_score neg_score qid pos_pid neg_pid``).

Examples::

    kdlib score --teacher runs/teacher --profile tiny --out t_own.tsv     # a run: its best/ (else final/)
    kdlib score --teacher A --teacher B --triples triples.tsv --profile tiny --out t2.tsv   # per-pair mean
    kdlib score --published rep_llama --published splade_pp --published tas_b --profile tiny --out t2.tsv

``--profile`` alone scores the matrix's student triples; ``--triples FILE`` scores a triples
file of ids (``qid pos_pid neg_pid``; its texts come from the profile's training data).
An interrupted scoring run resumes where it stopped when run again.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("kdlib.score")

# On a shared, busy CPU, OpenMP threads that spin while waiting slow torch down many times
# over; passive waiting costs little when the machine is idle. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def configure(parser: argparse.ArgumentParser) -> None:
    from kdlib.data.datasets import RUNS

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--teacher", action="append", metavar="DIR",
                        help="a saved teacher model, or the --out directory of `kdlib train` "
                             "(its best/ model, else final/); repeatable: mean")
    source.add_argument("--published", action="append", metavar="RUN", choices=tuple(RUNS),
                        help="a published run as teacher (%(choices)s; repeatable: mean)")
    parser.add_argument("--triples", help="triples file of ids (qid pos_pid neg_pid); default: the profile's")
    parser.add_argument("--profile", help="profile name or YAML path (required with --published or without --triples)")
    parser.add_argument("--out", required=True, help="the teacher file to write")
    parser.add_argument("--batch-size", type=int, default=None, help="triples per forward pass (default eval.batch_size/2)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="profile override (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from kdlib.core import profiles
    from kdlib.core.errors import ConfigError

    if args.profile is None:
        raise ConfigError("kdlib score: --profile is required (it names the data the triples' ids refer to)")
    profile = profiles.load(args.profile)
    if args.set:
        profile = profiles.override(profile, dict(profiles.parse_override(s) for s in args.set))
    from kdlib.train.pipeline import distillation_triples

    dataset, triples = distillation_triples(profile)
    if args.triples:
        from kdlib.data import Triple, read_triples_ids

        triples = [Triple(*t) for t in read_triples_ids(args.triples)]
    if args.published:
        from kdlib.data import write_teacher_scores
        from kdlib.teacher import member_scores, published_teacher_scores

        records = published_teacher_scores(dataset, triples, args.published,
                                           normalisation=profile.teacher.normalisation, scale=profile.teacher.scale)
        count = write_teacher_scores(records, args.out)
        imputed = {m: member_scores(dataset, triples, m).imputed for m in args.published}
        print(json.dumps({"out": args.out, "lines": count, "imputed_pairs": imputed, "pairs": 2 * len(triples)}))
        return 0
    from kdlib.teacher import score_triples
    from kdlib.train.result import find_model_dir

    teachers = []
    for given in args.teacher:
        model = find_model_dir(given)
        if model != Path(given):
            log.info("teacher %s: using the run's saved model %s", given, model)
        teachers.append(str(model))
    batch_size = args.batch_size or max(1, profile.eval.batch_size // 2)
    out = score_triples(teachers, triples, args.out, dataset=dataset, batch_size=batch_size,
                        device=profile.device, progress=not args.no_progress)
    if out is not None:
        print(json.dumps({"out": str(out), "lines": len(triples), "teachers": teachers}))
    return 0
