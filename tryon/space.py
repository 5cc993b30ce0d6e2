"""The Hugging Face Space README: front matter from spaces.yaml, then the project README.

A Space is configured by YAML front matter at the top of its README.md; keeping the settings in spaces.yaml
means they are reviewed like code and the README never drifts from them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tryon.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def front_matter(config: Path = ROOT / "spaces.yaml") -> str:
    try:
        settings = yaml.safe_load(config.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{config}: cannot read the Space settings ({exc})") from exc
    if not isinstance(settings, dict) or "sdk" not in settings or "app_file" not in settings:
        raise InputError(f"{config}: needs at least 'sdk' and 'app_file'")
    return "---\n" + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True) + "---\n"


def space_readme(config: Path = ROOT / "spaces.yaml", body: Path = ROOT / "README.md") -> str:
    text = body.read_text() if body.is_file() else ""
    if text.startswith("---\n"):  # replace an existing front matter
        text = text.split("---\n", 2)[2] if text.count("---\n") >= 2 else text
    return front_matter(config) + "\n" + text
