"""Weights of the full-quality preprocessing: OpenPose body and the SCHP ATR/LIP parsers.

`python -m tryon weights fetch preprocess` downloads them from the Hugging Face hub where the network allows,
or copies them from `--from FOLDER` (files found by name anywhere below it, e.g. the official PromptDresser
`checkpoints/humanparsing/`). Each is checked first: the OpenPose file against `BodyPoseNet` built on the meta
device, each ONNX parser by its graph's inputs and outputs (one image input, a logits output with one channel
per label), read without loading the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tryon.weight_checks import Check, StructureError, module_check, onnx_io
from tryon.weights import WeightFile, WeightGroup


def _body_pose_net(path: Path, layouts: tuple[Path, ...]) -> Any:
    from tryon.preprocess.openpose import BodyPoseNet

    return BodyPoseNet()


def _body_pose_key(key: str) -> str:
    from tryon.preprocess.openpose import BodyPoseNet

    return BodyPoseNet.full_key(key)


def parser_check(labels: int, what: str) -> Check:
    """The graph SCHPNet runs: one 4-d image input with 3 channels, an output with `labels` channels."""

    def check(path: Path, layouts: tuple[Path, ...]) -> str:
        inputs, outputs = onnx_io(path)
        image = [dims for _, dims in inputs if len(dims) == 4 and (dims[1] == 3 or isinstance(dims[1], str))]
        logits = [dims for _, dims in outputs if len(dims) == 4 and dims[1] == labels]
        if len(inputs) != 1 or not image or not logits:
            shapes = ", ".join(str(d) for _, d in outputs)
            raise StructureError(f"an ONNX graph with {len(inputs)} inputs and outputs {shapes}, expected one image "
                                 f"input and a {labels}-label output (not the {what})")
        return f"{what}: input {inputs[0][1]}, {labels}-label output"

    return check

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
    check=module_check(_body_pose_net, "OpenPose body model", rename=_body_pose_key),
)
SCHP_ATR = WeightFile(
    name="schp-atr",
    path="preprocess/parsing_atr.onnx",
    sources=(f"{_IDM}/humanparsing/parsing_atr.onnx",),
    sha256=None,
    licence="SCHP: MIT code; ATR data research-only",
    size_mb=267.0,
    note="sha256 not known offline; recorded in the manifest on first fetch",
    check=parser_check(18, "SCHP ATR parser"),
)
SCHP_LIP = WeightFile(
    name="schp-lip",
    path="preprocess/parsing_lip.onnx",
    sources=(f"{_IDM}/humanparsing/parsing_lip.onnx",),
    sha256=None,
    licence="SCHP: MIT code; LIP data research-only",
    size_mb=267.0,
    note="sha256 not known offline; recorded in the manifest on first fetch",
    check=parser_check(20, "SCHP LIP parser"),
)
FILES = [OPENPOSE_BODY, SCHP_ATR, SCHP_LIP]


GROUP = WeightGroup(
    name="preprocess",
    description="Full-quality preprocessing (OpenPose body, SCHP ATR + LIP parsers)",
    files=FILES,
    search_anywhere=True,
)
