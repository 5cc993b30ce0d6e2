"""PromptDresser: golden kit, prompt rules, mask rules, CLI options, weights group, and the backend end to end on
tiny random weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_prompt_dresser import KIT, make_tiny_prompt_dresser_folder
from tryon import weights
from tryon.backends.base import RunContext, get_backend, run_one
from tryon.backends.prompt_dresser import config, masks, prompts
from tryon.backends.prompt_dresser.backend import PromptDresserBackend
from tryon.backends.prompt_dresser.options import PromptDresserOptions, attributes_from_json
from tryon.errors import InputError
from tryon.golden import check_kit
from tryon.runtime import Runtime
from tryon.sample import TryOnSample

PERSON = {
    "gender": "Woman", "body shape": "slim", "hair length": "long", "pose": "standing", "hand pose": "down",
    "fit of upper cloth": "tight fit", "tucking style": "tucked in", "sleeve rolling style": "sleeves down",
}
CLOTHING = {
    "upper cloth category": "T-shirt", "material": "cotton", "sleeve": "long sleeves", "neckline": "crew neck",
    "upper cloth length": "regular",
}


# -- golden kit --------------------------------------------------------------------------------------------------
def test_golden_kit_passes_every_case_and_the_real_config_keys() -> None:
    reports, keys = check_kit(KIT)
    failed = [f"{r.name}: {r.detail}" for r in reports + [keys] if not r.passed]
    assert not failed, failed
    assert len(reports) == len(json.loads((KIT / "kit.json").read_text())["cases"])


# -- prompts -----------------------------------------------------------------------------------------------------
def test_prompts_follow_the_v12_templates_lowercased() -> None:
    built = prompts.build_prompts(PERSON, CLOTHING)
    assert built.clothing == "a t-shirt, cotton, with long sleeves, crew neck"
    assert built.full == ("a slim woman wears tight fit, t-shirt (cotton), crew neck, sleeves down, tucked in. "
                          "with long hair, standing with hands down")


@pytest.mark.parametrize(("length", "tucking"), [("crop", "untucked"), ("cropped top", "untucked"),
                                                 ("Crop", "tucked in"), ("regular", "tucked in")])
def test_crop_garments_are_untucked_by_a_case_sensitive_rule(length: str, tucking: str) -> None:
    full = prompts.full_prompt(PERSON, {**CLOTHING, "upper cloth length": length})
    assert f", {tucking}. with" in full


def test_short_sleeves_override_the_garment_wearers_rolling_style() -> None:
    wearer = {**PERSON, "sleeve rolling style": "rolled to the elbow"}
    assert "short sleeve, tucked" in prompts.full_prompt(PERSON, {**CLOTHING, "sleeve": "short sleeves"}, wearer)
    assert "rolled to the elbow" in prompts.full_prompt(PERSON, CLOTHING, wearer)
    assert "rolled to the elbow" in prompts.full_prompt(PERSON, {**CLOTHING, "sleeve": "Short sleeves"}, wearer)


def test_free_text_overrides_attributes_and_defaults_fill_the_rest() -> None:
    filled = prompts.prompts_from_options({"clothing": {"material": "silk"}})
    assert "(silk)" in filled.full and filled.clothing.startswith("a top, silk")
    assert prompts.prompts_from_options({}, full_text="a person in red").full == "a person in red"
    with pytest.raises(InputError):
        prompts.prompts_from_options({"shoes": {}})


def test_prompt_form_lists_fields_defaults_and_both_prompts() -> None:
    form = prompts.prompt_form({"person": PERSON, "clothing": CLOTHING})
    assert form["person_fields"] == list(prompts.PERSON_FIELDS)
    assert set(form["defaults"]["clothing"]) == set(prompts.CLOTHING_FIELDS)
    assert form["clothing_prompt"] == "a t-shirt, cotton, with long sleeves, crew neck"
    assert form["full_prompt"].startswith("a slim woman")


# -- masks -------------------------------------------------------------------------------------------------------
def test_dilation_uses_the_cross_element_and_stays_inside_the_coarse_mask() -> None:
    fine = np.zeros((9, 9), bool)
    fine[4, 4] = True
    coarse = np.ones((9, 9), bool)
    coarse[:, 6:] = False
    assert masks.dilated_mask(fine, coarse, 1).sum() == 5  # a cross, not a 3x3 square
    assert masks.dilated_mask(fine, coarse, 2).sum() == 12  # city-block radius 2 (13) minus the column x=6
    assert not masks.dilated_mask(fine, coarse, 3)[:, 6:].any()


def test_zero_dilation_means_until_convergence_as_in_scipy() -> None:
    fine = np.zeros((6, 6), bool)
    fine[0, 0] = True
    coarse = np.zeros((6, 6), bool)
    coarse[2:, 2:] = True
    assert (masks.dilated_mask(fine, coarse, 0) == coarse).all()
    assert not masks.dilated_mask(np.zeros_like(fine), coarse, 0).any()
    with pytest.raises(ValueError):
        masks.dilated_mask(fine, coarse, 201)


def test_prompt_aware_mask_is_the_union_of_the_fine_mask_and_the_parsed_garment() -> None:
    fine = np.zeros((128, 96), np.uint8)
    fine[10:20, 10:20] = 255
    seen = []

    def fake_parser(image: np.ndarray) -> np.ndarray:
        seen.append(image.shape)
        labels = np.zeros(image.shape[:2], np.uint8)
        labels[200:300, 100:200] = 4  # upper clothes
        labels[0:10, 0:10] = 11  # face: not a garment
        return labels

    result = masks.prompt_aware_mask(np.zeros((128, 96, 3), np.uint8), fine, fake_parser)
    assert seen == [(512, 384, 3)]
    assert (result["mask"][10:20, 10:20] == 255).all()
    assert (result["mask"][50:75, 25:50] == 255).all()
    assert result["mask"][0:2, 0:2].max() == 0
    padded = masks.prompt_aware_mask(np.zeros((128, 96, 3), np.uint8), fine, fake_parser, pad=True)
    assert padded["mask"].sum() > result["mask"].sum()


def test_mask_binarisation_threshold_and_latent_nearest() -> None:
    mask = np.array([[127, 128], [0, 255]], np.uint8)
    assert masks.mask_tensor(mask)[0, 0].tolist() == [[0.0, 1.0], [0.0, 1.0]]
    big = np.zeros((16, 16), np.uint8)
    big[0, 8] = 255
    assert masks.latent_mask(masks.mask_tensor(big), (2, 2))[0, 0].tolist() == [[0.0, 1.0], [0.0, 0.0]]


def _sample(height: int = 200, width: int = 150, **kw: object) -> TryOnSample:
    rng = np.random.default_rng(0)
    mask = np.zeros((height, width), bool)
    mask[60:140, 45:105] = True
    keypoints = np.zeros((18, 3), np.float32)
    keypoints[[2, 5, 8, 11]] = [[35, 55, 1], [115, 55, 1], [50, 170, 1], [100, 170, 1]]
    return TryOnSample(
        person=rng.integers(0, 255, (height, width, 3), dtype=np.uint8),
        garment=rng.integers(0, 255, (180, 140, 3), dtype=np.uint8), agnostic_mask=mask, keypoints=keypoints,
        **kw,  # type: ignore[arg-type]
    )


def test_coarse_mask_covers_the_fine_mask_down_to_the_hips_and_the_preview_marks_it() -> None:
    sample = _sample()
    fine, coarse = masks.sample_masks(sample)
    assert (coarse >= fine).all() and coarse.sum() > fine.sum()
    assert coarse[165, 75] and coarse[60, 36] and not coarse[185, 75]
    picture = PromptDresserOptions(mask_mode="dilated", mask_dilation=10).mask_preview(sample)
    assert picture.shape == sample.person.shape and picture.dtype == np.uint8
    assert (picture[5, 5] == sample.person[5, 5]).all() and (picture[100, 75] != sample.person[100, 75]).any()


# -- CLI options -------------------------------------------------------------------------------------------------
def test_cli_flags_reach_the_options(tmp_path: Path) -> None:
    from tryon.cli import build_parser
    from tryon.options import choices_from_args, options_for

    entries = {"p1": {"person": PERSON, "clothing": CLOTHING},
               "c1": {"person": {**PERSON, "sleeve rolling style": "rolled"},
                      "clothing": {**CLOTHING, "material": "wool"}}}
    path = tmp_path / "test_gpt4o.json"
    path.write_text(json.dumps(entries))

    def parsed(*flags: str) -> PromptDresserOptions:
        args = build_parser().parse_args(["run", "--person", "x/p1.jpg", "--garment", "y/c1.jpg", "--out", "o",
                                          "--backends", "prompt-dresser", *flags])
        return options_for(PromptDresserOptions, choices_from_args(args, [PromptDresserOptions], args.person,
                                                                   args.garment))

    chosen = parsed("--prompt-json", str(path), "--mask-mode", "dilated", "--mask-dilation", "12")
    assert chosen.mask_mode == "dilated" and chosen.mask_dilation == 12
    built = prompts.prompts_from_options(chosen.prompt_attributes)
    assert "(wool)" in built.full and "rolled, tucked in" in built.full
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"person": PERSON, "clothing": CLOTHING}))
    assert attributes_from_json(single)["person"] == PERSON
    with pytest.raises(InputError, match=r"mask_dilation \(--mask-dilation\) must be in \[0, 200\], got 300"):
        parsed("--mask-dilation", "300")
    with pytest.raises(SystemExit):  # argparse refuses a mode that is not a choice
        parsed("--mask-mode", "coarse")
    with pytest.raises(InputError, match="not one of"):
        options_for(PromptDresserOptions, {"mask_mode": "coarse"})


# -- weights -----------------------------------------------------------------------------------------------------
def test_weight_group_is_registered_and_fetches_from_a_local_folder(tmp_path: Path) -> None:
    group = weights.get_group("prompt-dresser")
    unet = next(f for f in group.files if f.name == "unet")
    assert "sharepoint.com" in unet.sources[0].url and "Benrise/VITON-HD" in unet.sources[1].url
    assert unet.sources[1].mirror and unet.sha256 is None
    source = tmp_path / "src"
    (source / "vae").mkdir(parents=True)
    (source / "vae" / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL", **config.VAE}))
    provenance = weights.fetch("prompt-dresser", source, root=tmp_path / "cache")
    assert list(provenance) == ["vae_config"]
    (source / "vae" / "config.json").write_text("{}")  # not a VAE config: refused, nothing changes
    with pytest.raises(InputError, match="without '_class_name'"):
        weights.fetch("prompt-dresser", source, root=tmp_path / "cache")
    assert (tmp_path / "cache" / "prompt-dresser" / "vae" / "config.json").is_file()


# -- backend on tiny random weights ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory: pytest.TempPathFactory) -> PromptDresserBackend:
    folder = make_tiny_prompt_dresser_folder(tmp_path_factory.mktemp("pd") / "weights")
    return PromptDresserBackend.from_pretrained(folder)


def test_backend_is_registered_and_reports_missing_weights(tmp_path: Path) -> None:
    assert isinstance(get_backend("prompt-dresser"), PromptDresserBackend)
    status = PromptDresserBackend.from_pretrained(tmp_path).status()
    assert not status.ready and "not installed" in status.message
    assert status.fetch_command == "python -m tryon weights fetch prompt-dresser"


def test_backend_runs_end_to_end_deterministically(tiny_backend: PromptDresserBackend) -> None:
    assert tiny_backend.status().ready
    sample = _sample()
    first = run_one(tiny_backend, sample, {"seed": 3, "steps": 2}, Runtime())
    assert first.ok, first.error
    assert first.image.shape == (200, 150, 3) and first.image.dtype == np.uint8
    again = run_one(tiny_backend, sample, {"seed": 3, "steps": 2}, Runtime())
    assert (again.image == first.image).all()
    other_prompt = run_one(tiny_backend, sample, {"seed": 3, "steps": 2, "full_prompt": "a man in red"}, Runtime())
    assert (other_prompt.image != first.image).any()
    other_seed = run_one(tiny_backend, sample, {"seed": 4, "steps": 2}, Runtime())
    assert (other_seed.image != first.image).any()


def test_dataset_attributes_and_dilated_mask_reach_the_run(tiny_backend: PromptDresserBackend) -> None:
    plain = _sample()
    attributed = _sample(prompts={"person": PERSON, "clothing": CLOTHING})
    text = tiny_backend.prompts_for(attributed, PromptDresserOptions())
    assert text.full.startswith("a slim woman")
    base = run_one(tiny_backend, plain, {"seed": 1, "steps": 2}, Runtime())
    assert base.options["mask_mode"] == "auto" and any("mask: fine (auto)" in n for n in base.notes)
    dilated = run_one(tiny_backend, plain, {"seed": 1, "steps": 2, "mask_mode": "dilated", "mask_dilation": 40},
                      Runtime())
    assert dilated.ok and (dilated.image != base.image).any()
    implied = run_one(tiny_backend, plain, {"seed": 1, "steps": 2, "mask_dilation": 40}, Runtime())
    assert (implied.image == dilated.image).all() and any("auto, since a dilation" in n for n in implied.notes)
    ignored = run_one(tiny_backend, plain, {"seed": 1, "steps": 2, "mask_mode": "fine", "mask_dilation": 40},
                      Runtime())
    assert (ignored.image == base.image).all() and any("dilation 40 ignored" in n for n in ignored.notes)


def test_prompt_aware_mode_needs_a_parser_and_uses_the_injected_one(tiny_backend: PromptDresserBackend,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser comes from the estimators (the runner's `atr_parser` tool), so one ONNX session is shared."""
    sample = _sample()
    refused = run_one(tiny_backend, sample, {"seed": 1, "steps": 2, "mask_mode": "prompt-aware"})
    assert not refused.ok and "parser" in refused.error
    calls = []

    def parser(image: np.ndarray) -> np.ndarray:
        calls.append(image.shape)
        labels = np.zeros(image.shape[:2], np.uint8)
        labels[100:400, 50:330] = 4
        return labels

    monkeypatch.setattr("tryon.preprocess.atr_parser", lambda: parser)
    aware = run_one(tiny_backend, sample, {"seed": 1, "steps": 2})  # "auto" now finds the parser
    assert aware.ok, aware.error
    assert calls == [(512, 384, 3)] and not aware.notes
    fine = run_one(tiny_backend, sample, {"seed": 1, "steps": 2, "mask_mode": "fine"})
    assert (aware.image != fine.image).any()


def test_prompts_are_cleaned_like_the_official_slow_tokenizer(tiny_backend: PromptDresserBackend) -> None:
    tiny_backend.load(Runtime())
    pipe = tiny_backend.pipeline
    curly, plain = pipe.token_ids("a women’s “shirt”"), pipe.token_ids('a women\'s "shirt"')
    assert (curly[0] == plain[0]).all() and (curly[1] == plain[1]).all()


def test_prompt_aware_mask_without_a_parser_names_the_preprocess_weights(tiny_backend: PromptDresserBackend) -> None:
    """The parser belongs to the `preprocess` group: the error must send the user there, not to prompt-dresser."""
    tiny_backend.load(Runtime(device="cpu"))
    sample = TryOnSample(person=np.zeros((128, 96, 3), np.uint8), garment=np.zeros((128, 96, 3), np.uint8),
                         agnostic_mask=np.ones((128, 96), bool))
    with pytest.raises(InputError, match="weights fetch preprocess"):
        tiny_backend.generate(sample, PromptDresserOptions(steps=1, mask_mode="prompt-aware"), RunContext.seeded(0))
