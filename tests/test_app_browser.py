"""The app in headless Chromium: upload two photos, run warp, see the result and its time."""

from pathlib import Path

import pytest

from tests.browser import browser_page, served
from tryon.ui import build_app

PHOTOS = Path(__file__).parents[1] / "assets" / "examples" / "photos"
pytestmark = pytest.mark.browser


def test_upload_run_warp_and_see_result(tmp_path):
    app = build_app(default_backends=["warp"])
    with served(app) as url, browser_page() as page:
        page.goto(url)
        page.locator("#person input[type=file]").set_input_files(str(PHOTOS / "person_astronaut.jpg"))
        page.locator("#garment input[type=file]").set_input_files(str(PHOTOS / "garment_red_tee.jpg"))
        page.locator("#previews img").first.wait_for(timeout=60_000)  # preprocessing preview appears
        page.locator("#run").click()
        page.locator("#results img").first.wait_for(timeout=120_000)
        status = page.locator("#status")
        status.get_by_text("done").wait_for(timeout=60_000)
        text = status.inner_text()
        assert "warp" in text and " s" in text
        page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
