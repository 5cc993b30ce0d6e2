"""The one data model every part of the workbench shares.

`TryOnSample` holds everything a backend may need, computed once by `tryon.preprocess` (from two photos) or
by `tryon.dataset` (from a VITON-HD-style folder). Backends read it and never run pose or parsing models of
their own. `TryOnResult` is what a backend run produces, with the facts needed to reproduce it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Category = Literal["upper", "lower", "dress"]
CATEGORIES: tuple[Category, ...] = ("upper", "lower", "dress")

# OpenPose COCO-18 order, the layout every official backend was trained on.
COCO18_NAMES: tuple[str, ...] = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)

# 20-label LIP/CIHP parse as stored in VITON-HD's image-parse-v3 (the ids the backends expect).
PARSE_LABELS: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress", "coat", "socks",
    "pants", "torso_skin", "scarf", "skirt", "face", "left_arm", "right_arm", "left_leg", "right_leg",
    "left_shoe", "right_shoe",
)


def parse_category(value: str) -> Category:
    """Accept the user-facing names and the VITON/DressCode spellings of a garment category."""
    aliases = {
        "upper": "upper", "upper_body": "upper", "upper body": "upper", "top": "upper",
        "lower": "lower", "lower_body": "lower", "lower body": "lower", "bottom": "lower",
        "dress": "dress", "dresses": "dress", "full": "dress", "overall": "dress",
    }
    key = str(value).strip().lower()
    if key not in aliases:
        from tryon.errors import InputError

        raise InputError(f"unknown category {value!r}: use one of upper, lower, dress")
    return aliases[key]  # type: ignore[return-value]


@dataclass
class TryOnSample:
    """One person + one garment, with every derived input a backend may ask for.

    Images are HxWx3 uint8 RGB numpy arrays at the person photo's working resolution (the garment photo keeps
    its own size). Masks are HxW bool. `keypoints` is (18, 3) float32 (x, y, confidence) in person pixel
    coordinates, COCO-18 order, confidence 0 for a missing point.
    """

    person: np.ndarray
    garment: np.ndarray
    category: Category = "upper"
    name: str = "sample"
    keypoints: np.ndarray | None = None
    parse: np.ndarray | None = None
    person_mask: np.ndarray | None = None
    garment_mask: np.ndarray | None = None
    agnostic_mask: np.ndarray | None = None
    densepose: np.ndarray | None = None
    ground_truth: np.ndarray | None = None
    prompts: dict[str, Any] | None = None
    # What produced each derived field and what was assumed (missing keypoints extrapolated, ...).
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the person image."""
        return int(self.person.shape[0]), int(self.person.shape[1])

    def require(self, fields: tuple[str, ...] | list[str]) -> list[str]:
        """Names of the requested fields that are missing (None)."""
        return [f for f in fields if getattr(self, f) is None]


@dataclass
class TryOnResult:
    """A backend's output for one sample, with what is needed to reproduce and compare it."""

    backend: str
    image: np.ndarray | None
    seconds: float = 0.0
    peak_memory_mb: float | None = None
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.image is not None

    def to_record(self) -> dict[str, Any]:
        """JSON-friendly summary (no pixels) for run.json and the UI."""
        return {
            "backend": self.backend,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "peak_memory_mb": None if self.peak_memory_mb is None else round(self.peak_memory_mb, 1),
            "seed": self.seed,
            "options": self.options,
            "error": self.error,
            "notes": self.notes,
        }
