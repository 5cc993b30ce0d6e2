"""PromptDresser's run options: the one place that declares them, with defaults, ranges and help.

The CLI's PromptDresser flags, the UI's PromptDresser panel and the docs' option table are built from
`PromptDresserOptions`; the panel also renders prompts and previews masks through it, so it needs nothing else of
the backend. This module stays light (no torch): the app imports it while building the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tryon.backends.prompt_dresser import prompts
from tryon.backends.prompt_dresser.config import GUIDANCE_IMAGE, GUIDANCE_TEXT, MAX_DILATION
from tryon.errors import InputError
from tryon.options import Options, option

if TYPE_CHECKING:
    import numpy as np

    from tryon.sample import TryOnSample

MASK_MODES = ("auto", "fine", "dilated", "prompt-aware")


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


@dataclass(frozen=True)
class PromptDresserOptions(Options):
    """Official release settings: 30 DDPM steps, image/text guidance 4.5/7.5, the prompt-aware mask."""

    backend: ClassVar[str] = "prompt-dresser"

    steps: int = option(30, "denoising steps", minimum=1, maximum=1000, place="shared", to_pipeline=True)
    full_prompt: str | None = option(None, "free text for the try-on UNet, overriding the prompt rendered from the "
                                     "attributes", label="Full prompt (try-on UNet)")
    clothing_prompt: str | None = option(None, "free text for the garment encoder, overriding the rendered clothing "
                                         "prompt", label="Clothing prompt (garment encoder)")
    prompt_attributes: dict | None = option(
        None, "attributes {person, clothing, garment_wearer} that render both prompts (CLI: one entry or a "
        "test_gpt4o.json keyed by file name); the sample's own record otherwise", place="cli", flag="--prompt-json",
        read_file=attributes_from_json)
    mask_mode: str = option("auto", "auto: dilated when a dilation other than the default is set, else prompt-aware "
                            "when the SCHP ATR parser is installed, else fine; fine: the agnostic mask; dilated: "
                            "dilate(fine, n) ∩ coarse (the training rule); prompt-aware: two passes, the first one's "
                            "x̂0 parsed", choices=MASK_MODES, label="Mask")
    mask_dilation: int = option(30, "n of the dilated mask (0 = the whole coarse mask, as in scipy); used by the "
                                "dilated mode only", minimum=0, maximum=MAX_DILATION, step=1, label="Mask dilation n")
    guidance_image: float = option(GUIDANCE_IMAGE, "image guidance w_img in ε = ε0 + w_img(ε1 − ε0) + w_txt(ε2 − ε1)",
                                   minimum=0.0, maximum=10.0, step=0.5, label="Image guidance", to_pipeline=True)
    guidance_text: float = option(GUIDANCE_TEXT, "text guidance w_txt", minimum=0.0, maximum=15.0, step=0.5,
                                  label="Text guidance", follow="guidance", to_pipeline=True)

    # -- what the panel shows without running the model ---------------------------------------------------------
    @staticmethod
    def prompt_form(attributes: dict | None = None) -> dict[str, Any]:
        """Field names, defaults, values and the two prompts they render (the attribute editor)."""
        return prompts.prompt_form(attributes)

    @staticmethod
    def render_prompts(attributes: dict | None) -> tuple[str, str]:
        """(full prompt, clothing prompt) rendered from attributes, as the official v12 templates do."""
        text = prompts.prompts_from_options(attributes)
        return text.full, text.clothing

    @staticmethod
    def attributes_from_json(path: Path, person_stem: str | None = None, cloth_stem: str | None = None) -> dict:
        return attributes_from_json(path, person_stem, cloth_stem)

    def mask_preview(self, sample: TryOnSample) -> np.ndarray:
        """The person photo with the coarse, fine and (for the dilated mode) resulting masks drawn on it."""
        from tryon.backends.prompt_dresser import masks

        fine, coarse = masks.sample_masks(sample)
        used = masks.mask_for_mode(fine, coarse, self.mask_mode, self.mask_dilation)
        return masks.mask_preview(sample.person, coarse, fine, used)
