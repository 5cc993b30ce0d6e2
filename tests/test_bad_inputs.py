"""Every bad input a user can give: in the CLI exit code 2 and one line naming the file, never a traceback; in
the app a message naming the upload as the user called it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assets.make_examples import tshirt
from tryon.cli import main
from tryon.imaging import save_image

PHOTOS = Path(__file__).parents[1] / "assets" / "examples" / "photos"
PERSON, GARMENT = PHOTOS / "person_astronaut.jpg", PHOTOS / "garment_red_tee.jpg"
PROGRESS_BAR = re.compile(r"\d+%\|")  # tqdm's lines (infer shows one) are not error output


def _empty_room(folder: Path) -> Path:
    """A photo with nothing in it: a plain wall."""
    return save_image(np.full((320, 240, 3), 180, np.uint8), folder / "empty_room.jpg")


def _noise(folder: Path) -> Path:
    """A 'garment' photo with no plain background to separate it from."""
    return save_image(np.random.RandomState(0).randint(0, 255, (256, 256, 3)).astype(np.uint8), folder / "noise.png")


def _text_file(name: str, text: str):
    """A builder of a file that holds `text` (not an image, empty, or standing where a folder should go)."""
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_text(text)
        return path

    return build


_not_an_image = _text_file("notes.jpg", "not an image")
_empty_file = _text_file("zero.jpg", "")
_a_file = _text_file("taken", "a file where the output folder should go")


def _dataset_without_a_person(folder: Path) -> Path:
    root = folder / "ds"
    _empty_room(root / "image")
    save_image(tshirt((200, 30, 40)), root / "cloth" / "shirt.jpg")
    (root / "test_pairs.txt").write_text("empty_room.jpg shirt.jpg\n")
    return root


def _run(person: Path | str, garment: Path | str, out: Path | str) -> list[str]:
    return ["run", "--person", str(person), "--garment", str(garment), "--out", str(out)]


# (arguments built from a temporary folder, what the one line must say)
CASES = {
    "missing person": (lambda t: _run(t / "nope.jpg", GARMENT, t / "o"), "{t}/nope.jpg: file not found"),
    "not an image": (lambda t: _run(_not_an_image(t), GARMENT, t / "o"), "{t}/notes.jpg: not an image"),
    "empty garment file": (lambda t: _run(PERSON, _empty_file(t), t / "o"), "{t}/zero.jpg: the file is empty"),
    "no person": (lambda t: _run(_empty_room(t), GARMENT, t / "o"),
                  "{t}/empty_room.jpg (person photo): no person found"),
    "no separable garment": (lambda t: _run(PERSON, _noise(t), t / "o"),
                             "{t}/noise.png (garment photo): no separable background"),
    "output folder is a file": (lambda t: _run(PERSON, GARMENT, _a_file(t)),
                                "{t}/taken: cannot create the output folder"),
    "prepare without a person": (
        lambda t: ["prepare", "--person", str(_empty_room(t)), "--garment", str(GARMENT), "--out", str(t / "d"),
                   "--id", "x"], "{t}/empty_room.jpg (person photo): no person found"),
    "dataset photo without a person": (
        lambda t: ["infer", "--dataset", str(_dataset_without_a_person(t)), "--unpaired", "--out", str(t / "r")],
        "{t}/ds/image/empty_room.jpg (person photo): no person found"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_naming_the_file(case, tmp_path, capsys):
    build, expected = CASES[case]
    code = main(build(tmp_path))
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not PROGRESS_BAR.search(line)]
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    assert expected.format(t=tmp_path) in err[0]


def test_no_person_from_the_shell_names_the_photo_without_a_traceback(tmp_path):
    """The same through a real process: what a user sees on the terminal."""
    photo = _empty_room(tmp_path)
    done = subprocess.run([sys.executable, "-m", "tryon", *_run(photo, GARMENT, tmp_path / "o")],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert lines == [f"error: {photo} (person photo): no person found (no body keypoints detected)"]
    assert "Traceback" not in done.stderr + done.stdout


def test_the_app_names_an_upload_by_its_own_name(tmp_path, monkeypatch):
    """Gradio keeps an upload as <upload folder>/<hash>/<name>: the message names <name>, not the server path."""
    import gradio as gr

    from tryon.ui.tryon_tab import preview

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    upload = _empty_room(tmp_path / "gradio" / "3f9a0c1d")
    with pytest.raises(gr.Error) as raised:
        preview(str(upload), str(GARMENT), "upper")
    assert raised.value.message == "empty_room.jpg (person photo): no person found (no body keypoints detected)"
