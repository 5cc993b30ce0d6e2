"""Where the garment's landmarks should land on the person, from COCO-18 keypoints.

Real photos are uneven: portraits hide the hips, crops hide the ankles, detectors drop a shoulder. The body
frame below is built from whatever is visible and extrapolates the rest from average proportions, recording
each assumption as a short note so the user can see why a result looks the way it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tryon.errors import InputError
from tryon.sample import COCO18_NAMES, Category

from .garment_landmarks import Landmarks

_INDEX = {name: i for i, name in enumerate(COCO18_NAMES)}
_MIN_CONFIDENCE = 0.1
# Average adult proportions in OpenPose keypoint units (shoulder width = distance between shoulder keypoints).
_HIP_PER_SHOULDER = 0.8  # hip-keypoint width / shoulder width
_TORSO_PER_SHOULDER = 1.5  # neck-to-mid-hip length / shoulder width
_WAIST_ABOVE_HIPS = 0.35  # waistband height above the hip keypoints, in hip widths
_TOP_WIDTH = 1.1  # a top's shoulder seams sit slightly outside the shoulder keypoints
_BOTTOM_WIDTH = 1.6  # a flat waistband is wider than the hip joints
_FULL_LENGTH = 1.8  # a bottom this many waist widths long reaches the ankles (trousers, maxi skirts)
_HEM_OVER_HIPS = 1.35  # a hem must at least cover the hips' outer width


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else np.array([0.0, 1.0])


def _perp_down(u: np.ndarray) -> np.ndarray:
    """The direction 90 degrees from the left-to-right vector u that points down the image."""
    return np.array([-u[1], u[0]])


@dataclass
class Body:
    """The person's torso frame in pixels: u runs image-left to image-right, d runs down the body."""

    shoulder_left: np.ndarray
    shoulder_right: np.ndarray
    neck: np.ndarray
    hip_left: np.ndarray
    hip_right: np.ndarray
    d: np.ndarray
    elbow_left: np.ndarray | None = None
    elbow_right: np.ndarray | None = None
    leg_center: np.ndarray | None = None  # midpoint of the ankles, else of the knees: the legs' direction
    ankle_center: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def u(self) -> np.ndarray:
        return _unit(self.shoulder_right - self.shoulder_left)

    @property
    def shoulder_width(self) -> float:
        return float(np.linalg.norm(self.shoulder_right - self.shoulder_left))

    @property
    def hip_width(self) -> float:
        return float(np.linalg.norm(self.hip_right - self.hip_left))


def _point(keypoints: np.ndarray, name: str) -> np.ndarray | None:
    x, y, conf = keypoints[_INDEX[name]]
    return np.array([x, y], float) if conf >= _MIN_CONFIDENCE else None


def _pair(keypoints: np.ndarray, part: str) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    """(left, right) by image side of the r_/l_ keypoint pair, and whether COCO's r_ point is image-left."""
    right, left = _point(keypoints, f"r_{part}"), _point(keypoints, f"l_{part}")
    swapped = right is not None and left is not None and right[0] > left[0]
    return (left, right, False) if swapped else (right, left, True)


def body_frame(keypoints: np.ndarray) -> Body:
    """Build the torso frame from the visible keypoints, extrapolating what is missing (see module docstring)."""
    notes: list[str] = []
    kp = np.asarray(keypoints, np.float32).reshape(18, 3)
    s_left, s_right, r_is_left = _pair(kp, "shoulder")
    h_left, h_right, _ = _pair(kp, "hip")
    neck = _point(kp, "neck")

    if s_left is None and s_right is None and (h_left is None or h_right is None):
        raise InputError("keypoints: neither both shoulders nor both hips were detected; cannot place the garment")
    if s_left is None or s_right is None:
        if (s_left is not None or s_right is not None) and neck is not None:
            seen = s_left if s_left is not None else s_right
            other = 2 * neck - seen
            s_left, s_right = (seen, other) if seen[0] <= other[0] else (other, seen)
            notes.append("one shoulder not visible: mirrored across the neck")
        elif h_left is not None and h_right is not None:
            hu = _unit(h_right - h_left)
            half = 0.5 * float(np.linalg.norm(h_right - h_left)) / _HIP_PER_SHOULDER
            top = (h_left + h_right) / 2 - _perp_down(hu) * _TORSO_PER_SHOULDER * 2 * half
            s_left, s_right = top - hu * half, top + hu * half
            notes.append("shoulders not visible: extrapolated from hip width")
        else:
            raise InputError("keypoints: only one shoulder and no neck or hips detected; cannot place the garment")
    assert s_left is not None and s_right is not None
    if neck is None:
        neck = (s_left + s_right) / 2
    u = _unit(s_right - s_left)
    sw = float(np.linalg.norm(s_right - s_left))

    if h_left is not None and h_right is not None:
        d = _unit((h_left + h_right) / 2 - neck)
    else:
        d = _perp_down(u)
        if h_left is not None or h_right is not None:
            seen = h_left if h_left is not None else h_right
            shift = u * sw * _HIP_PER_SHOULDER
            h_left, h_right = (seen, seen + shift) if seen[0] <= neck[0] else (seen - shift, seen)
            notes.append("one hip not visible: placed at the average hip width")
        else:
            center = neck + d * sw * _TORSO_PER_SHOULDER
            half = u * sw * _HIP_PER_SHOULDER / 2
            h_left, h_right = center - half, center + half
            notes.append("hips not visible: extrapolated from shoulder width and torso proportions")

    elbow_left, elbow_right = (_point(kp, "r_elbow"), _point(kp, "l_elbow"))
    if not r_is_left:
        elbow_left, elbow_right = elbow_right, elbow_left
    ankles = [p for p in (_point(kp, "r_ankle"), _point(kp, "l_ankle")) if p is not None]
    knees = [p for p in (_point(kp, "r_knee"), _point(kp, "l_knee")) if p is not None]
    legs = ankles if len(ankles) == 2 else knees if len(knees) == 2 else []
    return Body(
        shoulder_left=s_left, shoulder_right=s_right, neck=neck, hip_left=h_left, hip_right=h_right, d=d,
        elbow_left=elbow_left, elbow_right=elbow_right,
        leg_center=(legs[0] + legs[1]) / 2 if legs else None,
        ankle_center=(ankles[0] + ankles[1]) / 2 if len(ankles) == 2 else None, notes=notes,
    )


