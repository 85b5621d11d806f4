"""Declared stages: what each cached step depends on, and the one place that runs it.

A :class:`Stage` names the profile sections it reads (dotted paths; ``{arch}`` stands for
the stage's ``arch`` parameter, so ``student.options.{arch}`` is that architecture's
options only) and the upstream stages it uses. Its key is derived from exactly those: its
parameters, the sections' values, the upstream stages' keys and the code fingerprint
(:func:`kdlib.core.artifacts.code_fingerprint`). No stage assembles a key by hand, so a key can
neither miss a dependency its declaration names nor depend on one it does not.

:meth:`Stage.run` is the only place that locks a stage directory, computes into it and marks
it ``DONE``; a stage's compute function only writes its files (atomically, through
:mod:`kdlib.core.artifacts`).

A stage parameterised by a teacher setting (``teacher=``, a
:class:`~kdlib.repro.settings.TeacherSetting`) reads the profile as that setting sees it
(the ``T2_scored`` ablation reads ``teacher.unscored: drop``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from kdlib.core import artifacts
from kdlib.core.profiles import Profile
from kdlib.repro.settings import TeacherSetting

#: Every declared stage, by name.
REGISTRY: dict[str, "Stage"] = {}


@dataclass(frozen=True)
class Call:
    """One stage with its parameters (a node of the stage graph)."""

    stage: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, stage: str, **params: Any) -> "Call":
        return cls(stage, tuple(sorted(params.items())))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={_plain(v)}" for k, v in self.params)
        return f"{self.stage}({args})"


def _plain(value: Any) -> Any:
    return value.name if isinstance(value, TeacherSetting) else value


def _no_upstream(profile: Profile, **params: Any) -> list[Call]:
    return []


@dataclass(frozen=True)
class Stage:
    """A cached step of the reproduction.

    Attributes:
        name: the stage's name, also its folder under ``artifacts/<profile>/``.
        compute: ``compute(profile, out_dir, **params)`` writes the stage's files into
            ``out_dir`` (the profile as the stage's teacher setting sees it).
        sections: dotted profile paths the stage reads.
        depends_on: names of the stages it may use.
        upstream: ``upstream(profile, **params)``: the concrete upstream calls (each of a
            stage in ``depends_on``).
    """

    name: str
    compute: Callable[..., None]
    sections: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    upstream: Callable[..., list[Call]] = field(default=_no_upstream)

    def view(self, profile: Profile, params: Mapping[str, Any]) -> Profile:
        """The profile as this stage call reads it (its teacher setting applied)."""
        teacher = params.get("teacher")
        return teacher.apply(profile) if isinstance(teacher, TeacherSetting) else profile

    def upstream_calls(self, profile: Profile, **params: Any) -> list[Call]:
        calls = self.upstream(profile, **params)
        undeclared = [str(c) for c in calls if c.stage not in self.depends_on]
        if undeclared:
            raise RuntimeError(f"stage {self.name} uses undeclared upstream stages: {undeclared}")
        return calls

    def key(self, profile: Profile, **params: Any) -> dict[str, Any]:
        """What the stage depends on (without the code fingerprint, which
        :func:`kdlib.core.artifacts.stage_dir` adds)."""
        view = self.view(profile, params).to_dict()
        sections = {}
        for template in self.sections:
            path = template.format(**{k: _plain(v) for k, v in params.items()})
            sections[path] = _lookup(view, path)
        return {
            "stage": self.name,
            "params": {k: v.as_key() if isinstance(v, TeacherSetting) else v for k, v in sorted(params.items())},
            "sections": sections,
            "upstream": {str(c): key_hash(profile, c) for c in self.upstream_calls(profile, **params)},
        }

    def path(self, profile: Profile, **params: Any) -> Path:
        """The stage's directory (not created)."""
        return artifacts.stage_path(profile.name, self.name, self.key(profile, **params))

    def run(self, profile: Profile, **params: Any) -> Path:
        """Compute the stage once (under its lock) and return its finished directory."""
        out = artifacts.stage_dir(profile.name, self.name, self.key(profile, **params))
        if not artifacts.is_done(out):
            with artifacts.stage_lock(out):
                # Another process may have finished it while this one waited for the lock.
                if not artifacts.is_done(out):
                    self.compute(self.view(profile, params), out, **params)
                    artifacts.mark_done(out)
        return out


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping):
            raise KeyError(f"profile section {path!r}: {part!r} is not inside a section")
        if part not in node and path.startswith("student.options."):
            return None  # an architecture without options of its own: the defaults
        if part not in node:
            raise KeyError(f"no profile section {path!r}")
        node = node[part]
    return node


def stage(name: str, *, sections: tuple[str, ...] = (), depends_on: tuple[str, ...] = (),
          upstream: Callable[..., list[Call]] | None = None) -> Callable[[Callable[..., None]], Stage]:
    """Declare a stage: decorate its compute function (``compute(profile, out_dir, **params)``)."""
    def register(compute: Callable[..., None]) -> Stage:
        declared = Stage(name, compute, tuple(sections), tuple(depends_on), upstream or _no_upstream)
        REGISTRY[name] = declared
        return declared

    return register


def key_hash(profile: Profile, call: Call) -> str:
    """The hash naming ``call``'s directory (its key and the code fingerprint)."""
    return artifacts.stage_path(profile.name, call.stage, REGISTRY[call.stage].key(profile, **call.kwargs)).name
