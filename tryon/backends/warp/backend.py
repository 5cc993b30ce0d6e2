"""The weight-free baseline: garment landmarks -> body landmarks -> thin-plate-spline warp -> composite.

It needs no weights and runs in well under a second on a CPU, so the demo is useful offline, and it is the
floor every learned backend should beat on LPIPS/SSIM/FID.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from tryon.backends.base import Backend, Generated, RunContext
from tryon.backends.warp.options import WarpOptions
from tryon.errors import InputError
from tryon.sample import Category, TryOnSample

from .body_landmarks import body_frame, target_landmarks
from .garment_landmarks import garment_landmarks
from .regions import composite, try_on_region
from .tps import warp_image


class WarpBackend(Backend):
    """Classical try-on: deterministic (the seed is recorded, never used), CPU only, any resolution."""

    name: ClassVar[str] = "warp"
    label: ClassVar[str] = "Warp baseline (TPS, no weights)"
    needs: ClassVar[tuple[str, ...]] = ("person", "garment", "keypoints")
    tools: ClassVar[tuple[str, ...]] = ("garment_mask",)  # for samples without one (the estimators' own rule)
    options_class = WarpOptions
    resolution: ClassVar[tuple[int, int]] = (1024, 768)
    categories: ClassVar[tuple[Category, ...]] = ("upper", "lower", "dress")
    licence: ClassVar[str] = "project licence (original code, no weights)"

    def generate(self, sample: TryOnSample, options: WarpOptions, run: RunContext) -> Generated:
        garment_mask = self._garment_mask(sample, run)
        # Shrink the silhouette by a pixel so the feathered edge never samples the product photo's background.
        inner = cv2.erode(garment_mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        garment_pts = garment_landmarks(garment_mask, sample.category)
        body = body_frame(sample.keypoints)
        targets, placement_notes = target_landmarks(garment_pts, body, sample.category)
        names = sorted(garment_pts)
        warped, alpha = warp_image(
            sample.garment, inner, np.array([targets[n] for n in names]), np.array([garment_pts[n] for n in names]),
            sample.size,
        )
        region, region_notes = try_on_region(sample, alpha, body)
        # what was assumed (extrapolated keypoints, estimated masks) goes back with the image
        return Generated(composite(sample.person, warped, alpha, region), body.notes + placement_notes + region_notes)

    @staticmethod
    def _garment_mask(sample: TryOnSample, run: RunContext) -> np.ndarray:
        if sample.garment_mask is None:
            return run.tools["garment_mask"](sample.garment)
        mask = np.asarray(sample.garment_mask, bool)
        if mask.shape != sample.garment.shape[:2]:
            raise InputError(
                f"garment mask is {mask.shape[1]}x{mask.shape[0]} but the garment photo is "
                f"{sample.garment.shape[1]}x{sample.garment.shape[0]}"
            )
        if mask.sum() < 0.01 * mask.size:
            raise InputError("garment mask is (almost) empty: the garment could not be separated from its photo")
        return mask
