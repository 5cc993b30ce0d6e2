"""The PromptDresser panel: attribute fields that render the two prompts, and one control per panel option of
`PromptDresserOptions` (the prompts, editable; the mask mode and dilation with a live preview of the coarse, fine and
resulting masks, no model run; the guidance scales). It knows the backend only through that options class."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from tryon.backends.prompt_dresser.options import PromptDresserOptions
from tryon.sample import TryOnSample
from tryon.ui.common import user_errors
from tryon.ui.option_controls import OptionControls, panel_controls


def build(person: gr.Image, garment: gr.Image, category: gr.Radio,
          sample_fn: Callable[[str | None, str | None, str], TryOnSample]) -> OptionControls:
    """Lay out the panel (inside an Accordion of the current Blocks), wire its live updates, return its controls."""
    form = PromptDresserOptions.prompt_form(None)
    gr.Markdown("PromptDresser (CC BY-NC-SA 4.0, upper-body garments). The attributes render the two prompts "
                "exactly as the official v12 templates do; edit the prompts directly to override them. A slider "
                "left at its default keeps the default (the text guidance then follows the Advanced guidance).")
    attributes_file = gr.File(label="Attributes JSON (one entry, or a test_gpt4o.json keyed by file name)",
                              file_types=[".json"], elem_id="pd-attributes-file")
    fields = []
    with gr.Row():
        for group, title in (("person", "Person"), ("clothing", "Garment")):
            with gr.Column():
                gr.Markdown(f"**{title}**")
                for name in form[f"{group}_fields"]:
                    fields.append(gr.Textbox(form["values"][group][name], label=name, max_lines=1))
    controls = panel_controls(PromptDresserOptions, {
        "full_prompt": {"value": form["full_prompt"], "elem_id": "pd-full-prompt"},
        "clothing_prompt": {"value": form["clothing_prompt"], "lines": 1, "elem_id": "pd-clothing-prompt"},
        "mask_mode": {"elem_id": "pd-mask-mode"},
        "mask_dilation": {"elem_id": "pd-mask-dilation"},
    })
    by_name = dict(zip(controls.names, controls.components, strict=True))
    mask_preview = gr.Image(label="Mask preview: coarse (blue), fine (red), used (green outline)", height=300,
                            interactive=False, elem_id="pd-mask-preview")

    def render(*values: str) -> tuple[str, str]:
        n = len(form["person_fields"])
        return PromptDresserOptions.render_prompts({
            "person": dict(zip(form["person_fields"], values[:n], strict=True)),
            "clothing": dict(zip(form["clothing_fields"], values[n:], strict=True))})

    @user_errors
    def load_file(path: str | None, person_path: str | None, garment_path: str | None) -> list[str]:
        if not path:
            return [gr.update() for _ in fields]
        record = PromptDresserOptions.attributes_from_json(Path(path), Path(person_path).stem if person_path else None,
                                                           Path(garment_path).stem if garment_path else None)
        values = PromptDresserOptions.prompt_form(record)["values"]
        return [values["person"][n] for n in form["person_fields"]] + [
            values["clothing"][n] for n in form["clothing_fields"]]

    @user_errors
    def show_mask(person_path: str | None, garment_path: str | None, category_value: str, mode: str,
                  n: float) -> Any:
        if not person_path or not garment_path:
            return None
        options = PromptDresserOptions(mask_mode=mode, mask_dilation=int(n))
        return options.mask_preview(sample_fn(person_path, garment_path, category_value))

    for text_field in fields:
        text_field.change(render, fields, [by_name["full_prompt"], by_name["clothing_prompt"]],
                          api_visibility="private")
    attributes_file.change(load_file, [attributes_file, person, garment], fields, api_visibility="private")
    mode, dilation = by_name["mask_mode"], by_name["mask_dilation"]
    for trigger in (mode.change, dilation.release, person.change, garment.change):
        trigger(show_mask, [person, garment, category, mode, dilation], mask_preview, api_visibility="private")
    return controls
