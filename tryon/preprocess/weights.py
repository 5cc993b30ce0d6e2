"""Weights of the full-quality preprocessing: OpenPose body and the SCHP ATR/LIP parsers.

`python -m tryon weights fetch preprocess` downloads them from the Hugging Face hub where the network allows,
or copies them from `--from FOLDER` (files found by name anywhere below it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tryon.errors import InputError
from tryon.weights import WeightFile, WeightGroup, download

_IDM = "https://huggingface.co/spaces/yisol/IDM-VTON/resolve/main/ckpt"
OPENPOSE_BODY = WeightFile(
    name="openpose-body",
    path="preprocess/body_pose_model.pth",
    sources=("https://huggingface.co/lllyasviel/Annotators/resolve/main/body_pose_model.pth",
             f"{_IDM}/openpose/ckpts/body_pose_model.pth"),
    sha256=None,
    licence="CMU OpenPose model: non-commercial research licence",
    size_mb=200.0,
    note="sha256 not known offline; recorded in the manifest on first fetch",
)
SCHP_ATR = WeightFile(
    name="schp-atr",
    path="preprocess/parsing_atr.onnx",
    sources=(f"{_IDM}/humanparsing/parsing_atr.onnx",),
    sha256=None,
    licence="SCHP: MIT code; ATR data research-only",
    size_mb=267.0,
    note="sha256 not known offline; recorded in the manifest on first fetch",
)
SCHP_LIP = WeightFile(
    name="schp-lip",
    path="preprocess/parsing_lip.onnx",
    sources=(f"{_IDM}/humanparsing/parsing_lip.onnx",),
    sha256=None,
    licence="SCHP: MIT code; LIP data research-only",
    size_mb=267.0,
    note="sha256 not known offline; recorded in the manifest on first fetch",
)
FILES = [OPENPOSE_BODY, SCHP_ATR, SCHP_LIP]


def _fetch(root: Path, source: Path | None) -> dict[str, str]:
    provenance = {}
    for file in FILES:
        dest = file.local(root)
        if source is not None:
            name = Path(file.path).name
            found = [source] if source.is_file() and source.name == name else sorted(source.rglob(name))
            if not found:
                raise InputError(f"{source}: no {name} found below it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found[0], dest)
            provenance[file.name] = f"copied from {found[0]}"
            continue
        errors = []
        for url in file.sources:
            try:
                download(url, dest)
                provenance[file.name] = url
                break
            except InputError as exc:
                errors.append(str(exc))
        else:
            raise InputError(f"{file.name}: " + "; ".join(errors))
    return provenance


GROUP = WeightGroup(
    name="preprocess",
    description="Full-quality preprocessing (OpenPose body, SCHP ATR + LIP parsers)",
    files=FILES,
    fetch=_fetch,
)
