"""The garment warping stage: a thin-plate-spline regression net (ConvNet_TPS) and its refinement UNet.

Parameter names follow the official `warping_*.pth` state dicts so they load with `strict=True`. Widths are
constructor arguments so the same classes build the released size and the golden kits' tiny size.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _feature_extraction(in_channels: int, ngf: int, n_layers: int, max_channels: int) -> nn.Sequential:
    """[Conv4x4/2, ReLU, BN] x (1 + n_layers), then two 3x3 convs; widths double up to `max_channels`."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, ngf, 4, 2, 1), nn.ReLU(True), nn.BatchNorm2d(ngf)]
    for i in range(n_layers):
        a, b = min(2**i * ngf, max_channels), min(2 ** (i + 1) * ngf, max_channels)
        layers += [nn.Conv2d(a, b, 4, 2, 1), nn.ReLU(True), nn.BatchNorm2d(b)]
    layers += [
        nn.Conv2d(max_channels, max_channels, 3, 1, 1), nn.ReLU(True), nn.BatchNorm2d(max_channels),
        nn.Conv2d(max_channels, max_channels, 3, 1, 1), nn.ReLU(True),
    ]
    return nn.Sequential(*layers)


class FeatureExtraction(nn.Module):
    def __init__(self, in_channels: int, ngf: int, n_layers: int, max_channels: int):
        super().__init__()
        self.model = _feature_extraction(in_channels, ngf, n_layers, max_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def l2_normalise(feature: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return feature / torch.pow(torch.sum(feature * feature, 1) + eps, 0.5).unsqueeze(1)


def correlation(feature_a: torch.Tensor, feature_b: torch.Tensor) -> torch.Tensor:
    """Dot products of every B position with every A position; channel k = xA*h + yA (column-major over A)."""
    b, c, h, w = feature_a.shape
    flat_a = feature_a.transpose(2, 3).reshape(b, c, h * w)
    flat_b = feature_b.reshape(b, c, h * w).transpose(1, 2)
    return torch.bmm(flat_b, flat_a).view(b, h, w, h * w).permute(0, 3, 1, 2)


class FeatureRegression(nn.Module):
    """Correlation map -> 2N control-point coordinates in (-1, 1) (tanh)."""

    def __init__(self, in_channels: int, channels: list[int], feature_hw: tuple[int, int], n_points: int):
        super().__init__()
        r0, r1, r2, r3 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, r0, 4, 2, 1), nn.BatchNorm2d(r0), nn.ReLU(True),
            nn.Conv2d(r0, r1, 4, 2, 1), nn.BatchNorm2d(r1), nn.ReLU(True),
            nn.Conv2d(r1, r2, 3, 1, 1), nn.BatchNorm2d(r2), nn.ReLU(True),
            nn.Conv2d(r2, r3, 3, 1, 1), nn.BatchNorm2d(r3), nn.ReLU(True),
        )
        self.linear = nn.Linear(r3 * (feature_hw[0] // 4) * (feature_hw[1] // 4), 2 * n_points)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(self.conv(x).reshape(x.shape[0], -1)))


class BoundedGridLocNet(nn.Module):
    def __init__(self, in_channels: int, channels: list[int], feature_hw: tuple[int, int], n_points: int):
        super().__init__()
        self.regression = FeatureRegression(in_channels, channels, feature_hw, n_points)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.regression(x).view(x.shape[0], -1, 2)


def control_points(grid_size: tuple[int, int], grid_range: float) -> torch.Tensor:
    """The (x, y) target control points; k = iy * nx + ix, as itertools.product over (y, x)."""
    ys = np.arange(-grid_range, grid_range + 1e-5, 2 * grid_range / (grid_size[0] - 1))
    xs = np.arange(-grid_range, grid_range + 1e-5, 2 * grid_range / (grid_size[1] - 1))
    yx = torch.tensor(list(itertools.product(ys, xs)), dtype=torch.float32)
    return yx[:, [1, 0]]


def _tps_kernel(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """U(d^2) = 0.5 d^2 log d^2, with 0 where d = 0."""
    diff = points[:, None, :] - centres[None, :, :]
    d2 = diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]
    u = 0.5 * d2 * torch.log(d2)
    return u.masked_fill(u != u, 0)


class TPSGridGen(nn.Module):
    """Maps N source control points to a dense sampling grid over an HxW target (align-corners coordinates)."""

    def __init__(self, height: int, width: int, target_points: torch.Tensor):
        super().__init__()
        n = target_points.shape[0]
        forward_kernel = torch.zeros(n + 3, n + 3)
        forward_kernel[:n, :n] = _tps_kernel(target_points, target_points)
        forward_kernel[:n, -3] = 1
        forward_kernel[-3, :n] = 1
        forward_kernel[:n, -2:] = target_points
        forward_kernel[-2:, :n] = target_points.t()
        coords = torch.tensor(list(itertools.product(range(height), range(width))), dtype=torch.float32)
        y, x = coords.split(1, dim=1)
        target = torch.cat([x * 2 / (width - 1) - 1, y * 2 / (height - 1) - 1], dim=1)
        repr_ = torch.cat([_tps_kernel(target, target_points), torch.ones(height * width, 1), target], dim=1)
        self.register_buffer("inverse_kernel", torch.inverse(forward_kernel))
        self.register_buffer("padding_matrix", torch.zeros(3, 2))
        self.register_buffer("target_coordinate_repr", repr_)

    def forward(self, source_points: torch.Tensor) -> torch.Tensor:
        y = torch.cat([source_points, self.padding_matrix.expand(source_points.shape[0], 3, 2)], 1)
        return torch.matmul(self.target_coordinate_repr, torch.matmul(self.inverse_kernel, y))


class ConvNetTPS(nn.Module):
    """Cloth and agnostic features -> correlation -> control points -> TPS grid at the (low) input size."""

    def __init__(
        self, input_hw: tuple[int, int] = (256, 192), input_nc: int = 21, ngf: int = 64, n_layers: int = 3,
        max_channels: int = 512, regression_channels: tuple[int, ...] = (512, 256, 128, 64),
        grid_size: tuple[int, int] = (5, 5), grid_range: float = 0.9,
    ):
        super().__init__()
        self.input_hw = tuple(input_hw)
        feature_hw = (input_hw[0] // 2 ** (n_layers + 1), input_hw[1] // 2 ** (n_layers + 1))
        points = control_points(tuple(grid_size), grid_range)
        self.extractionA = FeatureExtraction(3, ngf, n_layers, max_channels)
        self.extractionB = FeatureExtraction(input_nc, ngf, n_layers, max_channels)
        self.loc_net = BoundedGridLocNet(feature_hw[0] * feature_hw[1], list(regression_channels), feature_hw,
                                         points.shape[0])
        self.gridGen = TPSGridGen(input_hw[0], input_hw[1], points)

    def forward(self, cloth: torch.Tensor, agnostic: torch.Tensor) -> dict[str, torch.Tensor]:
        feature_a = l2_normalise(self.extractionA(cloth))
        feature_b = l2_normalise(self.extractionB(agnostic))
        corr = correlation(feature_a, feature_b)
        theta = self.loc_net(corr)
        grid = self.gridGen(theta).view(cloth.shape[0], self.input_hw[0], self.input_hw[1], 2)
        return {"correlation": corr, "theta": theta, "grid": grid}


class DoubleConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None):
        super().__init__()
        mid = mid_channels or out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Bilinear x2 (align_corners=True), pad to the skip's size, concat [skip, up], DoubleConv(mid = in/2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class RefinementUNet(nn.Module):
    """The refinement UNet (official `UNetVanilla(24, 3, bilinear=True)`) with a configurable base width."""

    def __init__(self, n_channels: int = 24, n_classes: int = 3, base_width: int = 64):
        super().__init__()
        c = base_width
        self.inc = DoubleConv(n_channels, c)
        self.down1, self.down2 = Down(c, 2 * c), Down(2 * c, 4 * c)
        self.down3, self.down4 = Down(4 * c, 8 * c), Down(8 * c, 8 * c)
        self.up1, self.up2 = Up(16 * c, 4 * c), Up(8 * c, 2 * c)
        self.up3, self.up4 = Up(4 * c, c), Up(2 * c, c)
        self.outc = OutConv(c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x = self.up1(self.down4(x4), x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        return self.outc(self.up4(x, x1))


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """torchvision's tensor `resize(BILINEAR, antialias=True)`, which the official warping stage uses."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def warp_garment(
    tps: ConvNetTPS, refinement: RefinementUNet, cloth: torch.Tensor, im_mask: torch.Tensor, pose_map: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Warp the in-shop garment onto the person: TPS at the net's low resolution, then `refine_warp`."""
    low_hw = tps.input_hw
    low_cloth = resize(cloth, low_hw)
    agnostic = torch.cat([resize(im_mask, low_hw), resize(pose_map, low_hw)], 1)
    out = tps(low_cloth, agnostic)
    return {
        "low_cloth": low_cloth, "agnostic": agnostic, "correlation": out["correlation"], "theta": out["theta"],
        "low_grid": out["grid"], **refine_warp(refinement, cloth, im_mask, pose_map, out["grid"]),
    }


def refine_warp(
    refinement: RefinementUNet, cloth: torch.Tensor, im_mask: torch.Tensor, pose_map: torch.Tensor,
    low_grid: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Upsample the TPS grid (antialiased bilinear), sample the full-size cloth (border), refine, clamp."""
    highres_grid = resize(low_grid.permute(0, 3, 1, 2), tuple(cloth.shape[-2:])).permute(0, 2, 3, 1)
    warped_raw = F.grid_sample(cloth, highres_grid, mode="bilinear", padding_mode="border", align_corners=False)
    refined = refinement(torch.cat([im_mask, pose_map, warped_raw], 1))
    return {"highres_grid": highres_grid, "warped_cloth_raw": warped_raw, "refinement_out": refined,
            "warped_cloth": refined.clamp(-1, 1)}
