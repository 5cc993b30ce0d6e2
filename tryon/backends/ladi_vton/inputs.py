"""The official VITON-HD dataset inputs: 18-channel pose heatmaps and the inpainting mask.

Both are computed exactly as `VitonHDDataset` does (PIL NEAREST parse resize, PIL arm polyline, OpenCV
dilation), because the UNet was trained on these particular shapes.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

POSE_SIGMA = 9.0
FLOAT32_EPS = 1.1920929e-07
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
# COCO-18 indices of the arm joints (r = the person's right = image left)
R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST = 2, 3, 4, 5, 6, 7


def pose_map(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(18, H, W) float32 Gaussian heatmaps, sigma 9 px; a point with both coordinates <= 0 gives zeros.

    `keypoints` is (18, >=2) COCO-18 (x, y) in output pixel coordinates.
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((len(keypoints), height, width), np.float32)
    for c, (kx, ky) in enumerate(np.asarray(keypoints, np.float64)[:, :2]):
        if kx > 0 or ky > 0:
            p = np.exp(-((xs - kx) ** 2 + (ys - ky) ** 2) / POSE_SIGMA**2)
            out[c] = p / (p.max() + FLOAT32_EPS)
    return out


def body25_to_coco18(keypoints_body25: np.ndarray, height: int, width: int) -> np.ndarray:
    """OpenPose BODY_25 in VITON-HD's 768x1024 coordinates -> COCO-18 at (H, W), as the dataset scales them."""
    kp = np.asarray(keypoints_body25, np.float64).reshape(-1, 3)[:, :2].copy()
    kp[:, 0] *= width / 768
    kp[:, 1] *= height / 1024
    return kp[list(BODY25_TO_COCO18)]


def resize_parse(parse: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.array(Image.fromarray(parse.astype(np.uint8)).resize((width, height), Image.NEAREST))


def _arm_points(kp: np.ndarray) -> np.ndarray:
    def missing(i: int) -> bool:
        return bool(kp[i, 0] <= 1 and kp[i, 1] <= 1)

    sr, er, wr, sl, el, wl = (kp[i] for i in (R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST))
    if missing(R_WRIST):
        points = [wl, el, sl, sr] if missing(R_ELBOW) else [wl, el, sl, sr, er]
    elif missing(L_WRIST):
        points = [sl, sr, er, wr] if missing(L_ELBOW) else [el, sl, sr, er, wr]
    else:
        points = [wl, el, sl, sr, er, wr]
    return np.array(points, np.float64).reshape(-1).astype(np.uint16)


def inpaint_mask(parse: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(H, W) uint8, 1 = regenerate: upper clothes and arms (dilated), keeping head, hands, bottoms and shoes.

    `parse` is the 20-label parse already at (H, W); `keypoints` COCO-18 (x, y) in the same pixel frame.
    """
    height, width = parse.shape
    fixed = np.isin(parse, [1, 2, 18, 19, 9, 12])
    head = np.isin(parse, [1, 2, 4, 13])
    arms = np.isin(parse, [14, 15])
    cloth = np.isin(parse, [5, 6, 7])
    changeable = (parse == 0) | ((parse != 0) & ~fixed)

    canvas = Image.new("L", (width, height))
    ImageDraw.Draw(canvas).line(_arm_points(np.asarray(keypoints, np.float64)[:, :2]).tolist(), fill="white",
                                width=int(90 / 512 * height), joint="curve")
    line = np.array(canvas) > 0
    fixed_final = fixed | (arms & ~line) | head
    seed = (cloth | line).astype(np.float32)
    dilated = cv2.dilate(seed, np.ones((5, 5), np.uint16), iterations=5) != 0
    keep = (changeable & ~dilated) | fixed_final
    return (~keep).astype(np.uint8)


def normalise(image_u8: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 3xHxW float32 in [-1, 1], as ToTensor + Normalize(0.5, 0.5)."""
    x = image_u8.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    return (x - np.float32(0.5)) / np.float32(0.5)
