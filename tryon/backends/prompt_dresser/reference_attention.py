"""Reference attention: how the garment reaches the try-on UNet.

The frozen SDXL-base UNet runs once on the garment latent at t = 0. In each of its transformer blocks the
self-attention input (the `norm1` output) is *recorded*; in the try-on UNet the block with the same qualified name
then *attends to it*: its self-attention keys and values are its own tokens followed by the garment tokens, with
its own projection weights (no new parameters). Both halves are plain diffusers attention processors on `attn1`.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import AttnProcessor2_0

SELF_ATTENTION_SUFFIX = ".attn1.processor"

GarmentFeatures = dict[str, torch.Tensor]


def block_name(processor_key: str) -> str:
    """'down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor' -> the transformer block's name."""
    return processor_key[: -len(SELF_ATTENTION_SUFFIX)]


class RecordingAttnProcessor(AttnProcessor2_0):
    """Garment UNet side: stores the self-attention input under the block name, then attends as usual."""

    def __init__(self, features: GarmentFeatures, name: str) -> None:
        super().__init__()
        self.features, self.name = features, name

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        self.features[self.name] = hidden_states
        return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


class ReferenceAttnProcessor(AttnProcessor2_0):
    """Try-on UNet side: self-attention over [own tokens, garment tokens].

    The garment tokens are rounded to fp16 first, as the official feature bank always is (it is copied with a
    float16 default), which matters only for fp32 runs.
    """

    def __init__(self, features: GarmentFeatures, name: str) -> None:
        super().__init__()
        self.features, self.name = features, name

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        garment = self.features[self.name].to(torch.float16).to(hidden_states.dtype)
        keys_values = torch.cat([hidden_states, garment], dim=1)
        return super().__call__(attn, hidden_states, keys_values, attention_mask, temb)


def _install(unet: UNet2DConditionModel, features: GarmentFeatures, processor: type[AttnProcessor2_0]) -> None:
    processors = {
        key: processor(features, block_name(key)) if key.endswith(SELF_ATTENTION_SUFFIX) else AttnProcessor2_0()
        for key in unet.attn_processors
    }
    unet.set_attn_processor(processors)


def record_garment_features(unet: UNet2DConditionModel, features: GarmentFeatures) -> None:
    """Make every self-attention of the garment UNet write its input into `features`."""
    _install(unet, features, RecordingAttnProcessor)


def attend_to_garment_features(unet: UNet2DConditionModel, features: GarmentFeatures) -> None:
    """Make every self-attention of the try-on UNet also attend to the recorded garment features."""
    _install(unet, features, ReferenceAttnProcessor)
