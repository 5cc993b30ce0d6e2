"""LaDI-VTON's run options, with the official inference defaults (seed 1234, 50 DDIM steps, guidance 7.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tryon.options import Options, option


@dataclass(frozen=True)
class LadiVtonOptions(Options):
    backend: ClassVar[str] = "ladi-vton"

    seed: int = option(1234, "random seed: the same seed gives the same result on the same device", minimum=0,
                       place="shared")
    steps: int = option(50, "denoising steps", minimum=1, maximum=1000, place="shared", to_pipeline=True)
    guidance: float = option(7.5, "classifier-free guidance scale", minimum=0.0, maximum=30.0, place="shared",
                             to_pipeline=True)
