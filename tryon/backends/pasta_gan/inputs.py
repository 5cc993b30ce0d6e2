"""Generator inputs from the preprocessed maps (official test.py tensor assembly, batch 1, float32)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def normalise(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (or float64) map -> float32 in [-1, 1], as `t.to(float32) / 127.5 - 1`."""
    return torch.as_tensor(np.array(array)).to(torch.float32) / 127.5 - 1


@dataclass
class GeneratorInputs:
    parts: torch.Tensor              # [1, 45, 128, 128] garment patches (upper 30 + lower 15 channels)
    retain: torch.Tensor             # [1, 6, 512, 512] kept person pixels (-1 elsewhere) + skin colour
    pose: torch.Tensor               # [1, 5, 512, 512] skeleton, lower-garment type, lower-garment upper bound
    denorm_upper: torch.Tensor       # [1, 3, 512, 512] routed upper garment
    denorm_lower: torch.Tensor
    denorm_upper_mask: torch.Tensor  # [1, 1, 512, 512] 0/1, not normalised
    denorm_lower_mask: torch.Tensor

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> GeneratorInputs:
        return GeneratorInputs(*(t.to(device=device, dtype=dtype) for t in vars(self).values()))


def assemble(person_padded: np.ndarray, norm_img: np.ndarray, norm_img_lower: np.ndarray, retain_mask: np.ndarray,
             skin_average: np.ndarray, pose: np.ndarray, lower_label_value: np.ndarray,
             lower_clothes_upper_bound: np.ndarray, denorm_upper: np.ndarray,
             denorm_lower: np.ndarray) -> GeneratorInputs:
    """`person_padded` is HWC uint8 (512x512); the maps are CHW as the dataset returns them."""
    size = person_padded.shape[:2]
    image = normalise(np.ascontiguousarray(person_padded.transpose(2, 0, 1)))
    mask = torch.as_tensor(np.asarray(retain_mask)).to(torch.float32)
    skin = normalise(np.broadcast_to(np.asarray(skin_average, dtype=np.float64).reshape(3, 1, 1), (3, *size)))
    label = normalise(np.broadcast_to(np.asarray(lower_label_value, dtype=np.float64).reshape(1, 1, 1), (1, *size)))

    def channel_mask(routed: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(routed).astype(np.int64).sum(axis=0, keepdims=True) > 0).to(torch.float32)

    return GeneratorInputs(
        parts=torch.cat([normalise(norm_img), normalise(norm_img_lower)])[None],
        retain=torch.cat([image * mask - (1 - mask), skin])[None],
        pose=torch.cat([normalise(pose), label, normalise(lower_clothes_upper_bound)])[None],
        denorm_upper=normalise(denorm_upper)[None],
        denorm_lower=normalise(denorm_lower)[None],
        denorm_upper_mask=channel_mask(denorm_upper)[None],
        denorm_lower_mask=channel_mask(denorm_lower)[None],
    )


def to_uint8_image(finetune_img: torch.Tensor, columns: slice) -> np.ndarray:
    """test.py post-processing: (x + 1) * 127.5 in float32, clip, truncate to uint8, crop the padding columns."""
    array = finetune_img[0].detach().to(torch.float32).cpu().permute(1, 2, 0).numpy()
    return ((array + 1.0) * 127.5).clip(0, 255).astype(np.uint8)[:, columns]
