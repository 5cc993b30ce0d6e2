"""User corrections for when an estimator gets the person or the garment wrong.

The UI lets the user paint the garment mask over the photo in a `gr.ImageEditor`; this turns the editor's
value into the boolean mask `prepare_sample(garment_mask_override=...)` takes. Kept free of Gradio so it is a
pure function of the value.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon.errors import InputError


def mask_from_drawing(editor_value: dict | None, size: tuple[int, int]) -> np.ndarray:
    """HxW bool mask of the painted pixels (alpha > 0 in any layer), resized to `size` = (height, width).

    The editor's layers are RGBA arrays at the background's size; the background and composite are ignored
    because they contain the photo, not the strokes. No value or no strokes gives an empty mask."""
    height, width = size
    layers = (editor_value or {}).get("layers") or []
    painted = np.zeros((height, width), bool)
    for layer in layers:
        array = np.asarray(layer)
        if array.ndim != 3 or array.shape[2] != 4:
            raise InputError("garment mask drawing: each layer must be an RGBA image")
        alpha = (array[:, :, 3] > 0).astype(np.uint8)
        painted |= cv2.resize(alpha, (width, height), interpolation=cv2.INTER_NEAREST) > 0
    return painted
