"""A 20-label human parse (VITON-HD `image-parse-v3` ids, LIP/CIHP order) for a person photo.

The backends read the parse to decide what to keep (face, hair, hands, the other garment) and what to
regenerate. Without a parsing network the embedded estimator builds an approximate parse from the pose
keypoints and the person silhouette: head, neck, arms and legs as body-proportioned shapes along the
skeleton, the rest of the silhouette as upper clothes above the hips and pants below. It cannot tell skin
from sleeve or pants from skirt; a full-quality parser (SCHP ATR/LIP) replaces it when its weights exist.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

# VITON-HD image-parse-v3 ids
BACKGROUND, HAIR, UPPER, DRESS, COAT, PANTS, NECK, SKIRT, FACE = 0, 2, 5, 6, 7, 9, 10, 12, 13
LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE = 14, 15, 16, 17, 18, 19


class ParseEstimator(Protocol):
    name: str

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, person_mask: np.ndarray) -> np.ndarray: ...


def _pt(keypoints: np.ndarray, i: int) -> tuple[int, int] | None:
    x, y, c = keypoints[i]
    return (int(round(x)), int(round(y))) if c > 0 else None


def body_scale(keypoints: np.ndarray, shape: tuple[int, int]) -> float:
    """A length unit for drawing body parts: the shoulder width, else a fraction of the silhouette height."""
    rs, ls = keypoints[2], keypoints[5]
    if rs[2] > 0 and ls[2] > 0:
        return float(max(np.hypot(*(rs[:2] - ls[:2])), 8.0))
    visible = keypoints[keypoints[:, 2] > 0]
    if len(visible) >= 2:
        return float(max(np.ptp(visible[:, 0]), np.ptp(visible[:, 1]), 8.0) / 2)
    return shape[0] / 6.0


def draw_limb(canvas: np.ndarray, keypoints: np.ndarray, chain: tuple[int, ...], width: int, value: int = 1) -> None:
    """Draw a thick polyline through the visible joints of `chain` (stops at the first missing joint)."""
    points = []
    for index in chain:
        p = _pt(keypoints, index)
        if p is None:
            break
        points.append(p)
    for a, b in zip(points, points[1:], strict=False):
        cv2.line(canvas, a, b, value, max(1, width), lineType=cv2.LINE_8)
        cv2.circle(canvas, b, max(1, width // 2), value, -1)


class ApproximateParser:
    """Pose + silhouette heuristics (no weights)."""

    name = "approximate (pose + silhouette)"

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, person_mask: np.ndarray) -> np.ndarray:
        h, w = person_mask.shape
        unit = body_scale(keypoints, (h, w))
        parse = np.zeros((h, w), np.uint8)
        person = person_mask.astype(bool)

        neck = _pt(keypoints, 1)
        hips = [p for p in (_pt(keypoints, 8), _pt(keypoints, 11)) if p is not None]
        neck_y = neck[1] if neck else int(np.median([p[1] for p in hips]) - 2.5 * unit) if hips else h // 4
        hip_y = int(np.mean([p[1] for p in hips])) if hips else min(h, int(neck_y + 2.6 * unit))

        rows = np.arange(h)[:, None]
        parse[person & (rows < hip_y)] = UPPER
        parse[person & (rows >= hip_y)] = PANTS

        # Head: silhouette above the neck and within a head's width of the face (shoulders and collars rise
        # above OpenPose's neck point); the face is an ellipse around the facial landmarks.
        face_points = [p for p in (_pt(keypoints, i) for i in (0, 14, 15, 16, 17)) if p is not None]
        cx = float(np.mean([p[0] for p in face_points])) if face_points else float(neck[0] if neck else w / 2)
        cols = np.arange(w)[None, :]
        head = person & (rows < neck_y - 0.12 * unit) & (np.abs(cols - cx) < 0.4 * unit)
        parse[head] = HAIR
        if face_points:
            cy = float(np.mean([p[1] for p in face_points]))
            face = np.zeros((h, w), np.uint8)
            axes = (int(0.32 * unit), int(0.42 * unit))
            cv2.ellipse(face, (int(cx), int(cy + 0.08 * unit)), axes, 0, 0, 360, 1, -1)
            parse[(face > 0) & person] = FACE
        if neck:
            band = np.zeros((h, w), np.uint8)
            top = int(neck_y - 0.35 * unit)
            cv2.rectangle(band, (int(neck[0] - 0.18 * unit), top), (int(neck[0] + 0.18 * unit), neck_y), 1, -1)
            parse[(band > 0) & person & (parse != FACE)] = NECK

        limb_width = int(0.3 * unit)
        for chain, label in (((2, 3, 4), RIGHT_ARM), ((5, 6, 7), LEFT_ARM)):
            arm = np.zeros((h, w), np.uint8)
            draw_limb(arm, keypoints, chain, limb_width)
            parse[(arm > 0) & person & ~np.isin(parse, (FACE, HAIR))] = label
        for chain, label in (((9, 10), RIGHT_LEG), ((12, 13), LEFT_LEG)):
            leg = np.zeros((h, w), np.uint8)
            draw_limb(leg, keypoints, chain, int(0.35 * unit))
            parse[(leg > 0) & person & (rows > hip_y)] = label
        for ankle, label in ((10, RIGHT_SHOE), (13, LEFT_SHOE)):
            p = _pt(keypoints, ankle)
            if p is not None:
                shoe = np.zeros((h, w), np.uint8)
                cv2.circle(shoe, (p[0], int(p[1] + 0.12 * unit)), int(0.18 * unit), 1, -1)
                parse[(shoe > 0) & person] = label
        return parse
