"""The released LaDI-VTON architecture: component configs of the official checkpoints.

A weights folder may carry a `ladi_vton_config.json` with the same keys to describe other sizes (the tests'
tiny folder does); without it these are used.
"""

from __future__ import annotations

from typing import Any

SD2_INPAINTING = "stabilityai/stable-diffusion-2-inpainting"
CLIP_VIT_H = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
CONFIG_FILE = "ladi_vton_config.json"

REAL_CONFIG: dict[str, Any] = {
    "unet": {
        "act_fn": "silu", "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
        "center_input_sample": False, "cross_attention_dim": 1024,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "downsample_padding": 1, "dual_cross_attention": False, "flip_sin_to_cos": True, "freq_shift": 0,
        "in_channels": 31, "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05,
        "norm_num_groups": 32, "num_class_embeds": None, "only_cross_attention": False, "out_channels": 4,
        "sample_size": 64, "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                              "CrossAttnUpBlock2D"],
        "upcast_attention": False, "use_linear_projection": True,
    },
    "emasc": {"in_channels": [128, 128, 128, 256, 512], "out_channels": [128, 256, 512, 512, 512],
              "kernel_size": 3, "padding": 1, "stride": 1},
    "inversion_adapter": {"input_dim": 1280, "hidden_dim": 5120, "output_dim": 16384, "num_encoder_layers": 1,
                          "dropout": 0.5, "num_vstar": 16},
    "tps": {"input_hw": [256, 192], "input_nc": 21, "ngf": 64, "n_layers": 3, "max_channels": 512,
            "regression_channels": [512, 256, 128, 64], "grid_size": [5, 5], "grid_range": 0.9},
    "refinement": {"n_channels": 24, "n_classes": 3, "base_width": 64},
    # SD2-inpainting's scheduler file (a PNDM config; the official code builds DDIM from it)
    "scheduler": {"beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
                  "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
                  "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None},
    # hub parts, only for building empty modules (benchmarks); real runs read the hub config files
    "vae": {"in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4, "block_out_channels": [128, 256, 512, 512],
            "layers_per_block": 2, "act_fn": "silu", "latent_channels": 4, "norm_num_groups": 32,
            "sample_size": 512, "scaling_factor": 0.18215},
    "text_encoder": {"vocab_size": 49408, "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                     "num_hidden_layers": 23, "max_position_embeddings": 77, "hidden_act": "gelu",
                     "layer_norm_eps": 1e-05, "projection_dim": 512, "bos_token_id": 0, "eos_token_id": 2,
                     "pad_token_id": 1},
    "vision_encoder": {"hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 16,
                       "num_hidden_layers": 32, "patch_size": 14, "image_size": 224, "num_channels": 3,
                       "hidden_act": "gelu", "layer_norm_eps": 1e-05, "projection_dim": 1024},
}

# The official prompt text per workbench category, and which released model serves it.
VARIANT_FOR_CATEGORY = {"upper": "vitonhd", "lower": "dresscode", "dress": "dresscode"}
VARIANTS = ("vitonhd", "dresscode")
LADI_PARTS = ("unet", "emasc", "inversion_adapter", "warping")
