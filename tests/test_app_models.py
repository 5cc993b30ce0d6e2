"""The model backends inside the app and the CLI, on tiny random weights in the official formats."""

import json
from pathlib import Path

import pytest

from tests.browser import browser_page, served
from tests.tiny_prompt_dresser import make_tiny_prompt_dresser_folder
from tryon.backends import base
from tryon.backends.prompt_dresser.backend import PromptDresserBackend
from tryon.cli import main
from tryon.ui import build_app

PHOTOS = Path(__file__).parents[1] / "assets" / "examples" / "photos"


@pytest.fixture(scope="module")
def tiny_pd_folder(tmp_path_factory):
    return make_tiny_prompt_dresser_folder(tmp_path_factory.mktemp("pd") / "weights")


def test_cli_run_prompt_dresser_with_prompt_json_and_dilation(tiny_pd_folder, tmp_path, capsys):
    base.set_backend("prompt-dresser", PromptDresserBackend.from_pretrained(tiny_pd_folder))
    attributes = tmp_path / "attributes.json"
    attributes.write_text(json.dumps({"person": {"gender": "woman", "tucking style": "tucked in"},
                                      "clothing": {"upper cloth category": "t-shirt", "sleeve": "long sleeves"}}))
    out = tmp_path / "out"
    code = main(["run", "--person", str(PHOTOS / "person_astronaut.jpg"), "--garment",
                 str(PHOTOS / "garment_red_tee.jpg"), "--backends", "prompt-dresser,warp", "--steps", "2",
                 "--prompt-json", str(attributes), "--mask-dilation", "12", "--out", str(out)])
    assert code == 0
    record = json.loads((out / "run.json").read_text())
    pd = next(r for r in record["results"] if r["backend"] == "prompt-dresser")
    assert pd["ok"] and pd["options"]["mask_dilation"] == 12 and pd["options"]["mask_mode"] == "auto"
    assert "mask: dilated with n = 12 (auto, since a dilation was set)" in pd["notes"]
    assert pd["options"]["prompt_attributes"]["person"]["gender"] == "woman"
    warp = next(r for r in record["results"] if r["backend"] == "warp")
    assert "mask_dilation" not in warp["options"]  # PromptDresser flags reach PromptDresser only
    assert (out / "prompt-dresser.png").is_file()
    assert "prompt-dresser:   0%|          | 0/2" in capsys.readouterr().err  # a tqdm bar per backend, 2 steps


def test_try_on_tab_progress_names_the_backend_and_its_step(tiny_pd_folder):
    """A PromptDresser run on a small card takes minutes: the tab says which step it is at."""
    from tryon.ui import tryon_tab

    base.set_backend("prompt-dresser", PromptDresserBackend.from_pretrained(tiny_pd_folder))
    seen = []
    updates = list(tryon_tab.tryon(str(PHOTOS / "person_astronaut.jpg"), str(PHOTOS / "garment_red_tee.jpg"), "upper",
                                   ["warp", "prompt-dresser"], {"steps": 2},
                                   progress=lambda fraction, desc="": seen.append((round(fraction, 2), desc))))
    assert "done" in updates[-1][2]
    assert (0.75, "PromptDresser step 1/2") in seen and (1.0, "PromptDresser step 2/2") in seen
    assert seen[0] == (0, "preprocessing") and (0.5, "Warp baseline (TPS, no weights) finished") in seen


@pytest.mark.browser
def test_prompt_dresser_panel_in_the_browser(tiny_pd_folder, tmp_path):
    """Edit an attribute, see the prompt change, preview the mask, run PromptDresser with two steps."""
    base.set_backend("prompt-dresser", PromptDresserBackend.from_pretrained(tiny_pd_folder))
    app = build_app(default_backends=["prompt-dresser"])
    with served(app) as url, browser_page() as page:
        page.goto(url)
        page.locator("#person input[type=file]").set_input_files(str(PHOTOS / "person_astronaut.jpg"))
        page.locator("#garment input[type=file]").set_input_files(str(PHOTOS / "garment_red_tee.jpg"))
        page.locator("#pd-panel").get_by_text("PromptDresser: prompts and mask").click()
        gender = page.get_by_label("gender")
        gender.fill("woman")
        gender.press("Tab")
        prompt = page.locator("#pd-full-prompt textarea")
        page.wait_for_function("() => document.querySelector('#pd-full-prompt textarea').value.includes('woman')",
                               timeout=30_000)
        assert "woman" in prompt.input_value()
        page.get_by_test_id("fine-radio-label").click()
        page.locator("#pd-mask-preview img").wait_for(timeout=60_000)
        page.get_by_role("button", name="Advanced").click()
        page.locator("#opt-steps input").fill("2")
        page.locator("#run").click()
        page.locator("#status").get_by_text("done").wait_for(timeout=120_000)
        assert "prompt-dresser" in page.locator("#status").inner_text()
        page.locator("#results img").first.wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "pd.png"), full_page=True)


def test_ladi_vton_and_pasta_gan_run_in_the_app(tmp_path):
    """Both backends, ready on tiny official-format weights, run side by side through the app's /tryon API."""
    from gradio_client import Client, handle_file

    from tests.tiny_ladi_vton import make_tiny_ladi_vton_folder
    from tests.tiny_pasta_gan import make_tiny_pasta_gan_checkpoint
    from tryon.backends.ladi_vton.backend import LadiVtonBackend
    from tryon.backends.pasta_gan.backend import PastaGanBackend
    from tryon.ui.tryon_tab import backend_choices

    base.set_backend("ladi-vton", LadiVtonBackend.from_pretrained(make_tiny_ladi_vton_folder(tmp_path / "ladi")))
    base.set_backend("pasta-gan++", PastaGanBackend.from_pretrained(make_tiny_pasta_gan_checkpoint(tmp_path / "pg")))
    labels = dict((name, label) for label, name in backend_choices())
    assert "not installed" not in labels["ladi-vton"] and "not installed" not in labels["pasta-gan++"]
    with served(build_app()) as url:
        client = Client(url, verbose=False, download_files=False)
        gallery, _, status, *_ = client.predict(
            person=handle_file(str(PHOTOS / "person_camera.jpg")),
            garment=handle_file(str(PHOTOS / "garment_red_tee.jpg")),
            category="upper", backends=["ladi-vton", "pasta-gan++"], steps=2, api_name="/tryon")
    captions = [item["caption"] for item in gallery]
    assert any(c.startswith("ladi-vton") for c in captions) and any(c.startswith("pasta-gan++") for c in captions)
    assert status.count("| done |") == 2
