"""Stand-in backends for the batch tests, and a job that `accelerate launch` runs in several processes.

Usage: accelerate launch --num_processes 2 --cpu tests/evaluate_job.py DATASET OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tryon.backends.base import Backend, Generated, RunContext, set_backend
from tryon.options import Options
from tryon.sample import TryOnSample


class ShiftBackend(Backend):
    """Brightens the try-on region only: a result that keeps everything outside the mask."""

    name = "shift"
    calls = 0

    def generate(self, sample: TryOnSample, options: Options, run: RunContext) -> Generated:
        type(self).calls += 1
        out = sample.person.astype(np.int16)
        region = sample.agnostic_mask if sample.agnostic_mask is not None else np.ones(sample.size, bool)
        out[region] += 60
        return Generated(np.clip(out, 0, 255).astype(np.uint8))


class HalfSizeBackend(Backend):
    """The person photo at half size: eval must resize it back to the reference's size."""

    name = "half"

    def generate(self, sample: TryOnSample, options: Options, run: RunContext) -> Generated:
        return Generated(np.ascontiguousarray(sample.person[::2, ::2]))


def install() -> None:
    set_backend("shift", ShiftBackend())
    set_backend("half", HalfSizeBackend())


if __name__ == "__main__":
    from tryon.evaluate import evaluate, expand_results, infer, process_state

    install()
    dataset, out = Path(sys.argv[1]), Path(sys.argv[2])
    state = process_state()
    summary = infer(dataset, ["shift", "half"], out / "results", progress=False)
    (out / f"rank{state.process_index}.txt").write_text(f"{state.num_processes} {summary['generated']}")
    evaluate(dataset, expand_results([str(out / "results")]), out / "metrics", progress=False)
