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
