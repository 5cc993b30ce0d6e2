"""Encode-with-features and decode-with-skips over the stock diffusers `AutoencoderKL` (no forked VAE).

EMASC needs the encoder's intermediate activations and adds adapted copies of them inside the decoder; these
two helpers walk the stock VAE's submodules in the same order as its own forward, exposing those points.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL


def encode_with_features(vae: AutoencoderKL, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """VAE moments and the official feature list [x, conv_in(x), input of every down block]."""
    enc = vae.encoder
    h = enc.conv_in(x)
    features = [x, h]
    for block in enc.down_blocks:
        features.append(h)
        h = block(h)
    h = enc.conv_act(enc.conv_norm_out(enc.mid_block(h)))
    moments = vae.quant_conv(enc.conv_out(h))
    return moments, features


def latent_sample(moments: torch.Tensor, noise: torch.Tensor) -> dict[str, torch.Tensor]:
    """Diagonal Gaussian posterior: mean, clamped logvar, std and mean + std * noise."""
    mean, logvar = moments.chunk(2, dim=1)
    logvar = logvar.clamp(-30.0, 20.0)
    std = torch.exp(0.5 * logvar)
    return {"mean": mean, "logvar": logvar, "std": std, "sample": mean + std * noise.to(mean)}


def decode_with_skips(vae: AutoencoderKL, z: torch.Tensor, skips: list[torch.Tensor] | None) -> torch.Tensor:
    """Decode; with skips, skip[4-j] is added before up block j and skip[0] before conv_out."""
    dec = vae.decoder
    s = dec.mid_block(dec.conv_in(vae.post_quant_conv(z)), None)
    s = s.to(next(iter(dec.up_blocks.parameters())).dtype)
    n = len(dec.up_blocks)
    for j, block in enumerate(dec.up_blocks):
        if skips is not None:
            s = s + skips[n - j]
        s = block(s, None)
    s = dec.conv_act(dec.conv_norm_out(s))
    if skips is not None:
        s = s + skips[0]
    return dec.conv_out(s)
