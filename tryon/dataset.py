"""VITON-HD-style folders: read them into `TryOnSample`s and write prepared samples into them.

Layout (either at the root or under `test/`, as VITON-HD ships it):
    image/NAME.jpg  cloth/NAME.jpg  cloth-mask/NAME.(jpg|png)  agnostic-mask/NAME_mask.png
    image-parse-v3/NAME.png  openpose_json/NAME_keypoints.json  openpose_img/NAME_rendered.png
    image-densepose/NAME.jpg  test_pairs.txt ("person.jpg cloth.jpg" per line)  test_gpt4o.json
    provenance/NAME.json (how `prepare` made the sample: estimators, assumptions, versions; tryon.provenance)
Only `image/`, `cloth/` and the pairs file are required: derived inputs that a folder lacks are computed with
the same preprocessing as two uploaded photos, so a dataset sample and an upload sample are the same thing.
A file that exists but is unreadable is an error naming that file.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tryon.errors import InputError, naming
from tryon.imaging import describe, limit_size, load_image, load_mask, output_folder, save_image
from tryon.openpose import read_keypoints, render_skeleton, write_keypoints
from tryon.preprocess import Estimators, estimators, missing_joint_notes, prepare_sample
from tryon.preprocess.masks import agnostic_mask, garment_mask
from tryon.provenance import make_record, read_records, write_record
from tryon.sample import Category, TryOnSample, parse_category

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
PAIRS_FILE = "test_pairs.txt"
PROMPTS_FILE = "test_gpt4o.json"
# A colour per parse label so that image-parse-v3 PNGs are viewable; the pixel values stay the label ids.
_PALETTE = np.random.RandomState(20).randint(0, 256, (256, 3)).astype(np.uint8)
_PALETTE[0] = 0


def stem(name: str) -> str:
    return Path(name).stem


class VitonFolder:
    """A VITON-HD-style dataset folder."""

    def __init__(self, root: str | Path, tools: Estimators | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: dataset folder not found")
        nested = self.root / "test"
        self.data = nested if (nested / "image").is_dir() else self.root
        self._tools = tools
        self._prompts: dict[str, Any] | None = None

    # -- file lookup ---------------------------------------------------------------------------------------
    def _find(self, folder: str, name: str, suffix: str = "", required: bool = True) -> Path | None:
        base = self.data / folder
        for ext in IMAGE_EXTENSIONS if not suffix.endswith(".json") else ("",):
            path = base / f"{stem(name)}{suffix}{ext}"
            if path.is_file():
                return path
        if required:
            raise InputError(f"{base / (stem(name) + suffix)}.*: missing file in the dataset")
        return None

    def image_path(self, person_name: str) -> Path:
        return self._find("image", person_name)  # type: ignore[return-value]

    def cloth_path(self, cloth_name: str) -> Path:
        return self._find("cloth", cloth_name)  # type: ignore[return-value]

    def people(self) -> list[str]:
        folder = self.data / "image"
        if not folder.is_dir():
            raise InputError(f"{folder}: missing image/ folder")
        return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)

    def pairs(self, pairs_file: str | Path | None = None, paired: bool = False) -> list[tuple[str, str]]:
        """(person file, cloth file) per line of the pairs file; `paired` swaps in the person's own cloth."""
        path = Path(pairs_file) if pairs_file else self.root / PAIRS_FILE
        if not path.is_file() and not pairs_file:
            path = self.data / PAIRS_FILE
        if not path.is_file():
            raise InputError(f"{path}: pairs file not found")
        result = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise InputError(f"{path}:{number}: expected 'person.jpg cloth.jpg', got {line!r}")
            result.append((parts[0], parts[0] if paired else parts[1]))
        return result

    def prompts(self) -> dict[str, Any]:
        """The test_gpt4o.json attribute records keyed by file stem ({} when the file is absent)."""
        if self._prompts is None:
            path = self.root / PROMPTS_FILE
            if not path.is_file():
                path = self.data / PROMPTS_FILE
            try:
                self._prompts = json.loads(path.read_text()) if path.is_file() else {}
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
        return self._prompts

    # -- reading ---------------------------------------------------------------------------------------------
    def load_sample(
        self, person_name: str, cloth_name: str, category: str | Category = "upper", paired: bool = False
    ) -> TryOnSample:
        """Everything for one pair; `paired=True` (the VITON paired protocol) adds the person photo as ground
        truth, which is only meaningful when the cloth is the one the person wears."""
        category = parse_category(category)
        person_path, cloth_path = self.image_path(person_name), self.cloth_path(cloth_name)
        person, garment = load_image(person_path), load_image(cloth_path)
        size = person.shape[:2]
        provenance: dict[str, Any] = {"dataset": str(self.root)}
        notes: list[str] = []
        tools = None
        prepared = read_records(self.data, (stem(person_name), stem(cloth_name)))
        if prepared:
            provenance["prepared"] = prepared

        kp_path = self._find("openpose_json", person_name, "_keypoints.json", required=False)
        if kp_path is not None:
            keypoints, provenance["keypoints"] = read_keypoints(kp_path), f"file {kp_path.name}"
            person_mask = None
        else:
            tools = tools or self._estimators()
            with naming(str(person_path)):
                pose = tools.pose(person)
            keypoints, person_mask, provenance["keypoints"] = pose.keypoints, pose.person_mask, pose.estimator
        notes += missing_joint_notes(keypoints)

        parse_path = self._find("image-parse-v3", person_name, required=False)
        if parse_path is not None:
            parse = read_parse(parse_path, size)
            provenance["parse"] = f"file {parse_path.name}"
        else:
            tools = tools or self._estimators()
            with naming(str(person_path)):
                if person_mask is None:
                    person_mask = tools.pose(person).person_mask
                parse = tools.parser(person, keypoints, person_mask)
            provenance["parse"] = getattr(tools.parser, "name", "parser")
        if person_mask is None:
            person_mask = parse > 0

        cm_path = self._find("cloth-mask", cloth_name, required=False)
        with naming(str(cloth_path)):
            cloth_mask = load_mask(cm_path, garment.shape[:2]) if cm_path else garment_mask(garment)
        provenance["garment_mask"] = f"file {cm_path.name}" if cm_path else "border-colour threshold"

        am_path = self._find("agnostic-mask", person_name, "_mask", required=False)
        if am_path is not None:
            region = load_mask(am_path, size)
            provenance["agnostic_mask"] = f"file {am_path.name}"
        else:
            with naming(str(person_path)):
                region, more = agnostic_mask(parse, keypoints, category)
            notes += more
            provenance["agnostic_mask"] = "VITON-HD rule over the parse and keypoints"

        if stem(person_name) in prepared:  # what prepare assumed, that the stored files no longer show
            notes += [n for n in prepared[stem(person_name)].get("assumptions", []) if n not in notes]

        dp_path = self._find("image-densepose", person_name, required=False)
        record = self.prompts()
        prompts = None
        if stem(person_name) in record or stem(cloth_name) in record:
            prompts = {
                "person": record.get(stem(person_name), {}).get("person"),
                "clothing": record.get(stem(cloth_name), {}).get("clothing"),
            }
        return TryOnSample(
            person=person, garment=garment, category=category, name=f"{stem(person_name)}__{stem(cloth_name)}",
            keypoints=keypoints, parse=parse, person_mask=person_mask, garment_mask=cloth_mask,
            agnostic_mask=region, densepose=load_image(dp_path) if dp_path else None,
            ground_truth=person.copy() if paired else None, prompts=prompts, provenance=provenance, notes=notes,
        )

    def provenance(self, pairs: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """{sample id: provenance record} of the people and cloths these pairs use that have one ({} for a
        folder not made by `prepare`), for the reports computed from them."""
        return read_records(self.data, (stem(name) for pair in pairs for name in pair))

    def _estimators(self) -> Estimators:
        if self._tools is None:
            self._tools = estimators()
        return self._tools

    def check(self, pairs: list[tuple[str, str]] | None = None) -> list[str]:
        """Problems of the folder as one line each (missing images/cloths/pairs); empty when usable."""
        problems = []
        try:
            pairs = pairs if pairs is not None else self.pairs()
        except InputError as exc:
            return [str(exc)]
        for person, cloth in pairs:
            for folder, name in (("image", person), ("cloth", cloth)):
                if self._find(folder, name, required=False) is None:
                    problems.append(f"{self.data / folder / name}: missing file in the dataset")
        return problems


def read_parse(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A label PNG (P or L mode) as HxW uint8 ids, NEAREST-resized to (height, width) when given."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                image = image.convert("L")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.NEAREST)
            labels = np.asarray(image, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the parse map ({exc})") from exc
    if labels.max() > 19:
        raise InputError(f"{path}: parse labels must be 0-19 (VITON-HD image-parse-v3), found {labels.max()}")
    return labels


def write_parse(path: Path, parse: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(parse.astype(np.uint8), mode="P")
    image.putpalette(_PALETTE.reshape(-1).tolist())
    image.save(path)


def _jpeg_round_trip(image: np.ndarray, quality: int = 95) -> tuple[np.ndarray, bytes]:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    data = buffer.getvalue()
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), data


def prepare_to_folder(
    person: object, garment: object, out: str | Path, name: str, category: str = "upper",
    tools: Estimators | None = None,
) -> TryOnSample:
    """Write one sample into a VITON-HD-style folder, with its provenance record, and return it as
    `VitonFolder.load_sample` reads it.

    The photos are JPEG-encoded first and everything is computed from the decoded pixels, so reading the
    folder back gives exactly the same sample.
    """
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise InputError(f"invalid sample id {name!r}: use letters, digits, '-' or '_'")
    root = Path(out)
    sources = (describe(person), describe(garment))
    person_rgb, person_bytes = _jpeg_round_trip(limit_size(load_image(person)))  # type: ignore[arg-type]
    garment_rgb, garment_bytes = _jpeg_round_trip(limit_size(load_image(garment)))  # type: ignore[arg-type]
    tools = tools or estimators()
    made = prepare_sample(person_rgb, garment_rgb, category, name, tools, names=sources)

    for folder in ("image", "cloth"):
        output_folder(root / folder)
    (root / "image" / f"{name}.jpg").write_bytes(person_bytes)
    (root / "cloth" / f"{name}.jpg").write_bytes(garment_bytes)
    save_image(made.garment_mask, root / "cloth-mask" / f"{name}.png")  # type: ignore[arg-type]
    save_image(made.agnostic_mask, root / "agnostic-mask" / f"{name}_mask.png")  # type: ignore[arg-type]
    write_parse(root / "image-parse-v3" / f"{name}.png", made.parse)  # type: ignore[arg-type]
    write_keypoints(root / "openpose_json" / f"{name}_keypoints.json", made.keypoints)
    save_image(render_skeleton(made.keypoints, made.size), root / "openpose_img" / f"{name}_rendered.png")
    write_record(root, make_record(made, name, sources))
    pairs = root / PAIRS_FILE
    line = f"{name}.jpg {name}.jpg"
    existing = pairs.read_text().splitlines() if pairs.is_file() else []
    if line not in existing:
        pairs.write_text("\n".join(existing + [line]) + "\n")
    sample = VitonFolder(root, tools).load_sample(f"{name}.jpg", f"{name}.jpg", category)
    sample.person_mask = made.person_mask
    sample.provenance.update(made.provenance)  # the estimators, rather than "file NAME_keypoints.json"
    return sample
