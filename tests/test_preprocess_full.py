"""Full-quality preprocessing with tiny random ONNX parsers and a random OpenPose-format state dict built here."""

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from skimage import data

from assets.make_examples import tshirt
from tryon import preprocess, weights
from tryon.cli import main
from tryon.errors import InputError
from tryon.preprocess import estimators, prepare_sample
from tryon.preprocess.openpose import (
    LIMBS,
    PAF_CHANNELS,
    BodyPoseNet,
    assemble_people,
    find_peaks,
    largest_person,
    network_maps,
)
from tryon.preprocess.overrides import mask_from_drawing
from tryon.preprocess.schp import ATR_SIZE, LIP_SIZE, SCHPNet, SCHPParser, merge_atr_lip

# A standing person (x, y) in COCO-18 order, on a 200x160 map.
SKELETON = np.array([
    (80, 30), (80, 55), (60, 55), (55, 80), (52, 105), (100, 55), (105, 80), (108, 105), (68, 110), (66, 140),
    (65, 175), (92, 110), (94, 140), (95, 175), (75, 25), (85, 25), (70, 28), (90, 28),
], np.float32)


def synthetic_maps(people: list[np.ndarray], shape=(200, 160)) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian joint heatmaps and unit-vector PAFs painted along every limb of every person."""
    h, w = shape
    ys, xs = np.mgrid[:h, :w]
    heat, paf = np.zeros((h, w, 19), np.float32), np.zeros((h, w, 38), np.float32)
    for person in people:
        for j, (x, y) in enumerate(person):
            heat[:, :, j] = np.maximum(heat[:, :, j], np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 4.0**2)))
        for (a, b), (cx, cy) in zip(LIMBS, PAF_CHANNELS, strict=True):
            vec = person[b] - person[a]
            length = np.hypot(*vec)
            u = vec / length
            along = (xs - person[a][0]) * u[0] + (ys - person[a][1]) * u[1]
            across = np.abs((xs - person[a][0]) * u[1] - (ys - person[a][1]) * u[0])
            on = (along >= 0) & (along <= length) & (across <= 3)
            paf[on, cx], paf[on, cy] = u[0], u[1]
    return heat, paf


def test_decoding_recovers_known_skeleton_and_picks_largest_person():
    small = SKELETON * 0.4 + np.array([110, 10], np.float32)
    heat, paf = synthetic_maps([SKELETON, small])
    people = assemble_people(find_peaks(heat), paf, heat.shape[0])
    assert len(people) == 2
    best = largest_person(people)
    np.testing.assert_allclose(best[:, :2], SKELETON, atol=1.0)
    assert (best[:, 2] > 0.5).all()


def test_decoding_drops_joints_without_a_limb_field():
    heat, paf = synthetic_maps([SKELETON])
    paf[:, :, [4, 5]] = 0  # the right knee -> ankle field
    person = largest_person(assemble_people(find_peaks(heat), paf, heat.shape[0]))
    assert person[10, 2] == 0 and person[9, 2] > 0


def test_decoding_finds_nobody_in_empty_maps():
    people = assemble_people(find_peaks(np.zeros((50, 40, 19), np.float32)), np.zeros((50, 40, 38)), 50)
    assert people == [] and largest_person(people) is None


@pytest.fixture(scope="module")
def openpose_file(tmp_path_factory):
    """A random state dict in the mirrored file's layout: layer names without the block prefix."""
    torch.manual_seed(0)
    state = {key.split(".", 1)[1]: value for key, value in BodyPoseNet().state_dict().items()}
    path = tmp_path_factory.mktemp("openpose") / "body_pose_model.pth"
    torch.save(state, path)
    return path


def test_openpose_loads_strictly_and_runs(openpose_file):
    net = BodyPoseNet.from_pretrained(openpose_file)
    assert "model6_2.Mconv7_stage6_L2.weight" in net.state_dict()
    assert net.state_dict()["model1_1.conv5_5_CPM_L1.weight"].shape == (38, 512, 1, 1)
    paf, heat = net(torch.zeros(1, 3, 64, 48))
    assert paf.shape == (1, 38, 8, 6) and heat.shape == (1, 19, 8, 6)
    heat_maps, paf_maps = network_maps(net, np.zeros((46, 30, 3), np.uint8), scales=(0.25,))
    assert heat_maps.shape == (46, 30, 19) and paf_maps.shape == (46, 30, 38)
    broken = {key.split(".", 1)[1]: value for key, value in net.state_dict().items() if "conv1_1" not in key}
    with pytest.raises(RuntimeError, match="conv1_1"):
        BodyPoseNet.from_state_dict(broken)


