"""Snapshot pickles in the official StyleGAN2-ADA persistence format, built without any official code.

`make_tiny_pasta_gan_checkpoint` writes the golden kit's tiny G_ema (seeded weights) the way
`training_loop_fullbody.py` pickles a snapshot: persistent modules reduce to
`torch_utils.persistence._reconstruct_persistent_obj(meta)`, containers are pickled by reference
(torch.nn.Sequential), kwargs are `dnnlib.util.EasyDict`. The two names are provided by throw-away stub modules
while pickling, so the file references them without containing any source.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from tryon.backends.pasta_gan.generator import GeneratorConfig, PastaGanGenerator
from tryon.backends.pasta_gan.seeded import seeded_state_dict

KIT = Path(__file__).parent / "fixtures" / "pasta_gan"


def _reconstruct_persistent_obj(meta: dict) -> Any:  # never called: only its name is pickled
    raise AssertionError("stub")


class EasyDict(dict):
    pass


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
EasyDict.__module__ = "dnnlib.util"


class _Persistent:
    def __init__(self, meta: dict) -> None:
        self.meta = meta

    def __reduce__(self) -> tuple:
        return _reconstruct_persistent_obj, (self.meta,)


@contextlib.contextmanager
def stub_modules() -> Iterator[None]:
    """Register `torch_utils.persistence` and `dnnlib.util` stubs so pickle can name the two globals."""
    saved = {name: sys.modules.get(name) for name in ("torch_utils", "torch_utils.persistence", "dnnlib",
                                                      "dnnlib.util")}
    persistence, util = types.ModuleType("torch_utils.persistence"), types.ModuleType("dnnlib.util")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj  # type: ignore[attr-defined]
    util.EasyDict = EasyDict  # type: ignore[attr-defined]
    sys.modules.update({"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
                        "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util})
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def persistent_tree(module: torch.nn.Module, state: dict[str, torch.Tensor], prefix: str = "",
                    init_kwargs: dict | None = None) -> Any:
    """The snapshot form of `module`: Sequential containers by reference, everything else as persistent records."""
    own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
    params = {name: torch.nn.Parameter(own[name], requires_grad=False) for name, _ in
              module.named_parameters(recurse=False)}
    buffers = {name: value for name, value in own.items() if name not in params}
    children = {name: persistent_tree(child, state, f"{prefix}{name}.") for name, child in module.named_children()}
    body = {"training": False, "_parameters": params, "_buffers": buffers, "_modules": children,
            "_non_persistent_buffers_set": set(), "_forward_hooks": {}}
    if isinstance(module, torch.nn.Sequential):
        container = torch.nn.Sequential()
        container.__dict__.update(body)
        return container
    body.update(_init_args=(), _init_kwargs=init_kwargs or {})
    return _Persistent({"type": "class", "version": 6, "module_src": "# placeholder source",
                        "class_name": type(module).__name__, "state": body})


def tiny_generator_weights() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The kit's tiny G_ema state dict (incl. the 97 FIR buffers) and its constructor kwargs."""
    config = json.loads((KIT / "config.json").read_text())
    keys = json.loads((KIT / "tiny_keys.json").read_text())["keys"]
    return seeded_state_dict({k["key"]: k["shape"] for k in keys}, config["weight_rule"]), \
        config["tiny_config"]["init_kwargs"]


def write_snapshot(path: Path | str, g_ema: Any, protocol: int = 4, **extra: Any) -> Path:
    path = Path(path)
    top = {"training_set_kwargs": {"class_name": "training.dataset.UvitonDatasetFull_512", "resolution": 512},
           "G": None, "D": None, "D_parsing": None, "G_ema": g_ema, "augment_pipe": None, **extra}
    with stub_modules(), open(path, "wb") as fh:
        pickle.dump(top, fh, protocol=protocol)
    return path


def make_tiny_pasta_gan_checkpoint(path: Path | str, protocol: int = 4) -> Path:
    """Write a tiny `network-snapshot-*.pkl` (kit tiny config, seeded weights) at `path`."""
    state, kwargs = tiny_generator_weights()
    with torch.device("meta"):
        skeleton = PastaGanGenerator(GeneratorConfig.from_kwargs(kwargs))
    with stub_modules():
        easy = EasyDict({**kwargs, "mapping_kwargs": EasyDict(kwargs["mapping_kwargs"]),
                         "synthesis_kwargs": EasyDict(kwargs["synthesis_kwargs"])})
        tree = persistent_tree(skeleton, state, init_kwargs=easy)
    return write_snapshot(path, tree, protocol)
