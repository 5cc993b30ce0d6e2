"""Gradio controls built from the backends' options classes, and the user's choices read back from them.

A control per option: a radio for choices, a checkbox for a flag, a slider for a bounded number, a text box for
text. Shared options (seed, steps, guidance) are number fields left empty: empty means "each backend's default".
A slider or radio has no empty state, so one left at its default counts as not set, which lets an option that
follows a shared one (PromptDresser's text guidance follows "guidance") still follow it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from tryon.options import OptionInfo, Options, is_set, shared_help, shared_infos


def control(info: OptionInfo, **overrides: Any) -> gr.components.Component:
    """The component for one option, labelled and explained from its spec."""
    spec = info.spec
    common: dict[str, Any] = {"label": info.label, "info": spec.help, "elem_id": f"opt-{info.name.replace('_', '-')}"}
    common.update(overrides)
    if spec.choices:
        return gr.Radio(list(spec.choices), **{"value": info.default, **common})
    if info.kind is bool:
        return gr.Checkbox(**{"value": info.default, **common})
    if info.kind in (int, float) and spec.minimum is not None and spec.maximum is not None:
        step = spec.step or (1 if info.kind is int else 0.1)
        return gr.Slider(spec.minimum, spec.maximum, **{"value": info.default, "step": step, **common})
    if info.kind in (int, float):
        return gr.Number(**{"value": info.default, "precision": 0 if info.kind is int else None,
                            "minimum": spec.minimum, "maximum": spec.maximum, **common})
    return gr.Textbox(**{"value": info.default or "", "lines": 2, **common})


@dataclass
class OptionControls:
    """Controls in a fixed order, and how to read what the user set from their values."""

    infos: list[OptionInfo] = field(default_factory=list)
    components: list[gr.components.Component] = field(default_factory=list)

    def __add__(self, other: OptionControls) -> OptionControls:
        return OptionControls(self.infos + other.infos, self.components + other.components)

    @property
    def names(self) -> list[str]:
        return [info.name for info in self.infos]

    def choices(self, values: Sequence[Any]) -> dict[str, Any]:
        """What the user set: filled shared fields, and the other controls that differ from their defaults."""
        chosen = {}
        for info, value in zip(self.infos, values, strict=True):
            if is_set(value) and (info.spec.place == "shared" or value != info.default):
                chosen[info.name] = value
        return chosen


def shared_controls(classes: list[type[Options]]) -> OptionControls:
    """One empty number field per shared option (the Advanced section)."""
    controls = OptionControls()
    for name, (info, defaults) in shared_infos(classes).items():
        controls.infos.append(info)
        text = "empty: each backend's own default. " + shared_help(name, info, defaults, classes)
        controls.components.append(gr.Number(None, label=info.label, info=text,
                                             precision=0 if info.kind is int else None, minimum=info.spec.minimum,
                                             elem_id=f"opt-{info.name}"))
    return controls


def panel_controls(cls: type[Options], overrides: Mapping[str, dict[str, Any]] | None = None) -> OptionControls:
    """A control for each of the class's panel options, in declaration order; `overrides` adjusts one by name."""
    controls = OptionControls()
    for info in cls.infos():
        if info.spec.place == "panel":
            controls.infos.append(info)
            controls.components.append(control(info, **(overrides or {}).get(info.name, {})))
    return controls
