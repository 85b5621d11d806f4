"""The plan of a profile's book: every stage it computes (:func:`stage_calls`), and
``kdlib book --dry-run``: every download and every stage, with GPU-hour estimates.

Nothing is downloaded, trained or read beyond the profile and small tables shipped with kdlib
and ``ir_datasets`` (their declared downloads, :mod:`kdlib.data.irds_downloads`; the measured
rates of the profile's rate file, :mod:`kdlib.repro.rates`, and FLOPs per training triple,
:mod:`kdlib.repro.estimate`).
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
    if profile.eval.latency_paper_encoder is not None:
        calls.append(Call.of("paper_size_latency"))
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


def dry_run(profile: Profile, log: Log = print, rates: str | None = None) -> float:
    """Print the downloads and the runs of ``profile`` with GPU-hour estimates; returns the total.

    Each run gets its hours by part (training, validation, test re-ranking) and the rates
    they rest on, each said to be measured, derived or assumed (:mod:`kdlib.repro.estimate`);
    then the paper's main runs (baseline, T1, T2 of every architecture) against issue 19's
    24-hour target, and the total of the whole book.

    Args:
        profile: the profile to plan.
        log: where the lines go.
        rates: a rate file (a shipped name or a path; ``"none"``: the FLOPs assumption) instead
            of the profile's ``rates``.
    """
    from kdlib.repro import estimate
    from kdlib.repro.matrix import main_cells

    throughput = estimate.throughput(profile, rates)
    estimator = estimate.Estimator(profile, throughput)
    data, teacher, train = profile.data, profile.teacher, profile.train
    log(f"Plan for profile {profile.name!r}: {profile.description.strip()}")
    log(f"  data: train {list(data.train)} ({data.train_triples} triples), test {data.test}, "
        f"also evaluated on {list(data.eval_datasets)}, re-rank {data.candidates} top-{data.rerank_depth}")
    _downloads(profile, log)
    for line in throughput.basis_lines() + throughput.caveats(profile):
        log(f"  {line}")
    depth = data.validation_depth or data.rerank_depth
    log(f"  each run: training = max_steps x batch triples / triples/s; validation = {data.validation_queries} "
        f"queries x top-{depth} every eval_every steps / pairs/s;")
    log(f"    test = re-ranking {estimator.rerank_pairs():,} pairs of {[data.test, *data.eval_datasets]} / pairs/s; "
        f"scoring in batches of {profile.eval.batch_size}; at max_steps (early stopping can only shorten a run)")
    runs = cells(profile)
    total, step = 0.0, 0

    def run_line(what: str, hours: estimate.RunHours) -> None:
        nonlocal total, step
        step += 1
        total += hours.total
        parts = (f"training {hours.training:,.1f} h + validation {hours.validation:,.1f} h + test {hours.test:,.1f} h"
                 + (f" + scoring {hours.scoring:,.1f} h" if hours.scoring else ""))
        log(f"  {step:2d}. {what}: {parts} (~{hours.total:,.1f} GPU h)")
        log(f"        training {hours.training_rate.describe('triples/s')}; "
            f"scoring {hours.scoring_rate.describe('pairs/s')}")

    for name in ("T1", "T2"):
        step += 1
        if name in teacher.published_files:
            log(f"  {step:2d}. teacher {name}: the published file {teacher.published_files[name].filename} (0 GPU h)")
        else:
            members = [teacher.t1] if name == "T1" else list(teacher.t2)
            log(f"  {step:2d}. teacher {name}: published runs {members} of the pack (0 GPU h)")
    if any(cell.teacher == "own" for cell in runs):
        own = teacher.own_train
        run_line(f"teacher own: BERT_CAT ({teacher.own_encoder.name}, RankNet), {own.max_steps} steps x "
                 f"{own.batch_size}, validation every {own.eval_every}, then scores {estimator.training_triples():,} "
                 f"triples", estimator.own_teacher())
    hours_of = {}
    for cell in runs:
        source = "labels" if cell.teacher == "baseline" else f"teacher {cell.teacher}"
        hours_of[cell] = estimator.student(cell.arch)
        run_line(f"student {cell.arch} ({profile.student.encoder.name}) <- {source}, loss {cell.loss}, "
                 f"{train.max_steps} steps x {train.batch_size}, validation every {train.eval_every}", hours_of[cell])
    step += 1
    untrained = sum(estimator.untrained_hours(a) for a in profile.student.architectures)
    total += untrained
    log(f"  {step:2d}. untrained starts: re-rank the test sets with {len(profile.student.architectures)} "
        f"architectures (~{untrained:.1f} GPU h)")
    if "bert_dot" in profile.student.architectures and data.source == "ir_datasets" and profile.eval.dense_corpus == "all":
        dense_models = sum(t in profile.student.teachers for t in ("baseline", "T1", "T2"))
        step += 1
        hours = dense_models * estimator.dense_hours()
        total += hours
        log(f"  {step:2d}. dense retrieval: encode {estimate.COLLECTION_PASSAGES:,} passages with {dense_models} "
            f"BERT_DOT models (~{hours:.1f} GPU h)")
        log(f"        {estimator.dense_rate().describe('passages/s')}, a passage counted as a pair")
    main = [c for arch in profile.student.architectures for c in main_cells(profile, arch) if c in hours_of]
    if main:
        subtotal = [sum(getattr(hours_of[c], part) for c in main) for part in ("training", "validation", "test")]
        paper = sum(subtotal)
        # Issue 19's target is for the paper's setup at full scale, not for a miniature.
        verdict = ("" if data.source != "ir_datasets" else
                   f": within issue 19's {estimate.TARGET_HOURS:.0f} h target" if paper <= estimate.TARGET_HOURS else
                   f": {paper / estimate.TARGET_HOURS:.1f}x issue 19's target of {estimate.TARGET_HOURS:.0f} h "
                   f"on one H100/H200-class GPU, not met")
        log(f"  the paper's {len(main)} main runs (baseline, T1, T2 x {', '.join(profile.student.architectures)}): "
            f"~{paper:,.1f} GPU h (training {subtotal[0]:.1f} + validation {subtotal[1]:.1f} + test {subtotal[2]:.1f}) "
            f"on {throughput.device}{verdict}")
        log(f"    training rate measured for {sum(hours_of[c].training_rate.basis == 'measured' for c in main)} of "
            f"them, scoring rate for {sum(hours_of[c].scoring_rate.basis == 'measured' for c in main)}; "
            f"the others derived or assumed, as each run says")
    log(f"  total for the whole paper (every run above): ~{total:,.1f} GPU hours on {throughput.device} "
        f"(the same GPU hours on N GPUs under torchrun --nproc_per_node N; wall-clock time is about 1/N of them)")
    return total
