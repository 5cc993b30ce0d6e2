"""Structure checks: is this file the one a loader needs? Answered in seconds, without loading any weights.

A weight file counts as installed only after its check passes. The readers here look at a file's structure and
never materialise its tensors: a safetensors header (keys, shapes, dtypes), a PyTorch file through
`torch.load(mmap=True, weights_only=True)` (tensors stay in the page cache, unread), an ONNX graph's inputs and
outputs through a small protobuf walk that skips the initialisers, and a JSON config's fields. The expected keys
and shapes come from the modules the loaders build, instantiated on the meta device by each weight group, so no
architecture is described twice.

A failure raises `StructureError` whose message says what arrived ("an HTML page, likely Google Drive's
confirmation page", "a state dict with 2 keys, expected 686; first missing: conv_in.bias"); the caller adds the
file name and the fix.
"""

from __future__ import annotations

import json
import mmap
import struct
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tryon.errors import InputError

Shape = tuple[int, ...]
# check(file, layouts) -> one-line summary. `layouts` are folders in the group's layout (the --from folder, the
# cache) where a check finds the configs that decide the expected shapes.
Check = Callable[[Path, tuple[Path, ...]], str]
SNIFF_BYTES = 64 * 1024


class StructureError(InputError):
    """The file is not what the loader needs; the message says what it is instead."""


# -- what arrived ------------------------------------------------------------------------------------------------
def html_kind(head: bytes) -> str | None:
    text = head[:SNIFF_BYTES].decode("utf-8", "replace").lower()
    if not text.lstrip().startswith(("<!doctype html", "<html")) and "<html" not in text[:1024]:
        return None
    if any(mark in text for mark in ("google drive", "drive.google.com", "drive.usercontent", "download-form",
                                     "virus scan")):
        return "an HTML page, likely Google Drive's confirmation page"
    if "sharepoint" in text or "onedrive" in text:
        return "an HTML page, likely a OneDrive share page (download the file in a browser)"
    return "an HTML page, not the file"


def kind(path: Path) -> str:
    """'safetensors', 'torch-zip', 'pickle', 'onnx?', 'json', or a description of something foreign."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if size == 0:
        return "an empty file"
    html = html_kind(head)
    if html:
        return html
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the file it points to"
    if len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < 1 << 30:
        return "safetensors"  # a JSON header of plausible length (the reader then checks the file is complete)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            return f"a damaged zip archive ({size} bytes; likely an interrupted download)"
        if any(n.endswith("data.pkl") for n in names):
            return "torch-zip"
        return f"a zip archive of {len(names)} files, not a PyTorch checkpoint (unzip it first)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return f"not a PyTorch, safetensors or ONNX file ({size} bytes of unrecognised data)"


def foreign(path: Path, wanted: Iterable[str]) -> None:
    """Raise StructureError unless the file's kind is one of `wanted`."""
    found = kind(path)
    if found not in wanted:
        names = {"safetensors": "safetensors", "torch-zip": "PyTorch", "pickle": "PyTorch", "json": "JSON"}
        if found in names:
            found = f"a {names[found]} file"
        raise StructureError(found)


# -- tensors -----------------------------------------------------------------------------------------------------
def safetensors_shapes(path: Path) -> tuple[dict[str, Shape], set[str]]:
    """Keys, shapes and dtypes from the header; the file must be as long as the header says (no truncation)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        if length + 8 > size:
            raise StructureError(f"a truncated safetensors file ({size} bytes, its header alone needs {length + 8})")
        try:
            header = json.loads(fh.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StructureError(f"a safetensors file with an unreadable header ({exc})") from exc
    header.pop("__metadata__", None)
    end = max((entry["data_offsets"][1] for entry in header.values()), default=0)
    if 8 + length + end > size:
        raise StructureError(f"a truncated safetensors file ({size} bytes of {8 + length + end}; likely an "
                             "interrupted download)")
    return {k: tuple(v["shape"]) for k, v in header.items()}, {v["dtype"] for v in header.values()}


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts of tensors -> {"a.b.c": tensor} (LaDI-VTON's warping file nests `tps` and `refinement`)."""
    import torch

    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            out[f"{prefix}{key}"] = value
    return out


