"""The LaDI-VTON backend end to end on tiny weights, its availability, and its dataset-exact inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.tiny_ladi_vton import KIT, make_tiny_ladi_vton_folder
from tryon.backends.base import get_backend, run_one
from tryon.backends.ladi_vton import inputs
from tryon.backends.ladi_vton.backend import LadiVtonBackend
from tryon.runtime import Runtime
from tryon.sample import TryOnSample


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> LadiVtonBackend:
    return LadiVtonBackend.from_pretrained(make_tiny_ladi_vton_folder(tmp_path_factory.mktemp("ladi")))


def synthetic_sample(height: int = 300, width: int = 200, category: str = "upper") -> TryOnSample:
    """A standing figure: parse blobs for face/hair/upper clothes/arms/pants and COCO-18 keypoints on them."""
    rng = np.random.default_rng(0)
    parse = np.zeros((height, width), np.uint8)
    parse[10:40, 80:120] = 2
    parse[40:80, 85:115] = 13
    parse[80:180, 60:140] = 5
    parse[80:170, 40:60] = 14
    parse[80:170, 140:160] = 15
    parse[180:290, 65:135] = 9
    keypoints = np.zeros((18, 3), np.float32)
    named = {0: (100, 60), 1: (100, 85), 2: (65, 85), 3: (50, 125), 4: (50, 165), 5: (135, 85), 6: (150, 125),
             7: (150, 165), 8: (80, 180), 11: (120, 180), 14: (95, 55), 15: (105, 55)}
    for i, (x, y) in named.items():
        keypoints[i] = (x, y, 0.9)
    person = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    garment = rng.integers(0, 255, (256, 192, 3), dtype=np.uint8)
    return TryOnSample(person=person, garment=garment, category=category, keypoints=keypoints, parse=parse)


def test_registered_under_its_name() -> None:
    assert isinstance(get_backend("ladi-vton"), LadiVtonBackend)


def test_status_ready_with_weights_and_names_the_fetch_command_without(backend: LadiVtonBackend,
                                                                         tmp_path: Path) -> None:
    assert backend.status().ready
    empty = LadiVtonBackend.from_pretrained(tmp_path).status()
    assert not empty.ready
    assert "python -m tryon weights fetch ladi-vton" in empty.message
    assert "vitonhd/unet_vitonhd.pth" in empty.missing


def test_runs_end_to_end_at_the_person_size_and_is_deterministic(backend: LadiVtonBackend) -> None:
    sample = synthetic_sample()
    runtime = Runtime(device="cpu", dtype="fp32")
    first = run_one(backend, sample, {"seed": 7, "steps": 2}, runtime)
    assert first.ok, first.error
    assert first.image.shape == (300, 200, 3) and first.image.dtype == np.uint8
    again = run_one(backend, sample, {"seed": 7, "steps": 2}, runtime)
    other = run_one(backend, sample, {"seed": 8, "steps": 2}, runtime)
    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)


def test_dress_uses_the_dresscode_variant(backend: LadiVtonBackend) -> None:
    result = run_one(backend, synthetic_sample(category="dress"), {"seed": 1, "steps": 1},
                     Runtime(device="cpu", dtype="fp32"))
    assert result.ok, result.error
    assert backend._variant == "dresscode"


def test_sample_inputs_equal_the_official_dataset_mask_and_pose(backend: LadiVtonBackend) -> None:
    """A TryOnSample at 512x384 from the golden case b person gives the dataset's inpaint mask and pose map."""
    from safetensors.torch import load_file

    case = load_file(str(KIT / "cases" / "case_b_inpaint_mask.safetensors"))
    person = case["person_u8"].numpy()
    parse = inputs.resize_parse(case["parse_1024"].numpy(), 512, 384)
    kp = inputs.body25_to_coco18(case["keypoints_body25_v1"].numpy(), 512, 384)
    present = (kp[:, 0] > 0) | (kp[:, 1] > 0)
    keypoints = np.concatenate([kp, present[:, None].astype(np.float64)], 1).astype(np.float32)
    sample = TryOnSample(person=person, garment=person, keypoints=keypoints, parse=parse)
    batch = backend.prepare(sample)
    assert torch.equal(batch["mask"][0].to(torch.uint8), case["inpaint_mask_v1"])
    expected_pose = torch.from_numpy(inputs.pose_map(kp.astype(np.float32), 512, 384))
    assert torch.allclose(batch["pose_map"][0], expected_pose, atol=1e-5)
