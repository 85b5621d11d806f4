"""The reproduction's stages as the notebooks call them: a facade over :mod:`kdlib.repro`.

Each function computes its stage once and loads it afterwards; see :mod:`kdlib.repro.stage`
for how a stage's key follows exactly what it depends on.
"""
from __future__ import annotations

from kdlib import repro
from kdlib.profiles import Profile
from kdlib.repro import *  # noqa: F401,F403 (the facade re-exports the layer's public API)

__all__ = [*repro.__all__, "matrix_cells"]


def matrix_cells(profile: Profile) -> list[dict[str, str]]:
    """The (arch, teacher, loss) cells of the profile's distillation matrix, as dicts."""
    return repro.matrix_runs(profile)
