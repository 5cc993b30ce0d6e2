"""One try-on as the UI and the CLI both do it: preprocess once, run the chosen backends, record everything.

`run.json` holds what is needed to reproduce and compare a run: the backends with their options and seeds,
timings and peak memory, what produced each preprocessed input and what was assumed, and the versions.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tryon import __version__
from tryon.imaging import output_folder, save_image
from tryon.runtime import Runtime, default_runtime
from tryon.sample import TryOnResult, TryOnSample


def versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers

    return {
        "tryon": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "diffusers": diffusers.__version__, "transformers": transformers.__version__,
    }


def run_record(sample: TryOnSample, results: list[TryOnResult], runtime: Runtime | None = None) -> dict[str, Any]:
    runtime = runtime or default_runtime()
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sample": {"name": sample.name, "category": sample.category, "size": list(sample.size)},
        "preprocessing": sample.provenance,
        "assumptions": sample.notes,
        "runtime": {"device": runtime.device, "dtype": runtime.dtype, "offload": runtime.offload},
        "results": [r.to_record() for r in results],
        "versions": versions(),
    }


def write_run(out: Path, sample: TryOnSample, results: list[TryOnResult], runtime: Runtime | None = None) -> Path:
    """Write each successful result as `<backend>.png` and the record as `run.json`; return run.json's path."""
    output_folder(out)
    for result in results:
        if result.ok:
            save_image(result.image, out / f"{result.backend}.png")  # type: ignore[arg-type]
    path = out / "run.json"
    path.write_text(json.dumps(run_record(sample, results, runtime), indent=2))
    return path
