"""OpenPose keypoint files and skeleton drawings (the `openpose_json/` and `openpose_img/` folders).

VITON-HD ships BODY_25 keypoints; PASTA-GAN++ and this workbench use COCO-18. Both are read, COCO-18 is
written. The skeleton image is for people to look at, in the usual OpenPose colours.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from tryon.errors import InputError

# BODY_25 -> COCO-18: drop MidHip (8) and the feet (19-24).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))


def read_keypoints(path: Path) -> np.ndarray:
    """(18, 3) float32 COCO-18 keypoints of the first person in an OpenPose JSON (BODY_25 or COCO-18)."""
    try:
        data = json.loads(Path(path).read_text())
        people = data["people"]
        if not people:
            raise InputError(f"{path}: no person in the keypoints file")
        flat = np.asarray(people[0]["pose_keypoints_2d"], dtype=np.float32)
    except InputError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read keypoints ({exc})") from exc
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed OpenPose keypoints JSON ({type(exc).__name__}: {exc})") from exc
    if flat.size == 75:
        return flat.reshape(25, 3)[list(BODY25_TO_COCO18)].copy()
    if flat.size == 54:
        return flat.reshape(18, 3).copy()
    raise InputError(f"{path}: expected 18 or 25 keypoints (54 or 75 numbers), found {flat.size} numbers")


def write_keypoints(path: Path, keypoints: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = [round(float(v), 3) for v in keypoints.reshape(-1)]
    path.write_text(json.dumps({"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat}]}))


def render_skeleton(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The OpenPose-style skeleton on black, HxWx3 uint8 RGB."""
    h, w = size
    canvas = np.zeros((h, w, 3), np.uint8)
    thickness = max(2, round(max(h, w) / 256))
    for i, (a, b) in enumerate(LIMBS):
        if keypoints[a, 2] > 0 and keypoints[b, 2] > 0:
            pa, pb = tuple(int(v) for v in keypoints[a, :2]), tuple(int(v) for v in keypoints[b, :2])
            cv2.line(canvas, pa, pb, COLOURS[i % len(COLOURS)], thickness, cv2.LINE_AA)
    for i, (x, y, c) in enumerate(keypoints):
        if c > 0:
            cv2.circle(canvas, (int(x), int(y)), thickness * 2, COLOURS[i], -1, cv2.LINE_AA)
    return canvas
