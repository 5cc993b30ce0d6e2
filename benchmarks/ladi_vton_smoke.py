"""LaDI-VTON at real size with random weights (no download): time and peak memory of a 2-step try-on.

CPU: fp32, no offload. `--device cuda`: fp16 with no offload, model offload and sequential offload.
Usage (from the repo root): PYTHONPATH=. python benchmarks/ladi_vton_smoke.py [--device cpu|cuda] [--steps 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tryon.backends.base import RunOptions
from tryon.backends.ladi_vton import loading
from tryon.backends.ladi_vton.backend import LadiVtonBackend
from tryon.backends.ladi_vton.config import REAL_CONFIG
from tryon.backends.ladi_vton.pipeline import LadiVtonPipeline
from tryon.clip_tokenizer import clip_tokenizer
from tryon.runtime import Runtime, measure
from tryon.sample import TryOnSample

COMPONENTS = ("unet", "vae", "emasc", "inversion_adapter", "text_encoder", "vision_encoder", "tps", "refinement")


def random_pipeline() -> tuple[LadiVtonPipeline, dict[str, int]]:
    """Every component at the released size, default (random) initialisation, eval mode."""
    torch.manual_seed(0)
    modules = {n: loading.build(n, REAL_CONFIG[n], REAL_CONFIG["vision_encoder"]).eval() for n in COMPONENTS}
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in modules.items()}
    scheduler = loading.scheduler(REAL_CONFIG["scheduler"])
    pipe = LadiVtonPipeline(tokenizer=clip_tokenizer(pad_token="!"), scheduler=scheduler, **modules)
    return pipe, params


def sample() -> TryOnSample:
    rng = np.random.default_rng(0)
    parse = np.zeros((1024, 768), np.uint8)
    parse[100:250, 300:460] = 13
    parse[250:650, 200:560] = 5
    parse[650:1000, 230:530] = 9
    kp = np.zeros((18, 3), np.float32)
    for i, (x, y) in {0: (384, 180), 1: (384, 290), 2: (270, 300), 3: (230, 470), 4: (220, 630), 5: (500, 300),
                      6: (545, 470), 7: (560, 630), 8: (330, 620), 11: (450, 620)}.items():
        kp[i] = (x, y, 1.0)
    return TryOnSample(person=rng.integers(0, 255, (1024, 768, 3), dtype=np.uint8),
                       garment=rng.integers(0, 255, (1024, 768, 3), dtype=np.uint8), keypoints=kp, parse=parse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    pipe, params = random_pipeline()
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
            image = backend.generate(sample(), RunOptions(seed=1234, steps=args.steps))
        backend.unload()
        assert image.shape == (1024, 768, 3)
        print(f"{runtime.device:8} {runtime.dtype:6} {runtime.offload:11} {args.steps:>5} {m.seconds:>8.1f} "
              f"{m.peak_memory_mb:>9.0f}")


if __name__ == "__main__":
    main()
