"""``kdlib train``: train a student (or, with ``--role teacher``, our own BERT_CAT teacher).

Examples::

    kdlib train --profile tiny --arch bert_dot --loss margin_mse --teacher-scores t1.tsv --out runs/dot_t1
    kdlib train --profile tiny --role teacher --out runs/teacher
    torchrun --nproc_per_node 2 -m kdlib train --profile embedded --arch colbert --loss ranknet --out runs/colbert

Running the same command again resumes an interrupted run, and does nothing for a finished one.
"""
from __future__ import annotations

import argparse
import json
import os

# On a shared, busy CPU, OpenMP threads that spin while waiting slow torch down many times
# over; passive waiting costs little when the machine is idle. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def configure(parser: argparse.ArgumentParser) -> None:
    from kdlib.losses import LOSSES
    from kdlib.models import ARCHITECTURES

    parser.add_argument("--profile", required=True, help="profile name (tiny, embedded, msmarco) or YAML path")
    parser.add_argument("--role", choices=("student", "teacher"), default="student",
                        help="teacher: our own BERT_CAT trained with RankNet (profile.teacher.own_*)")
    parser.add_argument("--arch", choices=ARCHITECTURES, help="student architecture (%(choices)s)")
    parser.add_argument("--loss", choices=tuple(LOSSES), help="loss (%(choices)s)")
    parser.add_argument("--teacher-scores", help="teacher file (pos neg qid pos_pid neg_pid) for distillation")
    parser.add_argument("--out", required=True, help="run directory (logs, checkpoint, best/, final/)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="profile override, e.g. train.max_steps=20 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from kdlib.core import profiles
    from kdlib.core.errors import ConfigError
    from kdlib.train import pipeline

    profile = profiles.apply_overrides(profiles.load(args.profile), args.set)
    if args.role == "teacher":
        result = pipeline.train_own_teacher(profile, args.out, progress=not args.no_progress)
    else:
        if not args.arch or not args.loss:
            raise ConfigError("kdlib train: a student needs --arch and --loss")
        result = pipeline.train_student(profile, args.arch, args.loss, teacher_scores=args.teacher_scores,
                                        out_dir=args.out, progress=not args.no_progress)
    summary = {k: result.to_json()[k] for k in ("out_dir", "steps", "finished", "best_score", "best_step", "final_loss")}
    summary["model_dir"] = None if result.model_dir is None else str(result.model_dir)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary, from rank 0
        print(json.dumps(summary))
    return 0
