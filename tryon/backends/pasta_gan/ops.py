"""StyleGAN2-ADA resampling and activation primitives in plain PyTorch (no compiled plugins).

PASTA-GAN++ inherits StyleGAN2-ADA's `upfirdn2d`, `bias_act`, `conv2d_resample` and modulated convolution;
their padding arithmetic decides every output pixel, so they are re-derived here from the published equations
(README of the golden kit, section 9) and run identically on CPU and CUDA, in fp32 or fp16.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ACTIVATION_GAINS = {"linear": 1.0, "relu": math.sqrt(2), "lrelu": math.sqrt(2)}


def fir_filter(taps: tuple[float, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    """Separable FIR as a normalised 2-D kernel (outer product / sum)."""
    f = torch.tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Zero-insert upsample, pad (x0, x1, y0, y1), filter with `f * gain`, keep every `down`-th sample."""
    batch, channels, height, width = x.shape
    if up > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(batch, channels, height * up, width * up)
    x0, x1, y0, y1 = pad
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0): x.shape[2] - max(-y1, 0), max(-x0, 0): x.shape[3] - max(-x1, 0)]
    kernel = (f * gain).to(x.dtype).flip([0, 1])
    kernel = kernel[None, None].repeat(channels, 1, 1, 1)
    # NCHW: a channels-last input (half precision on a CPU, see tryon.placement) makes this depthwise filter 6x slower
    x = F.conv2d(x.contiguous(), kernel, groups=channels)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x upsampling of the skip image (pad (2, 1, 2, 1), gain 4)."""
    return upfirdn2d(x, f, up=2, pad=(2, 1, 2, 1), gain=4.0)


def bias_act(x: torch.Tensor, bias: torch.Tensor | None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    """+bias -> activation -> *gain -> clamp, the StyleGAN2 order (lrelu slope 0.2)."""
    if bias is not None:
        x = x + bias.to(x.dtype).reshape(1, -1, *([1] * (x.dim() - 2)))
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2)
    elif act == "relu":
        x = F.relu(x)
    gain = ACTIVATION_GAINS[act] if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
                    padding: int = 0, groups: int = 1) -> torch.Tensor:
    """Convolution with optional FIR up/downsampling, following StyleGAN2-ADA's fast paths exactly.

    `up` uses a stride-2 transposed convolution with the kernel NOT spatially flipped, then the FIR (gain 4);
    `down` filters first, then a strided convolution (1x1 kernels: FIR with down-sampling, then the 1x1 conv).
    """
    kh, kw = w.shape[-2:]
    fw = f.shape[-1]
    p0 = p1 = padding
    if up > 1:
        p0 += (fw + up - 1) // 2
        p1 += (fw - up) // 2
    if down > 1:
        p0 += (fw - down + 1) // 2
        p1 += (fw - down) // 2
    w = w.to(x.dtype)
    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, pad=(p0, p1, p0, p1))
        return F.conv2d(x, w, groups=groups)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, pad=(p0, p1, p0, p1))
        return F.conv2d(x, w, stride=down, groups=groups)
    if up > 1:
        out_c, in_c = w.shape[:2]
        w = w.reshape(groups, out_c // groups, in_c, kh, kw).transpose(1, 2).reshape(groups * in_c, out_c // groups,
                                                                                  kh, kw)
        p0 -= kw - 1
        p1 -= kw - up
        pt = max(min(-p0, -p1), 0)
        x = F.conv_transpose2d(x, w, stride=up, padding=pt, groups=groups)
        return upfirdn2d(x, f, pad=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up * up)
    return F.conv2d(x, w, padding=padding, groups=groups)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None,
                     f: torch.Tensor, up: int = 1, padding: int = 0, demodulate: bool = True) -> torch.Tensor:
    """Fused modulated convolution (the eval-mode form): per-sample weights W*s(*d) as one grouped conv."""
    batch = x.shape[0]
    out_c, in_c, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:
        # fp16 would overflow in W*s: pre-normalise, as StyleGAN2-ADA does for reduced precision
        weight = weight * (1 / math.sqrt(in_c * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(batch, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(-1, in_c, kh, kw), f, up=up, padding=padding, groups=batch)
    x = x.reshape(batch, -1, *x.shape[2:])
    return x + noise.to(x.dtype) if noise is not None else x
