"""A PromptDresser weights folder with tiny random weights, in the backend's on-disk layout.

Built from the golden kit's tiny configs (SDXL block layout, 16-48 channels, 3-layer CLIP encoders), so the
backend, the UI and the browser tests can run the whole pipeline offline in a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

KIT = Path(__file__).parent / "fixtures" / "prompt_dresser"
TINY_RESOLUTION = (128, 96)


def make_tiny_prompt_dresser_folder(path: Path | str, seed: int = 0) -> Path:
    """Write unet/, garment_unet/, vae/, text_encoder(_2)/, scheduler/ and pipeline.json under `path`."""
    folder = Path(path)
    config = json.loads((KIT / "config.json").read_text())
    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config(config["unet"])
    (folder / "unet").mkdir(parents=True, exist_ok=True)
    (folder / "unet" / "config.json").write_text(json.dumps(dict(unet.config)))
    torch.save(unet.state_dict(), folder / "unet" / "pytorch_model.bin")  # the official checkpoint's format
    UNet2DConditionModel.from_config(config["garment_unet"]).save_pretrained(folder / "garment_unet")
    AutoencoderKL.from_config(config["vae"]).save_pretrained(folder / "vae")
    CLIPTextModel(CLIPTextConfig(**config["text_encoder"])).save_pretrained(folder / "text_encoder")
    CLIPTextModelWithProjection(CLIPTextConfig(**config["text_encoder_2"])).save_pretrained(folder / "text_encoder_2")
    DDPMScheduler(**{k: v for k, v in config["scheduler"].items() if not k.startswith("_")}).save_config(
        folder / "scheduler"
    )
    height, width = TINY_RESOLUTION
    (folder / "pipeline.json").write_text(json.dumps({"height": height, "width": width}))
    return folder
