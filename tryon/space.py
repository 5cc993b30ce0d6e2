"""The Hugging Face Space README: front matter from spaces.yaml, then the project README.

A Space is configured by YAML front matter at the top of its README.md; keeping the settings in spaces.yaml
means they are reviewed like code and the README never drifts from them. Our own key `preload_groups` names
weight groups; it becomes Hugging Face's `preload_from_hub` (their hub files, downloaded at build time), and at
start the app links those files into the weights cache (`use_preloaded_weights`).
"""

from __future__ import annotations

import logging
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
