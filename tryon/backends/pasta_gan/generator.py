"""PASTA-GAN++ generator (`GeneratorFull_v20`): the paper's parts, in the official module naming.

- pose encoder (`const_encoding`): skeleton + lower-garment type + upper-bound map -> 8x8 features that replace
  StyleGAN's constant input;
- style encoder (`style_encoding`): the 45-channel normalised garment patches -> one 512-d style code, and the
  "retain" image (head, hands, shoes, skin colour) -> skip features at 512/256/128/64;
- mapping: style code -> w (repeated to all synthesis layers);
- synthesis: a StyleGAN2 'skip' generator (b8 ... b512) that also predicts a 7-class parsing, then the texture
  branch: SPADE blocks driven by the pose-aligned (routed) garment patches and by that parsing -> `finetune_img`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tryon.backends.pasta_gan.layers import (
    Conv2dLayer,
    Dense,
    FullyConnectedLayer,
    ResBlock,
    SpadeResBlock,
    SynthesisLayer,
    ToRGBLayer,
)
from tryon.backends.pasta_gan.ops import fir_filter, upsample2d
from tryon.trace import NO_TRACE, Tracer

# 7-class parsing predicted by the generator: which labels count as upper / lower garment
UPPER_LABELS = (1, 4)   # top, dress
LOWER_LABELS = (2, 3)   # pants, skirt


@dataclass(frozen=True)
class GeneratorConfig:
    """`GeneratorFull_v20` constructor arguments, as stored in the checkpoint's `_init_kwargs`."""

    w_dim: int = 512
    c_dim: int = 512
    img_resolution: int = 512
    img_channels: int = 3
    z_dim: int = 0
    mapping_kwargs: dict[str, Any] = field(default_factory=lambda: {"num_layers": 1})
    synthesis_kwargs: dict[str, Any] = field(default_factory=lambda: {
        "channel_base": 32768, "channel_max": 512, "num_fp16_res": 3, "conv_clamp": 256, "use_noise": True})

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> GeneratorConfig:
        known = {k: (dict(v) if isinstance(v, dict) else v) for k, v in kwargs.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def channels(self, resolution: int) -> int:
        s = self.synthesis_kwargs
        return min(int(s.get("channel_base", 32768)) // resolution, int(s.get("channel_max", 512)))


class ConstEncoderNetwork(nn.Module):
    """Pose encoder: 1x1 conv then six stride-2 3x3 convs, all linear, 512x512 -> 8x8."""

    def __init__(self, input_nc: int = 5, ngf: int = 64, widths: tuple[int, ...] = (128, 256, 256, 256, 512, 512)):
        super().__init__()
        layers: list[nn.Module] = [Conv2dLayer(input_nc, ngf, 1)]
        previous = ngf
        for width in widths:
            layers.append(Conv2dLayer(previous, width, 3, down=2))
            previous = width
        self.model = nn.Sequential(*layers)

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        return self.model(pose)


class StyleEncoderNetwork(nn.Module):
    """StyleEncoderNetworkV18: patches -> style code c; retain image -> 4 skip feature maps."""

    def __init__(self, input_nc: int = 45, output_nc: int = 512, ngf: int = 64, retain_nc: int = 6):
        super().__init__()
        layers: list[nn.Module] = [Conv2dLayer(input_nc, ngf, 1)]
        width = ngf
        for _ in range(3):
            layers += [Dense(width), Conv2dLayer(width, width * 2, 3, down=2)]
            width *= 2
        for _ in range(3):
            layers += [Dense(width), Conv2dLayer(width, width, 3)]
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.model = nn.Sequential(*layers)
        self.fc = FullyConnectedLayer(width, output_nc)
        self.feat_enc = nn.Sequential(Conv2dLayer(retain_nc, ngf, 3),
                                      *[Conv2dLayer(ngf, ngf, 3, down=2) for _ in range(3)])

    def forward(self, parts: torch.Tensor, retain: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        code = self.fc(self.model(parts).flatten(1))
        feats, x = [], retain
        for layer in self.feat_enc:
            x = layer(x)
            feats.append(x)
        return code, feats


class MappingNetwork(nn.Module):
    """Style code -> w: embed, normalise the second moment, `num_layers` lrelu FCs (lr 0.01), broadcast."""

    def __init__(self, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 1, lr_multiplier: float = 0.01):
        super().__init__()
        self.num_ws, self.num_layers = num_ws, num_layers
        self.embed = FullyConnectedLayer(c_dim, w_dim)
        for index in range(num_layers):
            setattr(self, f"fc{index}", FullyConnectedLayer(w_dim, w_dim, activation="lrelu",
                                                             lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = self.embed(code)
        x = x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        for index in range(self.num_layers):
            x = getattr(self, f"fc{index}")(x)
        return x.unsqueeze(1).repeat(1, self.num_ws, 1)


class SynthesisBlock(nn.Module):
    """One resolution of the main branch (SynthesisBlockFull_v1_v6) or of the texture branch (v1_v4, with a SPADE
    block before ToRGB). b8 starts from the pose features; from 64 on, the retain features are merged in."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, conv_clamp: float | None,
                 use_noise: bool, merge_channels: int = 0, parsing_classes: int = 0, spade_channels: int = 0):
        super().__init__()
        self.resolution = resolution
        self.num_conv = 1 if in_channels == 0 else 2
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))  # stored, never used
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp,
                                        use_noise=use_noise)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp,
                                    use_noise=use_noise)
        self.torgb = ToRGBLayer(out_channels, 3, w_dim, conv_clamp=conv_clamp, parsing_classes=parsing_classes)
        if merge_channels:
            self.merge_conv = Conv2dLayer(out_channels + merge_channels, out_channels, 1)
        if spade_channels:
            self.spade_b512 = SpadeResBlock(out_channels, out_channels, spade_channels)
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, ws: torch.Tensor, feats: dict[str, torch.Tensor],
                noise_mode: str, parsing: torch.Tensor | None = None, generator: torch.Generator | None = None):
        w_iter = iter(ws.unbind(dim=1))
        if self.num_conv == 2:
            x = self.conv0(x, next(w_iter), noise_mode=noise_mode, generator=generator)
        x = self.conv1(x, next(w_iter), noise_mode=noise_mode, generator=generator)
        if hasattr(self, "merge_conv"):
            x = self.merge_conv(torch.cat([x, feats[str(self.resolution)].to(x.dtype)], dim=1))
        if hasattr(self, "spade_b512"):
            x = self.spade_b512(x, parsing.to(x.dtype))
        rgb, pred_parsing = self.torgb(x, next(w_iter))
        img = rgb if img is None else upsample2d(img, self.resample_filter) + rgb
        return x, img, pred_parsing


def _half_nearest(x: torch.Tensor) -> torch.Tensor:
    """Nearest 0.5x downsampling, as F.interpolate(scale_factor=0.5) picks it."""
    return x[..., ::2, ::2]


@dataclass
class SynthesisOutput:
    img: torch.Tensor
    finetune_img: torch.Tensor
    pred_parsing: torch.Tensor


class SynthesisNetwork(nn.Module):
    """SynthesisNetworkFull_v18: main StyleGAN2 branch + parsing head, then the SPADE texture branch at 256/512."""

    def __init__(self, config: GeneratorConfig, feat_channels: int = 64, spade_resolution: int = 256):
        super().__init__()
        s = config.synthesis_kwargs
        clamp, use_noise = s.get("conv_clamp"), bool(s.get("use_noise", True))
        self.resolutions = [2 ** i for i in range(3, int(math.log2(config.img_resolution)) + 1)]
        self.spade_resolution = spade_resolution
        ch = config.channels
        for res in self.resolutions:
            block = SynthesisBlock(ch(res // 2) if res > 8 else 0, ch(res), config.w_dim, res, clamp, use_noise,
                                   merge_channels=feat_channels if res > 32 else 0,
                                   parsing_classes=7 if res == config.img_resolution else 0)
            setattr(self, f"b{res}", block)
        self.num_ws = 1 + 2 * (len(self.resolutions) - 1) + 1  # b8 has one conv; the last ToRGB adds one
        spade_ch = ch(spade_resolution)
        self.spade_b256_1 = SpadeResBlock(spade_ch, spade_ch, 128)
        self.spade_b256_2 = SpadeResBlock(spade_ch, spade_ch, 128)
        top = config.img_resolution
        self.texture_b512 = SynthesisBlock(spade_ch, ch(top), config.w_dim, top, clamp, use_noise,
                                           merge_channels=feat_channels, spade_channels=1)
        self.spade_encoder = nn.Sequential(Conv2dLayer(3, 64, 7, activation="relu"), ResBlock(64, 64),
                                           ResBlock(64, 128, down=2))

    def _spade_features(self, mask512: torch.Tensor, denorm_mask: torch.Tensor, denorm_img: torch.Tensor):
        """Encode the routed garment inside the predicted garment region; holes (predicted garment where no routed
        garment exists) get the mean feature of the valid overlap (sum / 256^2 when at most 10 pixels are valid)."""
        m512 = (mask512 > 0.9).to(denorm_img.dtype)
        m256 = (_half_nearest(m512) > 0.9).to(denorm_img.dtype)
        dm256 = (_half_nearest(denorm_mask) > 0.9).to(denorm_img.dtype)
        valid = m256 * dm256
        residual = m256 - valid
        feat = self.spade_encoder(denorm_img * m512 - (1 - m512))
        count = valid.sum(dim=[1, 2, 3], keepdim=True)
        total = (feat * valid).sum(dim=[2, 3], keepdim=True)
        area = feat.shape[2] * feat.shape[3]
        mean = torch.where(count > 10, total / count.clamp(min=1), total / area)
        return feat * (1 - residual) + mean * residual

    def forward(self, ws: torch.Tensor, pose_feat: torch.Tensor, feats: dict[str, torch.Tensor],
                denorm_upper: torch.Tensor, denorm_lower: torch.Tensor, denorm_upper_mask: torch.Tensor,
                denorm_lower_mask: torch.Tensor, gt_parsing: torch.Tensor | None = None,
                noise_mode: str = "const", trace: Tracer = NO_TRACE,
                generator: torch.Generator | None = None) -> SynthesisOutput:
        x, img, w_idx = pose_feat, None, 0
        block_ws = []
        for res in self.resolutions:
            block = getattr(self, f"b{res}")
            block_ws.append(ws.narrow(1, w_idx, block.num_conv + 1))
            w_idx += block.num_conv
        x_mid = img_mid = pred_parsing = None
        for res, cur_ws in zip(self.resolutions, block_ws, strict=True):
            x, img, pred_parsing = getattr(self, f"b{res}")(x, img, cur_ws, feats, noise_mode, generator=generator)
            if res == self.spade_resolution:
                x_mid, img_mid = x, img
        parsing = gt_parsing if gt_parsing is not None else pred_parsing.argmax(dim=1, keepdim=True).to(x.dtype)
        upper = sum((parsing == label) for label in UPPER_LABELS).to(x.dtype)
        lower = sum((parsing == label) for label in LOWER_LABELS).to(x.dtype)
        spade_feat = (self._spade_features(upper, denorm_upper_mask, denorm_upper)
                      * (_half_nearest(upper) > 0.9).to(x.dtype)
                      + self._spade_features(lower, denorm_lower_mask, denorm_lower)
                      * (_half_nearest(lower) > 0.9).to(x.dtype))
        x_spade = self.spade_b256_2(self.spade_b256_1(x_mid, spade_feat), spade_feat)
        _, finetune_img, _ = self.texture_b512(x_spade, img_mid, block_ws[-1], feats, noise_mode, parsing=parsing,
                                               generator=generator)
        trace.record(x256=x_mid, img256=img_mid, parsing_index=parsing, spade_feat=spade_feat, x_spade256=x_spade)
        return SynthesisOutput(img, finetune_img, pred_parsing)


class PastaGanGenerator(nn.Module):
    """GeneratorFull_v20: pose encoder, style encoder, mapping and synthesis."""

    def __init__(self, config: GeneratorConfig | None = None):
        super().__init__()
        self.config = config or GeneratorConfig()
        if self.config.c_dim != 512 or self.config.channels(8) != 512:
            raise ValueError("PASTA-GAN++ needs c_dim 512 and 512 channels at 8x8 (fixed encoder widths)")
        self.synthesis = SynthesisNetwork(self.config)
        self.mapping = MappingNetwork(self.config.c_dim, self.config.w_dim, self.synthesis.num_ws,
                                      num_layers=int(self.config.mapping_kwargs.get("num_layers", 1)))
        self.const_encoding = ConstEncoderNetwork()
        self.style_encoding = StyleEncoderNetwork()

    def encode(self, parts: torch.Tensor, retain: torch.Tensor, pose: torch.Tensor):
        """Style code, its ws, the pose features and the retain features keyed by height."""
        code, feat_list = self.style_encoding(parts, retain)
        pose_feat = self.const_encoding(pose)
        ws = self.mapping(code)
        return code, ws, pose_feat, {str(f.shape[2]): f for f in feat_list}

    def forward(self, parts: torch.Tensor, retain: torch.Tensor, pose: torch.Tensor, denorm_upper: torch.Tensor,
                denorm_lower: torch.Tensor, denorm_upper_mask: torch.Tensor, denorm_lower_mask: torch.Tensor,
                noise_mode: str = "const", generator: torch.Generator | None = None,
                trace: Tracer = NO_TRACE) -> torch.Tensor:
        """The try-on image at 512x512 in [-1, 1] (`finetune_img`, the texture branch's output)."""
        code, ws, pose_feat, feats = self.encode(parts, retain, pose)
        trace.record(c=code, ws=ws, pose_feat=pose_feat)
        return self.synthesis(ws, pose_feat, feats, denorm_upper, denorm_lower, denorm_upper_mask, denorm_lower_mask,
                              noise_mode=noise_mode, trace=trace, generator=generator).finetune_img
