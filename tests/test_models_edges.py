"""The rankers at their edges: options, defaults and paths the formula tests do not reach."""
from __future__ import annotations