def _similarity(
    garment: Landmarks, origin_g: np.ndarray, u_g: np.ndarray, origin_b: np.ndarray, u_b: np.ndarray,
    d_b: np.ndarray, scale: float, length_scale: float | None = None,
) -> Landmarks:
    """Map every garment landmark through garment frame (origin_g, u_g) -> body frame (origin_b, u_b, d_b).

    Widths scale by `scale`, lengths by `length_scale` (default: the same, which keeps the garment's proportions).
    """
    d_g = _perp_down(u_g)
    along = scale if length_scale is None else length_scale
    return {
        name: origin_b + scale * float((p - origin_g) @ u_g) * u_b + along * float((p - origin_g) @ d_g) * d_b
        for name, p in garment.items()
    }


def _cover(targets: Landmarks, left: str, right: str, u: np.ndarray, half_width: float) -> None:
    """Widen a left/right landmark pair about its centre so that it spans at least 2 * half_width."""
    center = (targets[left] + targets[right]) / 2
    if float(np.linalg.norm(targets[right] - targets[left])) / 2 < half_width:
        targets[left], targets[right] = center - u * half_width, center + u * half_width


def target_landmarks(garment: Landmarks, body: Body, category: Category) -> tuple[Landmarks, list[str]]:
    """Where each garment landmark goes on the person, plus notes on what was assumed.

    A similarity transform (garment proportions kept) aligns the garment to the body frame; then the landmarks
    the body actually constrains (shoulders, hips, arms) are moved onto it and the spline bends the rest.
    """
    notes: list[str] = []
    u, d = body.u, body.d
    if category == "lower":
        waist_g = (garment["waist_left"] + garment["waist_right"]) / 2
        u_g = _unit(garment["waist_right"] - garment["waist_left"])
        hip_center = (body.hip_left + body.hip_right) / 2
        u_b = _unit(body.hip_right - body.hip_left)
        leg_d = _unit(body.leg_center - hip_center) if body.leg_center is not None else d
        if body.leg_center is None:
            notes.append("knees/ankles not visible: legs assumed straight along the torso")
        waist_width = float(np.linalg.norm(garment["waist_right"] - garment["waist_left"]))
        scale = _BOTTOM_WIDTH * body.hip_width / waist_width
        waist_b = hip_center - d * _WAIST_ABOVE_HIPS * body.hip_width
        length = float((garment["hem_left"] + garment["hem_right"]) / 2 @ _perp_down(u_g) - waist_g @ _perp_down(u_g))
        length_scale = None
        # Full-length bottoms end at the ankles whatever the person's leg-to-hip proportions.
        if length >= _FULL_LENGTH * waist_width and body.ankle_center is not None:
            length_scale = float(np.linalg.norm(body.ankle_center - waist_b)) / length
        return _similarity(garment, waist_g, u_g, waist_b, u_b, leg_d, scale, length_scale), notes

    u_g = _unit(garment["shoulder_right"] - garment["shoulder_left"])
    g_sw = float(np.linalg.norm(garment["shoulder_right"] - garment["shoulder_left"]))
    scale = _TOP_WIDTH * body.shoulder_width / g_sw
    targets = _similarity(garment, garment["neck"], u_g, body.neck, u, d, scale)
    seam = (_TOP_WIDTH - 1) / 2 * body.shoulder_width
    targets["shoulder_left"] = body.shoulder_left - u * seam
    targets["shoulder_right"] = body.shoulder_right + u * seam
    _cover(targets, "hem_left", "hem_right", u, _HEM_OVER_HIPS * body.hip_width / 2)
    for side, sign in (("left", -1.0), ("right", 1.0)):
        name = f"sleeve_{side}"
        if name not in garment:
            continue
        elbow = getattr(body, f"elbow_{side}")
        shoulder = targets[f"shoulder_{side}"]
        if elbow is not None:
            direction = _unit(elbow - shoulder)
        else:
            direction = _unit(d + sign * 0.35 * u)
            notes.append(f"{side} elbow not visible: sleeve hangs at a default angle")
        length = float(np.linalg.norm(garment[name] - garment[f"shoulder_{side}"])) * scale
        targets[name] = shoulder + direction * length
    return targets, notes
