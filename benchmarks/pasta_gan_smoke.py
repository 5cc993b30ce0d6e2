"""PASTA-GAN++ at full size (43M-parameter G, 512x512) with seeded random weights: time and peak memory of one
try-on forward, no download needed; on CUDA also the kit's tiny-weight case against its goldens.

    python benchmarks/pasta_gan_smoke.py                  # CPU, fp32
    python benchmarks/pasta_gan_smoke.py --device cuda    # fp32 and fp16, plus the golden case on the GPU

Weights follow the golden kit's seeded rule (README section 3) applied to the real config's keys, so activations
have realistic scales; inputs are the kit's preprocessed upper_sleeve maps. Prints one JSON line per mode.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tryon.backends.pasta_gan.backend import generator_from_state_dict  # noqa: E402
from tryon.backends.pasta_gan.inputs import assemble, to_uint8_image  # noqa: E402
from tryon.backends.pasta_gan.patches import pad_to_square  # noqa: E402
from tryon.backends.pasta_gan.seeded import seeded_state_dict  # noqa: E402
from tryon.runtime import DTYPES, measure  # noqa: E402

KIT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pasta_gan"
MAPS = ("norm_img", "norm_img_lower", "retain_mask", "skin_average", "pose", "lower_label_value",
        "lower_clothes_upper_bound", "denorm_upper", "denorm_lower")


def kit_inputs(case: str = "upper_sleeve", person: str = "B"):
    tensors = load_file(str(KIT / f"case_{case}.safetensors"))
    image = load_file(str(KIT / "inputs.safetensors"))[f"{person}.image"].numpy()
    padded, columns = pad_to_square(image, 255)
    return assemble(padded, **{m: tensors[f"pre.{m}"].numpy() for m in MAPS}), columns, tensors


def generator(config_name: str, keys_name: str):
    config = json.loads((KIT / "config.json").read_text())
    if keys_name == "real_config_keys":
        shapes = {k: list(s) for k, s in config["real_config_keys"]}
    else:
        shapes = {k["key"]: k["shape"] for k in json.loads((KIT / "tiny_keys.json").read_text())["keys"]}
    state = seeded_state_dict(shapes, config["weight_rule"])
    return generator_from_state_dict(state, config[config_name]["init_kwargs"])


@torch.no_grad()
def run(g, inputs, device: str, dtype: torch.dtype, repeat: int):
    g = g.to(device=device, dtype=dtype)
    x = inputs.to(device, dtype)
    args = (x.parts, x.retain, x.pose, x.denorm_upper, x.denorm_lower, x.denorm_upper_mask, x.denorm_lower_mask)
    g(*args)  # warm-up (cuDNN autotune, allocator)
    times, peak, out = [], 0.0, None
    for _ in range(repeat):
        with measure(device) as m:
            out = g(*args)
        times.append(m.seconds)
        peak = max(peak, m.peak_memory_mb or 0.0)
    return out.float().cpu(), min(times), peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    inputs, columns, tensors = kit_inputs()
    g = generator("real_config", "real_config_keys")
    params = sum(p.numel() for p in g.parameters())
    dtypes = ["fp32", "fp16"] if args.device.startswith("cuda") else ["fp32"]
    reference = None
    for name in dtypes:
        out, seconds, peak = run(g, inputs, args.device, DTYPES[name], args.repeat)
        row = {"model": "real", "device": args.device, "dtype": name, "parameters": params,
               "seconds": round(seconds, 3), "peak_mb": round(peak, 1), "finite": bool(torch.isfinite(out).all())}
        if reference is None:
            reference = out
        else:
            row["max_abs_vs_fp32"] = float((out - reference).abs().max())
            row["mean_abs_vs_fp32"] = float((out - reference).abs().mean())
        print(json.dumps(row), flush=True)
    if args.device.startswith("cuda"):
        tiny = generator("tiny_config", "tiny_keys")
        out, seconds, _ = run(tiny, inputs, args.device, torch.float32, 1)
        expected = tensors["post.final_rgb"].numpy().astype(int)
        diff = abs(to_uint8_image(out, columns).astype(int) - expected)
        window = tensors["gen.finetune_img_win"]
        y0, x0, s = json.loads((KIT / "cases.json").read_text())["window"]["finetune"]
        print(json.dumps({"model": "tiny-kit upper_sleeve", "device": args.device, "dtype": "fp32",
                          "finetune_win_max_abs": float((out[..., y0:y0 + s, x0:x0 + s] - window).abs().max()),
                          "final_rgb_max_diff": int(diff.max()),
                          "final_rgb_pixels_off": float((diff > 0).any(axis=2).mean())}), flush=True)


if __name__ == "__main__":
    main()
