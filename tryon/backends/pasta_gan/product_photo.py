"""A stand-in "garment-source person" for a flat product photo.

PASTA-GAN++ was trained to move a garment from one PERSON to another: its patches are cut along the source
person's joints and split by the source's CIHP parse. A product photo has neither, so this module fills them
in approximately: the photo is placed on a white 512x320 canvas where a front-facing wearer's garment would be,
its silhouette (the given garment mask, else the non-white pixels) becomes the garment label, and pseudo-joints
are put on the silhouette's bounding box (shoulders/neck/hips for tops, hips/knees/ankles for bottoms, all of
them for dresses). Sleeve directions cannot be read from a flat photo, so the arm patches stay empty and the
generator draws sleeves from its learnt prior. Results are therefore rougher than with a real wearer photo,
and the backend says so in the result notes.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon.backends.pasta_gan.patches import Subject

CANVAS = (512, 320)
# where a front-facing wearer's garment sits on the canvas: (top, height, max width) as fractions
PLACEMENT = {"upper": (0.17, 0.40, 0.62), "lower": (0.45, 0.48, 0.50), "dress": (0.17, 0.70, 0.62)}
NOTE = ("PASTA-GAN++ expects the garment worn by a person; with a flat product photo the garment's body-part "
        "patches come from estimated pseudo-joints (no sleeve patches), so a photo of a person wearing the "
        "garment gives better results")


def _silhouette(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is not None and np.asarray(mask).shape == image.shape[:2]:
        silhouette = np.asarray(mask).astype(bool)
    else:
        silhouette = np.asarray(image).min(axis=2) < 235
    closed = cv2.morphologyEx(silhouette.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    return closed.astype(bool)


def _looks_like_pants(silhouette: np.ndarray) -> bool:
    """Two legs: the bottom fifth has an empty band around the centre column."""
    rows = np.nonzero(silhouette.any(axis=1))[0]
    cols = np.nonzero(silhouette.any(axis=0))[0]
    if rows.size == 0:
        return False
    bottom = silhouette[rows.max() - (rows.max() - rows.min()) // 5: rows.max() + 1]
    centre = (cols.min() + cols.max()) // 2
    band = bottom[:, max(centre - 3, 0): centre + 4]
    return bool(band.mean() < 0.1)


def product_subject(image: np.ndarray, category: str, mask: np.ndarray | None = None) -> Subject:
    """A pseudo garment-source Subject (512x320) for a flat garment photo of `category` (upper/lower/dress)."""
    height, width = CANVAS
    silhouette = _silhouette(image, mask)
    ys, xs = np.nonzero(silhouette)
    if ys.size == 0:
        ys, xs = np.array([0, image.shape[0] - 1]), np.array([0, image.shape[1] - 1])
        silhouette = np.ones(image.shape[:2], bool)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop, crop_mask = np.asarray(image)[y0:y1, x0:x1], silhouette[y0:y1, x0:x1]
    top, rel_height, rel_width = PLACEMENT[category]
    scale = min(rel_height * height / crop.shape[0], rel_width * width / crop.shape[1])
    new_h, new_w = max(1, int(round(crop.shape[0] * scale))), max(1, int(round(crop.shape[1] * scale)))
    crop = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
    crop_mask = cv2.resize(crop_mask.astype(np.uint8), (new_w, new_h), interpolation=cv2.INTER_NEAREST).astype(bool)
    canvas = np.full((height, width, 3), 255, np.uint8)
    parse = np.zeros((height, width), np.uint8)
    oy, ox = int(top * height), (width - new_w) // 2
    region = (slice(oy, oy + new_h), slice(ox, ox + new_w))
    canvas[region][crop_mask] = crop[crop_mask]
    label = {"upper": 5, "dress": 6}.get(category) or (9 if _looks_like_pants(crop_mask) else 12)
    parse[region][crop_mask] = label
    return Subject(image=canvas, parse=parse, keypoints=pseudo_keypoints(ox, oy, new_w, new_h, category))


def pseudo_keypoints(x: float, y: float, w: float, h: float, category: str) -> np.ndarray:
    """COCO-18 joints placed on the garment box (person's right = image left); confidence 1, missing = 0."""
    kps = np.zeros((18, 3))
    cx = x + w / 2

    def put(index: int, px: float, py: float) -> None:
        if 0 <= px < CANVAS[1] and 0 <= py < CANVAS[0]:
            kps[index] = (px, py, 1.0)

    if category == "lower":
        shoulder_y, hip_y, knee_y, ankle_y = y - 0.75 * h, y + 0.04 * h, y + 0.5 * h, y + 0.96 * h
        half = 0.25 * w
    else:
        torso = h if category == "upper" else 0.45 * h
        shoulder_y, hip_y = y + 0.06 * torso, y + 0.95 * torso
        knee_y, ankle_y = (hip_y + 0.55 * h * 0.8, y + 0.98 * h) if category == "dress" else (None, None)
        half = 0.18 * w
    put(1, cx, shoulder_y - 0.02 * h)
    put(2, x + 0.22 * w if category != "lower" else cx - 1.6 * half, shoulder_y)
    put(5, x + 0.78 * w if category != "lower" else cx + 1.6 * half, shoulder_y)
    put(8, cx - half, hip_y)
    put(11, cx + half, hip_y)
    if knee_y is not None and ankle_y is not None:
        for index, side in ((9, -1), (12, 1)):
            put(index, cx + side * half, min(knee_y, ankle_y - 1))
        for index, side in ((10, -1), (13, 1)):
            put(index, cx + side * half, ankle_y)
    return kps