def torch_shapes(path: Path) -> tuple[dict[str, Shape], set[str]]:
    """Keys, shapes and dtypes of a torch state dict, memory-mapped and weights-only (nothing is executed)."""
    import pickle

    import torch

    mapped = kind(path) == "torch-zip"  # legacy (pre-1.6) files cannot be memory-mapped; they are small
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mapped)
    except pickle.UnpicklingError as exc:
        raise StructureError(f"a pickle that is not a plain state dict ({str(exc).splitlines()[0][:120]})") from exc
    except (RuntimeError, EOFError, ValueError) as exc:
        raise StructureError(f"a damaged PyTorch file ({str(exc).splitlines()[0][:120]}; likely an interrupted "
                             "download)") from exc
    if not isinstance(state, Mapping):
        raise StructureError(f"a PyTorch file holding a {type(state).__name__}, not a state dict")
    tensors = flatten(state)
    return {k: tuple(v.shape) for k, v in tensors.items()}, {str(v.dtype).removeprefix("torch.") for v in
                                                              tensors.values()}


def tensor_shapes(path: Path) -> tuple[dict[str, Shape], set[str]]:
    """Shapes of a safetensors or PyTorch file; anything else is a StructureError saying what it is."""
    foreign(path, ("safetensors", "torch-zip", "pickle"))
    return safetensors_shapes(path) if kind(path) == "safetensors" else torch_shapes(path)


def module_shapes(module: Any) -> dict[str, Shape]:
    """The persistent state of a module built on the meta device."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def compare(found: Mapping[str, Shape], expected: Mapping[str, Shape], what: str, *, allow_extra: bool = False,
            dtypes: set[str] | None = None) -> str:
    """Raise StructureError on a missing key, an unexpected one (unless the loader ignores extras) or a shape
    mismatch; return a one-line summary."""
    missing = [k for k in expected if k not in found]
    extra = [] if allow_extra else [k for k in found if k not in expected]
    if missing or extra:
        parts = [f"a state dict with {len(found)} keys, expected {len(expected)}"]
        if missing:
            parts.append(f"first missing: {missing[0]}")
        if extra:
            parts.append(f"first unexpected: {extra[0]}")
        raise StructureError("; ".join(parts) + f" (not the {what})")
    for key, shape in expected.items():
        if tuple(found[key]) != tuple(shape):
            raise StructureError(f"{key} has shape {tuple(found[key])}, expected {tuple(shape)} (not the {what})")
    kinds = f" ({', '.join(sorted(dtypes))})" if dtypes else ""
    return f"{len(expected)} tensors as in the {what}{kinds}"


# -- configs and text --------------------------------------------------------------------------------------------
def read_json(path: Path) -> dict[str, Any]:
    foreign(path, ("json",))
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StructureError(f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise StructureError(f"a JSON {type(data).__name__}, not an object")
    return data


def check_fields(path: Path, fields: Mapping[str, Any], what: str) -> str:
    """A JSON config whose `fields` (None: must exist) have the values the loader relies on."""
    data = read_json(path)
    for key, value in fields.items():
        if key not in data:
            raise StructureError(f"a JSON file without {key!r} (not the {what})")
        if value is not None and data[key] != value:
            raise StructureError(f"a config with {key} {data[key]!r}, expected {value!r} (not the {what})")
    shown = [k if isinstance(data[k], (dict, list)) else f"{k} {data[k]}" for k in fields]
    return what + (f" ({', '.join(shown)})" if shown else "")


def check_text(path: Path, first_line: str, min_lines: int, what: str) -> str:
    found = kind(path)
    if found.startswith(("an ", "a ")) and "unrecognised" not in found:
        raise StructureError(found)
    lines = path.read_text(errors="replace").splitlines()
    if not lines or not lines[0].startswith(first_line) or len(lines) < min_lines:
        raise StructureError(f"a text file of {len(lines)} lines, expected {what} starting {first_line!r}")
    return f"{what} ({len(lines)} lines)"


def find_config(path: Path, layouts: tuple[Path, ...], relative: str, default: Mapping[str, Any]) -> dict[str, Any]:
    """A component's config: `config.json` beside the file (hub and cache layouts agree), else `relative` in a
    layout folder, else the released default."""
    for candidate in (path.parent / "config.json", *(base / relative for base in layouts)):
        if candidate.is_file():
            try:
                return read_json(candidate)
            except StructureError:
                continue
    return dict(default)


# -- ONNX --------------------------------------------------------------------------------------------------------
def _varint(buf: Any, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise StructureError("a truncated or foreign protobuf file (not an ONNX model)")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
        if shift > 63:
            raise StructureError("not an ONNX model (bad protobuf varint)")


def _fields(buf: Any, start: int, end: int) -> Iterable[tuple[int, int, Any]]:
    """(field number, wire type, value or (start, end) slice) over one protobuf message; payloads are skipped."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise StructureError("a truncated ONNX model (likely an interrupted download)")
            yield number, wire, (pos, pos + length)
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise StructureError("not an ONNX model (unexpected protobuf wire type)")
    if pos != end:
        raise StructureError("a truncated ONNX model (likely an interrupted download)")


