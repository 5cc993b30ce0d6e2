"""PASTA-GAN++ inference, top to bottom as in the paper (and the official test.py):

1. patch routing (`patches.preprocess`): cut the garment-source person's garment into 10 normalised body-part
   patches and warp them onto the target pose;
2. encoders: patches -> style code -> w; pose map -> 8x8 features; retained person pixels -> skip features;
3. synthesis: StyleGAN2 image + parsing, then the SPADE texture branch driven by the routed patches;
4. post-processing: [-1, 1] -> uint8 (truncated), crop the 96-column padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tryon.backends.pasta_gan import patches
from tryon.backends.pasta_gan.generator import PastaGanGenerator
from tryon.backends.pasta_gan.inputs import assemble, to_uint8_image
from tryon.backends.pasta_gan.options import NOISE_MODES
from tryon.trace import NO_TRACE, Tracer


@dataclass
class PastaGanPipeline:
    generator: PastaGanGenerator
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32

    @torch.no_grad()
    def __call__(self, person: patches.Subject, garment: patches.Subject, mode: str = "upper",
                 use_sleeve_mask: bool = True, noise_mode: str = "const", generator: torch.Generator | None = None,
                 trace: Tracer = NO_TRACE) -> np.ndarray:
        """Try the garment of `garment` (a person wearing it) on `person`; both 512x320. Returns 512x320 RGB.
        `generator` feeds the noise of `noise_mode="random"`."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}")
        pre = patches.preprocess(person, garment, mode=mode, use_sleeve_mask=use_sleeve_mask)
        inputs = assemble(pre.person_image, **pre.generator_maps()).to(self.device, self.dtype)
        finetune = self.generator(inputs.parts, inputs.retain, inputs.pose, inputs.denorm_upper, inputs.denorm_lower,
                                  inputs.denorm_upper_mask, inputs.denorm_lower_mask, noise_mode=noise_mode,
                                  generator=generator, trace=trace)
        return to_uint8_image(finetune, pre.columns)
