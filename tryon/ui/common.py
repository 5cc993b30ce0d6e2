"""Helpers shared by the UI tabs: turning user-fixable errors into messages, and preview drawings."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder

from tryon.errors import InputError
from tryon.imaging import probe_image
from tryon.openpose import render_skeleton
from tryon.sample import TryOnSample


def upload_names(message: str) -> str:
    """An error message with each uploaded file named as the user knows it: Gradio keeps an upload as
    `<upload folder>/<hash>/<original name>`, and only the original name means anything to the user."""
    return re.sub(re.escape(get_upload_folder()) + r"/[^/\s]+/", "", message)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show InputErrors as a Gradio error message (no traceback in the page), for plain and generator handlers."""
    if _is_generator(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except InputError as exc:
                raise gr.Error(upload_names(str(exc)), print_exception=False) from exc

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            raise gr.Error(upload_names(str(exc)), print_exception=False) from exc

    return wrapper


def _is_generator(fn: Callable[..., Any]) -> bool:
    import inspect

    return inspect.isgeneratorfunction(fn)


class PhotoInput(gr.Image):
    """An image upload checked by the workbench's own loader rules instead of Gradio's decoder.

    Gradio decodes uploads with PIL before a handler runs, so a non-image or an oversized photo would fail
    there with a generic message; here it fails with a one-line explanation naming the file, and the handler
    receives the original file (EXIF and colour modes are handled by `tryon.imaging`).
    """

    @classmethod
    def get_block_name(cls) -> str:
        return "image"  # rendered by Gradio's own image component in the browser

    def preprocess(self, payload: Any) -> str | None:
        if payload is None:
            return None
        try:
            probe_image(payload.path)
        except InputError as exc:
            name = getattr(payload, "orig_name", None) or "uploaded image"
            raise gr.Error(str(exc).replace(str(payload.path), name), print_exception=False) from exc
        return str(payload.path)


def overlay(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], alpha: float = 0.5) -> np.ndarray:
    """Tint the masked pixels of an RGB image."""
    out = image.astype(np.float32).copy()
    out[mask] = out[mask] * (1 - alpha) + np.array(colour, np.float32) * alpha
    return out.astype(np.uint8)


def preprocessing_previews(sample: TryOnSample) -> list[tuple[np.ndarray, str]]:
    """Keypoints on the person, the garment mask and the try-on (agnostic) mask, each with a caption."""
    previews = []
    if sample.keypoints is not None:
        skeleton = render_skeleton(sample.keypoints, sample.size)
        drawn = np.where(skeleton.any(axis=2, keepdims=True), skeleton, sample.person // 2 + 64)
        previews.append((drawn, f"keypoints ({sample.provenance.get('keypoints', '?')})"))
    if sample.garment_mask is not None:
        previews.append((overlay(sample.garment, ~sample.garment_mask, (40, 40, 40), 0.8), "garment mask"))
    if sample.agnostic_mask is not None:
        previews.append((overlay(sample.person, sample.agnostic_mask, (128, 128, 128), 0.85), "try-on region"))
    return previews


def notes_markdown(sample: TryOnSample) -> str:
    lines = [f"- **{k}**: {v}" for k, v in sample.provenance.items() if k != "dataset"]
    lines += [f"- *assumed*: {note}" for note in sample.notes]
    return "\n".join(lines)
