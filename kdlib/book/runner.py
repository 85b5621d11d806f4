"""Build the book: execute the notebooks with papermill, in dependency order, then jupyter-book.

The runner is the only place that executes notebooks; ``_config.yml`` tells jupyter-book to
render the stored outputs (``execute_notebooks: off``), so a notebook error fails ``kdlib book``
before any page is built, never a half-built book.

Each execution is skipped when its output exists and a stamp of everything it depends on is
unchanged: the source notebook, its parameters, the profile, and kdlib's own source. The
expensive work inside notebooks is cached separately (:mod:`kdlib.core.artifacts`), so changing one
parameter re-runs only what depends on it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from kdlib.core.artifacts import open_atomic, write_atomic
from kdlib.core.errors import KdlibError
from kdlib.core.paths import REPO_ROOT
from kdlib.core.profiles import PROFILE_DIR, Profile
from kdlib.repro.matrix import cells

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
GENERATED_DIR = REPO_ROOT / "book" / "generated"
BUILD_DIR = REPO_ROOT / "_build"


class NotebookFailed(KdlibError):
    """A notebook raised an error during execution."""


@dataclass(frozen=True)
class Execution:
    """One papermill execution: a source notebook, its parameters and where its output goes."""

    notebook: str
    output: Path
    parameters: Mapping[str, Any]
    #: The page title of the executed notebook (its first heading), where the source's is
    #: shared by several executions (chapter 4: one page per cell of the matrix).
    title: str | None = None

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.parameters.items() if k != "profile")
        return f"{self.notebook}" + (f" ({extra})" if extra else "")


def profile_parameter(profile: Profile, out_dir: Path = GENERATED_DIR) -> str:
    """The ``profile`` parameter every notebook loads: a name or a YAML file that loads as ``profile``.

    A shipped profile goes by its name, another by its file. A profile changed after loading
    (``kdlib book --set KEY=VALUE``) is written, resolved, to
    ``out_dir/profiles/<name>-<fingerprint>.yaml``: each kernel loads exactly the profile the
    runner was given, so the overrides reach every stage and are part of every stage key.
    """
    from kdlib.core import profiles

    shipped = (PROFILE_DIR / f"{profile.name}.yaml").is_file()
    ref = profile.name if shipped else str(profile.source or profile.name)
    try:
        if profiles.load(ref) == profile:
            return ref
    except KdlibError:
        pass  # e.g. a profile built in code: written out below
    path = out_dir / "profiles" / f"{profile.name}-{profile.fingerprint()}.yaml"
    if not path.is_file():
        profiles.write(profile, path)
    return str(path)


def plan(profile: Profile, out_dir: Path = GENERATED_DIR) -> list[Execution]:
    """The executions of a book build, in dependency order.

    The distillation matrix runs right after the data chapter, so that the chapters that read
    its results (teachers, score distributions, results, efficiency, dense retrieval) find them
    cached. The teachers' chapter comes after it although the book shows it first: it shows the
    label-only baseline students beside the teachers, and trained there, in a phase of one
    notebook, they kept a core idle for minutes (on 2 cores, 212 s of a 20-minute build); in
    the matrix they train beside the other cells. Its own work (teacher files, coverage) is
    computed on first use by whichever notebook needs it, under the stage's lock.
    Executed notebooks go to ``out_dir`` (``book/generated``, where ``_toc.yml`` expects them).
    """
    def single(name: str) -> Execution:
        return Execution(name, out_dir / f"{name}.ipynb", {"profile": profile_ref})

    profile_ref = profile_parameter(profile, out_dir)

    executions = [single("01_data")]
    for cell in cells(profile):
        stem = f"{cell.arch}__{cell.teacher}__{cell.loss}"
        executions.append(
            Execution("04_distillation", out_dir / "distillation" / f"{stem}.ipynb",
                      {"profile": profile_ref, **dataclasses.asdict(cell)},
                      title=f"Distillation run: {cell.arch} ← {cell.teacher} ({cell.loss})")
        )
    # Results come last: they read the latency and dense-retrieval tables of chapters 6 and 7.
    executions += [single(n) for n in ("02_teachers", "03_score_distributions", "06_efficiency",
                                        "07_dense_retrieval", "05_results")]
    return executions


def _source_digest() -> str:
    """Hash of kdlib's Python sources and profiles: a code change re-executes the notebooks."""
    digest = hashlib.sha256()
    package = REPO_ROOT / "kdlib"
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp(execution: Execution, profile: Profile, source_digest: str) -> str:
    from kdlib.core import artifacts

    notebook = (NOTEBOOK_DIR / f"{execution.notebook}.ipynb").read_bytes()
    blob = json.dumps(
        {
            "notebook": hashlib.sha256(notebook).hexdigest(),
            "parameters": dict(execution.parameters),
            "profile": profile.to_dict(),
            "kdlib": source_digest,
            # The stages a notebook shows live here: another artifact root is another book.
            "artifacts": str(artifacts.root().resolve()),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _phases(executions: list[Execution]) -> list[list[Execution]]:
    """Consecutive executions of the same notebook form a phase; phases run in order."""
    phases: list[list[Execution]] = []
    for execution in executions:
        if phases and phases[-1][0].notebook == execution.notebook:
            phases[-1].append(execution)
        else:
            phases.append([execution])
    return phases


def execute(profile: Profile, *, force: bool = False, only: Iterable[str] | None = None, jobs: int = 1,
            out_dir: Path = GENERATED_DIR, log=print) -> list[tuple[str, float, bool]]:
    """Execute the plan with papermill; returns (label, seconds, skipped) per execution.

    Args:
        profile: the profile every notebook gets as its ``profile`` parameter.
        force: re-execute notebooks whose stamp is unchanged.
        only: execute only these notebooks (names without ``.ipynb``).
        jobs: notebooks of one phase (the cells of the distillation matrix) executed in
            parallel; each kernel of a phase then gets ``cores // kernels`` threads, so a phase
            of one notebook (e.g. the dense-retrieval chapter) keeps every core.
        out_dir: where executed notebooks go (default ``book/generated``).

    Raises:
        NotebookFailed: a cell raised; the message names the notebook and the output file
            holding the traceback.
    """
    from concurrent.futures import ThreadPoolExecutor

    # Kernels inherit the environment: no download progress bars in the book's outputs, and
    # OpenMP threads that yield when idle (busy-waiting threads slow down a shared 2-core CPU).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Kernels import the kdlib that runs the book (a clone or worktree may not be the installed one).
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(REPO_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, paths)])
    # Figures render into the executed notebooks whatever backend the caller uses (e.g. Agg).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    wanted = set(only) if only else None
    if wanted is None or wanted - {"01_data"}:  # every chapter after the first reads teachers
        fetch_teacher_files(profile, log)
        open_passage_stores(profile, log)
    digest = _source_digest()
    selected = [e for e in plan(profile, out_dir) if not wanted or e.notebook in wanted]
    timings: list[tuple[str, float, bool]] = []
    for phase in _phases(selected):
        workers = max(1, min(jobs, len(phase)))
        if jobs > 1:
            # Small students leave a core idle (one thread keeps 65-85% of two threads' speed):
            # two single-threaded kernels train more per second than one with two threads.
            os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(lambda e: _execute_one(e, profile, digest, force, log), phase)
            timings += list(results)
    _write_timings(out_dir / f"timings-{profile.name}.json", timings)
    return timings


