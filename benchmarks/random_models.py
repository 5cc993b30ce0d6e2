"""Try-on backends with random weights, at the released sizes or tiny, for benchmarks that download nothing.

Real size: every module has the released architecture (built from `tryon`'s configs), filled with small random
values, so time and memory are those of the real models while the images are noise. Tiny: the tests' weights
folders (golden-kit configs), loaded through the backends' real loading code, for a quick check of a benchmark
script on a CPU.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tryon.backends.base import Backend  # noqa: E402
from tryon.sample import TryOnSample  # noqa: E402

BACKENDS = ("ladi-vton", "prompt-dresser", "pasta-gan++")


def random_module(build: Callable[[], torch.nn.Module], dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """Build with parameters on the meta device (buffers keep their real values: position ids, filters, grids),
    then give each parameter N(0, 0.02) values in `dtype` on the CPU: no slow default init, no fp32 copy."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        module = build()
    return fill_random(module, dtype)


def fill_random(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Materialise a module built under `accelerate.init_empty_weights` with N(0, 0.02) parameters in `dtype`."""
    from accelerate.utils import set_module_tensor_to_device

    generator = torch.Generator().manual_seed(0)
    for name, param in list(module.named_parameters()):
        value = torch.empty(param.shape, dtype=dtype).normal_(0.0, 0.02, generator=generator)
        set_module_tensor_to_device(module, name, "cpu", value=value)
    return module.to(dtype).eval()


def ladi_vton_pipeline(dtype: torch.dtype = torch.float32):  # noqa: ANN201 - LadiVtonPipeline, imported lazily
    """Every LaDI-VTON component at the released size (REAL_CONFIG), random weights."""
    from tryon.backends.ladi_vton import loading
    from tryon.backends.ladi_vton.backend import COMPONENTS
    from tryon.backends.ladi_vton.config import REAL_CONFIG
    from tryon.backends.ladi_vton.pipeline import LadiVtonPipeline
    from tryon.clip_tokenizer import clip_tokenizer

    modules = {n: random_module(lambda n=n: loading.build(n, REAL_CONFIG[n], REAL_CONFIG["vision_encoder"]), dtype)
               for n in COMPONENTS}
    scheduler = loading.scheduler(REAL_CONFIG["scheduler"])
    return LadiVtonPipeline(tokenizer=clip_tokenizer(pad_token="!"), scheduler=scheduler, **modules)


def prompt_dresser_pipeline(dtype: torch.dtype = torch.float32):  # noqa: ANN201 - PromptDresserPipeline
    """Both SDXL UNets, the SDXL VAE and both CLIP text encoders at the released sizes, random weights."""
    from accelerate import init_empty_weights
    from diffusers import DDPMScheduler

    from tryon.backends.prompt_dresser import config
    from tryon.backends.prompt_dresser.loading import empty_modules, scheduler_from_config, tokenizers
    from tryon.backends.prompt_dresser.pipeline import PromptDresserPipeline

    with init_empty_weights():
        empty = empty_modules()
    modules = [fill_random(module, dtype) for module in empty]
    return PromptDresserPipeline(*modules, *tokenizers(),
                                 scheduler_from_config(dict(DDPMScheduler(**config.SCHEDULER).config)))


def real_backends(dtype: torch.dtype = torch.float32) -> dict[str, Backend]:
    """The three model backends at the released sizes with random weights (PromptDresser at 1024x768)."""
    from tryon.backends.ladi_vton.backend import LadiVtonBackend
    from tryon.backends.pasta_gan.backend import PastaGanBackend
    from tryon.backends.pasta_gan.generator import PastaGanGenerator
    from tryon.backends.prompt_dresser.backend import PromptDresserBackend

    return {
        "ladi-vton": LadiVtonBackend(pipeline=ladi_vton_pipeline(dtype)),
        "prompt-dresser": PromptDresserBackend.from_modules(prompt_dresser_pipeline(dtype), resolution=(1024, 768)),
        "pasta-gan++": PastaGanBackend(generator=random_module(PastaGanGenerator, dtype)),
    }


def tiny_backends(folder: Path) -> dict[str, Backend]:
    """The three model backends loaded from the tests' tiny weights folders (written under `folder`)."""
    from tests.tiny_ladi_vton import make_tiny_ladi_vton_folder
    from tests.tiny_pasta_gan import make_tiny_pasta_gan_checkpoint
    from tests.tiny_prompt_dresser import make_tiny_prompt_dresser_folder
    from tryon.backends.ladi_vton.backend import LadiVtonBackend
    from tryon.backends.pasta_gan.backend import PastaGanBackend
    from tryon.backends.prompt_dresser.backend import PromptDresserBackend

    return {
        "ladi-vton": LadiVtonBackend(folder=make_tiny_ladi_vton_folder(folder / "ladi-vton")),
        "prompt-dresser": PromptDresserBackend.from_pretrained(make_tiny_prompt_dresser_folder(folder / "pd")),
        "pasta-gan++": PastaGanBackend(snapshot=make_tiny_pasta_gan_checkpoint(folder / "pasta.pkl")),
    }


def synthetic_sample(height: int = 1024, width: int = 768) -> TryOnSample:
    """A VITON-HD-sized sample with everything the three backends need: noise photos, a plausible parse map,
    18 OpenPose keypoints and an agnostic mask over the torso."""
    rng = np.random.default_rng(0)
    sy, sx = height / 1024, width / 768
    parse = np.zeros((height, width), np.uint8)
    for label, (y0, y1, x0, x1) in {13: (100, 250, 300, 460), 5: (250, 650, 200, 560), 14: (300, 600, 150, 200),
                                    15: (300, 600, 560, 610), 9: (650, 1000, 230, 530)}.items():
        parse[int(y0 * sy):int(y1 * sy), int(x0 * sx):int(x1 * sx)] = label
    keypoints = np.zeros((18, 3), np.float32)
    for i, (x, y) in {0: (384, 180), 1: (384, 290), 2: (270, 300), 3: (230, 470), 4: (220, 630), 5: (500, 300),
                      6: (545, 470), 7: (560, 630), 8: (330, 620), 11: (450, 620), 9: (330, 800), 12: (450, 800),
                      14: (360, 160), 15: (410, 160)}.items():
        keypoints[i] = (x * sx, y * sy, 1.0)
    mask = np.isin(parse, (5, 14, 15))
    return TryOnSample(person=rng.integers(0, 255, (height, width, 3), dtype=np.uint8),
                       garment=rng.integers(0, 255, (height, width, 3), dtype=np.uint8), keypoints=keypoints,
                       parse=parse, agnostic_mask=mask, garment_mask=mask)
