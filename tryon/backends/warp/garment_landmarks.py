"""Where a garment's neckline, shoulders, waist, hem and sleeve ends are, read from its product-photo silhouette.

Product photos show the garment flat and facing the camera, so image-left is the wearer's right, exactly as on a
person facing the camera: landmarks are named by image side ("left" = smaller x) on both sides of the warp.
"""

from __future__ import annotations

import numpy as np

from tryon.sample import Category

Landmarks = dict[str, np.ndarray]

def _run_around(row: np.ndarray, x: int) -> tuple[int, int] | None:
    """The contiguous run of True in `row` that contains column x (or the nearest run), as (first, last)."""
    xs = np.flatnonzero(row)
    if xs.size == 0:
        return None
    nearest = int(xs[np.argmin(np.abs(xs - x))])
    left = right = nearest
    while left > 0 and row[left - 1]:
        left -= 1
    while right < row.size - 1 and row[right + 1]:
        right += 1
    return left, right


def _extent(mask: np.ndarray, y0: int, y1: int) -> tuple[int, int]:
    """Leftmost and rightmost garment columns within rows [y0, y1]."""
    cols = np.flatnonzero(mask[y0 : y1 + 1].any(axis=0))
    return int(cols[0]), int(cols[-1])


def _top_in_column(mask: np.ndarray, x: int) -> int:
    rows = np.flatnonzero(mask[:, x])
    return int(rows[0]) if rows.size else int(np.flatnonzero(mask.any(axis=1))[0])


def garment_landmarks(mask: np.ndarray, category: Category) -> Landmarks:
    """Named (x, y) garment landmarks for the category; sleeve ends only when the silhouette has sleeves."""
    rows = np.flatnonzero(mask.any(axis=1))
    top, bottom = int(rows[0]), int(rows[-1])
    height = bottom - top + 1
    band = max(1, height // 25)
    hem_left, hem_right = _extent(mask, bottom - band, bottom)
    pts: Landmarks = {
        "hem_left": np.array([hem_left, bottom], float),
        "hem_right": np.array([hem_right, bottom], float),
    }
    if category == "lower":
        waist_left, waist_right = _extent(mask, top, top + band)
        mid_y = top + height // 2
        mid_left, mid_right = _extent(mask, mid_y, mid_y)
        pts.update(
            waist_left=np.array([waist_left, top], float),
            waist_right=np.array([waist_right, top], float),
            mid_left=np.array([mid_left, mid_y], float),
            mid_right=np.array([mid_right, mid_y], float),
        )
        return pts

    # Torso columns: a top's torso is as wide as its hem; a dress flares, so use its narrowest (waist) run.
    center = (hem_left + hem_right) // 2
    if category == "upper":
        torso_left, torso_right = hem_left, hem_right
    else:
        runs = [_run_around(mask[y], center) for y in range(top + height // 5, top + height // 2)]
        torso_left, torso_right = min((r for r in runs if r), key=lambda r: r[1] - r[0])
        center = (torso_left + torso_right) // 2
    torso_width = torso_right - torso_left
    inset = max(1, torso_width // 20)
    shoulder_left_x, shoulder_right_x = torso_left + inset, torso_right - inset
    pts.update(
        neck=np.array([center, _top_in_column(mask, center)], float),
        shoulder_left=np.array([shoulder_left_x, _top_in_column(mask, shoulder_left_x)], float),
        shoulder_right=np.array([shoulder_right_x, _top_in_column(mask, shoulder_right_x)], float),
    )
    mid_y = top + int(height * (0.55 if category == "upper" else 0.4))
    run = _run_around(mask[mid_y], center) or (torso_left, torso_right)
    pts.update(mid_left=np.array([run[0], mid_y], float), mid_right=np.array([run[1], mid_y], float))

    # Sleeves: silhouette pixels well outside the torso columns; their far end is the sleeve end.
    ys, xs = np.nonzero(mask[: top + int(height * 0.7)])
    margin = torso_width * 0.12
    for side, outside in (("left", xs < torso_left - margin), ("right", xs > torso_right + margin)):
        if outside.sum() < 0.002 * mask.size:
            continue
        sx, sy = xs[outside], ys[outside]
        far = sx <= sx.min() + torso_width * 0.05 if side == "left" else sx >= sx.max() - torso_width * 0.05
        pts[f"sleeve_{side}"] = np.array([sx[far].mean(), sy[far].mean()], float)
    return pts
