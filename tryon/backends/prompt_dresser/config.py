"""The released sizes of PromptDresser's modules (SDXL), for building empty modules without the weights.

Real runs read the config files of the weights folder; these are used when a folder lacks them, to estimate memory
(`PromptDresserBackend.memory_profile`) and to build full-size random models for benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The official release's working resolution and guidance scales (image, text).
DEFAULT_RESOLUTION = (1024, 768)
GUIDANCE_IMAGE, GUIDANCE_TEXT = 4.5, 7.5
MAX_DILATION = 200  # training drew the mask dilation n uniformly from 0..200
# Where the weights folder may hold the PromptDresser UNet checkpoint (the release's .bin or a conversion).
UNET_CHECKPOINTS = ("unet/pytorch_model.bin", "unet/model.safetensors")

# SDXL-inpainting UNet (the PromptDresser checkpoint's architecture); the garment UNet is SDXL-base: 4 channels in.
UNET: dict[str, Any] = {
    "act_fn": "silu", "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280],
    "center_input_sample": False, "class_embeddings_concat": False, "conv_in_kernel": 3, "conv_out_kernel": 3,
    "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"], "downsample_padding": 1,
    "dual_cross_attention": False, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 9,
    "layers_per_block": 2, "mid_block_scale_factor": 1, "mid_block_type": "UNetMidBlock2DCrossAttn",
    "norm_eps": 1e-05, "norm_num_groups": 32, "only_cross_attention": False, "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816, "resnet_out_scale_factor": 1.0, "resnet_skip_time_act": False,
    "resnet_time_scale_shift": "default", "sample_size": 128, "time_embedding_type": "positional",
    "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "use_linear_projection": True,
}
GARMENT_UNET: dict[str, Any] = {**UNET, "in_channels": 4}
VAE: dict[str, Any] = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 1024, "scaling_factor": 0.13025,
    "force_upcast": False,
}
TEXT_ENCODER: dict[str, Any] = {  # CLIP ViT-L/14 text tower
    "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "projection_dim": 768,
    "eos_token_id": 2,
}
TEXT_ENCODER_2: dict[str, Any] = {  # OpenCLIP ViT-bigG/14 text tower, with projection
    "vocab_size": 49408, "hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
    "num_attention_heads": 20, "max_position_embeddings": 77, "hidden_act": "gelu", "projection_dim": 1280,
    "eos_token_id": 2,
}
SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "steps_offset": 1,
}


def read_resolution(folder: Path) -> tuple[int, int]:
    """(height, width) from the weights folder's pipeline.json, else the release's 1024x768."""
    path = folder / "pipeline.json"
    if not path.is_file():
        return DEFAULT_RESOLUTION
    data = json.loads(path.read_text())
    return int(data["height"]), int(data["width"])
