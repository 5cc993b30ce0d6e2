"""Read the official StyleGAN2-ADA "persistence" snapshot (`network-snapshot-004408.pkl`) without running it.

Such a pickle embeds the training-time source of every network class and rebuilds the objects by `exec`-ing
that source, so a plain `pickle.load` runs code from the file. This loader never imports or executes anything
from it: only tensor/storage rebuilds, plain containers, numpy scalars/dtypes and `EasyDict` are materialised;
persistent objects become inert `PersistentRecord`s, every other class an inert `InertObject`, and a file that
reaches for known code-execution entry points (os, subprocess, builtins.eval, ...) is rejected. The G_ema
state dict is then assembled from the records' `_parameters` / `_buffers` / `_modules`, and converted once to
safetensors (+ the constructor config as JSON) so later loads need no pickle at all.
"""

from __future__ import annotations

import codecs
import io
import json
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from tryon.errors import InputError

STATE_FILE = "g_ema.safetensors"
CONFIG_FILE = "config.json"
NETWORK_KEY = "G_ema"

# module prefixes a network snapshot never needs; naming one of them is treated as an attack, not stubbed
_FORBIDDEN_MODULES = (
    "builtins", "__builtin__", "os", "posix", "nt", "subprocess", "sys", "importlib", "runpy", "shutil", "socket",
    "pickle", "_pickle", "marshal", "types", "code", "codeop", "ctypes", "pty", "webbrowser", "functools",
    "operator", "io", "_io", "pathlib", "tempfile", "multiprocessing", "threading", "signal", "platform", "inspect",
    "pdb", "timeit", "torch._C", "torch.hub", "torch.ops", "numpy.testing", "numpy.f2py", "numpy.distutils",
)


class EasyDict(dict):
    """Stand-in for `dnnlib.util.EasyDict` (a dict with attribute access; only the dict part matters)."""


class PersistentRecord:
    """What `torch_utils.persistence._reconstruct_persistent_obj(meta)` would have rebuilt, kept as plain data."""

    def __init__(self, class_name: str, module_src: str, state: dict[str, Any]) -> None:
        self.class_name, self.module_src, self.state = class_name, module_src, state

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name})"


class InertObject:
    """Any other class named by the pickle (torch.nn containers, Dense, AugmentPipe...): keeps its state, does
    nothing else."""

    origin = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __new__(cls, *args: Any, **kwargs: Any) -> InertObject:
        return super().__new__(cls)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = state if isinstance(state, dict) else {"value": state}

    def __repr__(self) -> str:
        return f"InertObject({self.origin})"


def _reconstruct(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise InputError("network pickle: unsupported persistent object (expected a StyleGAN2-ADA class record)")
    return PersistentRecord(str(meta.get("class_name")), str(meta.get("module_src", "")), meta["state"])


def _storage_from_bytes(blob: bytes) -> Any:
    """A legacy single-storage `torch.save` blob, read with torch's weights-only unpickler."""
    return torch.load(io.BytesIO(blob), weights_only=True)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Protocol-2 pickles store bytes as `_codecs.encode(text, 'latin1')`."""
    if encoding not in ("latin1", "latin-1"):
        raise InputError(f"network pickle: unexpected _codecs.encode encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise InputError("network pickle: numpy object scalars are not allowed")
    return np.frombuffer(data or b"", dtype=dtype)[0]


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _latin1_encode,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct,
}


class SafeUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals; stubs other classes; rejects code-execution entry points."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        root = module.split(".")[0]
        if root in _FORBIDDEN_MODULES or any(module.startswith(m + ".") for m in _FORBIDDEN_MODULES):
            raise InputError(f"network pickle refers to {module}.{name}: refusing to load a file that can run code")
        return type(name, (InertObject,), {"origin": f"{module}.{name}", "__module__": __name__})

    def persistent_load(self, pid: Any) -> Any:
        raise InputError("network pickle: unexpected persistent id outside a storage blob")


def _meta_tensor(storage: Any, offset: int, size: tuple[int, ...], *args: Any) -> torch.Tensor:
    return torch.empty(size, device="meta")


class ShapeOnlyUnpickler(SafeUnpickler):
    """The same allow-list and refusals, but a dry run: storages are skipped unparsed and tensors are rebuilt on
    the meta device, so the structure (keys, shapes, `_init_kwargs`) is read without loading any weight."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return lambda blob: None
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _meta_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return lambda data, *args: data
        return super().find_class(module, name)


def is_fir_copy(key: str) -> bool:
    """The snapshot's `resample_filter` buffers: copies of one fixed FIR filter, not loaded (non-persistent)."""
    return key.endswith("resample_filter")


def load_snapshot(path: Path | str, unpickler: type[SafeUnpickler] = SafeUnpickler) -> dict[str, Any]:
    """The snapshot's top-level dict with records/stubs in place of modules."""
    try:
        with open(path, "rb") as fh:
            top = unpickler(fh).load()
    except InputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
        raise InputError(f"{path}: not a readable StyleGAN2-ADA network pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(top, dict):
        raise InputError(f"{path}: expected a dict of networks, got {type(top).__name__}")
    return top


def _state_of(node: Any) -> dict[str, Any]:
    if isinstance(node, PersistentRecord):
        return node.state
    if isinstance(node, InertObject):
        return getattr(node, "state", {})
    raise InputError(f"network pickle: unexpected module object {type(node).__name__}")


def flatten_state_dict(node: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters, persistent buffers and children in registration order, as `Module.state_dict()` would."""
    state = _state_of(node)
    out: dict[str, torch.Tensor] = {}
    for name, value in (state.get("_parameters") or {}).items():
        if value is not None:
            out[prefix + name] = value.detach().clone() if isinstance(value, torch.Tensor) else value
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for name, value in (state.get("_buffers") or {}).items():
        if value is not None and name not in skip:
            out[prefix + name] = value.detach().clone()
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            out.update(flatten_state_dict(child, f"{prefix}{name}."))
    for key, value in out.items():
        if not isinstance(value, torch.Tensor):
            raise InputError(f"network pickle: {key} is not a tensor")
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_generator(path: Path | str, key: str = NETWORK_KEY,
                   unpickler: type[SafeUnpickler] = SafeUnpickler) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(G_ema state dict, G_ema constructor kwargs) of a snapshot pickle (meta tensors with ShapeOnlyUnpickler)."""
    top = load_snapshot(path, unpickler)
    if key not in top:
        raise InputError(f"{path}: no {key!r} network in the pickle (keys: {', '.join(map(str, top))})")
    network = top[key]
    kwargs = _plain(_state_of(network).get("_init_kwargs") or {})
    return flatten_state_dict(network), kwargs


def convert(pickle_path: Path | str, folder: Path | str) -> Path:
    """Write `g_ema.safetensors` (float32, contiguous) and `config.json` (init kwargs) into `folder`."""
    state, kwargs = read_generator(pickle_path)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(torch.float32).contiguous() for k, v in state.items()}, str(folder / STATE_FILE))
    (folder / CONFIG_FILE).write_text(json.dumps({"class_name": "GeneratorFull_v20", "init_kwargs": kwargs},
                                                 indent=2))
    return folder / STATE_FILE


def load_converted(folder: Path | str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    return load_file(str(folder / STATE_FILE)), config["init_kwargs"]
