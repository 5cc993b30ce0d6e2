"""The weight-free warp baseline on synthetic people and product photos drawn here (no fixtures, no network)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon.backends.base import Generated, RunContext, run_one, tools_for
from tryon.backends.warp.backend import WarpBackend
from tryon.backends.warp.options import WarpOptions
from tryon.backends.warp.tps import ThinPlateSpline, warp_image
from tryon.errors import InputError
from tryon.preprocess.masks import garment_mask
from tryon.sample import COCO18_NAMES, TryOnSample


def _run(sample: TryOnSample, seed: int = 0) -> Generated:
    """The backend called directly (errors raised), with the tools the runner would hand it."""
    backend = WarpBackend()
    return backend.generate(sample, WarpOptions(seed=seed), RunContext.seeded(seed, tools=tools_for(backend)))


def _warp(sample: TryOnSample, seed: int = 0) -> np.ndarray:
    return _run(sample, seed).image

SKIN = (224, 172, 140)
OLD_SHIRT = (40, 120, 40)  # green: must disappear from the torso
OLD_PANTS = (60, 60, 150)
BACKGROUND = (200, 200, 210)
NEW_GARMENT = (200, 30, 30)  # red


def _kp(points: dict[str, tuple[float, float]]) -> np.ndarray:
    keypoints = np.zeros((18, 3), np.float32)
    for name, (x, y) in points.items():
        keypoints[COCO18_NAMES.index(name)] = (x, y, 0.9)
    return keypoints


def _full_body(h: int = 512, w: int = 384) -> TryOnSample:
    """A front-facing stick person: skin limbs, a green shirt, blue trousers; keypoints and parse to match."""
    sx, sy = w / 384, h / 512
    pts = {
        "nose": (192, 60), "neck": (192, 110), "r_shoulder": (150, 112), "l_shoulder": (234, 112),
        "r_elbow": (135, 185), "l_elbow": (249, 185), "r_wrist": (128, 255), "l_wrist": (256, 255),
        "r_hip": (165, 255), "l_hip": (219, 255), "r_knee": (165, 360), "l_knee": (219, 360),
        "r_ankle": (165, 465), "l_ankle": (219, 465), "r_eye": (182, 52), "l_eye": (202, 52),
    }
    pts = {k: (x * sx, y * sy) for k, (x, y) in pts.items()}
    person = np.full((h, w, 3), BACKGROUND, np.uint8)
    parse = np.zeros((h, w), np.uint8)

    limb = max(3, round(16 * sx))

    def p(name: str) -> tuple[int, int]:
        return round(pts[name][0]), round(pts[name][1])

    def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        layer = np.zeros((h, w), np.uint8)
        cv2.rectangle(layer, (round(x0 * sx), round(y0 * sy)), (round(x1 * sx), round(y1 * sy)), 1, -1)
        return layer

    def limbs(*segments: tuple[str, str]) -> np.ndarray:
        layer = np.zeros((h, w), np.uint8)
        for a, b in segments:
            cv2.line(layer, p(a), p(b), 1, limb)
        return layer

    head = np.zeros((h, w), np.uint8)
    cv2.circle(head, p("nose"), round(32 * sx), 1, -1)
    # Painted back to front: legs, trousers, shirt, head, arms (the parse keeps the front-most label).
    for label, colour, layer in (
        (16, SKIN, limbs(("r_hip", "r_ankle"), ("l_hip", "l_ankle"))),
        (9, OLD_PANTS, rect(150, 250, 234, 440)),
        (5, OLD_SHIRT, rect(146, 105, 238, 265)),
        (13, SKIN, head),
        (15, SKIN, limbs(("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"))),
        (14, SKIN, limbs(("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"))),
    ):
        person[layer > 0] = colour
        parse[layer > 0] = label
    agnostic = cv2.dilate(np.isin(parse, (5, 14, 15)).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    return TryOnSample(person=person, garment=_tshirt(), keypoints=_kp(pts), parse=parse, agnostic_mask=agnostic,
                       person_mask=parse > 0)


def _tshirt(h: int = 256, w: int = 192, colour: tuple[int, int, int] = NEW_GARMENT) -> np.ndarray:
    """A flat T-shirt product photo on white: torso rectangle, two short sleeves, a neckline cut out."""
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.rectangle(img, (50, 40), (142, 230), colour, -1)
    cv2.fillPoly(img, [np.array([[50, 40], [15, 95], [40, 110], [55, 80]])], colour)
    cv2.fillPoly(img, [np.array([[142, 40], [177, 95], [152, 110], [137, 80]])], colour)
    cv2.ellipse(img, (96, 40), (22, 14), 0, 0, 180, (255, 255, 255), -1)
    return img


def _trousers(h: int = 256, w: int = 192) -> np.ndarray:
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.fillPoly(img, [np.array([[50, 20], [142, 20], [150, 235], [104, 235], [96, 90], [88, 235], [42, 235]])],
                 NEW_GARMENT)
    return img


def _dress(h: int = 256, w: int = 192) -> np.ndarray:
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.fillPoly(img, [np.array([[70, 15], [122, 15], [118, 100], [165, 240], [27, 240], [74, 100]])], NEW_GARMENT)
    return img


def _is_colour(image: np.ndarray, colour: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    return np.abs(image.astype(int) - np.array(colour)).sum(axis=-1) < tol


def _torso_box(sample: TryOnSample) -> tuple[slice, slice]:
    h, w = sample.size
    return slice(round(0.3 * h), round(0.45 * h)), slice(round(0.42 * w), round(0.58 * w))


def test_upper_garment_replaces_the_shirt_on_the_torso() -> None:
    sample = _full_body()
    out = _warp(sample)
    assert out.shape == sample.person.shape and out.dtype == np.uint8
    torso = out[_torso_box(sample)]
    assert _is_colour(torso, NEW_GARMENT).mean() > 0.9
    # The old shirt is gone from the region (erased or covered), not left showing around the new one.
    assert _is_colour(out, OLD_SHIRT)[sample.agnostic_mask].mean() < 0.02


def test_pixels_outside_the_agnostic_mask_are_kept_exactly() -> None:
    sample = _full_body()
    out = _warp(sample)
    outside = ~sample.agnostic_mask
    assert np.array_equal(out[outside], sample.person[outside])
    assert not np.array_equal(out[sample.agnostic_mask], sample.person[sample.agnostic_mask])


def test_arms_and_face_stay_in_front() -> None:
    sample = _full_body()
    out = _warp(sample)
    keep = np.isin(sample.parse, (13, 14, 15))
    assert np.array_equal(out[keep], sample.person[keep])


def test_portrait_without_hips_still_works_and_says_what_it_assumed() -> None:
    h, w = 400, 400
    person = np.full((h, w, 3), BACKGROUND, np.uint8)
    cv2.circle(person, (200, 120), 60, SKIN, -1)
    cv2.rectangle(person, (110, 220), (290, 399), OLD_SHIRT, -1)
    keypoints = _kp({"nose": (200, 130), "neck": (200, 225), "r_shoulder": (130, 235), "l_shoulder": (270, 235)})
    keypoints[COCO18_NAMES.index("r_hip"), 2] = 0.05  # detected with too little confidence to trust
    sample = TryOnSample(person=person, garment=_tshirt(), keypoints=keypoints)
    generated = _run(sample)
    out = generated.image
    assert out.shape == person.shape
    assert _is_colour(out[260:380, 170:230], NEW_GARMENT).mean() > 0.9
    assert any("hips" in note and "extrapolated" in note for note in generated.notes)
    assert np.array_equal(out[:60], person[:60])  # far above the garment nothing changes


@pytest.mark.parametrize(
    ("category", "garment", "box"), [("lower", _trousers, (0.55, 0.75)), ("dress", _dress, (0.3, 0.6))]
)
def test_lower_and_dress_cover_their_body_part(category: str, garment, box: tuple[float, float]) -> None:
    sample = _full_body()
    sample.category = category
    sample.garment = garment()
    sample.agnostic_mask = None  # derive the region from the parse
    out = _warp(sample)
    h, w = sample.size
    ys = slice(round(box[0] * h), round(box[1] * h))
    xs = slice(round(0.4 * w), round(0.6 * w))
    assert _is_colour(out[ys, xs], NEW_GARMENT).mean() > 0.6
    if category == "lower":  # a bottom leaves the shirt alone
        assert np.array_equal(out[_torso_box(sample)], sample.person[_torso_box(sample)])


def test_deterministic_and_seed_independent() -> None:
    sample = _full_body()
    first = _warp(sample, seed=1)
    assert np.array_equal(first, _warp(sample, seed=1))
    assert np.array_equal(first, _warp(sample, seed=12345))


def test_garment_photo_without_plain_background_is_a_clear_input_error() -> None:
    sample = _full_body()
    rng = np.random.default_rng(0)
    sample.garment = rng.integers(0, 256, sample.garment.shape, dtype=np.uint8)
    with pytest.raises(InputError, match="separable background") as info:
        _warp(sample)
    assert "\n" not in str(info.value)


def test_given_garment_mask_must_match_the_photo() -> None:
    sample = _full_body()
    sample.garment_mask = np.ones((10, 10), bool)
    with pytest.raises(InputError, match="garment mask"):
        _warp(sample)


def test_runner_reports_time_seed_and_notes_at_full_resolution() -> None:
    sample = _full_body(1024, 768)
    sample.keypoints[[COCO18_NAMES.index("r_elbow"), COCO18_NAMES.index("l_elbow")], 2] = 0.0
    result = run_one(WarpBackend(), sample, {"seed": 7})
    assert result.ok, result.error
    assert result.image.shape == (1024, 768, 3)
    assert result.seed == 7
    assert 0 < result.seconds < 5
    assert any("elbow" in note for note in result.notes)
    assert result.to_record()["notes"] == result.notes


def test_thin_plate_spline_hits_its_landmarks_and_reproduces_affine_maps() -> None:
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 500, (9, 2))
    dst = src + rng.normal(0, 20, src.shape)
    assert np.abs(ThinPlateSpline(src, dst, regularization=0.0)(src) - dst).max() < 1e-6
    affine = np.array([[1.2, 0.1], [-0.2, 0.9]])
    probe = rng.uniform(0, 500, (50, 2))
    spline = ThinPlateSpline(src, src @ affine.T + 7)
    assert np.abs(spline(probe) - (probe @ affine.T + 7)).max() < 1e-3


def test_keypoints_without_shoulders_or_hips_are_a_clear_input_error() -> None:
    sample = _full_body()
    sample.keypoints[:, 2] = 0.0
    sample.keypoints[COCO18_NAMES.index("nose"), 2] = 0.9
    with pytest.raises(InputError, match="keypoints"):
        _warp(sample)


def test_a_bottom_goes_behind_the_top() -> None:
    sample = _full_body()
    sample.category = "lower"
    sample.garment = _trousers()
    sample.agnostic_mask = None
    out = _warp(sample)
    shirt = sample.parse == 5
    assert np.array_equal(out[shirt], sample.person[shirt])
    assert _is_colour(out, OLD_PANTS)[sample.parse == 9].mean() < 0.05


def test_stripes_in_the_background_colour_do_not_cut_the_garment_apart() -> None:
    striped = _tshirt(colour=(30, 60, 160))
    striped[50:230:20] = 255  # white stripes right across, as white as the background
    striped[51:230:20] = 255
    striped[52:230:20] = 255
    mask = garment_mask(striped)
    solid = garment_mask(_tshirt())
    assert (mask & solid).sum() / (mask | solid).sum() > 0.95


def test_warp_image_moves_pixels_to_where_the_landmarks_say() -> None:
    yy, xx = np.mgrid[0:120, 0:90]
    image = np.stack([xx * 2, yy * 2, np.zeros_like(xx)], axis=-1).astype(np.uint8)
    garment_points = np.array([[10, 10], [80, 10], [10, 110], [80, 110], [45, 60]], float)
    warped, alpha = warp_image(image, np.ones((120, 90), bool), garment_points + (20, 7), garment_points, (150, 130))
    assert np.array_equal(warped[7:127, 20:110], image)
    assert alpha[7:127, 20:110].min() == 1.0 and alpha[:6].max() == 0.0
