"""Which person pixels a try-on may change, how the old garment is erased, and how the new one is laid on.

Every pixel outside the returned region is copied from the person photo unchanged, so a viewer can trust that
the baseline only touched the clothing area.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon.sample import Category, TryOnSample

from .body_landmarks import Body

# VITON-HD 20-label parse ids.
_OLD_CLOTHES: dict[Category, tuple[int, ...]] = {
    "upper": (5, 7, 10),  # upper clothes, coat, torso skin (a deeper neckline may be covered)
    "lower": (9, 12),  # pants, skirt
    "dress": (5, 6, 7, 9, 10, 12),
}
# Hair, face and arms always stay in front; a bottom also goes behind the top (worn over it) and the shoes.
_KEEP_IN_FRONT: dict[Category, tuple[int, ...]] = {
    "upper": (2, 13, 14, 15),
    "lower": (2, 13, 14, 15, 5, 6, 7, 18, 19),
    "dress": (2, 13, 14, 15, 18, 19),
}
_INPAINT_SIDE = 256  # inpaint on a copy at most this large: the fill is smooth, so detail would be wasted


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _torso_polygon(body: Body, category: Category, size: tuple[int, int]) -> np.ndarray:
    """A keypoint polygon of the body part the category covers, for samples without a parse or agnostic mask."""
    u, d, sw = body.u, body.d, body.shoulder_width
    hip_half = u * body.hip_width * 0.7
    hip_center = (body.hip_left + body.hip_right) / 2
    top = [body.shoulder_left - (u + d) * 0.15 * sw, body.shoulder_right + (u - d) * 0.15 * sw]
    if category == "lower":
        top = [hip_center - hip_half - d * 0.4 * body.hip_width, hip_center + hip_half - d * 0.4 * body.hip_width]
    legs = body.ankle_center if body.ankle_center is not None else hip_center + d * 2.5 * body.hip_width
    bottom_center = hip_center if category == "upper" else legs
    bottom = [bottom_center + hip_half * 1.2, bottom_center - hip_half * 1.2]
    mask = np.zeros(size, np.uint8)
    cv2.fillPoly(mask, [np.round(np.array(top + bottom)).astype(np.int32)], 1)
    return mask.astype(bool)


def try_on_region(
    sample: TryOnSample, garment_alpha: np.ndarray, body: Body
) -> tuple[np.ndarray, list[str]]:
    """Pixels the try-on replaces: the agnostic mask if given, else old clothes and the new garment's footprint.

    What the parse says is in front of the garment (arms, face, hair; for bottoms also the top and the shoes) is
    removed from it, so those pixels stay as they are.
    """
    notes: list[str] = []
    size = sample.size
    radius = max(2, round(max(size) / 200))
    if sample.agnostic_mask is not None:
        region = np.asarray(sample.agnostic_mask, bool).copy()
    else:
        if sample.parse is not None:
            old = np.isin(sample.parse, _OLD_CLOTHES[sample.category])
        else:
            old = _torso_polygon(body, sample.category, size)
            if sample.person_mask is not None:
                old &= np.asarray(sample.person_mask, bool)
            notes.append("no parse or agnostic mask: old garment area estimated from keypoints")
        old = cv2.dilate(old.astype(np.uint8), _disk(radius)).astype(bool)
        region = old | (garment_alpha > 0.05)
    if sample.parse is not None:
        region &= ~np.isin(sample.parse, _KEEP_IN_FRONT[sample.category])
    return region, notes


def erase(person: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The person with `region` filled from its surroundings (Telea inpainting on a downscaled copy)."""
    h, w = region.shape
    factor = min(1.0, _INPAINT_SIDE / max(h, w))
    small_size = (max(1, round(w * factor)), max(1, round(h * factor)))
    small = cv2.resize(person, small_size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(region.astype(np.uint8) * 255, small_size, interpolation=cv2.INTER_AREA) > 0
    small_mask = cv2.dilate(small_mask.astype(np.uint8), _disk(1))
    filled = cv2.inpaint(small, small_mask, 3, cv2.INPAINT_TELEA)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def composite(
    person: np.ndarray, garment: np.ndarray, garment_alpha: np.ndarray, region: np.ndarray
) -> np.ndarray:
    """Lay the warped garment over the erased person with a feathered edge, changing pixels only in `region`."""
    sigma = max(0.8, max(region.shape) / 700)
    alpha = cv2.GaussianBlur(garment_alpha.astype(np.float32), (0, 0), sigma)[..., None]
    background = erase(person, region).astype(np.float32)
    blended = background * (1 - alpha) + garment.astype(np.float32) * alpha
    out = person.copy()
    out[region] = np.clip(np.round(blended[region]), 0, 255).astype(np.uint8)
    return out
