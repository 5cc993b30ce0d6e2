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

from tryon.errors import InputError

Offload = Literal["none", "model", "sequential", "auto"]
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Runtime:
    """Plain data: which device, which compute dtype, which offload policy."""

    device: str = "cpu"
    dtype: str = "fp32"
    offload: Offload = "none"

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
    """fp16 with the `auto` memory policy on CUDA (fp16 is the official backends' inference precision), fp32 on
    CPU (fp16 CPU kernels are slow). Only reads: the memory cap is set by `cap_gpu_memory_from_env`."""
    device = device or default_device()
    if not device.startswith("cuda"):
        return Runtime(device=device, dtype="fp32")
    return Runtime(device=device, dtype="fp16", offload="auto")


def cap_gpu_memory_from_env() -> None:
    """Apply `TRYON_GPU_MEMORY_GB` (a cap on this process's GPU memory) once, where the app or the CLI starts."""
    cap = os.environ.get("TRYON_GPU_MEMORY_GB")
    device = default_device()
    if cap and device.startswith("cuda") and torch.cuda.is_available() and _index(device) not in _GPU_CAPS:
        limit_gpu_memory(float(cap), device)


def runtime_from_choices(device: str | None = None, dtype: str | None = None, offload: str | None = None,
                         gpu_memory_gb: float | None = None) -> Runtime:
    """A runtime from the user's choices (CLI flags), each defaulting as `default_runtime` does."""
    base = default_runtime(device)
    cap_gpu_memory_from_env()
    if gpu_memory_gb is not None:
        if not base.device.startswith("cuda"):
            raise InputError("--gpu-memory needs a CUDA device")
        limit_gpu_memory(gpu_memory_gb, base.device)
    if dtype is not None and dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}: choose from {', '.join(DTYPES)}")
    if offload is not None and offload not in (*OFFLOAD_MODES, "auto"):
        raise InputError(f"unknown offload {offload!r}: choose from auto, {', '.join(OFFLOAD_MODES)}")
    return base.with_(dtype=dtype or base.dtype, offload=offload or base.offload)


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
# From the most memory to the least. On a GPU fp16 is also the fastest (tensor cores); fp32 is only planned when
# asked for. bf16 replaces fp16 where asked for and the card supports it. The last mode also turns on the
# backends' own savers (VAE slicing or tiling), which cost time but cut the decoder's peak.
MODE_ORDER: tuple[tuple[str, Offload], ...] = (("fp32", "none"), ("fp16", "none"), ("fp16", "model"),
                                               ("fp16", "sequential"))
OFFLOAD_MODES: tuple[Offload, ...] = ("none", "model", "sequential")
HEADROOM = 0.9  # plan to use at most 90 % of the free memory: the allocator fragments and CUDA needs a context


@dataclass(frozen=True)
class MemoryProfile:
    """What a backend holds, to estimate its peak per mode without loading it.

    `modules` maps each separately offloadable module to its parameter count; `activation_bytes` is the
    working memory of one run in fp16 at the backend's resolution (doubled for fp32), and
    `frugal_activation_bytes` the same with the savers of sequential mode on; `layer_fraction` is the share of
    the largest module resident at once under sequential offload. `pinned` modules stay on the GPU under any
    offload (counted in full), `fp32_modules` stay fp32 whatever the mode, and `offload_modes` lists the
    offload modes the backend implements (one small module has nothing to offload).
    """

    modules: dict[str, int]
    activation_bytes: int
    frugal_activation_bytes: int | None = None
    layer_fraction: float = 0.05
    pinned: tuple[str, ...] = ()
    fp32_modules: tuple[str, ...] = ()  # e.g. LaDI-VTON's warping networks
    offload_modes: tuple[Offload, ...] = OFFLOAD_MODES

    def peak_bytes(self, dtype: str, offload: Offload) -> int:
        per = {"fp32": 4, "fp16": 2, "bf16": 2}[dtype]
        sizes = {name: count * (4 if name in self.fp32_modules else per) for name, count in self.modules.items()}
        if offload not in self.offload_modes:
            offload = "none"
        pinned = sum(size for name, size in sizes.items() if name in self.pinned)
        largest = max((size for name, size in sizes.items() if name not in self.pinned), default=0)
        if offload == "none":
            resident = sum(sizes.values())
        elif offload == "model":
            resident = pinned + largest
        else:
            resident = pinned + int(largest * self.layer_fraction)
        activations = self.activation_bytes
        if offload == "sequential" and self.frugal_activation_bytes is not None:
            activations = self.frugal_activation_bytes
        return resident + activations * (2 if dtype == "fp32" else 1)


