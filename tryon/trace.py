"""One way for a pipeline to show its intermediates: a `Tracer` records named values per pipeline stage.

The golden checks compare a port's intermediates with the official code's, stage by stage; the pipelines of all
three ports take a `trace` argument and call `trace.record(...)` where the paper's stages produce something worth
comparing. The default, `NO_TRACE`, records nothing, so a normal run pays only a method call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class Tracer:
    """Collects values under dotted names: `with trace.stage("pass1"): trace.record(mask=m)` -> "pass1.mask"."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._stages: list[str] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._stages.append(name)
        try:
            yield
        finally:
            self._stages.pop()

    def record(self, values: Mapping[str, Any] | None = None, /, **named: Any) -> None:
        """Record each value (tensors detached and on the CPU) under the current stage's prefix."""
        prefix = "".join(f"{s}." for s in self._stages)
        for name, value in {**(values or {}), **named}.items():
            if hasattr(value, "detach"):
                value = value.detach().cpu()
            self.values[prefix + name] = value

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


class _Off(Tracer):
    """Records nothing and keeps no state (one instance is shared by every run, in every thread)."""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield

    def record(self, values: Mapping[str, Any] | None = None, /, **named: Any) -> None:
        return None


NO_TRACE: Tracer = _Off()
