"""PASTA-GAN++'s run options. The garment source is meant to be a person wearing the garment; a flat product photo
is handled approximately (see `product_photo`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tryon.options import Options, option

NOISE_MODES = ("const", "random", "none")


@dataclass(frozen=True)
class PastaGanOptions(Options):
    backend: ClassVar[str] = "pasta-gan++"

    noise_mode: str = option("const", "StyleGAN2 noise: const (the stored noise, reproducible), random (the "
                             "official test.py, drawn from the seed), none", choices=NOISE_MODES, place="cli",
                             to_pipeline=True)
    use_sleeve_mask: bool = option(True, "split arm and body patches by the garment parse's sleeve labels (needs "
                                   "a garment parse)", place="cli")
    garment_person: Any = option(None, "the garment-source person: a `patches.Subject` or a dict with image, parse, "
                                 "keypoints and optionally garment_parse (a wearer photo gives the official quality)",
                                 place="api")
