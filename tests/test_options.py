"""One typed options class per backend: the CLI, the UI and the Python API give a backend the same options for the
same user input, and the three defects of the old parallel paths stay fixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tryon.backends.base import backend_names, get_backend
from tryon.backends.ladi_vton.options import LadiVtonOptions
from tryon.backends.prompt_dresser.options import PromptDresserOptions
from tryon.cli import build_parser
from tryon.errors import InputError
from tryon.options import builtin_classes, choices_from_args, docs_path, markdown_table, options_class, options_for
from tryon.ui.option_controls import panel_controls, shared_controls

ROOT = Path(__file__).parents[1]
PHOTOS = ROOT / "assets" / "examples" / "photos"


def _cli(*flags: str) -> dict:
    args = build_parser().parse_args(["run", "--person", str(PHOTOS / "person_astronaut.jpg"), "--garment",
                                      str(PHOTOS / "garment_red_tee.jpg"), "--out", "o",
                                      "--backends", ",".join(backend_names()), *flags])
    return choices_from_args(args, [options_class(n) for n in backend_names()], args.person, args.garment)


def _ui(**values: object) -> dict:
    """What the Try-on tab's controls send for these values (every other control left as it is)."""
    controls = shared_controls(builtin_classes()) + panel_controls(PromptDresserOptions)
    given = [values.get(info.name, None if info.spec.place == "shared" else info.default) for info in controls.infos]
    return controls.choices(given)


def test_every_backend_declares_its_options_class_in_a_light_module() -> None:
    for name in backend_names():
        assert get_backend(name).options_class is options_class(name)
    loaded = subprocess.run([sys.executable, "-c", "import sys; from tryon.options import builtin_classes; "
                             "from tryon.cli import build_parser; builtin_classes(); build_parser().format_help(); "
                             "print(sorted(m for m in ('torch', 'diffusers', 'gradio') if m in sys.modules))"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"  # `python -m tryon --help` needs no model library, not even torch


@pytest.mark.parametrize("flags, values", [
    ((), {}),
    (("--seed", "5", "--steps", "3", "--guidance", "4"), {"seed": 5, "steps": 3, "guidance": 4}),
    (("--mask-mode", "dilated", "--mask-dilation", "12", "--guidance-image", "2", "--full-prompt", "a red shirt"),
     {"mask_mode": "dilated", "mask_dilation": 12, "guidance_image": 2.0, "full_prompt": "a red shirt"}),
    (("--guidance-text", "9", "--guidance", "3"), {"guidance_text": 9.0, "guidance": 3}),
])
def test_cli_ui_and_api_give_each_backend_the_same_options(flags: tuple[str, ...], values: dict) -> None:
    api = {k: v for k, v in values.items()}
    for name in backend_names():
        cls = options_class(name)
        from_cli, from_ui, from_api = (options_for(cls, c) for c in (_cli(*flags), _ui(**values), api))
        assert from_cli == from_ui == from_api, name


def test_prompt_dresser_mask_mode_defaults_to_auto_everywhere() -> None:
    """Was: "dilated" in the UI's panel, prompt-aware in the CLI and the docs."""
    assert options_for(PromptDresserOptions, _ui()).mask_mode == "auto"
    assert options_for(PromptDresserOptions, _cli()).mask_mode == "auto"
    panel = panel_controls(PromptDresserOptions)
    assert panel.components[panel.names.index("mask_mode")].value == "auto"
    assert "| `mask_mode` | `--mask-mode` | `auto` |" in (ROOT / "docs" / "backends" / "prompt_dresser.md").read_text()


def test_advanced_guidance_reaches_prompt_dresser_unless_its_own_slider_was_moved() -> None:
    """Was: the panel always sent its own text guidance, so the Advanced guidance did nothing for PromptDresser."""
    assert options_for(PromptDresserOptions, _ui(guidance=3.0)).guidance_text == 3.0
    assert options_for(PromptDresserOptions, _ui(guidance=3.0, guidance_text=9.0)).guidance_text == 9.0
    assert options_for(PromptDresserOptions, _ui()).guidance_text == 7.5
    assert options_for(LadiVtonOptions, _ui(guidance=3.0)).guidance == 3.0


def test_ladi_vton_seed_defaults_to_1234_unless_set() -> None:
    """Was: the documented seed 1234 was never applied, since the CLI and the UI always sent 0."""
    assert options_for(LadiVtonOptions, _ui()).seed == 1234
    assert options_for(LadiVtonOptions, _cli()).seed == 1234
    assert options_for(LadiVtonOptions, _ui(seed=0)).seed == 0
    assert options_for(PromptDresserOptions, _ui()).seed == 0


def test_values_are_validated_once_with_the_option_and_flag_named() -> None:
    with pytest.raises(InputError, match=r"steps \(--steps\) must be in \[1, 1000\], got 0"):
        options_for(LadiVtonOptions, {"steps": 0})
    with pytest.raises(InputError, match="must be a whole number"):
        options_for(LadiVtonOptions, {"steps": 2.5})
    assert options_for(LadiVtonOptions, {"steps": 3.0}).steps == 3  # UI number fields send floats
    assert options_for(LadiVtonOptions, {"seed": "", "mask_mode": "fine"}) == LadiVtonOptions()  # blank, not ours


def test_docs_option_tables_are_generated_from_the_classes() -> None:
    """`python -m tryon options --write-docs` rewrites them; this fails until it has run after a change."""
    for name in backend_names():
        text = docs_path(name).read_text()
        assert markdown_table(options_class(name)) in text, f"{name}: run python -m tryon options --write-docs"


def test_the_panel_and_the_cli_import_no_backend_internals_but_the_options_class() -> None:
    allowed = {"tryon.backends.base", "tryon.backends.prompt_dresser.options"}
    for path in (ROOT / "tryon" / "ui" / "prompt_dresser_panel.py", ROOT / "tryon" / "cli.py"):
        imported = {line.split()[1] for line in path.read_text().splitlines()
                    if line.strip().startswith(("from tryon.backends", "import tryon.backends"))}
        assert imported <= allowed, (path.name, imported - allowed)
    for path in (ROOT / "tryon" / "backends").glob("*/*.py"):  # each backend's package
        imports = [line for line in path.read_text().splitlines() if line.strip().startswith(("from ", "import "))]
        assert not [line for line in imports if "tryon.preprocess" in line], path  # injected as tools instead
