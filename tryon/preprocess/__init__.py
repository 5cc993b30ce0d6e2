"""Everything derived from two photos, computed once into one `TryOnSample`.

The estimators are pluggable: `POSE_ESTIMATORS` and `PARSERS` list them best first, and the first whose
weights are present is used (full-quality OpenPose/SCHP when installed, else the embedded MediaPipe pose and
the approximate parse). Which estimator produced each input is recorded in `sample.provenance`, and what had
to be assumed (joints out of frame, ...) in `sample.notes`, so the UI and run.json can say so.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tryon.errors import InputError, naming
from tryon.imaging import describe, limit_size, load_image
from tryon.preprocess.masks import agnostic_mask, garment_mask
from tryon.preprocess.parsing import ParseEstimator
from tryon.preprocess.pose import PoseEstimator, PoseResult
from tryon.sample import COCO18_NAMES, Category, TryOnSample, parse_category

# name -> "module:factory"; factories return None when the estimator's weights are missing.
POSE_ESTIMATORS: dict[str, str] = {
    "openpose": "tryon.preprocess.openpose:load_openpose",
    "mediapipe": "tryon.preprocess.pose:MediaPipePose",
}
PARSERS: dict[str, str] = {
    "schp": "tryon.preprocess.schp:load_schp",
    "approximate": "tryon.preprocess.parsing:ApproximateParser",
}
_cache: dict[str, object] = {}


def _build(path: str) -> object | None:
    if path not in _cache:
        module_name, _, factory = path.partition(":")
        make: Callable[[], object | None] = getattr(importlib.import_module(module_name), factory)
        _cache[path] = make()
    return _cache[path]


def _first_available(table: dict[str, str], wanted: str | None) -> object:
    names = [wanted] if wanted else list(table)
    for name in names:
        estimator = _build(table[name])
        if estimator is not None:
            return estimator
    raise RuntimeError(f"no estimator available among {names}")


@dataclass
class Estimators:
    pose: PoseEstimator
    parser: ParseEstimator


def estimators(pose: str | None = None, parser: str | None = None) -> Estimators:
    """The estimators to use: the named ones, or the best whose weights are present."""
    return Estimators(_first_available(POSE_ESTIMATORS, pose), _first_available(PARSERS, parser))  # type: ignore[arg-type]


def missing_joint_notes(keypoints: np.ndarray) -> list[str]:
    """One note listing the body joints the estimator could not see (face points are not worth a note)."""
    missing = [COCO18_NAMES[i] for i in range(1, 14) if keypoints[i, 2] <= 0]
    return [f"not visible in the photo: {', '.join(missing)}"] if missing else []


def prepare_sample(
    person: object,
    garment: object,
    category: str | Category = "upper",
    name: str = "sample",
    tools: Estimators | None = None,
    garment_mask_override: np.ndarray | None = None,
    keypoints_override: np.ndarray | None = None,
    names: tuple[str, str] | None = None,
) -> TryOnSample:
    """Decode two photos (paths, bytes, PIL or arrays) and compute keypoints, parse and masks.

    `keypoints_override` (18x3 COCO-18, x, y, confidence) replaces the estimated keypoints when the user has
    corrected them; the estimator still supplies the silhouette. Provenance then says "user". A problem found
    in a photo's content (no person, no separable garment) names that photo's file: its path, or `names`
    (person, garment) where the photos are handed over as pixels."""
    category = parse_category(category)
    person_name, garment_name = names or (describe(person), describe(garment))
    person_rgb = limit_size(load_image(person))  # type: ignore[arg-type]
    garment_rgb = limit_size(load_image(garment))  # type: ignore[arg-type]
    tools = tools or estimators()
    with naming(person_name):
        pose = tools.pose(person_rgb)
        if keypoints_override is not None:
            if np.shape(keypoints_override) != (18, 3):
                raise InputError("keypoints override: expected 18 rows of (x, y, confidence) in COCO-18 order")
            pose = PoseResult(np.asarray(keypoints_override, np.float32), pose.person_mask, "user")
        parse = tools.parser(person_rgb, pose.keypoints, pose.person_mask)
        region, notes = agnostic_mask(parse, pose.keypoints, category)
    if garment_mask_override is not None:
        cloth_mask, cloth_source = garment_mask_override.astype(bool), "user"
    else:
        with naming(garment_name):
            cloth_mask, cloth_source = garment_mask(garment_rgb), "border-colour threshold"
    return TryOnSample(
        person=person_rgb,
        garment=garment_rgb,
        category=category,
        name=name,
        keypoints=pose.keypoints,
        parse=parse,
        person_mask=pose.person_mask,
        garment_mask=cloth_mask,
        agnostic_mask=region,
        provenance={
            "keypoints": pose.estimator,
            "parse": getattr(tools.parser, "name", type(tools.parser).__name__),
            "garment_mask": cloth_source,
            "agnostic_mask": "VITON-HD rule over the parse and keypoints",
        },
        notes=missing_joint_notes(pose.keypoints) + notes,
    )


# -- tools the backends use mid-run (`tryon.backends.base.TOOLS`), built once and shared with the estimators ---------
def atr_parser() -> Callable[[np.ndarray], np.ndarray] | None:
    """The SCHP ATR network (PromptDresser's prompt-aware mask parses with ATR ids), None unless installed: the same
    instance the SCHP parser uses, so one ONNX session serves preprocessing and the backend."""
    schp = _build(PARSERS["schp"])
    return getattr(schp, "atr", None)


def garment_masker() -> Callable[[np.ndarray], np.ndarray]:
    """The garment mask of a product photo, for samples that lack one (the same rule `prepare_sample` uses)."""
    return garment_mask
