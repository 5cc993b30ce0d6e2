"""PromptDresser's per-run knobs, for the CLI and the UI.

`RunOptions.extra` keys: `guidance_image` (4.5), `guidance_text` (7.5), `prompt_attributes` ({"person": {...},
"clothing": {...}, optional "garment_wearer": {...}}), `full_prompt` / `clothing_prompt` (free text that overrides
the attributes), `mask_mode` ("fine" | "dilated" | "prompt-aware") and `mask_dilation` (n, 0..200).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tryon.backends.prompt_dresser import masks, prompts
from tryon.errors import InputError
from tryon.sample import TryOnSample

MASK_MODES = ("fine", "dilated", "prompt-aware")


def attributes_from_json(path: Path, person_stem: str | None = None, cloth_stem: str | None = None) -> dict:
    """Prompt attributes from a file: either one `{"person": ..., "clothing": ...}` entry, or a
    test_gpt4o.json-style file keyed by stem (then the person's and cloth's records are paired officially)."""
    data = prompts.load_attributes(path)
    if "person" in data or "clothing" in data:
        return data
    if person_stem is None and cloth_stem is None and len(data) == 1:
        return next(iter(data.values()))
    if person_stem not in data and cloth_stem not in data:
        raise InputError(f"{path}: no entry for {person_stem!r} or {cloth_stem!r}")
    cloth_entry = data.get(cloth_stem or person_stem, {})
    return {
        "person": data.get(person_stem or cloth_stem, {}).get("person", {}),
        "clothing": cloth_entry.get("clothing", {}),
        **({"garment_wearer": cloth_entry["person"]} if "person" in cloth_entry else {}),
    }


def options_from_cli(
    prompt_json: Path | None = None,
    mask_dilation: int | None = None,
    mask_mode: str | None = None,
    full_prompt: str | None = None,
    clothing_prompt: str | None = None,
    guidance_image: float | None = None,
    guidance_text: float | None = None,
    person_stem: str | None = None,
    cloth_stem: str | None = None,
) -> dict[str, Any]:
    """`RunOptions.extra` for `python -m tryon run --backends prompt-dresser --prompt-json FILE --mask-dilation N`.

    A dilation without a mode selects the "dilated" mode; unset arguments are left out so the backend defaults
    apply.
    """
    extra: dict[str, Any] = {}
    if prompt_json is not None:
        extra["prompt_attributes"] = attributes_from_json(Path(prompt_json), person_stem, cloth_stem)
    if mask_dilation is not None:
        if not 0 <= mask_dilation <= masks.MAX_DILATION:
            raise InputError(f"--mask-dilation must be in [0, {masks.MAX_DILATION}], got {mask_dilation}")
        extra["mask_dilation"] = int(mask_dilation)
    if mask_mode is not None:
        if mask_mode not in MASK_MODES:
            raise InputError(f"unknown mask mode {mask_mode!r}: use one of {', '.join(MASK_MODES)}")
        extra["mask_mode"] = mask_mode
    elif mask_dilation is not None:
        extra["mask_mode"] = "dilated"
    for key, value in (("full_prompt", full_prompt), ("clothing_prompt", clothing_prompt),
                       ("guidance_image", guidance_image), ("guidance_text", guidance_text)):
        if value is not None:
            extra[key] = value
    return extra


def sample_attributes(sample: TryOnSample, extra: dict[str, Any]) -> dict[str, Any]:
    """The sample's own attributes (dataset record) overridden, group by group, by the run's."""
    base = dict(sample.prompts or {})
    chosen = extra.get("prompt_attributes") or {}
    merged = {}
    for group in ("person", "clothing", "garment_wearer"):
        values = {**(base.get(group) or {}), **(chosen.get(group) or {})}
        if values:
            merged[group] = values
    return merged


def sample_masks(sample: TryOnSample) -> tuple[np.ndarray, np.ndarray]:
    """(fine, coarse) bool masks at the sample's size: the agnostic mask and the derived coarse mask."""
    if sample.agnostic_mask is None:
        raise InputError("prompt-dresser needs an agnostic mask in the sample")
    fine = np.asarray(sample.agnostic_mask) > 0
    return fine, masks.coarse_mask(fine, sample.keypoints, sample.parse)


def mask_for_mode(fine: np.ndarray, coarse: np.ndarray, mode: str, dilation: int) -> np.ndarray:
    """The single-pass mask of a mode ("prompt-aware" starts from the fine mask; the parser extends it)."""
    return masks.dilated_mask(fine, coarse, dilation) if mode == "dilated" else fine


def preview(sample: TryOnSample, mask_mode: str = "dilated", mask_dilation: int = 30) -> np.ndarray:
    """The UI's mask preview on the person photo (no model run): coarse, fine, and the mask the run will use."""
    fine, coarse = sample_masks(sample)
    return masks.mask_preview(sample.person, coarse, fine, mask_for_mode(fine, coarse, mask_mode, mask_dilation))
