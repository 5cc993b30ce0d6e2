"""The backend contract, the registry, and a runner that isolates, times and streams backends.

A backend is a class registered under a stable name (`warp`, `ladi-vton`, `pasta-gan++`, `prompt-dresser`).
It says what it needs from a `TryOnSample`, which options it takes (its `options_class`), whether its weights are
present (`status()`), loads itself for a planned `Runtime`, and maps a sample, its options and a `RunContext`
(generator, progress, tools, trace) to a `Generated` image with notes. The runner adds what every backend needs
the same way: planning, one retry after running out of memory, timing, peak memory, error isolation, and results
streamed as each finishes.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from tryon.backends.registry import BUILTIN
from tryon.errors import InputError
from tryon.options import Options, options_for, register_options
from tryon.runtime import (
    HEADROOM,
    Measurement,
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
from tryon.trace import NO_TRACE, Tracer

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
class Generated:
    """What `generate` returns: the image, and what the backend assumed or changed on the way (shown to the user)."""

    image: np.ndarray
    notes: list[str] = field(default_factory=list)


Progress = Callable[[int, int], None]  # (steps done, steps in all), after each step of a backend's run


def _no_progress(done: int, total: int) -> None:
    return None


@dataclass
class RunContext:
    """What one run hands a backend besides the sample and its options.

    `generator`: the run's only source of randomness (a CPU generator seeded with the options' seed, so a seed gives
    the same draws on every device). `progress`: called after each step. `tools`: the preprocessing a backend uses
    mid-run (its `tools` names), injected from the estimators so that sessions are shared. `trace`: records
    intermediates for the golden checks (off by default).
    """

    generator: torch.Generator
    progress: Progress = _no_progress
    tools: Mapping[str, Any] = field(default_factory=dict)
    trace: Tracer = NO_TRACE

    @classmethod
    def seeded(cls, seed: int, **kwargs: Any) -> RunContext:
        return cls(torch.Generator("cpu").manual_seed(int(seed)), **kwargs)


class Backend:
    """Base class of every try-on backend. Subclasses set the class attributes and implement `generate`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ("person", "garment")
    tools: ClassVar[tuple[str, ...]] = ()  # mid-run preprocessing, by name in TOOLS
    options_class: ClassVar[type[Options]] = Options
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
        """Build modules for a concrete `runtime` (planned: no "auto"). Weight-free backends only remember it."""
        self.runtime = concrete(runtime)

    def unload(self) -> None:
        self.runtime = self.requested = None

    # -- inference ---------------------------------------------------------------------------------------
    def generate(self, sample: TryOnSample, options: Options, run: RunContext) -> Generated:
        """The try-on result as an HxWx3 uint8 RGB array, with notes. Deterministic for a seed on a device."""
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

    def options(self, choices: Mapping[str, Any] | None = None) -> Options:
        """This backend's options: what the user set merged over the defaults, validated."""
        return options_for(self.options_class, choices)

    def check_sample(self, sample: TryOnSample) -> None:
        """Raise an InputError when the sample lacks a field or has a category this backend cannot do."""
        missing = sample.require(self.needs)
        if missing:
            raise InputError(f"{self.name} needs {', '.join(missing)} in the sample")
        if sample.category not in self.categories:
            raise InputError(f"{self.name} does not support category {sample.category!r}")


def concrete(runtime: Runtime) -> Runtime:
    """`runtime` itself, when it is a plan a backend can load (the runner resolves "auto" before loading)."""
    if runtime.offload == "auto":
        raise ValueError("load() takes a planned runtime: resolve offload='auto' with Backend.plan first")
    return runtime


# -- registry ----------------------------------------------------------------------------------------------
# Backends live in their own packages and are imported on first use, so that importing `tryon` stays light
# and a backend whose optional dependencies are absent cannot break the others.
_BACKEND_PATHS: dict[str, str] = {name: paths[0] for name, paths in BUILTIN.items()}
_instances: dict[str, Backend] = {}
# Preprocessing a backend may need mid-run, from the estimators' shared cache (None when its weights are missing).
TOOLS: dict[str, str] = {
    "atr_parser": "tryon.preprocess:atr_parser",
    "garment_mask": "tryon.preprocess:garment_masker",
}


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
    register_options(name, backend.options_class)


