"""Where kdlib reads and writes: one home folder, wherever kdlib is installed.

- In a clone of the repository (``pip install -e .``, what ``make`` does) the home is the
  clone itself: ``artifacts/`` and ``data/trec-dl/`` sit beside ``kdlib/``, as the README says.
- In a plain installation (``pip install kdlib`` or a wheel) the package lives in
  ``site-packages``, where nothing should be written; the home is then the working directory.
- ``$KDLIB_HOME`` overrides both.

Finer overrides keep working on top: ``$KDLIB_ARTIFACTS`` (the artifact root) and
``$KDLIB_DATA`` (a folder that holds the data pack).
"""
from __future__ import annotations

import os
from pathlib import Path

#: The folder of the ``kdlib`` package.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: The folder above the package: the repository in a clone (notebooks, book pages, _config.yml).
REPO_ROOT = PACKAGE_DIR.parent


def source_checkout() -> Path | None:
    """The repository clone kdlib is imported from, or ``None`` for a plain installation.

    A clone is recognised by what only the repository has beside the package: its
    ``pyproject.toml`` and the ``notebooks/`` folder.
    """
    root = REPO_ROOT
    if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir():
        return root
    return None


def home() -> Path:
    """kdlib's home folder: ``$KDLIB_HOME``, else the repository clone, else the working directory."""
    if os.environ.get("KDLIB_HOME"):
        return Path(os.environ["KDLIB_HOME"]).expanduser()
    checkout = source_checkout()
    return checkout if checkout is not None else Path.cwd()
