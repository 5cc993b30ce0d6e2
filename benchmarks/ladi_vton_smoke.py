"""LaDI-VTON at real size with random weights (no download): time and peak memory of a 2-step try-on.

CPU: fp32, no offload. `--device cuda`: fp16 with no offload, model offload and sequential offload.
Usage: python benchmarks/ladi_vton_smoke.py [--device cpu|cuda] [--steps 2]
"""

from __future__ import annotations

import argparse
import time

from random_models import ladi_vton_pipeline, synthetic_sample

from tryon.backends.base import RunContext
from tryon.backends.ladi_vton.backend import COMPONENTS, LadiVtonBackend
from tryon.runtime import Runtime, measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    pipe = ladi_vton_pipeline()
    params = {n: sum(p.numel() for p in getattr(pipe, n).parameters()) for n in COMPONENTS}
    print(f"built in {time.perf_counter() - start:.1f} s; parameters (M): "
          + ", ".join(f"{n} {p / 1e6:.1f}" for n, p in params.items()) + f"; total {sum(params.values()) / 1e6:.0f}")
    if args.device == "cpu":
        runtimes = [Runtime(device="cpu", dtype="fp32")]
    else:
        runtimes = [Runtime(device=args.device, dtype="fp16", offload=o) for o in ("none", "model", "sequential")]
    print(f"{'device':8} {'dtype':6} {'offload':11} {'steps':>5} {'seconds':>8} {'peak MiB':>9}")
    for runtime in runtimes:
        backend = LadiVtonBackend(pipeline=pipe)
        backend.load(runtime)
        with measure(runtime.device) as m:
            options = backend.options({"steps": args.steps})
            image = backend.generate(synthetic_sample(), options, RunContext.seeded(options.seed)).image
        backend.unload()
        assert image.shape == (1024, 768, 3)
        print(f"{runtime.device:8} {runtime.dtype:6} {runtime.offload:11} {args.steps:>5} {m.seconds:>8.1f} "
              f"{m.peak_memory_mb:>9.0f}")


if __name__ == "__main__":
    main()