def colour_parser_onnx(labels: int, red_label: int, blue_label: int) -> bytes:
    """A stride-2 1x1 conv whose logits say `blue_label` where the input's B channel is high and `red_label`
    where R is high (input channels are B, G, R); plus a 2-channel edge head the parser must ignore."""
    weight = np.zeros((labels, 3, 1, 1), np.float32)
    bias = np.full(labels, -10, np.float32)
    weight[blue_label, 0], weight[red_label, 2] = 1, 1
    bias[[blue_label, red_label]] = 0
    nodes = [
        helper.make_node("Conv", ["input.1", "w", "b"], ["parse"], strides=[2, 2]),
        helper.make_node("Conv", ["input.1", "we"], ["edge"], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_schp",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, None, None])],
        [helper.make_tensor_value_info("edge", TensorProto.FLOAT, [1, 2, None, None]),
         helper.make_tensor_value_info("parse", TensorProto.FLOAT, [1, labels, None, None])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b"),
         numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "we")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def red_blue_person(height=90, width=50) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2, 0] = 255
    image[:, width // 2 :, 2] = 255
    return image


def test_schp_net_bgr_input_and_back_transform():
    net = SCHPNet(colour_parser_onnx(20, red_label=2, blue_label=5), LIP_SIZE, 20)
    image = red_blue_person()
    logits = net.logits(image)
    assert logits.shape == (20, 90, 50)
    parse = net(image)
    assert (parse[:, :20] == 2).all() and (parse[:, -20:] == 5).all()


def test_label_merging_into_viton_ids():
    lip = np.array([[13, 0, 10, 5]], np.uint8)
    atr = np.array([[11, 11, 0, 4]], np.uint8)
    assert merge_atr_lip(atr, lip).tolist() == [[13, 10, 6, 5]]  # face, neck, jumpsuit -> dress, upper


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(preprocess, "_cache", {})
    return tmp_path


def test_fallback_to_embedded_when_weights_absent(weights_dir):
    tools = estimators()
    assert tools.pose.name.startswith("mediapipe") and tools.parser.name.startswith("approximate")
    sample = prepare_sample(data.astronaut(), tshirt((200, 30, 40)), "upper", tools=tools)
    assert sample.provenance["keypoints"].startswith("mediapipe")
    assert sample.provenance["parse"].startswith("approximate")


def test_full_quality_chosen_when_weights_present(weights_dir, openpose_file):
    source = weights_dir / "downloads"
    source.mkdir()
    (source / "parsing_atr.onnx").write_bytes(colour_parser_onnx(18, red_label=2, blue_label=4))
    (source / "parsing_lip.onnx").write_bytes(colour_parser_onnx(20, red_label=2, blue_label=5))
    (source / "nested").mkdir()
    (source / "nested" / "body_pose_model.pth").write_bytes(openpose_file.read_bytes())
    assert main(["weights", "fetch", "preprocess", "--from", str(source)]) == 0
    assert {"openpose-body", "schp-atr", "schp-lip"} <= set(weights.read_manifest(weights_dir))
    tools = estimators()
    assert tools.pose.name.startswith("openpose") and isinstance(tools.parser, SCHPParser)
    assert (tools.parser.atr.size, tools.parser.lip.size) == (ATR_SIZE, LIP_SIZE)
    # Random OpenPose weights find nobody, so the embedded pose runs here; the parse is SCHP's.
    tools = estimators(pose="mediapipe")
    sample = prepare_sample(data.astronaut(), tshirt((200, 30, 40)), "upper", tools=tools)
    assert sample.provenance["parse"] == SCHPParser.name and sample.provenance["keypoints"].startswith("mediapipe")
    assert set(np.unique(sample.parse)) <= {2, 5}


def test_keypoints_override_is_used_and_checked():
    person, garment = data.astronaut(), tshirt((200, 30, 40))
    sample = prepare_sample(person, garment, "upper", keypoints_override=np.c_[SKELETON * 2, np.ones(18)])
    np.testing.assert_allclose(sample.keypoints[:, :2], SKELETON * 2)
    assert sample.provenance["keypoints"] == "user"
    with pytest.raises(InputError, match="18 rows"):
        prepare_sample(person, garment, "upper", keypoints_override=np.zeros((17, 3)))


def test_mask_from_drawing():
    layer = np.zeros((100, 80, 4), np.uint8)
    layer[20:60, 10:50] = (255, 255, 255, 200)
    value = {"background": np.zeros((100, 80, 3), np.uint8), "layers": [layer], "composite": None}
    mask = mask_from_drawing(value, (50, 40))
    assert mask.shape == (50, 40) and mask.dtype == bool
    assert mask[10:30, 5:25].all() and mask.sum() == 20 * 20
    assert not mask_from_drawing(None, (5, 4)).any()
    with pytest.raises(InputError, match="RGBA"):
        mask_from_drawing({"layers": [np.zeros((4, 4, 3))]}, (4, 4))
