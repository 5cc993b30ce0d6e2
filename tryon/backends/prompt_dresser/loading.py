"""Build PromptDresser's modules from configs and state dicts, and from a weights folder.

Weights folder layout (what `python -m tryon weights fetch prompt-dresser` produces under the cache, and what
`tests/tiny_prompt_dresser.py` writes with tiny random weights):

    unet/config.json                 SDXL-inpainting UNet config (9 input channels)
    unet/pytorch_model.bin           the official PromptDresser checkpoint (or unet/model.safetensors)
    garment_unet/                    SDXL-base UNet, diffusers layout (config + diffusion_pytorch_model.safetensors)
    vae/                             sdxl-vae-fp16-fix, diffusers layout
    text_encoder/, text_encoder_2/   SDXL CLIP encoders, transformers layout
    scheduler/scheduler_config.json  SDXL scheduler config (overridden as the official code does)
    tokenizer/, tokenizer_2/         optional: rebuilt offline by tryon.clip_tokenizer when absent
    pipeline.json                    optional: {"height": ..., "width": ...}, the working resolution (1024x768)

Every load is strict and local: nothing here reaches the network.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from tryon.backends.prompt_dresser import config
from tryon.backends.prompt_dresser.config import UNET_CHECKPOINTS
from tryon.backends.prompt_dresser.pipeline import PromptDresserPipeline, official_scheduler_config
from tryon.clip_tokenizer import clip_tokenizer
from tryon.errors import InputError


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A plain tensor dict from .safetensors or a torch pickle (loaded with weights_only, never arbitrary code)."""
    if path.suffix == ".safetensors":
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def unet_from_state_dict(config: dict, state_dict: dict[str, torch.Tensor]) -> UNet2DConditionModel:
    """A stock UNet2DConditionModel with every weight from `state_dict` (strict: same keys, same shapes)."""
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
    unet.load_state_dict(state_dict, strict=True, assign=True)
    return unet.eval()


def vae_from_state_dict(config: dict, state_dict: dict[str, torch.Tensor]) -> AutoencoderKL:
    vae = AutoencoderKL.from_config(config)
    vae.load_state_dict(state_dict, strict=True)
    return vae.eval()


def _strip_prefix_to_fit(model: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers >= 5 dropped the `text_model.` level of CLIPTextModel; older files still carry it."""
    own = next(iter(model.state_dict()))
    if not own.startswith("text_model.") and all(k.startswith("text_model.") for k in state_dict):
        return {k[len("text_model."):]: v for k, v in state_dict.items()}
    return state_dict


def text_encoder_from_state_dict(
    cls: type[CLIPTextModel] | type[CLIPTextModelWithProjection], config: dict, state_dict: dict[str, torch.Tensor]
) -> torch.nn.Module:
    model = cls(CLIPTextConfig(**config))
    model.load_state_dict(_strip_prefix_to_fit(model, state_dict), strict=True)
    return model.eval()


def tokenizers(folder: Path | None = None) -> tuple[CLIPTokenizer, CLIPTokenizer]:
    """SDXL's `tokenizer` (pads with EOS) and `tokenizer_2` (pads with "!"): from the folder when present,
    else the identical offline rebuild."""
    if folder is not None and (folder / "tokenizer" / "vocab.json").is_file():
        return (CLIPTokenizer.from_pretrained(folder / "tokenizer"),
                CLIPTokenizer.from_pretrained(folder / "tokenizer_2"))
    return clip_tokenizer(), clip_tokenizer(pad_token="!")


def scheduler_from_config(config: dict) -> DDPMScheduler:
    return DDPMScheduler.from_config(official_scheduler_config(config))


def _config(folder: Path | None, relative: str, default: dict) -> dict:
    path = folder / relative if folder is not None else None
    return json.loads(path.read_text()) if path is not None and path.is_file() else default


def empty_modules(folder: Path | None = None) -> tuple[torch.nn.Module, ...]:
    """The five modules (`backend.MODULES` order) built from the folder's configs, or the released sizes where a config
    is absent, with fresh (random) weights; call under `torch.device("meta")` to only count parameters."""
    return (
        UNet2DConditionModel.from_config(_config(folder, "unet/config.json", config.UNET)),
        UNet2DConditionModel.from_config(_config(folder, "garment_unet/config.json", config.GARMENT_UNET)),
        AutoencoderKL.from_config(_config(folder, "vae/config.json", config.VAE)),
        CLIPTextModel(CLIPTextConfig(**_config(folder, "text_encoder/config.json", config.TEXT_ENCODER))),
        CLIPTextModelWithProjection(CLIPTextConfig(**_config(folder, "text_encoder_2/config.json",
                                                             config.TEXT_ENCODER_2))),
    )


def load_pipeline(folder: Path, dtype: torch.dtype = torch.float32) -> PromptDresserPipeline:
    """All modules from a weights folder (layout in the module docstring), in `dtype`, on the CPU."""
    folder = Path(folder)
    checkpoint = next((folder / p for p in UNET_CHECKPOINTS if (folder / p).is_file()), None)
    if checkpoint is None:
        raise InputError(f"{folder}: no PromptDresser checkpoint ({' or '.join(UNET_CHECKPOINTS)})")
    unet_config = json.loads((folder / "unet" / "config.json").read_text())
    unet = unet_from_state_dict(unet_config, read_state_dict(checkpoint))
    garment_unet = UNet2DConditionModel.from_pretrained(folder / "garment_unet", torch_dtype=dtype)
    vae = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=dtype)
    text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", torch_dtype=dtype)
    text_encoder_2 = CLIPTextModelWithProjection.from_pretrained(folder / "text_encoder_2", torch_dtype=dtype)
    scheduler = scheduler_from_config(DDPMScheduler.load_config(folder / "scheduler"))
    tok, tok_2 = tokenizers(folder)
    if unet.dtype != dtype:
        unet = unet.to(dtype)
    return PromptDresserPipeline(
        unet, garment_unet.eval(), vae.eval(), text_encoder.eval(), text_encoder_2.eval(), tok, tok_2, scheduler
    )
