"""Where and how models run: device, dtype, offload policy, and peak-memory measurement.

Backends receive a `Runtime` and apply it themselves (dtype casts, accelerate offload hooks); this module
only decides and measures, so the policy logic stays pure and testable without a GPU.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

import torch

Offload = Literal["none", "model", "sequential", "auto"]
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Runtime:
    """Plain data: which device, which compute dtype, which offload policy."""

    device: str = "cpu"
    dtype: str = "fp32"
    offload: Offload = "none"
    vae_slicing: bool = False
    vae_tiling: bool = False
    attention_slicing: bool = False

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    def with_(self, **changes: object) -> Runtime:
        return replace(self, **changes)  # type: ignore[arg-type]


def default_device() -> str:
    """CUDA when a GPU is visible, else CPU; `TRYON_DEVICE` overrides."""
    forced = os.environ.get("TRYON_DEVICE")
    if forced:
        return forced
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_runtime(device: str | None = None) -> Runtime:
    """fp16 on CUDA (the official backends' inference precision), fp32 on CPU (fp16 CPU kernels are slow)."""
    device = device or default_device()
    return Runtime(device=device, dtype="fp16" if device.startswith("cuda") else "fp32")


def _process_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_memory_mb: float | None = None


@contextmanager
def measure(device: str) -> Iterator[Measurement]:
    """Time a block and record its peak memory: CUDA max-allocated on a GPU, process peak RSS on CPU.

    On CPU the kernel only keeps the process-lifetime peak, so the figure is an upper bound for the block.
    """
    result = Measurement()
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    try:
        yield result
    finally:
        if cuda:
            torch.cuda.synchronize()
            result.peak_memory_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            result.peak_memory_mb = _process_rss_mb()
        result.seconds = time.perf_counter() - start
