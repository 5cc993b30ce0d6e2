"""PromptDresser at full size with random weights: time and peak memory of a short run, no download needed.

    python benchmarks/prompt_dresser_smoke.py                    # CPU, bf16, 2 steps at 1024x768
    python benchmarks/prompt_dresser_smoke.py --device cuda      # fp16 with no / model / sequential offload

The modules have the real SDXL shapes (two 2.57 B-parameter UNets, both CLIP encoders, the SDXL VAE), so the
numbers reflect the real model's cost; the images are noise. In fp32 the weights alone take ~24 GB, more than a
24 GB CPU machine holds, so the CPU default is bf16 (`--dtype fp32` where memory allows).
"""

from __future__ import annotations

import argparse
import time

import torch
from random_models import prompt_dresser_pipeline, synthetic_sample

from tryon.backends.base import run_one
from tryon.backends.prompt_dresser.backend import PromptDresserBackend
from tryon.runtime import DTYPES, Runtime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=list(DTYPES), help="default: bf16 on CPU, fp16 on CUDA")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--offload", nargs="*", help="default: none on CPU; none, model, sequential on CUDA")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    dtype = args.dtype or ("fp16" if cuda else "bf16")
    modes = args.offload or (["none", "model", "sequential"] if cuda else ["none"])
    torch.manual_seed(0)
    start = time.perf_counter()
    pipeline = prompt_dresser_pipeline(DTYPES[dtype])
    params = sum(p.numel() for m in (pipeline.unet, pipeline.garment_unet, pipeline.vae, pipeline.text_encoder,
                                     pipeline.text_encoder_2) for p in m.parameters())
    print(f"built {params / 1e9:.2f} B random parameters in {dtype} in {time.perf_counter() - start:.0f} s")
    sample = synthetic_sample(args.height, args.width)
    rows = []
    for mode in modes:
        backend = PromptDresserBackend.from_modules(pipeline, resolution=(args.height, args.width))
        result = run_one(backend, sample, {"seed": 0, "steps": args.steps, "mask_mode": "fine"},
                         Runtime(device=args.device, dtype=dtype, offload=mode))  # type: ignore[arg-type]
        rows.append((mode, result))
        backend.unload()  # given modules go back to the CPU without hooks, for the next mode
        if cuda:
            torch.cuda.empty_cache()
    device_name = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"\nPromptDresser smoke: {args.steps} steps, {args.height}x{args.width}, batch 3 (jointcond), {device_name}")
    print(f"{'device':<8} {'dtype':<6} {'offload':<11} {'seconds':>9} {'peak MiB':>10}  result")
    for mode, r in rows:
        peak = "-" if r.peak_memory_mb is None else f"{r.peak_memory_mb:.0f}"
        status = "ok" if r.ok else f"error: {r.error}"
        print(f"{args.device:<8} {dtype:<6} {mode:<11} {r.seconds:>9.1f} {peak:>10}  {status}")
    print("peak memory: CUDA max allocated on a GPU; process peak RSS on CPU (includes the weights)")
    return 0 if all(r.ok for _, r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
