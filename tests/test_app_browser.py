"""The app in headless Chromium: upload two photos, run warp, see the result (whole, uncropped) and its time."""

from pathlib import Path

import numpy as np
import pytest

from tests.browser import browser_page, served
from tryon.imaging import load_image, save_image
from tryon.ui import build_app

PHOTOS = Path(__file__).parents[1] / "assets" / "examples" / "photos"
pytestmark = pytest.mark.browser

# The part of an <img> the user sees, as (width, height) in CSS pixels, whatever its object-fit: "cover" shows the
# box (the image cropped to it), "fill" the box (stretched), "contain"/"scale-down" the whole image scaled.
VISIBLE_SIZE = """img => {
    const fit = getComputedStyle(img).objectFit, nw = img.naturalWidth, nh = img.naturalHeight;
    const bw = img.clientWidth, bh = img.clientHeight;
    if (fit === "contain" || fit === "scale-down") {
        const k = Math.min(bw / nw, bh / nh, fit === "scale-down" ? 1 : Infinity);
        return {fit, natural: [nw, nh], visible: [nw * k, nh * k]};
    }
    if (fit === "none") return {fit, natural: [nw, nh], visible: [Math.min(nw, bw), Math.min(nh, bh)]};
    return {fit, natural: [nw, nh], visible: [bw, bh]};
}"""


def _run_warp(page, url: str, person: Path, garment: Path) -> None:
    page.goto(url)
    page.locator("#person input[type=file]").set_input_files(str(person))
    page.locator("#garment input[type=file]").set_input_files(str(garment))
    page.locator("#previews img").first.wait_for(timeout=60_000)  # preprocessing preview appears
    page.locator("#run").click()
    page.locator("#results img").first.wait_for(timeout=120_000)
    page.locator("#status").get_by_text("done").wait_for(timeout=60_000)


def test_upload_run_warp_and_see_result(tmp_path):
    app = build_app(default_backends=["warp"])
    with served(app) as url, browser_page() as page:
        _run_warp(page, url, PHOTOS / "person_astronaut.jpg", PHOTOS / "garment_red_tee.jpg")
        text = page.locator("#status").inner_text()
        assert "warp" in text and " s" in text
        page.get_by_role("tab", name="Settings & weights").click()  # its backend table is filled on page load
        page.locator("#settings-backends").get_by_text("warp", exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "app.png"), full_page=True)


def test_a_portrait_result_is_shown_whole(tmp_path):
    """The gallery tile shows the whole result: the visible part has the result's aspect ratio (2:3 here),
    not the tile's (a centre crop of a portrait shows the face, not the garment)."""
    portrait = np.full((768, 512, 3), 255, np.uint8)  # the astronaut, padded into a 2:3 portrait
    portrait[128:640] = load_image(PHOTOS / "person_astronaut.jpg")
    person = save_image(portrait, tmp_path / "portrait.png")
    app = build_app(default_backends=["warp"])
    with served(app) as url, browser_page() as page:
        _run_warp(page, url, person, PHOTOS / "garment_red_tee.jpg")
        shown = page.locator("#results img").first.evaluate(VISIBLE_SIZE)
        page.screenshot(path=str(tmp_path / "portrait-result.png"), full_page=True)
    result_aspect = 512 / 768  # warp returns the person photo's frame
    natural_w, natural_h = shown["natural"]
    visible_w, visible_h = shown["visible"]
    assert natural_w / natural_h == pytest.approx(result_aspect, rel=0.01)  # the tile holds the whole result
    assert visible_w / visible_h == pytest.approx(result_aspect, rel=0.02), shown
