"""PromptDresser's two prompts, built from person and clothing attributes exactly as the official "v12" Prompter.

Each image has an attribute record in the dataset's `test_gpt4o.json` schema: ``{"person": {...}, "clothing":
{...}}``, keyed by file stem. The *full prompt* (for the try-on UNet) describes the target person wearing the
new garment; the *clothing prompt* (for the garment encoder) describes the garment alone. Two official rules
override what the person record says, because the garment's shape decides them: a crop garment is always
"untucked", and a short-sleeved garment always has "short sleeve" (otherwise the rolling style is taken from the
person who originally wore the garment in its own photo). The rule tests are case-sensitive substring tests on the
raw values, made before the whole string is lower-cased; this reproduces the official output character for
character (e.g. "a athletic man").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tryon.errors import InputError

PERSON_FIELDS: tuple[str, ...] = (
    "gender", "body shape", "hair length", "pose", "hand pose", "fit of upper cloth", "tucking style",
    "sleeve rolling style",
)
CLOTHING_FIELDS: tuple[str, ...] = ("upper cloth category", "material", "sleeve", "neckline", "upper cloth length")

# Neutral values for photos without a test_gpt4o.json entry (the official LMM prompt is unreleased). They use the
# short lower-case phrase style of the dataset's records.
DEFAULT_PERSON: dict[str, str] = {
    "gender": "person",
    "body shape": "average",
    "hair length": "medium",
    "pose": "standing facing the camera",
    "hand pose": "down by the sides",
    "fit of upper cloth": "regular fit",
    "tucking style": "untucked",
    "sleeve rolling style": "sleeves down",
}
DEFAULT_CLOTHING: dict[str, str] = {
    "upper cloth category": "top",
    "material": "cotton",
    "sleeve": "short sleeves",
    "neckline": "crew neck",
    "upper cloth length": "regular",
}


@dataclass(frozen=True)
class Prompts:
    full: str
    clothing: str


def clothing_prompt(clothing: Mapping[str, str]) -> str:
    """`a {category}, {material}, with {sleeve}, {neckline}`, lower-cased."""
    return (
        f"a {clothing['upper cloth category']}, {clothing['material']}, with {clothing['sleeve']}, "
        f"{clothing['neckline']}"
    ).lower()


def full_prompt(
    person: Mapping[str, str], clothing: Mapping[str, str], garment_wearer: Mapping[str, str] | None = None
) -> str:
    """The try-on prompt for `person` wearing `clothing`; `garment_wearer` is the person record of the garment's
    own photo (the source of the sleeve rolling style), defaulting to `person` as the official fallback does."""
    wearer = person if garment_wearer is None else garment_wearer
    tucking = "untucked" if "crop" in clothing["upper cloth length"] else person["tucking style"]
    rolling = "short sleeve" if "short" in clothing["sleeve"] else wearer["sleeve rolling style"]
    return (
        f"a {person['body shape']} {person['gender']} wears {person['fit of upper cloth']}, "
        f"{clothing['upper cloth category']} ({clothing['material']}), {clothing['neckline']}, {rolling}, "
        f"{tucking}. With {person['hair length']} hair, {person['pose']} with hands {person['hand pose']}"
    ).lower()


def build_prompts(
    person: Mapping[str, str], clothing: Mapping[str, str], garment_wearer: Mapping[str, str] | None = None
) -> Prompts:
    return Prompts(full_prompt(person, clothing, garment_wearer), clothing_prompt(clothing))


def load_attributes(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """Read a `test_gpt4o.json`-style file (stem -> {"person": ..., "clothing": ...})."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read prompt attributes ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected an object keyed by image stem")
    return data


def prompts_for_pair(entries: Mapping[str, Any], person_stem: str, cloth_stem: str) -> Prompts:
    """The official pairing: person attributes from the person's record, garment attributes (and the garment
    wearer's sleeve rolling style, when recorded) from the cloth's record."""
    try:
        person = entries[person_stem]["person"]
        cloth_entry = entries[cloth_stem]
        clothing = cloth_entry["clothing"]
    except KeyError as exc:
        raise InputError(f"no prompt attributes for {exc.args[0]!r} (pair {person_stem}, {cloth_stem})") from exc
    return build_prompts(person, clothing, cloth_entry.get("person"))


def validation_pairs(
    entries: Mapping[str, Any], pairs_files: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """Prompts for every "person.jpg cloth.jpg" line: the paired file first, then the unpaired one, each sorted
    by (person, cloth) as the official evaluation loop orders them."""
    results = []
    for file_name, paired in (("test_pairs.txt", True), ("test_unpairs.txt", False)):
        pairs = sorted(tuple(line.split()[:2]) for line in pairs_files.get(file_name, []) if line.strip())
        for person_image, cloth_image in pairs:
            prompts = prompts_for_pair(entries, Path(person_image).stem, Path(cloth_image).stem)
            results.append({
                "paired": paired, "person_image": person_image, "cloth_image": cloth_image,
                "full_prompt": prompts.full, "clothing_prompt": prompts.clothing,
            })
    return results


def resolve_attributes(attributes: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, str], dict | None]:
    """Fill a partial `{"person": ..., "clothing": ..., "garment_wearer": ...}` dict with the defaults."""
    attributes = attributes or {}
    unknown = set(attributes) - {"person", "clothing", "garment_wearer"}
    if unknown:
        raise InputError(f"unknown prompt attribute groups {sorted(unknown)}: use person, clothing, garment_wearer")
    person = {**DEFAULT_PERSON, **{k: str(v) for k, v in (attributes.get("person") or {}).items()}}
    clothing = {**DEFAULT_CLOTHING, **{k: str(v) for k, v in (attributes.get("clothing") or {}).items()}}
    wearer = attributes.get("garment_wearer")
    if wearer is not None:
        wearer = {**person, **{k: str(v) for k, v in wearer.items()}}
    return person, clothing, wearer


def prompts_from_options(
    attributes: Mapping[str, Any] | None, full_text: str | None = None, clothing_text: str | None = None
) -> Prompts:
    """The prompts a run uses: free text, where given, overrides the prompt rendered from the attributes."""
    person, clothing, wearer = resolve_attributes(attributes)
    rendered = build_prompts(person, clothing, wearer)
    return Prompts(full_text.strip() if full_text and full_text.strip() else rendered.full,
                   clothing_text.strip() if clothing_text and clothing_text.strip() else rendered.clothing)


def prompt_form(attributes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a UI needs to show an attribute editor: field names, defaults, current values and both prompts."""
    person, clothing, _ = resolve_attributes(attributes)
    prompts = prompts_from_options(attributes)
    return {
        "person_fields": list(PERSON_FIELDS),
        "clothing_fields": list(CLOTHING_FIELDS),
        "defaults": {"person": dict(DEFAULT_PERSON), "clothing": dict(DEFAULT_CLOTHING)},
        "values": {"person": person, "clothing": clothing},
        "full_prompt": prompts.full,
        "clothing_prompt": prompts.clothing,
    }
