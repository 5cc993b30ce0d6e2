"""Where a backend's modules live during a run: one mechanism for every backend, built on accelerate's hooks.

`place(modules, runtime, pinned=..., fp32=...)` casts and places the modules of one backend for a concrete
`Runtime` (never "auto": the runner plans first):

- `none`: every module on the device.
- `model`: whole modules take turns on the device (a hook on each module's forward moves it there and sends the
  previous one back to the CPU), as diffusers' `enable_model_cpu_offload` does with accelerate's hooks; here the
  turn passes from whichever module was last used, so two large modules (PromptDresser's UNets) are never resident
  together, whatever order a pipeline calls them in. `pinned` modules stay on the device: they are small and called
  through their submodules, which a hook on the module's own forward would not see (LaDI-VTON's VAE and EMASC).
- `sequential`: accelerate's `cpu_offload` streams every submodule's weights to the device as it runs.

`fp32` modules are kept in float32 on the device in every mode (LaDI-VTON's warping networks, as the official code
does). On a CPU the hooks still run (moving to the CPU is a no-op), which is how the tests cover every mode. Half
precision on a CPU also switches the modules' weights to the channels-last layout: oneDNN's fp16/bf16 convolutions
are fast only there (on an AVX2 machine a 64->128-channel 3x3 convolution at 256x256 took 29 s in NCHW and 0.55 s
channels-last, against 0.1 s in fp32), and the activations follow the weights' layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from accelerate.hooks import ModelHook, add_hook_to_module, remove_hook_from_module, send_to_device

from tryon.runtime import Runtime


@dataclass
class _Turn:
    """The module that currently has the device, among those taking turns."""

    device: torch.device
    resident: torch.nn.Module | None = None

    def take(self, module: torch.nn.Module) -> None:
        if self.resident is module:
            return
        if self.resident is not None:
            self.resident.to("cpu")
        module.to(self.device)
        self.resident = module


class TakeTurns(ModelHook):
    """Before a module runs: give it the device (the previous holder goes back to the CPU) and send it its inputs."""

    def __init__(self, turn: _Turn) -> None:
        self.turn = turn

    def pre_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        self.turn.take(module)
        return send_to_device(args, self.turn.device), send_to_device(kwargs, self.turn.device)


@dataclass
class Placement:
    """The placed modules, to undo the placement: hooks removed, every module back on the CPU."""

    modules: dict[str, torch.nn.Module] = field(default_factory=dict)

    def remove(self) -> None:
        for module in self.modules.values():
            remove_hook_from_module(module, recurse=True)
            module.to("cpu")


def place(modules: Mapping[str, torch.nn.Module], runtime: Runtime, pinned: tuple[str, ...] = (),
          fp32: tuple[str, ...] = ()) -> Placement:
    """Cast every module to the runtime's dtype (`fp32` ones to float32) and place them by its offload mode."""
    if runtime.offload not in ("none", "model", "sequential"):
        raise ValueError(f"place() needs a concrete offload mode, not {runtime.offload!r} (plan the runtime first)")
    device = runtime.torch_device
    half_on_cpu = device.type == "cpu" and runtime.dtype != "fp32"
    for name, module in modules.items():
        remove_hook_from_module(module, recurse=True)  # an earlier placement's hooks (sequential restores weights)
        module.requires_grad_(False).eval()
        layout = torch.channels_last if half_on_cpu and name not in fp32 else torch.contiguous_format
        module.to(dtype=torch.float32 if name in fp32 else runtime.torch_dtype, memory_format=layout)
    turn = _Turn(device)
    for name, module in modules.items():
        if name in fp32 or runtime.offload == "none" or (runtime.offload == "model" and name in pinned):
            module.to(device)
        elif runtime.offload == "model":
            module.to("cpu")
            add_hook_to_module(module, TakeTurns(turn))
        else:
            from accelerate import cpu_offload

            cpu_offload(module.to("cpu"), execution_device=device)
    return Placement(dict(modules))
