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


# -- memory modes and the `auto` policy ----------------------------------------------------------------------
# From fastest to most frugal. bf16 replaces fp16 where the card supports it and the backend tolerates it.
MODE_ORDER: tuple[tuple[str, Offload], ...] = (("fp32", "none"), ("fp16", "none"), ("fp16", "model"),
                                               ("fp16", "sequential"))
HEADROOM = 0.9  # plan to use at most 90 % of the free memory: the allocator fragments and CUDA needs a context


@dataclass(frozen=True)
class MemoryProfile:
    """What a backend holds, to estimate its peak per mode without loading it.

    `modules` maps each separately offloadable module to its parameter count; `activation_bytes` is the
    working memory of one run in fp16 at the backend's resolution (doubled for fp32); `layer_fraction` is
    the share of the largest module resident at once under sequential offload.
    """

    modules: dict[str, int]
    activation_bytes: int
    layer_fraction: float = 0.05
    fp32_modules: tuple[str, ...] = ()  # modules that stay fp32 whatever the mode (e.g. LaDI-VTON's warping)

    def peak_bytes(self, dtype: str, offload: Offload) -> int:
        per = {"fp32": 4, "fp16": 2, "bf16": 2}[dtype]
        sizes = {name: count * (4 if name in self.fp32_modules else per) for name, count in self.modules.items()}
        activations = self.activation_bytes * (2 if dtype == "fp32" else 1)
        if offload == "none":
            resident = sum(sizes.values())
        elif offload == "model":
            resident = max(sizes.values())
        else:
            resident = int(max(sizes.values()) * self.layer_fraction)
        return resident + activations


def candidate_modes(bf16: bool = False) -> list[tuple[str, Offload]]:
    half = "bf16" if bf16 else "fp16"
    return [(half if dtype == "fp16" else dtype, offload) for dtype, offload in MODE_ORDER]


def choose_mode(profile: MemoryProfile, free_bytes: int, bf16: bool = False) -> tuple[str, Offload]:
    """The fastest mode whose estimated peak fits the free memory; the most frugal one if none does."""
    modes = candidate_modes(bf16)
    for dtype, offload in modes:
        if profile.peak_bytes(dtype, offload) <= free_bytes * HEADROOM:
            return dtype, offload
    return modes[-1]


def next_frugal(runtime: Runtime) -> Runtime | None:
    """The next more frugal mode after an out-of-memory error, or None when there is none left."""
    modes = candidate_modes(runtime.dtype == "bf16")
    current = (runtime.dtype, runtime.offload)
    if current not in modes:
        return None
    index = modes.index(current)
    if index + 1 >= len(modes):
        return None
    dtype, offload = modes[index + 1]
    return runtime.with_(dtype=dtype, offload=offload)


def resolve(runtime: Runtime, profile: MemoryProfile | None, free_bytes: int | None = None) -> Runtime:
    """Turn `offload='auto'` into a concrete mode from the free GPU memory (fp32, no offload, on CPU)."""
    if runtime.offload != "auto":
        return runtime
    if not runtime.device.startswith("cuda") or profile is None:
        return runtime.with_(offload="none")
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info()[0]
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported() and runtime.dtype == "bf16"
    dtype, offload = choose_mode(profile, free_bytes, bf16)
    return runtime.with_(dtype=dtype, offload=offload)


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def free_device_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