def tools_for(backend: Backend) -> dict[str, Any]:
    """The tools a backend names, built (once per process) by the preprocessing that owns them."""
    found = {}
    for name in backend.tools:
        module_name, _, function = TOOLS[name].partition(":")
        found[name] = getattr(importlib.import_module(module_name), function)()
    return found


# -- runner ------------------------------------------------------------------------------------------------
def mode_label(runtime: Runtime) -> str:
    offload = "" if runtime.offload == "none" else f" + {runtime.offload} offload"
    return f"{runtime.device} {runtime.dtype}{offload}"


def planned(backend: Backend, requested: Runtime) -> Runtime:
    """The concrete mode for a request, planned once: a loaded backend asked the same again keeps its mode (its own
    weights already hold part of the memory that would look taken)."""
    if backend.loaded and backend.requested == requested and backend.runtime is not None:
        return backend.runtime
    return backend.plan(requested)


def load_planned(backend: Backend, plan: Runtime, requested: Runtime) -> None:
    """Load the backend for `plan` unless it already is."""
    if not backend.loaded or backend.runtime != plan:
        backend.unload()
        backend.load(plan)
        backend.requested = requested


def generate_with_retry(backend: Backend, sample: TryOnSample, options: Options, plan: Runtime, requested: Runtime,
                        make_run: Callable[[], RunContext]) -> tuple[Generated, Measurement, Runtime, list[str]]:
    """Load and generate; on a CUDA out-of-memory error unload, and retry once in the next more frugal mode (which
    is then kept for later runs with the same request). Each try gets a fresh run context (same seed, same draws)."""
    notes: list[str] = []
    for attempt in (1, 2):
        try:
            load_planned(backend, plan, requested)
            with measure(plan.device) as m:
                output = backend.generate(sample, options, make_run())
            return output, m, plan, notes
        except Exception as exc:
            smaller = next_frugal(plan) if attempt == 1 and is_out_of_memory(exc) else None
            if smaller is None:
                raise
            notes.append(f"out of memory in {mode_label(plan)}: retried in {mode_label(smaller)}")
            backend.unload()
            free_device_memory()
            plan = smaller
    raise AssertionError("unreachable")


def run_one(
    backend: Backend, sample: TryOnSample, options: Options | Mapping[str, Any] | None = None,
    runtime: Runtime | None = None, progress: Progress | None = None, trace: Tracer = NO_TRACE,
) -> TryOnResult:
    """Run one backend with timing, peak memory and error isolation: a failure becomes a result, not a raise.

    `options` is the backend's options object or what the user set (merged over the backend's defaults). With
    `offload='auto'` the mode comes from the free GPU memory and the backend's memory profile (`planned`).
    """
    result = TryOnResult(backend=backend.name, image=None)
    status = backend.status()
    if not status.ready:
        result.error = status.message
        return result
    try:
        chosen = options if isinstance(options, Options) else backend.options(options)
        if not isinstance(chosen, backend.options_class):
            raise TypeError(f"{backend.name} takes {backend.options_class.__name__}, not {type(chosen).__name__}")
        result.seed, result.options = chosen.seed, chosen.to_record()
        backend.check_sample(sample)
        requested = runtime or backend.requested or default_runtime()
        tools = tools_for(backend)

        def make_run() -> RunContext:
            return RunContext.seeded(chosen.seed, progress=progress or _no_progress, tools=tools, trace=trace)

        output, m, used, notes = generate_with_retry(backend, sample, chosen, planned(backend, requested), requested,
                                                     make_run)
        result.image, result.seconds, result.peak_memory_mb = output.image, m.seconds, m.peak_memory_mb
        result.options["mode"] = mode_label(used)
        result.notes = notes + list(output.notes)
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
    choices: Mapping[str, Any] | None = None,
    runtime: Runtime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[TryOnResult]:
    """Yield each backend's result as soon as it finishes; unknown names become error results too.

    `choices` is what the user set (CLI flags, UI controls, API arguments); each backend merges it over its own
    defaults. `progress(name, done, total)` follows each backend's steps."""
    runtime = runtime or default_runtime()
    for name in names:
        try:
            backend = get_backend(name)
        except Exception as exc:  # noqa: BLE001 - an import failure of one backend is reported, not raised
            yield TryOnResult(backend=name, image=None, error=f"{type(exc).__name__}: {exc}")
            continue
        if runtime.device.startswith("cuda"):
            make_room(backend, runtime)
        steps = (lambda done, total, n=name: progress(n, done, total)) if progress else None
        yield run_one(backend, sample, choices, runtime, steps)
