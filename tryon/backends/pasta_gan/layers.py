"""Layers of the PASTA-GAN++ generator, with the official parameter names so G_ema loads strictly.

Equalised learning rate everywhere: weights are stored unscaled and multiplied by a runtime gain
(1/sqrt(fan_in) times the learning-rate multiplier), as in StyleGAN2-ADA.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tryon.backends.pasta_gan.ops import (
    ACTIVATION_GAINS,
    bias_act,
    conv2d_resample,
    fir_filter,
    modulated_conv2d,
)


class _WithFilter(nn.Module):
    """Holds the fixed [1,3,3,1] FIR as a non-persistent buffer (the checkpoint's copies are all identical)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("resample_filter", fir_filter(), persistent=False)


class FullyConnectedLayer(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class Conv2dLayer(_WithFilter):
    """Equalised conv with optional FIR up/down-sampling; `bias_act` after (activation, gain, clamp)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        x = conv2d_resample(x, w, self.resample_filter, up=self.up, down=self.down, padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, self.activation, gain=ACTIVATION_GAINS[self.activation] * gain, clamp=clamp)


class Dense(nn.Module):
    """Per-pixel linear layer + instance norm + leaky ReLU (slope 0.01), between the style encoder's convs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.InstanceNorm2d(channels)
        self.activation = nn.LeakyReLU()
        self.linear = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.activation(self.bn(x))


class ResBlock(nn.Module):
    """Residual conv block of the SPADE feature encoder: skip(x) + conv1(conv0(x)), both halves scaled by sqrt(1/2)."""

    def __init__(self, in_channels: int, out_channels: int, down: int = 1) -> None:
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, out_channels, 3, activation="relu", down=down)
        self.conv1 = Conv2dLayer(out_channels, out_channels, 3, activation="relu")
        self.skip = Conv2dLayer(in_channels, out_channels, 1, bias=False, down=down)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = math.sqrt(0.5)
        return self.skip(x, gain=gain) + self.conv1(self.conv0(x), gain=gain)


class SynthesisLayer(_WithFilter):
    """Stock StyleGAN2-ADA modulated 3x3 conv (the class missing from the release, issue #12) + noise + lrelu."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 conv_clamp: float | None = None, use_noise: bool = True) -> None:
        super().__init__()
        self.up, self.conv_clamp, self.use_noise, self.resolution = up, conv_clamp, use_noise, resolution
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", gain: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """`noise_mode="random"` draws from `generator` (a CPU one: the same draws on every device)."""
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            size = self.resolution
            drawn = torch.randn(x.shape[0], 1, size, size, generator=generator, dtype=torch.float32)
            noise = drawn.to(x.device, x.dtype) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, noise, self.resample_filter, up=self.up, padding=1)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, "lrelu", gain=ACTIVATION_GAINS["lrelu"] * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """1x1 modulated conv without demodulation; with `parsing_classes` also the 7-class parsing head
    (`m_weight1`, `m_bias1`) that shares the same styles (ToRGBLayerFull_v1_v5 of b512)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None,
                 parsing_classes: int = 0) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        if parsing_classes:
            self.m_weight1 = nn.Parameter(torch.randn(parsing_classes, in_channels, 1, 1))
            self.m_bias1 = nn.Parameter(torch.zeros(parsing_classes))
        self.weight_gain = 1 / math.sqrt(in_channels)
        self.register_buffer("_unit", torch.ones(1, 1), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        styles = self.affine(w) * self.weight_gain
        rgb = modulated_conv2d(x, self.weight, styles, None, self._unit, demodulate=False)
        rgb = bias_act(rgb, self.bias, clamp=self.conv_clamp)
        if not hasattr(self, "m_weight1"):
            return rgb, None
        parsing = modulated_conv2d(x, self.m_weight1, styles, None, self._unit, demodulate=False)
        return rgb, bias_act(parsing, self.m_bias1, clamp=self.conv_clamp)


class SpadeConv2dLayer(nn.Module):
    """Bias-free equalised conv with optional pre-activation relu(x)*sqrt(2)*gain (no clamp)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))

    def forward(self, x: torch.Tensor, gain: float = 1.0, pre_activation: bool = True) -> torch.Tensor:
        if pre_activation:
            x = F.relu(x) * (ACTIVATION_GAINS["relu"] * gain)
        return F.conv2d(x, (self.weight * self.weight_gain).to(x.dtype), padding=self.padding)


class SpadeNormBlock(nn.Module):
    """SPADE: IN(x) * (1 + gamma(a)) + beta(a), a = relu(conv_mlp(feature map))."""

    def __init__(self, feature_channels: int, channels: int) -> None:
        super().__init__()
        self.conv_mlp = SpadeConv2dLayer(feature_channels, channels, 3)
        self.conv_mlp_act = nn.ReLU()
        self.conv_gamma = SpadeConv2dLayer(channels, channels, 3)
        self.conv_beta = SpadeConv2dLayer(channels, channels, 3)
        self.param_free_norm = nn.InstanceNorm2d(channels)

    def forward(self, x: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        a = self.conv_mlp_act(self.conv_mlp(feature, pre_activation=False))
        gamma = self.conv_gamma(a, pre_activation=False)
        beta = self.conv_beta(a, pre_activation=False)
        return self.param_free_norm(x) * (1 + gamma) + beta


class SpadeResBlock(nn.Module):
    """Spade_ResBlockV4_512: conv, then a SPADE-normalised residual pair plus a SPADE-normalised 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int, spade_channels: int) -> None:
        super().__init__()
        self.conv = SpadeConv2dLayer(in_channels, out_channels, 3)
        self.conv0 = SpadeConv2dLayer(out_channels, out_channels, 3)
        self.conv1 = SpadeConv2dLayer(out_channels, out_channels, 3)
        self.skip = SpadeConv2dLayer(out_channels, out_channels, 1)
        self.spade_skip = SpadeNormBlock(spade_channels, out_channels)
        self.spade0 = SpadeNormBlock(spade_channels, out_channels)
        self.spade1 = SpadeNormBlock(spade_channels, out_channels)

    def forward(self, x: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        gain = math.sqrt(0.5)
        x = self.conv(x, pre_activation=False)
        y = self.skip(self.spade_skip(x, feature), gain=gain)
        x = self.conv0(self.spade0(x, feature))
        x = self.conv1(self.spade1(x, feature), gain=gain)
        return y + x
