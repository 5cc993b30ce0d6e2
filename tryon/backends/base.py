"""The backend contract, the registry, and a runner that isolates, times and streams backends.

A backend is a class registered under a stable name (`warp`, `ladi-vton`, `pasta-gan++`, `prompt-dresser`).
It says what it needs from a `TryOnSample`, whether its weights are present (`status()`), loads itself for
a `Runtime`, and maps a sample plus options to an RGB image. The runner adds what every backend needs the
same way: timing, peak memory, error isolation, and results streamed as each finishes.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tryon.errors import InputError
from tryon.runtime import (
    HEADROOM,
    MemoryProfile,
    Runtime,
    candidate_modes,
    default_runtime,
    free_device_memory,
    free_gpu_bytes,
    is_out_of_memory,
    measure,
    next_frugal,
    resolve,
)
from tryon.sample import Category, TryOnResult, TryOnSample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here, and if not, what is missing and the command that fetches it."""

    ready: bool
    reason: str = ""
    missing: tuple[str, ...] = ()
    fetch_command: str = ""

    @property
    def message(self) -> str:
        if self.ready:
            return "ready"
        text = f"not installed: {self.reason}" if self.reason else "not installed"
        if self.fetch_command:
            text += f" (run: {self.fetch_command})"
        return text


@dataclass
class RunOptions:
    """What the user can set per run; `extra` carries backend-specific knobs (prompts, mask dilation...)."""

    seed: int = 0
    steps: int | None = None
    guidance: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"seed": self.seed, "steps": self.steps, "guidance": self.guidance, **self.extra}


