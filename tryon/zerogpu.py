"""Hugging Face ZeroGPU: a GPU is attached only while a `@spaces.GPU` function runs.

When the `spaces` package is importable (it is on a Space), model work is wrapped in `spaces.GPU` with a
duration that scales with the chosen backends and steps, so short requests queue with priority and long ones
are not cut off. Elsewhere the function is returned unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from tryon.options import options_class

# Seconds on a ZeroGPU slice (an H200 share): a fixed start-up part plus a per-step part for diffusion.
_BASE_SECONDS = {"warp": 5.0, "pasta-gan++": 10.0, "ladi-vton": 20.0, "prompt-dresser": 30.0}
_SECONDS_PER_STEP = {"ladi-vton": 0.15, "prompt-dresser": 1.0}
MAX_DURATION = 300


def default_steps(name: str) -> int:
    """A backend's default number of denoising steps, from its options class (0: it has no steps)."""
    cls = options_class(name)
    return int(cls.info("steps").default) if "steps" in {i.name for i in cls.infos()} else 0


def gpu_duration(backends: list[str] | None, steps: float | None = None) -> int:
    """Seconds to request for one try-on with these backends (capped at the ZeroGPU maximum)."""
    total = 10.0
    for name in backends or []:
        total += _BASE_SECONDS.get(name, 30.0)
        n = int(steps) if steps else default_steps(name)
        total += _SECONDS_PER_STEP.get(name, 0.0) * n
    return int(min(MAX_DURATION, total))


def on_gpu(fn: Callable[..., Any], duration: Callable[..., int]) -> Callable[..., Any]:
    """`spaces.GPU(duration=...)(fn)` when running on a Space, else `fn` itself."""
    if importlib.util.find_spec("spaces") is None:
        return fn
    spaces = importlib.import_module("spaces")
    return spaces.GPU(duration=duration)(fn)
