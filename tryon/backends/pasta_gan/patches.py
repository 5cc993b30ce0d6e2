"""PASTA-GAN++ test preprocessing: from a person, a garment-source person and their parses to the generator maps.

Re-derived from the official test dataset classes (`upper`, `lower` and `full` modes; golden kit README section 7):
pad 512x320 to 512x512, draw the skeleton (which also drops knees/ankles near the border), split the CIHP parse
into upper/lower garments, cut 10 body-part patches with perspective transforms (garment -> 128x128 patch), route
them back onto the target pose (patch -> target body), and build the retain mask, skin colour, lower-garment type
and the lower garment's upper-bound map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from tryon.backends.pasta_gan.geometry import polygon_mask, warp_perspective

PATCH = 128
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17))
COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85), (255, 0, 0))
LEG_JOINTS = (9, 10, 12, 13)  # knees and ankles: dropped near the image border
# body parts (COCO-18 indices): torso, neck, L upper arm, L forearm, R upper arm, R forearm, L thigh, L shin,
# R thigh, R shin
PARTS = ((2, 8, 11, 5), (5, 2, 0), (5, 6), (6, 7), (2, 3), (3, 4), (11, 12), (12, 13), (8, 9), (9, 10))
PART_ASPECT = (0.5,) * 6 + (0.4,) * 4
ARM_PARTS = (2, 3, 4, 5)
LOWER_PARTS = (0, 6, 7, 8, 9)
NECK, RSHO, RELB, RWRI, LSHO, LELB, LWRI, RHIP, RKNE, RANK, LHIP, LKNE, LANK = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
HEAD_LABELS = (1, 2, 4, 13)
SHOE_LABELS = (18, 19)
SKIN_LABELS = (10, 13)
SLEEVE_LABELS = (10, 11)
LOWER_LABEL_VALUES = {"pants": 0, "skirt": 1, "dress": 2}


@dataclass
class Subject:
    """One photo with its annotations, at the dataset's 512x320 (H x W)."""

    image: np.ndarray          # uint8 [H, W, 3] RGB
    parse: np.ndarray          # uint8 [H, W] CIHP-20 labels
    keypoints: np.ndarray      # float64 [18, 3] COCO-18 (x, y, confidence)
    garment_parse: np.ndarray | None = None  # uint8 [H, W]; labels 10/11 = sleeves


@dataclass
class Preprocessed:
    """Everything the generator needs (CHW uint8 maps as the official dataset returns them) plus diagnostics."""

    person_image: np.ndarray
    columns: slice
    person_keypoints: np.ndarray
    garment_keypoints: np.ndarray
    pose: np.ndarray
    norm_img: np.ndarray
    norm_img_lower: np.ndarray
    part_masks: np.ndarray
    part_masks_lower: np.ndarray
    M_garment: np.ndarray  # noqa: N815 - kit tensor names
    M_inv_garment: np.ndarray  # noqa: N815
    M_person: np.ndarray  # noqa: N815
    M_inv_person: np.ndarray  # noqa: N815
    part_valid_garment: np.ndarray
    part_valid_person: np.ndarray
    denorm_upper: np.ndarray
    denorm_lower: np.ndarray
    retain_mask: np.ndarray
    skin_average: np.ndarray
    lower_label_value: np.ndarray
    lower_clothes_upper_bound: np.ndarray
    notes: list[str] = field(default_factory=list)

    def generator_maps(self) -> dict[str, np.ndarray]:
        names = ("norm_img", "norm_img_lower", "retain_mask", "skin_average", "pose", "lower_label_value",
                 "lower_clothes_upper_bound", "denorm_upper", "denorm_lower")
        return {name: getattr(self, name) for name in names}


# -- padding and skeleton -----------------------------------------------------------------------------------------
def pad_to_square(array: np.ndarray, value: int) -> tuple[np.ndarray, slice]:
    """Pad the width to the height, centred (96 columns each side for 512x320); also returns the original columns."""
    height, width = array.shape[:2]
    left = (height - width) // 2
    pads = [(0, 0), (left, height - width - left)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pads, constant_values=value), slice(left, left + width)


