"""The named API endpoint: gradio_client calls /tryon with person, garment, category and backends."""

from pathlib import Path

from gradio_client import Client, handle_file

from tests.browser import served
from tryon.ui import build_app

PHOTOS = Path(__file__).parents[1] / "assets" / "examples" / "photos"


def test_tryon_endpoint_returns_result_images():
    with served(build_app()) as url:
        client = Client(url, verbose=False, download_files=False)
        gallery, slider, status, archive, *_ = client.predict(
            person=handle_file(str(PHOTOS / "person_astronaut.jpg")),
            garment=handle_file(str(PHOTOS / "garment_red_tee.jpg")),
            category="upper",
            backends=["warp"],
            api_name="/tryon",
        )
    assert len(gallery) == 1 and gallery[0]["caption"].startswith("warp")
    assert "done" in status
    assert archive is not None and str(archive["path"] if isinstance(archive, dict) else archive).endswith(".zip")


def test_tryon_endpoint_reports_bad_input_without_traceback(tmp_path):
    bad = tmp_path / "not_an_image.jpg"
    bad.write_text("hello")
    with served(build_app()) as url:
        client = Client(url, verbose=False, download_files=False)
        try:
            client.predict(person=handle_file(str(bad)), garment=handle_file(str(PHOTOS / "garment_red_tee.jpg")),
                           category="upper", backends=["warp"], api_name="/tryon")
        except Exception as exc:  # gradio_client raises AppError with the gr.Error message
            message = str(exc)
        else:
            raise AssertionError("a non-image upload must be refused")
    assert "not an image" in message and "Traceback" not in message


def test_keypoint_and_mask_corrections_override_the_estimators():
    import json

    import numpy as np

    from tryon.ui.tryon_tab import sample_for

    person, garment = str(PHOTOS / "person_astronaut.jpg"), str(PHOTOS / "garment_red_tee.jpg")
    estimated = sample_for(person, garment, "upper")
    assert estimated.provenance["keypoints"].startswith("mediapipe")
    same = json.dumps(estimated.keypoints.round(1).tolist())
    assert sample_for(person, garment, "upper", None, same) is estimated  # unedited field: no override
    edited = estimated.keypoints.copy()
    edited[8] = (150, 500, 1)  # the user adds the right hip
    layer = np.zeros((1024, 768, 4), np.uint8)
    layer[100:900, 150:600, 3] = 255
    corrected = sample_for(person, garment, "upper", {"background": None, "layers": [layer], "composite": None},
                           json.dumps(edited.tolist()))
    assert corrected.provenance["keypoints"] == "user" and corrected.provenance["garment_mask"] == "user"
    assert corrected.keypoints[8, 2] == 1 and corrected.garment_mask.shape == corrected.garment.shape[:2]


def test_batch_endpoint_scores_a_dataset():
    from tryon.ui.batch_tab import datasets

    dataset = next(d for d in datasets() if d.endswith("dataset"))
    with served(build_app()) as url:
        client = Client(url, verbose=False, download_files=False)
        bars, curve, table, comparisons, grid, files, notes = client.predict(
            dataset=dataset, backends=["warp"], pairs=2, paired=True, api_name="/batch")
    rows = table["data"] if isinstance(table, dict) else table
    assert rows[0][0] == "warp" and rows[0][1] == "2"  # backend, n
    assert "<img src='data:image/jpeg;base64," in grid and "nothing to compare" in comparisons
    assert {Path(f["path"] if isinstance(f, dict) else f).name for f in files} == {
        "metrics.html", "metrics.csv", "metrics.json", "metrics.png"}


def test_batch_refuses_folders_outside_the_data_roots(tmp_path):
    import pytest

    from tryon.errors import InputError
    from tryon.ui.batch_tab import run_batch

    with pytest.raises(Exception, match="choose a dataset folder") as info:
        run_batch(str(tmp_path), ["warp"], 1, True)
    assert not isinstance(info.value, InputError)  # surfaced as a UI message (gr.Error)