def fetch_teacher_files(profile: Profile, log=print) -> None:
    """Download (when missing) and check the profile's published teacher files before any
    notebook runs: a damaged file or a wrong checksum stops the book at once, with the
    file named and the fix, not hours later inside a chapter.

    Raises:
        DownloadError: a download failed or a file does not match its size / MD5.
    """
    from kdlib.teacher.files import published_file

    for name in profile.teacher.published_files:
        path = published_file(profile, name)
        log(f"[kdlib book] teacher file {name}: {path} (checked)")


def open_passage_stores(profile: Profile, log=print) -> None:
    """Read one passage of every split before any notebook runs, so that a passage store built
    on its first look-up is built here, once, by one process.

    An ``ir_datasets`` docs store (the ``msmarco`` profile) is built on its first look-up, and
    two kernels of the parallel matrix building it at once corrupt it (``LZ4BlockError``).
    The embedded pack holds its passages in memory: nothing to build.
    """
    from kdlib.repro.splits import splits

    split = splits(profile)
    for dataset in (split.train, split.validation, split.test):
        judged = next(iter((dataset.qrels or {}).values()), {})
        pid = next(iter(judged), None)
        if pid is not None:
            dataset.passages.get(pid)
    log(f"[kdlib book] passage stores of {profile.data.train}, {profile.data.test}: open")


