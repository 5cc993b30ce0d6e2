"""A thin-plate spline: the smoothest 2-D map that takes a few landmarks exactly where they must go.

The warp backend solves it backwards (person pixel -> garment pixel) so that every output pixel samples the
garment once with `cv2.remap`; the spline is evaluated on a coarse grid and upsampled, since it is smooth.
"""

from __future__ import annotations

import cv2
import numpy as np


def _kernel(r2: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r^2, the 2-D biharmonic radial basis (0 at r = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r2 > 0, r2 * np.log(r2), 0.0)


class ThinPlateSpline:
    """Maps points `src` (n, 2) onto `dst` (n, 2); `regularization` > 0 trades exactness for smoothness."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, regularization: float = 1e-3) -> None:
        src = np.asarray(src, np.float64)
        dst = np.asarray(dst, np.float64)
        if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 3:
            raise ValueError("a thin-plate spline needs at least three matching 2-D point pairs")
        # Work in a unit-sized frame so the linear system is well conditioned at any image size.
        self._center = src.mean(axis=0)
        self._scale = float(np.abs(src - self._center).max()) or 1.0
        self._src = (src - self._center) / self._scale
        n = len(src)
        k = _kernel(((self._src[:, None] - self._src[None]) ** 2).sum(-1)) + regularization * np.eye(n)
        p = np.hstack([np.ones((n, 1)), self._src])
        system = np.zeros((n + 3, n + 3))
        system[:n, :n] = k
        system[:n, n:] = p
        system[n:, :n] = p.T
        rhs = np.zeros((n + 3, 2))
        rhs[:n] = dst
        # lstsq rather than solve: coincident or collinear landmarks must degrade gracefully, not raise.
        self._coef = np.linalg.lstsq(system, rhs, rcond=None)[0]

    def __call__(self, points: np.ndarray) -> np.ndarray:
        pts = (np.asarray(points, np.float64).reshape(-1, 2) - self._center) / self._scale
        u = _kernel(((pts[:, None] - self._src[None]) ** 2).sum(-1))
        n = len(self._src)
        return u @ self._coef[:n] + self._coef[n] + pts @ self._coef[n + 1 :]


def warp_image(
    image: np.ndarray, mask: np.ndarray, person_points: np.ndarray, garment_points: np.ndarray,
    out_size: tuple[int, int], grid_step: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `image` and its float `mask` into an `out_size` (h, w) frame where garment_points land on person_points.

    Returns the warped RGB image and the warped mask in [0, 1] (0 wherever the map leaves the garment photo).
    """
    h, w = out_size
    spline = ThinPlateSpline(person_points, garment_points)
    gh, gw = h // grid_step + 2, w // grid_step + 2
    gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float64) * grid_step
    coarse = spline(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gh, gw, 2).astype(np.float32)
    # Upsample the coarse map so that pixel (x, y) reads coarse[y / step, x / step] (bilinear).
    fine = cv2.resize(coarse, (gw * grid_step, gh * grid_step), interpolation=cv2.INTER_LINEAR)
    offset = (grid_step - 1) / 2.0
    shift = np.float32([[1, 0, -offset], [0, 1, -offset]])
    fine = cv2.warpAffine(fine, shift, (gw * grid_step, gh * grid_step), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)[:h, :w]
    map_x = np.ascontiguousarray(fine[..., 0])
    map_y = np.ascontiguousarray(fine[..., 1])
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped_mask = cv2.remap(mask.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return warped, np.clip(warped_mask, 0.0, 1.0)
