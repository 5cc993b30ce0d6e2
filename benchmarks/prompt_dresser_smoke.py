"""PromptDresser at full size with random weights: time and peak memory of a short run, no download needed.

    python benchmarks/prompt_dresser_smoke.py                    # CPU, bf16, 2 steps at 1024x768
    python benchmarks/prompt_dresser_smoke.py --device cuda      # fp16 with no / model / sequential offload

The modules have the real SDXL shapes (two 2.57 B-parameter UNets, both CLIP encoders, the SDXL VAE), so the
numbers reflect the real model's cost; the images are noise. In fp32 the weights alone take ~24 GB, more than a
24 GB CPU machine holds, so the CPU default is bf16 (`--dtype fp32` where memory allows).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tryon.backends.base import RunOptions, run_one  # noqa: E402
from tryon.backends.prompt_dresser.backend import PromptDresserBackend  # noqa: E402
from tryon.backends.prompt_dresser.loading import scheduler_from_config, tokenizers  # noqa: E402
from tryon.backends.prompt_dresser.pipeline import PromptDresserPipeline  # noqa: E402
from tryon.runtime import DTYPES, Runtime  # noqa: E402
from tryon.sample import TryOnSample  # noqa: E402

KIT_CONFIG = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "prompt_dresser" / "config.json"
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768, eos_token_id=2)
CLIP_BIGG = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                 num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280,
                 eos_token_id=2)
SDXL_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
                down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                layers_per_block=2, norm_num_groups=32, sample_size=1024, scaling_factor=0.13025, force_upcast=False)
SDXL_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      steps_offset=1)


def random_module(build, dtype: torch.dtype) -> torch.nn.Module:
    """Build on the meta device and fill with small random values in `dtype` (no fp32 copy on the way)."""
    with torch.device("meta"):
        module = build()
    module = module.to_empty(device="cpu").to(dtype)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
        for name, buffer in module.named_buffers():
            if name.endswith("position_ids"):
                buffer.copy_(torch.arange(buffer.shape[-1]).expand_as(buffer))
    return module.eval()


def full_size_pipeline(dtype: torch.dtype) -> PromptDresserPipeline:
    real = json.loads(KIT_CONFIG.read_text())["real_config"]
    tok, tok_2 = tokenizers()
    return PromptDresserPipeline(
        random_module(lambda: UNet2DConditionModel.from_config(real), dtype),
        random_module(lambda: UNet2DConditionModel.from_config({**real, "in_channels": 4}), dtype),
        random_module(lambda: AutoencoderKL(**SDXL_VAE), dtype),
        random_module(lambda: CLIPTextModel(CLIPTextConfig(**CLIP_L)), dtype),
        random_module(lambda: CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIGG)), dtype),
        tok, tok_2, scheduler_from_config(dict(DDPMScheduler(**SDXL_SCHEDULER).config)),
    )


def synthetic_sample(height: int, width: int) -> TryOnSample:
    rng = np.random.default_rng(0)
    mask = np.zeros((height, width), bool)
    mask[height // 5 : height * 3 // 5, width // 4 : width * 3 // 4] = True
    return TryOnSample(person=rng.integers(0, 255, (height, width, 3), dtype=np.uint8),
                       garment=rng.integers(0, 255, (height, width, 3), dtype=np.uint8), agnostic_mask=mask)


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
    pipeline = full_size_pipeline(DTYPES[dtype])
    params = sum(p.numel() for m in (pipeline.unet, pipeline.garment_unet, pipeline.vae, pipeline.text_encoder,
                                     pipeline.text_encoder_2) for p in m.parameters())
    print(f"built {params / 1e9:.2f} B random parameters in {dtype} in {time.perf_counter() - start:.0f} s")
    sample = synthetic_sample(args.height, args.width)
    rows = []
    for mode in modes:
        backend = PromptDresserBackend.from_modules(pipeline, resolution=(args.height, args.width))
        result = run_one(backend, sample, RunOptions(seed=0, steps=args.steps),
                         Runtime(device=args.device, dtype=dtype, offload=mode))  # type: ignore[arg-type]
        rows.append((mode, result))
        if cuda:
            for module in backend._modules():  # back to the CPU, hooks removed, for the next mode
                from accelerate.hooks import remove_hook_from_module

                remove_hook_from_module(module, recurse=True)
                module.to("cpu")
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