def _value_info(buf: Any, span: tuple[int, int]) -> tuple[str, list[int | str]]:
    name, dims = "", []
    for number, _, value in _fields(buf, *span):
        if number == 1:
            name = bytes(buf[value[0]:value[1]]).decode("utf-8", "replace")
        elif number == 2:  # TypeProto
            for n_type, _, tensor in _fields(buf, *value):
                if n_type != 1:  # tensor_type
                    continue
                for n_tensor, _, shape in _fields(buf, *tensor):
                    if n_tensor != 2:
                        continue
                    for _, _, dim in _fields(buf, *shape):
                        size: int | str = "?"
                        for n_dim, _, d in _fields(buf, *dim):
                            size = d if n_dim == 1 else bytes(buf[d[0]:d[1]]).decode("utf-8", "replace")
                        dims.append(size)
    return name, dims


def onnx_io(path: Path) -> tuple[list[tuple[str, list[int | str]]], list[tuple[str, list[int | str]]]]:
    """The graph's (name, dims) inputs without initialisers, and its outputs; a dim is an int or a symbol."""
    found = kind(path)
    if found.startswith(("an ", "a ")) and "unrecognised" not in found:
        raise StructureError(found)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        graph = [v for n, w, v in _fields(buf, 0, len(buf)) if n == 7 and w == 2]
        if not graph:
            raise StructureError("not an ONNX model (no graph)")
        inputs, outputs, initialisers = [], [], set()
        for number, wire, value in _fields(buf, *graph[0]):
            if wire != 2:
                continue
            if number == 11:
                inputs.append(_value_info(buf, value))
            elif number == 12:
                outputs.append(_value_info(buf, value))
            elif number == 5:  # TensorProto: only its name (field 8) is read
                initialisers |= {bytes(buf[v[0]:v[1]]).decode("utf-8", "replace")
                                 for n, w, v in _fields(buf, *value) if n == 8 and w == 2}
    return [i for i in inputs if i[0] not in initialisers], outputs


# -- checks built from the loaders' modules ----------------------------------------------------------------------
def fit_hub_keys(found: Mapping[str, Shape], expected: Mapping[str, Shape]) -> dict[str, Shape]:
    """What `from_pretrained` does with older hub files: drop the `text_model.` level that transformers 5 removed
    from CLIPTextModel, and the `position_ids` buffers that are no longer saved."""
    own_prefix = any(k.startswith("text_model.") for k in expected)
    out = {}
    for key, shape in found.items():
        if key.endswith("position_ids") and key not in expected:
            continue
        if not own_prefix and key.startswith("text_model."):
            key = key[len("text_model."):]
        out[key] = shape
    return out


def module_check(build: Callable[[Path, tuple[Path, ...]], Any], what: str, *, allow_extra: bool = False,
                 rename: Callable[[str], str | None] | None = None, hub_keys: bool = False) -> Check:
    """A check that compares a file with the module `build(file, layouts)` returns, built on the meta device.
    The file is read first, so a foreign file is named before any model is built. `allow_extra` for components
    loaded with `from_pretrained`, which ignores keys it does not need (a full CLIP file holds the text tower
    too); `hub_keys` applies `fit_hub_keys`."""

    def check(path: Path, layouts: tuple[Path, ...]) -> str:
        import torch

        found, dtypes = tensor_shapes(path)
        with torch.device("meta"):
            expected = module_shapes(build(path, layouts))
        if rename is not None:
            found = {new: shape for key, shape in found.items() if (new := rename(key)) is not None}
        if hub_keys:
            found = fit_hub_keys(found, expected)
        return compare(found, expected, what, allow_extra=allow_extra, dtypes=dtypes)

    return check


def fields_check(fields: Mapping[str, Any], what: str) -> Check:
    return lambda path, layouts: check_fields(path, fields, what)


def json_check(what: str) -> Check:
    def check(path: Path, layouts: tuple[Path, ...]) -> str:
        read_json(path)
        return what

    return check
