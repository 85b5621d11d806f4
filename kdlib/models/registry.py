"""The architecture registry: each architecture module registers its :class:`Ranker`
subclass under its name (``@register``), as ir-measures' measures do; :func:`build` and
:func:`load` look classes up here by the name a config or the command line gives."""
from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from kdlib.core.errors import ConfigError

if TYPE_CHECKING:
    from kdlib.models.base import Ranker

RankerClass = TypeVar("RankerClass", bound="type[Ranker]")
_CLASSES: dict[str, type[Ranker]] = {}


def register(cls: RankerClass) -> RankerClass:
    """Class decorator: register a :class:`Ranker` subclass under its ``arch`` name."""
    if cls.arch in _CLASSES and _CLASSES[cls.arch] is not cls:
        raise ValueError(f"architecture {cls.arch!r} is registered twice ({_CLASSES[cls.arch].__name__}, {cls.__name__})")
    _CLASSES[cls.arch] = cls
    return cls


def architectures() -> tuple[str, ...]:
    """The registered architecture names, in registration order."""
    return tuple(_CLASSES)


def architecture_class(arch: str) -> type[Ranker]:
    """The :class:`Ranker` subclass registered as ``arch``.

    Raises:
        ConfigError: an unknown name (the message lists the valid ones; a ``ValueError`` too).
    """
    try:
        return _CLASSES[arch]
    except KeyError:
        raise ConfigError(f"unknown architecture {arch!r}; expected one of {', '.join(_CLASSES)}") from None
