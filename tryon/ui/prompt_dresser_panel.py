"""The PromptDresser panel: attribute fields, the two prompts they render (editable), the mask controls with a
live preview of the coarse, fine and resulting masks (no model run), and the two guidance scales."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from tryon.backends.base import backend_status, get_backend
from tryon.backends.prompt_dresser import masks, options, prompts
from tryon.sample import TryOnSample
from tryon.ui.common import user_errors

NAME = "prompt-dresser"


@dataclass
class Controls:
    """The panel's values a run needs, in the order the run handler takes them."""

    full_prompt: gr.Textbox
    clothing_prompt: gr.Textbox
    mask_mode: gr.Radio
    mask_dilation: gr.Slider
    guidance_image: gr.Slider
    guidance_text: gr.Slider

    def inputs(self) -> list[Any]:
        return [self.full_prompt, self.clothing_prompt, self.mask_mode, self.mask_dilation, self.guidance_image,
                self.guidance_text]


def run_extra(full_prompt: str | None, clothing_prompt: str | None, mask_mode: str | None,
              mask_dilation: float | None, guidance_image: float | None, guidance_text: float | None) -> dict:
    """The panel's values as PromptDresser's RunOptions.extra (empty prompts fall back to the attributes)."""
    extra: dict[str, Any] = {}
    for key, value in (("full_prompt", full_prompt), ("clothing_prompt", clothing_prompt)):
        if value and value.strip():
            extra[key] = value.strip()
    if mask_mode:
        extra["mask_mode"] = mask_mode
    if mask_dilation is not None:
        extra["mask_dilation"] = int(mask_dilation)
    if guidance_image is not None:
        extra["guidance_image"] = float(guidance_image)
    if guidance_text is not None:
        extra["guidance_text"] = float(guidance_text)
    return extra


def _attributes(values: list[str]) -> dict[str, dict[str, str]]:
    n = len(prompts.PERSON_FIELDS)
    return {"person": dict(zip(prompts.PERSON_FIELDS, values[:n], strict=True)),
            "clothing": dict(zip(prompts.CLOTHING_FIELDS, values[n:], strict=True))}


def _mask_modes() -> list[str]:
    ready = backend_status(NAME)[1].ready
    return list(get_backend(NAME).mask_modes()) if ready else ["fine", "dilated"]


def build(person: gr.Image, garment: gr.Image, category: gr.Radio,
          sample_fn: Callable[[str | None, str | None, str], TryOnSample]) -> Controls:
    """Lay out the panel (inside an Accordion of the current Blocks) and wire its live updates."""
    form = prompts.prompt_form(None)
    gr.Markdown("PromptDresser (CC BY-NC-SA 4.0, upper-body garments). The attributes render the two prompts "
                "exactly as the official v12 templates do; edit the prompts directly to override them.")
    attributes_file = gr.File(label="Attributes JSON (one entry, or a test_gpt4o.json keyed by file name)",
                              file_types=[".json"], elem_id="pd-attributes-file")
    fields = []
    with gr.Row():
        with gr.Column():
            gr.Markdown("**Person**")
            for name in form["person_fields"]:
                fields.append(gr.Textbox(form["values"]["person"][name], label=name, max_lines=1))
        with gr.Column():
            gr.Markdown("**Garment**")
            for name in form["clothing_fields"]:
                fields.append(gr.Textbox(form["values"]["clothing"][name], label=name, max_lines=1))
    full = gr.Textbox(form["full_prompt"], label="Full prompt (try-on UNet)", lines=2, elem_id="pd-full-prompt")
    cloth = gr.Textbox(form["clothing_prompt"], label="Clothing prompt (garment encoder)", lines=1,
                       elem_id="pd-clothing-prompt")
    modes = _mask_modes()
    with gr.Row():
        mode = gr.Radio(modes, value="dilated", label="Mask", elem_id="pd-mask-mode",
                        info="fine: the tight agnostic mask; dilated: dilate(fine, n) ∩ coarse (the training rule); "
                             "prompt-aware: two passes with the human parser")
        dilation = gr.Slider(0, masks.MAX_DILATION, value=30, step=1, label="Mask dilation n",
                             elem_id="pd-mask-dilation")
    mask_preview = gr.Image(label="Mask preview: coarse (blue), fine (red), used (green outline)", height=300,
                            interactive=False, elem_id="pd-mask-preview")
    with gr.Row():
        g_img = gr.Slider(1.0, 10.0, value=4.5, step=0.5, label="Image guidance")
        g_txt = gr.Slider(1.0, 15.0, value=7.5, step=0.5, label="Text guidance")

    def render(*values: str) -> tuple[str, str]:
        text = prompts.prompts_from_options(_attributes(list(values)))
        return text.full, text.clothing

    @user_errors
    def load_file(path: str | None, person_path: str | None, garment_path: str | None) -> list[str]:
        if not path:
            return [gr.update() for _ in fields]
        record = options.attributes_from_json(Path(path), Path(person_path).stem if person_path else None,
                                              Path(garment_path).stem if garment_path else None)
        values = prompts.prompt_form(record)["values"]
        return [values["person"][n] for n in prompts.PERSON_FIELDS] + [
            values["clothing"][n] for n in prompts.CLOTHING_FIELDS]

    @user_errors
    def show_mask(person_path: str | None, garment_path: str | None, category_value: str, mode_value: str,
                  n: float) -> Any:
        if not person_path or not garment_path:
            return None
        return options.preview(sample_fn(person_path, garment_path, category_value), mode_value, int(n))

    for field in fields:
        field.change(render, fields, [full, cloth], api_visibility="private")
    attributes_file.change(load_file, [attributes_file, person, garment], fields, api_visibility="private")
    for trigger in (mode.change, dilation.release, person.change, garment.change):
        trigger(show_mask, [person, garment, category, mode, dilation], mask_preview, api_visibility="private")
    return Controls(full, cloth, mode, dilation, g_img, g_txt)
