"""What each backend's results cost to make, read back from the `infer.json` that `infer` writes beside them.

Quality alone does not choose a model: the coursework's hardware table (a GTX 1060 3 GB, an RTX 2060 8 GB, a
GTX 1070 8 GB, PromptDresser "much slower") mattered as much as its FID. So the report puts each backend's
median seconds per image, its peak memory, and the device, dtype and offload mode it ran in beside its
scores. Results that `infer` did not make (an official script's outputs) have no such record: every cost
field then says "unknown" rather than guessing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

UNKNOWN = "unknown"
INFER_LOG = "infer.json"
COST_FIELDS = ("seconds_per_image", "peak_memory_mb", "device", "dtype", "offload")


def _records(log: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(log.read_text()).get("records", []))
    except (OSError, ValueError, AttributeError):
        return []  # an unreadable log is the same as none: costs unknown


def _joined(values: Iterable[Any]) -> str:
    distinct = sorted({str(v) for v in values if v not in (None, "")})
    return " / ".join(distinct) if distinct else UNKNOWN


def backend_cost(results_dir: Path, files: Iterable[str]) -> dict[str, Any]:
    """Cost of the scored result `files` in `results_dir` (a backend folder of an infer output): the median
    seconds per image and the largest peak memory over their successful records, the device / dtype / offload
    they ran in (several values joined with ' / '), and how many images had a record (`timed_images`)."""
    wanted = set(files)
    records = [r for r in _records(results_dir.parent / INFER_LOG)
               if r.get("backend") == results_dir.name and r.get("ok") and r.get("pair") in wanted]
    if not records:
        return {**dict.fromkeys(COST_FIELDS, UNKNOWN), "timed_images": 0}
    seconds = [r["seconds"] for r in records if r.get("seconds") is not None]
    memory = [r["peak_memory_mb"] for r in records if r.get("peak_memory_mb") is not None]
    runtimes = [r.get("runtime") or {} for r in records]
    return {
        "seconds_per_image": float(np.median(seconds)) if seconds else UNKNOWN,
        "peak_memory_mb": float(max(memory)) if memory else UNKNOWN,
        **{key: _joined(rt.get(key) for rt in runtimes) for key in ("device", "dtype", "offload")},
        "timed_images": len(records),
    }


def merge_records(log: Path, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This run's records plus the earlier runs' records of results this run did not regenerate: a resumed
    `infer` skips finished images, and their timings must survive it."""
    regenerated = {(r.get("pair"), r.get("backend")) for r in fresh if "ok" in r}
    kept = [r for r in _records(log) if "ok" in r and (r.get("pair"), r.get("backend")) not in regenerated]
    return kept + fresh
