"""PromptDresser's inpainting masks: fine, coarse, the training-time dilation, and the prompt-aware mask.

The paper trains with a random mask between two agnostic masks: `m = dilate(m_fine, n) ∩ m_coarse`, n in
[0, 200], so the model learns to paint garments of any shape inside a generous region. At inference the official
code makes the mask follow the prompt instead: a first pass with the coarse mask predicts x̂0 half-way, a human
parser finds the garment region in that prediction, and its union with the fine mask is the final mask. Both are
here, plus the pieces the pipeline shares (binarisation, latent-size mask) and a preview for the UI.

Where the masks come from for a user's own photo: *fine* is the sample's VITON-HD-style `agnostic_mask` (tryon
preprocessing); *coarse* is `coarse_mask()`: the fine mask joined with the box it spans, extended sideways to the
shoulders, elbows and hips and down to the hip line (the idea of OOTDiffusion's "v9" recipe, which fills the
bounding box down to the hip keypoints), minus the head when a parse map says where it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from tryon.backends.prompt_dresser.config import MAX_DILATION
from tryon.errors import InputError

if TYPE_CHECKING:
    from tryon.sample import TryOnSample

# The official parser input size (W, H) and the garment labels of its ATR-style map (4 upper clothes, 7 dress).
PARSER_INPUT_SIZE = (384, 512)
GARMENT_LABELS = (4, 7)
CLOTH_PAD_ITERATIONS = 30


class Parser(Protocol):
    """A human parser for the prompt-aware mask: RGB uint8 [H, W, 3] -> label map [H, W] in the official
    18-label ATR-style ids (the combined SCHP ATR+LIP output: 4 upper clothes, 7 dress, 11 face, 2 hair, ...)."""

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray: ...


def dilated_mask(fine: np.ndarray, coarse: np.ndarray, iterations: int) -> np.ndarray:
    """The training rule m = (m_fine ⊕ cross^n) ∩ m_coarse, as bool.

    scipy's default 3x3 cross element is kept (each iteration grows the mask by one city-block step), and so is
    its quirk: n = 0 repeats until nothing changes, i.e. the whole coarse mask (an empty fine mask stays empty).
    """
    if not 0 <= iterations <= MAX_DILATION:
        raise ValueError(f"mask dilation must be in [0, {MAX_DILATION}], got {iterations}")
    grown = ndimage.binary_dilation(np.asarray(fine) > 0, iterations=int(iterations))
    return np.logical_and(grown, np.asarray(coarse) > 0)


def garment_region(labels: np.ndarray, pad: bool = False) -> np.ndarray:
    """uint8 {0, 255} mask of the upper-clothes and dress labels, optionally grown by 30 cross dilations."""
    region = np.isin(labels, GARMENT_LABELS)
    if pad:
        region = ndimage.binary_dilation(region, iterations=CLOTH_PAD_ITERATIONS)
    return region.astype(np.uint8) * 255


def resize_nearest(mask: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """PIL NEAREST resize (samples pixel centres, unlike torch's `nearest`), as the official code does."""
    return np.array(Image.fromarray(mask).resize((size_hw[1], size_hw[0]), Image.NEAREST))


def union_mask(fine: np.ndarray, garment: np.ndarray) -> np.ndarray:
    """Pixelwise max of the fine mask (L or RGB) and the predicted garment region (L): the final mask."""
    fine = np.asarray(fine)
    return np.maximum(fine, garment[:, :, None] if fine.ndim == 3 else garment)


def parser_input(image: np.ndarray) -> np.ndarray:
    """The x̂0 image as the official code hands it to the parser: PIL bicubic resize to 384x512."""
    return np.array(Image.fromarray(image).resize(PARSER_INPUT_SIZE, Image.BICUBIC))


def prompt_aware_mask(x0_image: np.ndarray, fine: np.ndarray, parser: Parser, pad: bool = False) -> dict:
    """Parse the first pass's x̂0 image and join its garment region with the fine mask (all steps returned)."""
    labels = np.asarray(parser(parser_input(x0_image)))
    region = garment_region(labels, pad)
    resized = resize_nearest(region, np.asarray(fine).shape[:2])
    return {"labels": labels, "region": region, "region_resized": resized, "mask": union_mask(fine, resized)}


def to_l(mask: np.ndarray) -> np.ndarray:
    """A mask as an 'L' uint8 array: bool -> {0, 255}; RGB -> PIL's luma conversion (exact when R = G = B)."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask.astype(np.uint8) * 255
    if mask.ndim == 3:
        return np.asarray(Image.fromarray(mask.astype(np.uint8)).convert("L"))
    return mask.astype(np.uint8)


def mask_tensor(mask: np.ndarray) -> torch.Tensor:
    """The pipeline's binary mask [1, 1, H, W]: L/255, then >= 0.5 -> 1 (so 127 -> 0 and 128 -> 1)."""
    value = torch.from_numpy(to_l(mask).astype(np.float32) / 255.0)[None, None]
    return (value >= 0.5).to(torch.float32)


def latent_mask(mask: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """Mask at latent size with torch's default nearest mode (the top-left pixel of each cell)."""
    return F.interpolate(mask, size=latent_hw)


def coarse_mask(fine: np.ndarray, keypoints: np.ndarray | None = None, parse: np.ndarray | None = None) -> np.ndarray:
    """A larger mask for a photo without a dataset coarse mask (see the module docstring for the recipe)."""
    fine = np.asarray(fine) > 0
    if not fine.any():
        return fine
    ys, xs = np.nonzero(fine)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    if keypoints is not None:
        # COCO-18: shoulders 2/5, elbows 3/6, hips 8/11.
        body = np.asarray(keypoints)[[2, 3, 5, 6, 8, 11]]
        body = body[body[:, 2] > 0]
        if len(body):
            left, right = min(left, int(body[:, 0].min())), max(right, int(body[:, 0].max()))
            hips = np.asarray(keypoints)[[8, 11]]
            hips = hips[hips[:, 2] > 0]
            if len(hips):
                bottom = max(bottom, int(hips[:, 1].max()))
    height, width = fine.shape
    box = np.zeros_like(fine)
    box[max(top, 0) : min(bottom, height - 1) + 1, max(left, 0) : min(right, width - 1) + 1] = True
    result = fine | box
    if parse is not None:
        # 20-label LIP parse: 1 hat, 2 hair, 4 sunglasses, 13 face stay visible.
        result &= ~np.isin(np.asarray(parse), (1, 2, 4, 13)) | fine
    return result


def mask_preview(
    person: np.ndarray, coarse: np.ndarray | None, fine: np.ndarray, result: np.ndarray | None = None
) -> np.ndarray:
    """The person photo with the coarse (blue), fine (red) and final (green outline) masks drawn on it."""
    image = np.asarray(person).astype(np.float32).copy()
    layers = [(coarse, (60, 110, 255), 0.35), (fine, (255, 60, 60), 0.45)]
    for mask, colour, alpha in layers:
        if mask is None:
            continue
        m = resize_nearest(to_l(mask), image.shape[:2]) > 127
        image[m] = (1 - alpha) * image[m] + alpha * np.asarray(colour, np.float32)
    if result is not None:
        m = resize_nearest(to_l(result), image.shape[:2]) > 127
        edge = m & ~ndimage.binary_erosion(m, iterations=2)
        image[edge] = (40, 220, 80)
    return image.round().clip(0, 255).astype(np.uint8)


def sample_masks(sample: TryOnSample) -> tuple[np.ndarray, np.ndarray]:
    """(fine, coarse) bool masks at the sample's size: the agnostic mask and the derived coarse mask."""
    if sample.agnostic_mask is None:
        raise InputError("prompt-dresser needs an agnostic mask in the sample")
    fine = np.asarray(sample.agnostic_mask) > 0
    return fine, coarse_mask(fine, sample.keypoints, sample.parse)


def mask_for_mode(fine: np.ndarray, coarse: np.ndarray, mode: str, dilation: int) -> np.ndarray:
    """The single-pass mask of a mode ("prompt-aware" starts from the fine mask; the parser extends it)."""
    return dilated_mask(fine, coarse, dilation) if mode == "dilated" else fine
