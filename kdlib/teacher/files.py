"""Published teacher files as a profile's T1 and T2 (``teacher.published_files``).

The paper's teachers were published as score files over MS MARCO's official triples (Zenodo
4068216). A profile that lists them distils from them instead of scoring triples itself:
each file is fetched and checked on first use, and students read its first
``data.max_train_triples`` lines, the triples they train on.
"""
from __future__ import annotations

from pathlib import Path

from kdlib.core import artifacts
from kdlib.core.errors import ConfigError
from kdlib.core.profiles import Profile


def uses_teacher_files(profile: Profile) -> bool:
    """Whether the profile's T1 / T2 are published teacher files (not scored by kdlib)."""
    return bool(profile.teacher.published_files)


def teacher_file_limit(profile: Profile) -> int | None:
    """How many lines of a teacher file a student reads: a published file holds every official
    triple, of which students train on the first ``data.max_train_triples``."""
    return profile.data.max_train_triples if profile.data.trains_on_official_triples else None


def published_file(profile: Profile, teacher: str) -> Path:
    """The published file of teacher ``teacher`` (``T1``, ``T2``), downloaded when missing,
    size and MD5 checked.

    Raises:
        ConfigError: ``teacher`` has no published file (e.g. the ``T2_scored`` ablation,
            which needs every member's own scores).
        DownloadError: the download failed or the file is damaged (named, with the fix).
    """
    from kdlib.data.teacher_files import fetch_teachers, teacher_dir

    files = profile.teacher.published_files
    if teacher not in files:
        raise ConfigError(
            f"teacher {teacher!r} has no published file (teacher.published_files has {sorted(files)}); "
            f"the published files hold one score per triple, so settings that need each member's "
            f"own scores cannot run on this profile"
        )
    # Kernels of one phase (`kdlib book --jobs`) may ask at once: one download per file.
    with artifacts.stage_lock(teacher_dir() / ".locks" / teacher):
        return fetch_teachers(files, [teacher], progress=False)[teacher]

