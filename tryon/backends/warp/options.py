"""The warp baseline's options: only the seed, which it records and never uses (its output is a pure function of
the inputs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tryon.options import Options


@dataclass(frozen=True)
class WarpOptions(Options):
    backend: ClassVar[str] = "warp"
