"""Build every LaDI-VTON component from plain config dicts and load state dicts strictly.

One place for the key conventions of the released files: official `.pth` names for the LaDI-VTON parts,
diffusers-0.14 VAE attention names and transformers-4.27 CLIP names for the hub parts.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection

from tryon.backends.ladi_vton.emasc import EMASC
from tryon.backends.ladi_vton.inversion_adapter import InversionAdapter
from tryon.backends.ladi_vton.warping import ConvNetTPS, RefinementUNet

_LEGACY_VAE_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def modern_key(component: str, key: str) -> str | None:
    """A released/hub state-dict key -> the key of our module (None: a buffer that is no longer persistent)."""
    if component == "vae" and ".attentions." in key:
        head, _, tail = key.rpartition(".")
        base, _, name = head.rpartition(".")
        if name in _LEGACY_VAE_ATTENTION:
            return f"{base}.{_LEGACY_VAE_ATTENTION[name]}.{tail}"
    if component in ("text_encoder", "vision_encoder") and key.endswith("embeddings.position_ids"):
        return None
    if component == "text_encoder" and key.startswith("text_model."):
        return key[len("text_model."):]
    return key


def load_strict(module: nn.Module, component: str, state: dict[str, torch.Tensor]) -> nn.Module:
    """Rename to our keys, then `load_state_dict(strict=True)`: a missing or extra key is an error."""
    renamed = {new: v for k, v in state.items() if (new := modern_key(component, k)) is not None}
    module.load_state_dict(renamed, strict=True, assign=any(p.is_meta for p in module.parameters()))
    return module


def vision_layer_config(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"encoder_hidden_size": cfg["hidden_size"], "encoder_intermediate_size": cfg["intermediate_size"],
            "encoder_heads": cfg["num_attention_heads"], "layer_norm_eps": cfg.get("layer_norm_eps", 1e-5)}


def build(component: str, cfg: dict[str, Any], vision_cfg: dict[str, Any] | None = None) -> nn.Module:
    """An empty (randomly initialised) component from its config entry (kit `components.<name>` layout)."""
    if component == "unet":
        return UNet2DConditionModel.from_config(cfg)
    if component == "vae":
        return AutoencoderKL.from_config(cfg)
    if component == "text_encoder":
        return CLIPTextModel(CLIPTextConfig(**cfg))
    if component == "vision_encoder":
        return CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg))
    if component == "emasc":
        return EMASC(cfg["in_channels"], cfg["out_channels"], cfg.get("kernel_size", 3), cfg.get("padding", 1),
                     cfg.get("stride", 1))
    if component == "inversion_adapter":
        layer_cfg = cfg.get("encoder_layer_config")
        layer_cfg = layer_cfg if isinstance(layer_cfg, dict) else vision_cfg
        if layer_cfg is None:
            raise ValueError("the inversion adapter needs the vision encoder's config")
        return InversionAdapter(cfg["input_dim"], cfg["hidden_dim"], cfg["output_dim"],
                                num_encoder_layers=cfg.get("num_encoder_layers", 1), dropout=cfg.get("dropout", 0.5),
                                **vision_layer_config(layer_cfg))
    if component == "tps":
        return ConvNetTPS(tuple(cfg["input_hw"]), cfg["input_nc"], cfg["ngf"], cfg["n_layers"], cfg["max_channels"],
                          tuple(cfg["regression_channels"]), tuple(cfg.get("grid_size", (5, 5))),
                          cfg.get("grid_range", 0.9))
    if component == "refinement":
        return RefinementUNet(cfg["n_channels"], cfg["n_classes"], cfg["base_width"])
    raise KeyError(f"unknown LaDI-VTON component {component!r}")


def scheduler(cfg: dict[str, Any]) -> DDIMScheduler:
    """DDIM from SD2-inpainting's (PNDM) scheduler config, as the official inference does."""
    return DDIMScheduler.from_config(cfg)
