"""VITON-HD-style folders: read them into `TryOnSample`s and write prepared samples into them.

Layout (either at the root or under `test/`, as VITON-HD ships it):
    image/NAME.jpg  cloth/NAME.jpg  cloth-mask/NAME.(jpg|png)  agnostic-mask/NAME_mask.png
    image-parse-v3/NAME.png  openpose_json/NAME_keypoints.json  openpose_img/NAME_rendered.png
    image-densepose/NAME.jpg  test_pairs.txt ("person.jpg cloth.jpg" per line)  test_gpt4o.json
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

from tryon.errors import InputError
from tryon.imaging import limit_size, load_image, load_mask, save_image
from tryon.openpose import read_keypoints, render_skeleton, write_keypoints
from tryon.preprocess import Estimators, estimators, missing_joint_notes
from tryon.preprocess.masks import agnostic_mask, garment_mask
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
        person = load_image(self.image_path(person_name))
        garment = load_image(self.cloth_path(cloth_name))
        size = person.shape[:2]
        provenance: dict[str, Any] = {"dataset": str(self.root)}
        notes: list[str] = []
        tools = None

        kp_path = self._find("openpose_json", person_name, "_keypoints.json", required=False)
        if kp_path is not None:
            keypoints, provenance["keypoints"] = read_keypoints(kp_path), f"file {kp_path.name}"
            person_mask = None
        else:
            tools = tools or self._estimators()
            pose = tools.pose(person)
            keypoints, person_mask, provenance["keypoints"] = pose.keypoints, pose.person_mask, pose.estimator
        notes += missing_joint_notes(keypoints)

        parse_path = self._find("image-parse-v3", person_name, required=False)
        if parse_path is not None:
            parse = read_parse(parse_path, size)
            provenance["parse"] = f"file {parse_path.name}"
        else:
            tools = tools or self._estimators()
            if person_mask is None:
                person_mask = tools.pose(person).person_mask
            parse = tools.parser(person, keypoints, person_mask)
            provenance["parse"] = getattr(tools.parser, "name", "parser")
        if person_mask is None:
            person_mask = parse > 0

        cm_path = self._find("cloth-mask", cloth_name, required=False)
        cloth_mask = load_mask(cm_path, garment.shape[:2]) if cm_path else garment_mask(garment)
        provenance["garment_mask"] = f"file {cm_path.name}" if cm_path else "border-colour threshold"

        am_path = self._find("agnostic-mask", person_name, "_mask", required=False)
        if am_path is not None:
            region = load_mask(am_path, size)
            provenance["agnostic_mask"] = f"file {am_path.name}"
        else:
            region, more = agnostic_mask(parse, keypoints, category)
            notes += more
            provenance["agnostic_mask"] = "VITON-HD rule over the parse and keypoints"

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
    """Write one sample into a VITON-HD-style folder and return it as `VitonFolder.load_sample` reads it.

    The photos are JPEG-encoded first and everything is computed from the decoded pixels, so reading the
    folder back gives exactly the same sample.
    """
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise InputError(f"invalid sample id {name!r}: use letters, digits, '-' or '_'")
    root = Path(out)
    person_rgb, person_bytes = _jpeg_round_trip(limit_size(load_image(person)))  # type: ignore[arg-type]
    garment_rgb, garment_bytes = _jpeg_round_trip(limit_size(load_image(garment)))  # type: ignore[arg-type]
    tools = tools or estimators()
    pose = tools.pose(person_rgb)
    parse = tools.parser(person_rgb, pose.keypoints, pose.person_mask)
    cloth_mask = garment_mask(garment_rgb)
    region, _ = agnostic_mask(parse, pose.keypoints, parse_category(category))

    for folder in ("image", "cloth"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "image" / f"{name}.jpg").write_bytes(person_bytes)
    (root / "cloth" / f"{name}.jpg").write_bytes(garment_bytes)
    save_image(cloth_mask, root / "cloth-mask" / f"{name}.png")
    save_image(region, root / "agnostic-mask" / f"{name}_mask.png")
    write_parse(root / "image-parse-v3" / f"{name}.png", parse)
    write_keypoints(root / "openpose_json" / f"{name}_keypoints.json", pose.keypoints)
    save_image(render_skeleton(pose.keypoints, person_rgb.shape[:2]), root / "openpose_img" / f"{name}_rendered.png")
    pairs = root / PAIRS_FILE
    line = f"{name}.jpg {name}.jpg"
    existing = pairs.read_text().splitlines() if pairs.is_file() else []
    if line not in existing:
        pairs.write_text("\n".join(existing + [line]) + "\n")
    folder = VitonFolder(root, tools)
    sample = folder.load_sample(f"{name}.jpg", f"{name}.jpg", category)
    sample.person_mask = pose.person_mask
    sample.provenance.update(keypoints=pose.estimator, parse=getattr(tools.parser, "name", "parser"))
    return sample