def draw_skeleton(keypoints: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose-style drawing: limbs (thickness 5), then joint discs (radius 5). Knees/ankles within 50 px of the
    border (or at 0) get confidence 0.01 and no disc; returns (canvas, edited keypoints)."""
    kps = keypoints.copy()
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for i, (a, b) in enumerate(LIMBS):
        if kps[a, 2] < 0.05 or kps[b, 2] < 0.05:
            continue
        cv2.line(canvas, (int(kps[a, 0]), int(kps[a, 1])), (int(kps[b, 0]), int(kps[b, 1])), COLOURS[i], 5)
    rows, cols = np.mgrid[0:height, 0:width]
    for i in range(18):
        x, y, conf = kps[i]
        if conf < 0.05:
            continue
        if i in LEG_JOINTS and (x <= 0 or y <= 0 or x >= width - 50 or y >= height - 50):
            kps[i, 2] = 0.01
            continue
        canvas[(rows - int(y)) ** 2 + (cols - int(x)) ** 2 < 25] = COLOURS[i]
    return canvas, kps


# -- garments -------------------------------------------------------------------------------------------------------
@dataclass
class Garments:
    tops: np.ndarray
    dress: np.ndarray
    pants: np.ndarray
    skirt: np.ndarray

    @property
    def upper(self) -> np.ndarray:
        return self.tops + self.dress

    @property
    def lower(self) -> np.ndarray:
        return self.skirt + self.pants


def split_garments(parse: np.ndarray) -> Garments:
    """CIHP parse -> tops / dress / pants / skirt, with the official merge rules (quirk 7 included)."""
    tops = ((parse == 5) | (parse == 7)).astype(np.uint8)
    dress, pants, skirt = ((parse == label).astype(np.uint8) for label in (6, 9, 12))
    if pants.sum() > skirt.sum():
        pants, skirt = pants + skirt, np.zeros_like(skirt)
    else:
        skirt, pants = skirt + pants, np.zeros_like(pants)
    if dress.sum() > 0:
        if pants.sum() > 0:
            tops = tops + dress
        elif dress.sum() > tops.sum() + skirt.sum():
            dress = dress + tops + skirt
            tops, skirt = np.zeros_like(tops), np.zeros_like(skirt)
        elif tops.sum() > skirt.sum():
            skirt = skirt + dress
        else:
            tops = tops + dress
        if pants.sum() > 0 or dress.sum() <= tops.sum() + skirt.sum():
            dress = np.zeros_like(dress)
    return Garments(tops, dress, pants, skirt)


def bbox_top(mask: np.ndarray) -> int | None:
    rows = np.nonzero(np.asarray(mask) >= 0.5)[0]
    return int(rows.min()) if rows.size else None


# -- perspective patches ------------------------------------------------------------------------------------------
def _inside(p: np.ndarray, size: int) -> bool:
    return bool(0 < p[0] < size and 0 < p[1] < size)


def part_quad(keypoints: np.ndarray, part: int, size: int) -> np.ndarray | None:
    """The source quadrilateral of one body part (x, y float32), or None when its joints are missing."""
    indices = list(PARTS[part])
    conf = keypoints[:, 2]
    if any(conf[i] < 0.1 for i in indices):
        if part in (6, 8, 7, 9):
            indices = indices[:1]
        elif part == 1:
            indices = [LSHO, RSHO, RSHO]
        if any(conf[i] < 0.1 for i in indices):
            return None
    points = keypoints[indices, :2].astype(np.float32)
    if len(indices) == 1:
        if min(conf[LHIP], conf[RHIP], conf[NECK]) < 0.1:
            return None
        missing = PARTS[part][1]
        factor = 0.85 if part in (6, 8) else 0.80
        neck, rhip, lhip = (keypoints[i, :2].astype(np.float32) for i in (NECK, RHIP, LHIP))
        torso = (np.linalg.norm(neck - rhip) + np.linalg.norm(neck - lhip)) / 2
        a = points[0]
        if conf[missing] > 0:
            joint = keypoints[missing, :2]
            direction = (joint - a) / np.linalg.norm(a - joint)
            b = a + torso * direction * factor
        else:
            b = np.array([a[0], a[1] + torso * factor])
        points = np.array([a, b], dtype=np.float32)
    if len(indices) == 4:
        p = points
        hs = (p[2] - p[1]) / 4
        for i, step in ((1, -hs), (2, hs)):
            if _inside(p[i] + step, size):
                p[i] = p[i] + step
        ss = (p[3] - p[0]) / 5
        for i, step in ((0, -ss), (3, ss)):
            if _inside(p[i] + step, size):
                p[i] = p[i] + step
        return np.array([p[0], p[1], p[2], p[3]], dtype=np.float32)
    if len(indices) == 3:
        p = points
        s = (p[0] - p[1]) / 5
        for i, step in ((1, -s), (0, s)):
            if _inside(p[i] + step, size):
                p[i] = p[i] + step
        seg = p[1] - p[0]
        n = np.array([-seg[1], seg[0]], dtype=np.float32)
        if n[1] > 0:
            n = -n
        a, b, c, d = p[0] + n, p[0].copy(), p[1].copy(), p[1] + n
        h = (c[1] + b[1]) / 2 - (a[1] + d[1]) / 2
        a[1] += h / 2
        d[1] += h / 2
        return np.array([d, c, b, a], dtype=np.float32)
    p0, p1 = points[0], points[1]
    seg = p1 - p0
    n = np.array([-seg[1], seg[0]], dtype=np.float32)
    alpha = PART_ASPECT[part] / 2
    a, b, c, d = p0 + alpha * n, p0 - alpha * n, p1 - alpha * n, p1 + alpha * n
    names = set(indices)
    if names & {RHIP, RKNE}:
        a, d = a + alpha * n, d + alpha * n
    if names & {LHIP, LKNE}:
        b, c = b - alpha * n, c - alpha * n
    if names & {RELB, RWRI}:
        a, d = a + 0.45 * alpha * n, d + 0.45 * alpha * n
        b, c = b - 0.1 * alpha * n, c - 0.1 * alpha * n
    if names & {LELB, LWRI}:
        a, d = a + 0.1 * alpha * n, d + 0.1 * alpha * n
        b, c = b - 0.45 * alpha * n, c - 0.45 * alpha * n
    return np.array([a, d, c, b], dtype=np.float32)


def part_matrices(keypoints: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image -> patch matrices, their inverses ([10, 3, 3], zeros where invalid) and validity ([10] uint8)."""
    target = np.array([[0, 0], [0, PATCH], [PATCH, PATCH], [PATCH, 0]], dtype=np.float32)
    forward, inverse, valid = np.zeros((10, 3, 3)), np.zeros((10, 3, 3)), np.zeros(10, dtype=np.uint8)
    for part in range(10):
        quad = part_quad(keypoints, part, size)
        if quad is None:
            continue
        forward[part] = cv2.getPerspectiveTransform(quad, target)
        inverse[part] = cv2.getPerspectiveTransform(target, quad)
        valid[part] = 1
    return forward, inverse, valid


def _erode(mask: np.ndarray, k: int) -> np.ndarray:
    return cv2.erode(mask, np.ones((k, k), np.uint8), iterations=1)


def _composite(canvas: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)[..., None]
    return image * m + canvas * (1 - m)


def _route(canvas: np.ndarray, patch: np.ndarray, patch_mask: np.ndarray, inverse: np.ndarray, k: int) -> np.ndarray:
    """Warp a patch back onto the target body and paste it where its eroded mask is fully on."""
    size = canvas.shape[1], canvas.shape[0]
    routed = warp_perspective(patch, inverse, size)
    mask = _erode(warp_perspective(patch_mask, inverse, size)[..., 0], k) == 255
    return _composite(canvas, routed, mask)


def _mask3(mask: np.ndarray) -> np.ndarray:
    return np.repeat((mask * 255)[..., None], 3, axis=2).astype(np.uint8)


def _blank_under_upper(upper_masks: np.ndarray, lower_patches: np.ndarray, lower_masks: np.ndarray) -> None:
    """Blank the torso/thigh lower-garment patches wherever the matching upper-garment patch has garment."""
    for part in (0, 6, 8):
        j = LOWER_PARTS.index(part)
        keep = 1 - (upper_masks[part] > 0).any(axis=2, keepdims=True).astype(np.uint8)
        lower_patches[j] *= keep
        lower_masks[j] *= keep


def _mirror_fill(patches: np.ndarray, masks: np.ndarray) -> None:
    """Fill a missing arm from the other side (left-right flip). The forearm branch flips the EMPTY patch itself
    (official bug, kept): only its mask gets the other side's."""
    def empty(i: int) -> bool:
        return not masks[i].any()

    if empty(2) and not empty(4):
        patches[2], masks[2] = cv2.flip(patches[4], 1), cv2.flip(masks[4], 1)
    elif empty(4) and not empty(2):
        patches[4], masks[4] = cv2.flip(patches[2], 1), cv2.flip(masks[2], 1)
    if empty(3) and not empty(5):
        patches[3], masks[3] = cv2.flip(patches[3], 1), cv2.flip(masks[5], 1)
    elif empty(5) and not empty(3):
        patches[5], masks[5] = cv2.flip(patches[5], 1), cv2.flip(masks[3], 1)


# -- retain mask and skin -----------------------------------------------------------------------------------------
def _limb_band(p0: np.ndarray, p1: np.ndarray, size: int, k: int) -> np.ndarray:
    x0, y0, x1, y1 = float(p0[0]), float(p0[1]), float(p1[0]), float(p1[1])
    n = ((y0 - y1) / 4, (x1 - x0) / 4)
    poly = [x0 + n[0], y0 + n[1], x0 - n[0], y0 - n[1], x1 - n[0], y1 - n[1], x1 + n[0], y1 + n[1]]
    band = polygon_mask(poly, size, size).astype(np.float32) * 255
    return cv2.dilate(band, np.ones((k, k), np.uint8)) > 0


def retain_mask(parse: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Head, shoes and palms of the target (uint8 0/1). A palm = arm label minus the dilated upper-arm and forearm
    bands; with any of its three joints missing the band defaults to everything, so there is no palm."""
    size = parse.shape[0]
    keep = np.isin(parse, HEAD_LABELS + SHOE_LABELS)
    for (shoulder, elbow, wrist), label in (((LSHO, LELB, LWRI), 14), ((RSHO, RELB, RWRI), 15)):
        conf = keypoints[:, 2]
        up = np.ones((size, size), bool)
        bottom = np.ones((size, size), bool)
        if conf[shoulder] > 0.1 and conf[elbow] > 0.1:
            up = _limb_band(keypoints[shoulder], keypoints[elbow], size, 35)
        if conf[elbow] > 0.1 and conf[wrist] > 0.1:
            bottom = _limb_band(keypoints[elbow], keypoints[wrist], size, 28)
        keep |= (parse == label) & ~up & ~bottom
    return keep.astype(np.uint8)


def skin_average(parse: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Per-channel median of the non-zero neck+face pixels (each channel selects its own non-zero pixels)."""
    skin = np.isin(parse, SKIN_LABELS).astype(np.uint8)[..., None] * image
    out = np.zeros(3)
    for c in range(3):
        values = skin[..., c][skin[..., c] != 0]
        out[c] = np.median(values) if values.size else 0.0
    return out


# -- the three modes ----------------------------------------------------------------------------------------------
@dataclass
class _Padded:
    image: np.ndarray
    parse: np.ndarray
    sleeve: np.ndarray
    keypoints: np.ndarray
    pose: np.ndarray


def _pad_subject(subject: Subject) -> _Padded:
    height, width = subject.image.shape[:2]
    canvas, kps = draw_skeleton(np.asarray(subject.keypoints, dtype=np.float64), height, width)
    left = (height - width) // 2
    kps[:, 0] += left
    garment_parse = subject.garment_parse if subject.garment_parse is not None else np.zeros_like(subject.parse)
    sleeve = np.isin(garment_parse, SLEEVE_LABELS).astype(np.uint8)
    return _Padded(pad_to_square(subject.image, 255)[0], pad_to_square(subject.parse, 0)[0],
                   pad_to_square(sleeve, 0)[0][..., None], kps, pad_to_square(canvas, 0)[0])


def _upper_source(image: np.ndarray, mask: np.ndarray, sleeve: np.ndarray | None, part: int):
    """Upper garment image and its 0/255 mask, restricted to sleeves for arm parts (to the rest otherwise)."""
    picture, mask3 = mask[..., None] * image, _mask3(mask)
    if sleeve is not None:
        keep = sleeve if part in ARM_PARTS else 1 - sleeve
        picture, mask3 = picture * keep, mask3 * keep
    return picture, mask3


def preprocess(person: Subject, garment: Subject, mode: str = "upper", use_sleeve_mask: bool = True) -> Preprocessed:
    """The official test preprocessing for `mode` in {"upper", "lower", "full"}; `garment` is the photo of a person
    wearing the garment(s) to transfer."""
    if mode not in ("upper", "lower", "full"):
        raise ValueError(f"unknown PASTA-GAN++ mode {mode!r}")
    tgt, src = _pad_subject(person), _pad_subject(garment)
    size = tgt.image.shape[0]
    mg, mg_inv, valid_g = part_matrices(src.keypoints, size)
    mp, mp_inv, valid_p = part_matrices(tgt.keypoints, size)
    upper_patches = np.zeros((10, PATCH, PATCH, 3), np.uint8)
    upper_masks = np.zeros_like(upper_patches)
    lower_patches = np.zeros((5, PATCH, PATCH, 3), np.uint8)
    lower_masks = np.zeros_like(lower_patches)
    denorm_upper = np.zeros((size, size, 3), np.uint8)
    denorm_lower = np.zeros_like(denorm_upper)
    bound = np.zeros((size, size, 1), np.uint8)
    patch_size = (PATCH, PATCH)
    tgt_g, src_g = split_garments(tgt.parse), split_garments(src.parse)

    if mode == "upper":
        lower_mask, lower_image = tgt_g.lower, tgt_g.lower[..., None] * tgt.image
        kp = tgt.keypoints
        top = bbox_top(lower_mask)
        if kp[LHIP, 2] > 0.05 and kp[RHIP, 2] > 0.05:
            hip_width = np.linalg.norm(kp[LHIP, :2] - kp[RHIP, :2])
            knee_line = int((kp[LHIP, 1] + kp[RHIP, 1]) / 2 - 3 * hip_width / 4)
            top = knee_line if top is None else min(top, knee_line)
        if top is not None:
            bound[top:] += 255
        if src_g.dress.any():
            lower_mask = np.zeros_like(lower_mask)
            lower_image = np.zeros_like(lower_image)
            tgt_g.pants, tgt_g.skirt = np.zeros_like(tgt_g.pants), np.zeros_like(tgt_g.skirt)
            bound[:] = 0
        sleeve = src.sleeve if use_sleeve_mask else None
        without_sleeve = np.zeros_like(denorm_upper)
        for part in range(10):
            if valid_g[part]:
                picture, mask3 = _upper_source(src.image, src_g.upper, sleeve, part)
                upper_patches[part] = warp_perspective(picture, mg[part], patch_size)
                upper_masks[part] = warp_perspective(mask3, mg[part], patch_size)
                if valid_p[part]:
                    denorm_upper = _route(denorm_upper, upper_patches[part], upper_masks[part], mp_inv[part], 8)
                    if part not in ARM_PARTS:
                        without_sleeve = _route(without_sleeve, upper_patches[part], upper_masks[part],
                                                mp_inv[part], 8)
            if part in LOWER_PARTS and valid_p[part]:
                j = LOWER_PARTS.index(part)
                lower_patches[j] = warp_perspective(lower_image, mp[part], patch_size)
                lower_masks[j] = warp_perspective(_mask3(lower_mask), mp[part], patch_size)
        _blank_under_upper(upper_masks, lower_patches, lower_masks)
        denorm_lower = lower_image * (_erode(_mask3(lower_mask), 8)[..., 0:1] == 255)
        rows = np.nonzero((without_sleeve > 0).any(axis=2))[0]
        if rows.size:
            bound[:rows.max()] = 0
        label = ("pants" if tgt_g.pants.any() else "skirt" if tgt_g.skirt.any()
                 else "dress" if src_g.dress.any() else "skirt")
    elif mode == "lower":
        top = bbox_top(tgt_g.lower)
        if top is not None:
            bound[top:] = 255
        garment_lower, garment_image = src_g.lower, src_g.lower[..., None] * src.image
        if tgt_g.dress.any():
            garment_lower, garment_image = np.zeros_like(garment_lower), np.zeros_like(garment_image)
            src_g.pants, src_g.skirt = np.zeros_like(src_g.pants), np.zeros_like(src_g.skirt)
            bound[:] = 0
        sleeve = tgt.sleeve if use_sleeve_mask else None
        for part in range(10):
            if valid_p[part]:
                picture, mask3 = _upper_source(tgt.image, tgt_g.upper, sleeve, part)
                upper_patches[part] = warp_perspective(picture, mp[part], patch_size)
                upper_masks[part] = warp_perspective(mask3, mp[part], patch_size)
            if part in LOWER_PARTS and valid_g[part]:
                j = LOWER_PARTS.index(part)
                lower_patches[j] = warp_perspective(garment_image, mg[part], patch_size)
                lower_masks[j] = warp_perspective(_mask3(garment_lower), mg[part], patch_size)
                if valid_p[part]:
                    denorm_lower = _route(denorm_lower, lower_patches[j], lower_masks[j], mp_inv[part], 5)
        _blank_under_upper(upper_masks, lower_patches, lower_masks)
        upper_image = tgt_g.upper[..., None] * tgt.image
        denorm_upper = upper_image * (_erode(_mask3(tgt_g.upper), 8)[..., 0:1] == 255)
        label = ("pants" if src_g.pants.any() else "skirt" if src_g.skirt.any()
                 else "dress" if tgt_g.dress.any() else "skirt")
    else:
        sleeve = src.sleeve if use_sleeve_mask else None
        lower_image = src_g.lower[..., None] * src.image
        for part in range(10):
            if not valid_g[part]:
                continue
            picture, mask3 = _upper_source(src.image, src_g.upper, sleeve, part)
            upper_patches[part] = warp_perspective(picture, mg[part], patch_size)
            upper_masks[part] = warp_perspective(mask3, mg[part], patch_size)
            if valid_p[part]:
                denorm_upper = _route(denorm_upper, upper_patches[part], upper_masks[part], mp_inv[part], 5)
            if part in LOWER_PARTS:
                j = LOWER_PARTS.index(part)
                lower_patches[j] = warp_perspective(lower_image, mg[part], patch_size)
                lower_masks[j] = warp_perspective(_mask3(src_g.lower), mg[part], patch_size)
                if valid_p[part]:
                    denorm_lower = _route(denorm_lower, lower_patches[j], lower_masks[j], mp_inv[part], 5)
        top = bbox_top(denorm_lower.astype(np.int64).sum(axis=2) > 0)
        if top is not None:
            bound[top:] = 255
        label = "pants" if src_g.pants.any() else "skirt" if src_g.skirt.any() else "dress" if src_g.dress.any() \
            else "skirt"
        if label == "dress":
            bound[:] = 0
    _mirror_fill(upper_patches, upper_masks)

    def chw(stack: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(stack.transpose(0, 3, 1, 2).reshape(-1, PATCH, PATCH))

    return Preprocessed(
        person_image=tgt.image, columns=pad_to_square(person.image, 255)[1],
        person_keypoints=tgt.keypoints, garment_keypoints=src.keypoints,
        pose=np.ascontiguousarray(tgt.pose.transpose(2, 0, 1)),
        norm_img=chw(upper_patches), norm_img_lower=chw(lower_patches),
        part_masks=np.ascontiguousarray(upper_masks[..., 0]),
        part_masks_lower=np.ascontiguousarray(lower_masks[..., 0]),
        M_garment=mg, M_inv_garment=mg_inv, M_person=mp, M_inv_person=mp_inv,
        part_valid_garment=valid_g, part_valid_person=valid_p,
        denorm_upper=np.ascontiguousarray(denorm_upper.transpose(2, 0, 1)),
        denorm_lower=np.ascontiguousarray(denorm_lower.transpose(2, 0, 1)),
        retain_mask=retain_mask(tgt.parse, tgt.keypoints)[None],
        skin_average=skin_average(tgt.parse, tgt.image),
        lower_label_value=np.array([LOWER_LABEL_VALUES[label] / 2 * 255]),
        lower_clothes_upper_bound=np.ascontiguousarray(bound.transpose(2, 0, 1)),
    )
