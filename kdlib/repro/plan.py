"""The plan of a profile's book: every stage it computes (:func:`stage_calls`), and
``kdlib book --dry-run``: every download and every stage, with GPU-hour estimates.

Nothing is downloaded, trained or read beyond the profile and two small tables shipped with
kdlib and ``ir_datasets`` (their declared downloads, :mod:`kdlib.data.irds_downloads`; FLOPs per
training triple, :mod:`kdlib.repro.estimate`).
"""
from __future__ import annotations

from typing import Callable

from kdlib.core.profiles import Profile
from kdlib.repro.matrix import cells, dense_cells, distilling_settings, student_call
from kdlib.repro.stage import Call
from kdlib.repro.stages.fit import fit_queries

Log = Callable[[str], None]


def stage_calls(profile: Profile) -> list[Call]:
    """Every stage the profile's book computes (each once)."""
    calls = [Call.of("own_teacher"), Call.of("own_teacher_run")]
    calls += [Call.of("teacher_file", teacher=s) for s in distilling_settings(profile)]
    calls += [student_call(profile, stage, c) for c in cells(profile) for stage in ("student", "student_run")]
    calls += [Call.of("untrained_run", arch=a) for a in profile.student.architectures]
    if fit_queries(profile):
        calls += [student_call(profile, "student_fit", c) for c in cells(profile)]
    calls += [Call.of("score_samples"), Call.of("latency")]
    if dense_cells(profile):
        calls.append(Call.of("dense"))
    return list(dict.fromkeys(calls))


def _size(size: int | None) -> str:
    return "size unknown" if size is None else f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.2f} MB"


def _downloads(profile: Profile, log: Log) -> None:
    from kdlib.data.irds_downloads import irds_downloads
    from kdlib.data.teacher_files import teacher_dir
    from kdlib.repro.irds_overview import profile_datasets

    if profile.data.source == "ir_datasets":
        files = irds_downloads(profile_datasets(profile.data))
        total = sum(f.size or 0 for f in files)
        log(f"  downloads by ir_datasets (into $IR_DATASETS_HOME; {total / 1e9:.1f} GB declared):")
        for f in files:
            log(f"    {f.key:24s} {_size(f.size):>12s}  md5 {f.md5 or 'not declared'}  {f.url}  ({', '.join(f.datasets)})")
    else:
        log("  downloads: none (the embedded pack; `kdlib data fetch` if it is missing)")
    if profile.teacher.published_files:
        log(f"  published teacher files (into {teacher_dir()}; `kdlib data fetch-teachers`):")
        for name, published in profile.teacher.published_files.items():
            log(f"    {name:24s} {_size(published.size):>12s}  md5 {published.md5 or 'not given'}  {published.url}")


def dry_run(profile: Profile, log: Log = print) -> float:
    """Print the downloads and the stages of ``profile`` with GPU-hour estimates; returns the total."""
    from kdlib.repro import estimate
    from kdlib.repro.matrix import matrix_runs

    table = estimate.flops_table()
    estimator = estimate.Estimator(profile, table)
    data, teacher = profile.data, profile.teacher
    log(f"Plan for profile {profile.name!r}: {profile.description.strip()}")
    log(f"  data: train {list(data.train)} ({data.train_triples} triples), test {data.test}, "
        f"also evaluated on {list(data.eval_datasets)}, re-rank {data.candidates} top-{data.rerank_depth}")
    _downloads(profile, log)
    log("  GPU hours: no training throughput has been measured on a GPU at full size yet; each estimate is")
    log(f"    FLOPs / device rate, with {table.describe()}")
    log(f"    and an assumed device: {estimate.ASSUMED_DEVICE.describe()}.")
    cells = matrix_runs(profile)
    total, step = 0.0, 0
    for name in ("T1", "T2"):
        step += 1
        if name in teacher.published_files:
            log(f"  {step:2d}. teacher {name}: the published file {teacher.published_files[name].filename} (0 GPU h)")
        else:
            members = [teacher.t1] if name == "T1" else list(teacher.t2)
            log(f"  {step:2d}. teacher {name}: published runs {members} of the pack (0 GPU h)")
    if any(cell["teacher"] == "own" for cell in cells):
        step += 1
        hours = estimator.own_teacher_hours()
        total += hours
        log(f"  {step:2d}. teacher own: train BERT_CAT ({teacher.own_encoder.name}, RankNet, "
            f"{teacher.own_train.max_steps} steps x {teacher.own_train.batch_size}) and score "
            f"{estimator.training_triples():,} triples (~{hours:.1f} GPU h)")
    for cell in cells:
        step += 1
        hours = estimator.student_hours(cell["arch"])
        total += hours
        source = "labels" if cell["teacher"] == "baseline" else f"teacher {cell['teacher']}"
        log(f"  {step:2d}. student {cell['arch']} ({profile.student.encoder.name}) <- {source}, loss "
            f"{cell['loss']}, {profile.train.max_steps} steps x {profile.train.batch_size}; re-rank "
            f"{estimator.rerank_pairs():,} pairs of {[data.test, *data.eval_datasets]} (~{hours:.1f} GPU h)")
    if "bert_dot" in profile.student.architectures and data.source == "ir_datasets" and profile.eval.dense_corpus == "all":
        dense_models = sum(t in profile.student.teachers for t in ("baseline", "T1", "T2"))
        step += 1
        hours = dense_models * estimator.dense_hours()
        total += hours
        log(f"  {step:2d}. dense retrieval: encode {estimate.COLLECTION_PASSAGES:,} passages with {dense_models} "
            f"BERT_DOT models (~{hours:.1f} GPU h)")
    log(f"  total: ~{total:,.0f} GPU hours on the assumed device (divide by N under torchrun --nproc_per_node N)")
    return total