class Backend:
    """Base class of every try-on backend. Subclasses set the class attributes and implement `generate`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ("person", "garment")
    resolution: ClassVar[tuple[int, int]] = (512, 384)
    categories: ClassVar[tuple[Category, ...]] = ("upper", "lower", "dress")
    licence: ClassVar[str] = ""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None  # what the backend is loaded for (a concrete mode, never "auto")
        self.requested: Runtime | None = None  # what the runner asked for (possibly "auto"), to reuse the plan

    # -- availability and lifecycle -------------------------------------------------------------------
    def status(self) -> Availability:
        """Ready unless weights are missing; weight-free backends keep this default."""
        return Availability(ready=True)

    @property
    def loaded(self) -> bool:
        return self.runtime is not None

    def load(self, runtime: Runtime) -> None:
        """Build modules for `runtime`. Weight-free backends only remember the runtime."""
        self.runtime = runtime

    def unload(self) -> None:
        self.runtime = self.requested = None

    # -- inference ---------------------------------------------------------------------------------------
    def generate(self, sample: TryOnSample, options: RunOptions) -> np.ndarray:
        """Return the try-on result as an HxWx3 uint8 RGB array. Deterministic for a seed on a device."""
        raise NotImplementedError

    def memory_profile(self) -> MemoryProfile | None:
        """Parameter counts and activation size for the `auto` memory policy (None: nothing to plan)."""
        return None

    def plan(self, runtime: Runtime) -> Runtime:
        """`runtime` with `offload='auto'` made concrete; the memory profile is only built when a GPU plan needs
        it (on a CPU, `auto` is simply no offload)."""
        if runtime.offload == "auto" and runtime.device.startswith("cuda"):
            return resolve(runtime, self.memory_profile())
        return resolve(runtime, None)

    def default_options(self) -> RunOptions:
        return RunOptions()

    def check_sample(self, sample: TryOnSample) -> None:
        """Raise an InputError when the sample lacks a field or has a category this backend cannot do."""
        missing = sample.require(self.needs)
        if missing:
            raise InputError(f"{self.name} needs {', '.join(missing)} in the sample")
        if sample.category not in self.categories:
            raise InputError(f"{self.name} does not support category {sample.category!r}")

    def __call__(self, sample: TryOnSample, options: RunOptions | None = None) -> np.ndarray:
        self.check_sample(sample)
        if not self.loaded:
            self.load(default_runtime())
        return self.generate(sample, options or self.default_options())


# -- registry ----------------------------------------------------------------------------------------------
# Backends live in their own packages and are imported on first use, so that importing `tryon` stays light
# and a backend whose optional dependencies are absent cannot break the others.
_BACKEND_PATHS: dict[str, str] = {
    "warp": "tryon.backends.warp:WarpBackend",
    "ladi-vton": "tryon.backends.ladi_vton.backend:LadiVtonBackend",
    "prompt-dresser": "tryon.backends.prompt_dresser.backend:PromptDresserBackend",
    "pasta-gan++": "tryon.backends.pasta_gan.backend:PastaGanBackend",
}
_instances: dict[str, Backend] = {}


def backend_names() -> list[str]:
    return list(_BACKEND_PATHS)


def get_backend(name: str) -> Backend:
    """The shared instance of a backend (one per process, so loaded weights are reused across runs)."""
    if name not in _BACKEND_PATHS:
        raise InputError(f"unknown backend {name!r}: choose from {', '.join(_BACKEND_PATHS)}")
    if name not in _instances:
        module_name, _, class_name = _BACKEND_PATHS[name].partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        _instances[name] = cls()
    return _instances[name]


def backend_status(name: str) -> tuple[str, Availability]:
    """(label, availability) of a registered backend; one that cannot even be imported is unavailable."""
    try:
        backend = get_backend(name)
        return backend.label or name, backend.status()
    except Exception as exc:  # noqa: BLE001 - a broken optional backend is reported, never raised
        return name, Availability(ready=False, reason=f"cannot load ({type(exc).__name__}: {exc})")


def set_backend(name: str, backend: Backend) -> None:
    """Install a specific instance (a backend built from explicit modules, e.g. tiny test weights)."""
    _BACKEND_PATHS.setdefault(name, f"{type(backend).__module__}:{type(backend).__qualname__}")
    _instances[name] = backend


# -- runner ------------------------------------------------------------------------------------------------
def mode_label(runtime: Runtime) -> str:
    offload = "" if runtime.offload == "none" else f" + {runtime.offload} offload"
    return f"{runtime.device} {runtime.dtype}{offload}"


def run_one(
    backend: Backend, sample: TryOnSample, options: RunOptions, runtime: Runtime | None = None
) -> TryOnResult:
    """Run one backend with timing, peak memory and error isolation: a failure becomes a result, not a raise.

    With `offload='auto'` the mode comes from the free GPU memory and the backend's memory profile, planned once
    per request: a loaded backend asked the same again keeps its mode (its own weights already hold part of the
    memory that looks taken). On a CUDA out-of-memory error the backend is unloaded and retried once in the next
    more frugal mode, which is then kept for later runs with the same request.
    """
    result = TryOnResult(backend=backend.name, image=None, seed=options.seed, options=options.to_record())
    status = backend.status()
    if not status.ready:
        result.error = status.message
        return result
    try:
        backend.check_sample(sample)
        requested = runtime or backend.requested or backend.runtime or default_runtime()
        if backend.loaded and backend.requested == requested and backend.runtime is not None:
            wanted = backend.runtime
        else:
            wanted = backend.plan(requested)
        for attempt in (1, 2):
            try:
                if not backend.loaded or backend.runtime != wanted:
                    backend.unload()
                    backend.load(wanted)
                    backend.requested = requested
                with measure(wanted.device) as m:
                    image = backend.generate(sample, options)
                break
            except Exception as exc:
                smaller = next_frugal(wanted) if attempt == 1 and is_out_of_memory(exc) else None
                if smaller is None:
                    raise
                result.notes.append(f"out of memory in {mode_label(wanted)}: retried in {mode_label(smaller)}")
                backend.unload()
                free_device_memory()
                wanted = smaller
        result.image = image
        result.seconds = m.seconds
        result.peak_memory_mb = m.peak_memory_mb
        result.options["mode"] = mode_label(wanted)
        result.notes.extend(getattr(backend, "last_notes", []))
    except InputError as exc:
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one backend failing must never stop the others
        log.error("backend %s failed:\n%s", backend.name, traceback.format_exc())
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def make_room(keep: Backend, runtime: Runtime) -> None:
    """Before a backend runs on a GPU, unload the others unless its fastest mode fits beside them.

    On a big card all backends stay loaded (no reloading between side-by-side runs); on a small one the others'
    modules leave the GPU first, and `auto` then plans for the memory that is really free.
    """
    others = [o for o in _instances.values()
              if o is not keep and o.loaded and o.runtime is not None and o.runtime.device.startswith("cuda")]
    if not others:
        return
    profile = keep.memory_profile()
    if profile is not None:
        fastest = candidate_modes(runtime.dtype, profile.offload_modes)[0]
        if profile.peak_bytes(*fastest) <= free_gpu_bytes(runtime.device) * HEADROOM:
            return
    for other in others:
        other.unload()
    free_device_memory()


def run_backends(
    names: Iterable[str],
    sample: TryOnSample,
    options: RunOptions | Callable[[str], RunOptions] | None = None,
    runtime: Runtime | None = None,
) -> Iterator[TryOnResult]:
    """Yield each backend's result as soon as it finishes; unknown names become error results too."""
    for name in names:
        try:
            backend = get_backend(name)
        except Exception as exc:  # noqa: BLE001 - an import failure of one backend is reported, not raised
            yield TryOnResult(backend=name, image=None, error=f"{type(exc).__name__}: {exc}")
            continue
        if callable(options):
            opts = options(name)
        else:
            opts = options or backend.default_options()
        if runtime is not None and runtime.device.startswith("cuda"):
            make_room(backend, runtime)
        yield run_one(backend, sample, opts, runtime)
