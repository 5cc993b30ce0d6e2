"""Pixel-exact re-implementations of the two raster operations whose results the official preprocessing depends on.

- `warp_perspective`: OpenCV 4.x `warpPerspective` (INTER_LINEAR, constant 0 border) for uint8 images. OpenCV 5
  computes different pixels (kit quirk 13), so the 4.x fixed-point algorithm is reproduced here: the matrix is
  inverted by cofactors, source coordinates are computed per 64-pixel block in float64, quantised to 1/32 pixel
  (round half to even), and the four neighbours are blended with 15-bit integer weights.
- `polygon_mask`: pycocotools' polygon rasterisation (`frPyObjects` + `decode`), used by the palm masks, so that
  pycocotools is not a dependency.
"""

from __future__ import annotations

import math

import numpy as np

_TAB_BITS = 5          # OpenCV INTER_BITS: 32 sub-pixel positions
_TAB = 1 << _TAB_BITS
_COEF_BITS = 15        # INTER_REMAP_COEF_BITS
_BLOCK_W = 64          # WarpPerspectiveInvoker block width for any image >= 64 px wide (BLOCK_SZ 32)


def _invert3(m: np.ndarray) -> np.ndarray:
    """cv::invert for 3x3 float64 with DECOMP_LU: explicit cofactors times 1/det (0 matrix if singular)."""
    s = m
    det = (s[0, 0] * (s[1, 1] * s[2, 2] - s[1, 2] * s[2, 1]) - s[0, 1] * (s[1, 0] * s[2, 2] - s[1, 2] * s[2, 0])
           + s[0, 2] * (s[1, 0] * s[2, 1] - s[1, 1] * s[2, 0]))
    if det == 0:
        return np.zeros((3, 3))
    d = 1.0 / det
    return np.array([
        [(s[1, 1] * s[2, 2] - s[1, 2] * s[2, 1]) * d, (s[0, 2] * s[2, 1] - s[0, 1] * s[2, 2]) * d,
         (s[0, 1] * s[1, 2] - s[0, 2] * s[1, 1]) * d],
        [(s[1, 2] * s[2, 0] - s[1, 0] * s[2, 2]) * d, (s[0, 0] * s[2, 2] - s[0, 2] * s[2, 0]) * d,
         (s[0, 2] * s[1, 0] - s[0, 0] * s[1, 2]) * d],
        [(s[1, 0] * s[2, 1] - s[1, 1] * s[2, 0]) * d, (s[0, 1] * s[2, 0] - s[0, 0] * s[2, 1]) * d,
         (s[0, 0] * s[1, 1] - s[0, 1] * s[1, 0]) * d],
    ])


def warp_perspective(src: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`cv2.warpPerspective(src, matrix, size)` of OpenCV 4.x for uint8 HxW or HxWxC images; size = (w, h)."""
    width, height = size
    m = _invert3(np.asarray(matrix, dtype=np.float64)).ravel()
    xs = np.arange(width)
    block_x = (xs // _BLOCK_W) * _BLOCK_W
    x1 = (xs - block_x).astype(np.float64)
    ys = np.arange(height, dtype=np.float64)[:, None]
    bx = block_x.astype(np.float64)[None, :]
    x0 = m[0] * bx + m[1] * ys + m[2]
    y0 = m[3] * bx + m[4] * ys + m[5]
    w0 = m[6] * bx + m[7] * ys + m[8]
    w = w0 + m[6] * x1
    with np.errstate(divide="ignore"):
        w = np.where(w != 0, _TAB / np.where(w != 0, w, 1), 0.0)
    limit = (float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max))
    fx = np.clip((x0 + m[0] * x1) * w, *limit)
    fy = np.clip((y0 + m[3] * x1) * w, *limit)
    ix = np.rint(fx).astype(np.int64)
    iy = np.rint(fy).astype(np.int64)
    sx, sy = ix >> _TAB_BITS, iy >> _TAB_BITS
    ax, ay = ix & (_TAB - 1), iy & (_TAB - 1)
    scale = (1 << _COEF_BITS) // (_TAB * _TAB)
    weights = (((_TAB - ay) * (_TAB - ax)) * scale, ((_TAB - ay) * ax) * scale,
               (ay * (_TAB - ax)) * scale, (ay * ax) * scale)
    image = src if src.ndim == 3 else src[..., None]
    h, w_src = image.shape[:2]
    acc = np.zeros((height, width, image.shape[2]), dtype=np.int64)
    for (dy, dx), weight in zip(((0, 0), (0, 1), (1, 0), (1, 1)), weights, strict=True):
        px, py = sx + dx, sy + dy
        inside = (px >= 0) & (px < w_src) & (py >= 0) & (py < h)
        values = image[np.clip(py, 0, h - 1), np.clip(px, 0, w_src - 1)].astype(np.int64)
        acc += np.where(inside[..., None], values, 0) * weight[..., None]
    out = np.clip((acc + (1 << (_COEF_BITS - 1))) >> _COEF_BITS, 0, 255).astype(np.uint8)
    return out if src.ndim == 3 else out[..., 0]


def polygon_mask(xy: list[float], height: int, width: int) -> np.ndarray:
    """pycocotools `decode(merge(frPyObjects([xy], h, w)))[..., 0]`: uint8 0/1 mask of one polygon.

    pycocotools walks the polygon edges on a 5x finer integer grid, keeps the points where the boundary crosses a
    pixel column centre, and toggles the column-major run-length code there.
    """
    scale = 5.0
    k = len(xy) // 2
    x = [int(scale * xy[2 * j] + 0.5) for j in range(k)] + [0]
    y = [int(scale * xy[2 * j + 1] + 0.5) for j in range(k)] + [0]
    x[k], y[k] = x[0], y[0]
    us: list[int] = []
    vs: list[int] = []
    for j in range(k):
        xs_, xe, ys_, ye = x[j], x[j + 1], y[j], y[j + 1]
        dx, dy = abs(xe - xs_), abs(ys_ - ye)
        flip = (dx >= dy and xs_ > xe) or (dx < dy and ys_ > ye)
        if flip:
            xs_, xe, ys_, ye = xe, xs_, ye, ys_
        if dx >= dy:
            s = (ye - ys_) / dx if dx else 0.0
            for d in range(dx + 1):
                t = dx - d if flip else d
                us.append(t + xs_)
                vs.append(int(ys_ + s * t + 0.5))
        else:
            s = (xe - xs_) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                vs.append(t + ys_)
                us.append(int(xs_ + s * t + 0.5))
    toggles: list[int] = []
    for j in range(1, len(us)):
        if us[j] == us[j - 1]:
            continue
        xd = float(us[j] if us[j] < us[j - 1] else us[j] - 1)
        xd = (xd + 0.5) / scale - 0.5
        if math.floor(xd) != xd or xd < 0 or xd > width - 1:
            continue
        yd = float(vs[j] if vs[j] < vs[j - 1] else vs[j - 1])
        yd = (yd + 0.5) / scale - 0.5
        yd = math.ceil(min(max(yd, 0.0), float(height)))
        toggles.append(int(xd) * height + int(yd))
    flat = np.zeros(height * width + 1, dtype=np.int64)
    np.add.at(flat, np.asarray(toggles, dtype=np.int64), 1)
    column_major = (np.cumsum(flat[:-1]) % 2).astype(np.uint8)
    return column_major.reshape(width, height).T.copy()
