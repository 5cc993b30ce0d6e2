"""EMASC: Enhanced Mask-Aware Skip Connections from the VAE encoder to the decoder (paper Sec. 3.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EMASC(nn.Module):
    """One Conv -> SiLU -> Conv adapter per skipped encoder feature (the released 'nonlinear' variant)."""

    def __init__(self, in_channels: list[int], out_channels: list[int], kernel_size: int = 3, padding: int = 1,
                 stride: int = 1):
        super().__init__()
        self.conv = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(cin, cin, kernel_size, stride, padding), nn.SiLU(),
                nn.Conv2d(cin, cout, kernel_size, stride, padding),
            )
            for cin, cout in zip(in_channels, out_channels, strict=True)
        )

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        return [conv(f) for conv, f in zip(self.conv, features, strict=True)]


def mask_features(features: list[torch.Tensor], mask: torch.Tensor) -> list[torch.Tensor]:
    """f * (1 - m), with m nearest-resized from feature to feature (chained, as the official code does)."""
    out = []
    for feature in features:
        mask = F.interpolate(mask, size=feature.shape[-2:])
        out.append(feature * (1 - mask))
    return out