def candidate_modes(dtype: str = "fp16", offload_modes: tuple[Offload, ...] = OFFLOAD_MODES
                    ) -> list[tuple[str, Offload]]:
    """The modes `auto` may choose from, in order: from `dtype` (fp32 only when it was asked for) downwards."""
    half = "bf16" if dtype == "bf16" else "fp16"
    modes = [(half if d == "fp16" else d, o) for d, o in MODE_ORDER if o in offload_modes]
    return modes if dtype == "fp32" else [m for m in modes if m[0] != "fp32"]


def choose_mode(profile: MemoryProfile, free_bytes: int, dtype: str = "fp16") -> tuple[str, Offload]:
    """The first mode (from `dtype` down) whose estimated peak fits the free memory; the most frugal if none."""
    modes = candidate_modes(dtype, profile.offload_modes)
    for mode in modes:
        if profile.peak_bytes(*mode) <= free_bytes * HEADROOM:
            return mode
    return modes[-1]


def next_frugal(runtime: Runtime) -> Runtime | None:
    """The next more frugal mode after an out-of-memory error, or None when there is none left."""
    modes = candidate_modes("fp32" if runtime.dtype == "fp32" else runtime.dtype)
    current = (runtime.dtype, runtime.offload)
    if current not in modes:
        return None
    index = modes.index(current)
    if index + 1 >= len(modes):
        return None
    dtype, offload = modes[index + 1]
    return runtime.with_(dtype=dtype, offload=offload)


# A cap on this process's GPU memory (simulating a smaller card, or sharing one), per device index.
_GPU_CAPS: dict[int, int] = {}


def _index(device: str) -> int:
    index = torch.device(device).index
    return torch.cuda.current_device() if index is None else index


def limit_gpu_memory(gigabytes: float | None, device: str = "cuda") -> None:
    """Let this process use at most `gigabytes` of the GPU (None lifts the cap), and plan `auto` for that.

    PyTorch's allocator enforces the cap (`set_per_process_memory_fraction`); the planner reads it back through
    `free_gpu_bytes`, since `mem_get_info` still reports the whole card.
    """
    index = _index(device)
    if gigabytes is None:
        torch.cuda.set_per_process_memory_fraction(1.0, index)
        _GPU_CAPS.pop(index, None)
        return
    total = torch.cuda.get_device_properties(index).total_memory
    cap = int(gigabytes * 2**30)
    torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total), index)
    _GPU_CAPS[index] = cap


def free_gpu_bytes(device: str = "cuda") -> int:
    """Memory this process can still get on the GPU: the card's free memory, within the cap if one is set."""
    index = _index(device)
    free = torch.cuda.mem_get_info(index)[0]
    if index in _GPU_CAPS:
        free = min(free, _GPU_CAPS[index] - torch.cuda.memory_reserved(index))
    return max(0, free)


def resolve(runtime: Runtime, profile: MemoryProfile | None, free_bytes: int | None = None) -> Runtime:
    """Turn `offload='auto'` into a concrete mode from the free GPU memory (no offload on CPU).

    The runtime's dtype is the preferred precision: fp16 (the default on CUDA) plans fp16 and the offload
    modes; fp32 first tries fp32; bf16 is used where the card supports it, fp16 elsewhere.
    """
    if runtime.offload != "auto":
        return runtime
    if not runtime.device.startswith("cuda") or profile is None:
        return runtime.with_(offload="none")
    if free_bytes is None:
        free_bytes = free_gpu_bytes(runtime.device)
    dtype = runtime.dtype
    if dtype == "bf16" and not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        dtype = "fp16"
    dtype, offload = choose_mode(profile, free_bytes, dtype)
    return runtime.with_(dtype=dtype, offload=offload)


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def free_device_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