def _write_timings(path: Path, timings: list[tuple[str, float, bool]]) -> None:
    """Record each execution's time; an unchanged (skipped) notebook keeps the time of the
    execution that produced it, so the file always describes the book as built."""
    previous = {}
    if path.is_file():
        previous = {row["execution"]: row for row in json.loads(path.read_text())}
    rows = []
    for label, seconds, cached in timings:
        if cached and label in previous:
            seconds = previous[label]["seconds"]
        rows.append({"execution": label, "seconds": round(seconds, 2), "unchanged_this_build": cached})
    write_atomic(path, json.dumps(rows, indent=1))


def _stages_present(profile: Profile) -> bool:
    """Whether the profile's stage results still exist (deleted artifacts mean a stale book)."""
    from kdlib.core import artifacts

    return (artifacts.root() / profile.name).is_dir()


def _execute_one(execution: Execution, profile: Profile, digest: str, force: bool, log) -> tuple[str, float, bool]:
    import papermill

    stamp_file = execution.output.with_suffix(".stamp")
    stamp = _stamp(execution, profile, digest)
    if (not force and execution.output.exists() and stamp_file.exists() and stamp_file.read_text() == stamp
            and _stages_present(profile)):
        return execution.label, 0.0, True
    execution.output.parent.mkdir(parents=True, exist_ok=True)
    failed = execution.output.with_suffix(".failed.ipynb")
    log(f"[kdlib book] executing {execution.label}")
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(NOTEBOOK_DIR / f"{execution.notebook}.ipynb"),
            str(failed),
            parameters=dict(execution.parameters),
            cwd=str(NOTEBOOK_DIR),
            progress_bar=False,
            kernel_name="python3",
        )
    except papermill.PapermillExecutionError as exc:
        raise NotebookFailed(
            f"notebook {execution.label} failed: {exc.ename}: {exc.evalue} "
            f"(executed notebook with the traceback: {failed})"
        ) from exc
    if execution.title:
        retitle(failed, execution.title)
    failed.replace(execution.output)
    write_atomic(stamp_file, stamp)
    seconds = time.perf_counter() - start
    log(f"[kdlib book]   {execution.label}: done in {seconds:.1f} s")
    return execution.label, seconds, False


def retitle(path: Path, title: str) -> None:
    """Give the executed notebook at ``path`` the page title ``title``: its first top-level
    heading becomes ``# <title>`` (the book's navigation shows each page by that heading)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            first, _, rest = cell.source.partition("\n")
            cell.source = f"# {title}" + (f"\n{rest}" if rest else "")
            break
    else:
        raise ValueError(f"{path}: no top-level heading to retitle")
    with open_atomic(path) as handle:
        nbformat.write(notebook, handle)


def build_book(root: Path = REPO_ROOT, *, builder: str = "html", quiet: bool = False) -> Path:
    """Run ``jupyter-book build`` on ``root`` (the repository); returns the HTML directory."""
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--builder", builder]
    completed = subprocess.run(command, cwd=root, capture_output=quiet, text=True)
    if completed.returncode != 0:
        detail = (completed.stdout or "")[-3000:] + (completed.stderr or "")[-3000:] if quiet else "see its output above"
        raise KdlibError(f"jupyter-book build failed (exit {completed.returncode}): {detail}")
    return root / "_build" / builder


def dry_run(profile: Profile, log=print, rates: str | None = None) -> float:
    """Print every download and stage of the plan with a GPU-hour estimate; returns the total
    (:func:`kdlib.repro.plan.dry_run`; ``rates``: a rate file instead of the profile's)."""
    from kdlib.repro.plan import dry_run as plan_only

    return plan_only(profile, log, rates)


def profile_summary(profile: Profile) -> dict[str, Any]:
    """The profile as the notebooks show it (JSON-friendly)."""
    return dataclasses.asdict(profile)
