"""VITON-HD folders: prepare -> read round trip, the user's own folders, and clear errors for broken ones."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from assets.make_examples import tshirt
from tryon import __version__
from tryon.cli import main
from tryon.dataset import VitonFolder, prepare_to_folder
from tryon.errors import InputError
from tryon.evaluate import evaluate, infer
from tryon.imaging import load_image
from tryon.openpose import read_keypoints
from tryon.preprocess import prepare_sample
from tryon.workflow import run_record

EXAMPLES = Path(__file__).parents[1] / "assets" / "examples"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("viton")
    person, garment = root / "p.png", root / "g.png"
    from tryon.imaging import save_image

    save_image(data.astronaut(), person)
    save_image(tshirt((200, 30, 40)), garment)
    sample = prepare_to_folder(person, garment, root / "ds", "astro", "upper")
    return root, sample


def test_prepare_writes_the_viton_layout(prepared):
    root, _ = prepared
    ds = root / "ds"
    for rel in ("image/astro.jpg", "cloth/astro.jpg", "cloth-mask/astro.png", "agnostic-mask/astro_mask.png",
                "image-parse-v3/astro.png", "openpose_json/astro_keypoints.json", "openpose_img/astro_rendered.png"):
        assert (ds / rel).is_file(), rel
    assert (ds / "test_pairs.txt").read_text().splitlines() == ["astro.jpg astro.jpg"]
    assert len(json.loads((ds / "openpose_json/astro_keypoints.json").read_text())["people"][0]
               ["pose_keypoints_2d"]) == 54


def test_read_back_equals_preprocessing_the_stored_photos(prepared):
    """The folder gives the same sample as uploading its two photos."""
    root, _ = prepared
    folder = VitonFolder(root / "ds")
    read = folder.load_sample("astro.jpg", "astro.jpg")
    fresh = prepare_sample(folder.image_path("astro.jpg"), folder.cloth_path("astro.jpg"), "upper")
    assert np.array_equal(read.person, fresh.person) and np.array_equal(read.garment, fresh.garment)
    assert np.allclose(read.keypoints, fresh.keypoints, atol=1e-3)
    for field in ("parse", "garment_mask", "agnostic_mask"):
        assert np.array_equal(getattr(read, field), getattr(fresh, field)), field
    assert read.ground_truth is None
    assert folder.load_sample("astro.jpg", "astro.jpg", paired=True).ground_truth is not None


def test_prepare_records_how_the_sample_was_made(prepared):
    root, sample = prepared
    record = json.loads((root / "ds" / "provenance" / "astro.json").read_text())
    assert record["id"] == "astro" and record["category"] == "upper"
    assert record["sources"] == {"person": "p.png", "garment": "g.png"}  # file names, not local paths
    assert record["estimators"]["keypoints"].startswith("mediapipe")  # the embedded estimator (no OpenPose here)
    assert record["estimators"]["parse"] == sample.provenance["parse"]
    assert set(record["estimators"]) == {"keypoints", "parse", "garment_mask", "agnostic_mask"}
    assert record["versions"]["tryon"] == __version__ and "mediapipe" in record["versions"]
    assert record["assumptions"] == sample.notes


def test_the_record_is_read_back_and_carried_into_reports(prepared, tmp_path):
    """VitonFolder gives the record to the sample (so run.json has it), infer.json and metrics.json carry it."""
    root, _ = prepared
    record = json.loads((root / "ds" / "provenance" / "astro.json").read_text())
    folder = VitonFolder(root / "ds")
    read = folder.load_sample("astro.jpg", "astro.jpg")
    assert read.provenance["prepared"] == {"astro": record}
    assert all(note in read.notes for note in record["assumptions"])
    assert run_record(read, [])["preprocessing"]["prepared"] == {"astro": record}

    infer(root / "ds", ["warp"], tmp_path / "results", progress=False)
    assert json.loads((tmp_path / "results" / "infer.json").read_text())["provenance"] == {"astro": record}
    report = evaluate(root / "ds", {"warp": tmp_path / "results" / "warp"}, tmp_path / "report", progress=False,
                      ssim=False)
    assert report["provenance"] == {"astro": record}
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["provenance"] == {"astro": record}


def test_a_folder_without_records_still_works():
    folder = VitonFolder(EXAMPLES / "dataset")
    assert not (EXAMPLES / "dataset" / "provenance").exists()
    assert folder.provenance(folder.pairs()) == {}
    assert "prepared" not in folder.load_sample(*folder.pairs()[0]).provenance


def test_a_damaged_record_is_named(prepared, tmp_path):
    root, _ = prepared
    copy = Path(shutil.copytree(root / "ds", tmp_path / "ds"))
    (copy / "provenance" / "astro.json").write_text("{not json")
    with pytest.raises(InputError, match=r"provenance/astro\.json: malformed JSON"):
        VitonFolder(copy).load_sample("astro.jpg", "astro.jpg")


def test_examples_folder_reads_with_prompts_absent():
    folder = VitonFolder(EXAMPLES / "dataset")
    pairs = folder.pairs()
    assert len(pairs) >= 2 and folder.check(pairs) == []
    sample = folder.load_sample(*pairs[0])
    assert sample.prompts is None and sample.keypoints.shape == (18, 3)


def test_missing_cloth_file_is_named(prepared, tmp_path):
    root, _ = prepared
    copy = tmp_path / "ds"
    shutil.copytree(root / "ds", copy)
    (copy / "cloth" / "astro.jpg").unlink()
    folder = VitonFolder(copy)
    assert any("cloth/astro" in p for p in folder.check())
    with pytest.raises(InputError, match=r"cloth/astro\.\*: missing file"):
        folder.load_sample("astro.jpg", "astro.jpg")


def test_malformed_keypoints_json_is_named(prepared, tmp_path):
    root, _ = prepared
    copy = tmp_path / "ds"
    shutil.copytree(root / "ds", copy)
    (copy / "openpose_json" / "astro_keypoints.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2')
    with pytest.raises(InputError, match="astro_keypoints.json: malformed OpenPose keypoints JSON"):
        VitonFolder(copy).load_sample("astro.jpg", "astro.jpg")


def test_body25_keypoints_and_gpt4o_prompts(tmp_path):
    """The seed coursework's folders: BODY_25 JSON and test_gpt4o.json attributes."""
    body25 = np.arange(75, dtype=np.float32).reshape(25, 3)
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": body25.reshape(-1).tolist()}]}))
    coco = read_keypoints(path)
    assert coco.shape == (18, 3) and coco[8].tolist() == body25[9].tolist()  # MidHip dropped
    ds = tmp_path / "ds"
    for folder in ("image", "cloth"):
        (ds / folder).mkdir(parents=True)
    from tryon.imaging import save_image

    save_image(data.astronaut(), ds / "image" / "00006_00.jpg")
    save_image(tshirt((10, 120, 60)), ds / "cloth" / "00008_00.jpg")
    (ds / "test_pairs.txt").write_text("00006_00.jpg 00008_00.jpg\n")
    (ds / "test_gpt4o.json").write_text(json.dumps({
        "00006_00": {"person": {"gender": "woman"}, "clothing": {"sleeve": "long"}},
        "00008_00": {"person": {"gender": "man"}, "clothing": {"sleeve": "short sleeves"}},
    }))
    sample = VitonFolder(ds).load_sample(*VitonFolder(ds).pairs()[0])
    assert sample.prompts == {"person": {"gender": "woman"}, "clothing": {"sleeve": "short sleeves"}}
    assert sample.provenance["keypoints"].startswith("mediapipe")  # computed: no openpose_json folder


def test_cli_prepare(tmp_path, capsys):
    photos = EXAMPLES / "photos"
    code = main(["prepare", "--person", str(photos / "person_astronaut.jpg"), "--garment",
                 str(photos / "garment_red_tee.jpg"), "--out", str(tmp_path / "ds"), "--id", "a1"])
    assert code == 0
    assert load_image(tmp_path / "ds" / "image" / "a1.jpg").shape[2] == 3
    out = capsys.readouterr().out
    assert "a1" in out and str(tmp_path / "ds" / "provenance" / "a1.json") in out
