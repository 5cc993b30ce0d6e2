"""Safe image I/O and the resizing every backend needs.

Uploads are untrusted: a non-image, a truncated file, a decompression bomb, a CMYK or 16-bit PNG, a photo
rotated by its EXIF tag. Everything is normalised here to HxWx3 uint8 RGB, with one-line InputErrors that name
the file. Backends run at fixed resolutions; `fit` letterboxes into one without distortion and `unfit` maps
the result back onto the original frame.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tryon.errors import InputError

# 40 megapixels: a 8000x5000 photo is fine, a 20000x20000 one (400 MP) is refused before decoding.
MAX_PIXELS = 40_000_000
MAX_BYTES = 50 * 1024 * 1024
# Working resolution for preprocessing and the demo: the long side of a person photo is reduced to this.
WORK_LONG_SIDE = 1024


def describe(source: object) -> str:
    """How errors name an image: its path, or "uploaded image" for pixels handed over without one."""
    return str(source) if isinstance(source, (str, Path)) else "uploaded image"


def load_image(source: str | Path | bytes | Image.Image | np.ndarray, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read any supported image as HxWx3 uint8 RGB, honouring EXIF orientation.

    Transparent pixels are composited on white (product photos are usually cut out on white).
    """
    name = describe(source)
    if isinstance(source, np.ndarray):
        return to_rgb_array(source, name)
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, name)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{name}: file not found")
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"{name}: the file is empty")
        if size > MAX_BYTES:
            raise InputError(f"{name}: {size / 2**20:.0f} MB is larger than the {MAX_BYTES // 2**20} MB limit")
        data = path.read_bytes()
    else:
        data = bytes(source)
        if not data:
            raise InputError(f"{name}: the file is empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise InputError(
                    f"{name}: {width}x{height} is too large ({width * height / 1e6:.0f} MP; limit "
                    f"{max_pixels / 1e6:.0f} MP): downscale it first"
                )
            probe.load()
            return _pil_to_rgb(probe, name)
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputError(f"{name}: too large to decode safely ({exc}); downscale it first") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{name}: not an image PIL can read ({type(exc).__name__})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{name}: the image data is damaged or truncated ({exc})") from exc


def probe_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of an image file after the cheap checks (exists, not empty, size limits, a format PIL
    knows), without decoding its pixels; a truncated body is only found when `load_image` decodes it."""
    name = describe(path)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{name}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{name}: the file is empty")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"{name}: larger than the {MAX_BYTES // 2**20} MB limit")
    try:
        with Image.open(path) as probe:
            width, height = probe.size
    except Image.DecompressionBombError as exc:
        raise InputError(f"{name}: too large to decode safely ({exc}); downscale it first") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{name}: not an image PIL can read ({type(exc).__name__})") from exc
    if width * height > max_pixels:
        raise InputError(f"{name}: {width}x{height} is too large ({width * height / 1e6:.0f} MP; limit "
                         f"{max_pixels / 1e6:.0f} MP): downscale it first")
    return width, height


def _pil_to_rgb(image: Image.Image, name: str) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max() if arr.max() > 255 else 255.0
        image = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return to_rgb_array(np.asarray(image.convert("RGB")), name)


def to_rgb_array(array: np.ndarray, name: str = "image") -> np.ndarray:
    """Coerce grey, RGBA or float arrays to HxWx3 uint8."""
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 8:
        raise InputError(f"{name}: expected an RGB image, got an array of shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        scale = 255.0 if arr.dtype.kind == "f" and arr.max() <= 1.0 else 1.0
        arr = np.clip(arr.astype(np.float64) * scale + 0.5 * (scale == 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask PNG/JPG as HxW bool (> 127 is True), optionally NEAREST-resized to (height, width)."""
    grey = load_image(path)[..., 0]
    if size is not None and grey.shape != size:
        grey = np.asarray(Image.fromarray(grey).resize((size[1], size[0]), Image.NEAREST))
    return grey > 127


def output_folder(path: str | Path) -> Path:
    """Create an output folder (and its parents); one that cannot be made (a file of that name, no write
    permission) is an error naming it, not a traceback."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create the output folder ({exc.strerror or exc})") from exc
    return path


def save_image(array: np.ndarray, path: str | Path, quality: int = 95) -> Path:
    """Write RGB uint8 (or a bool/uint8 HxW mask) as PNG or JPEG by extension."""
    path = Path(path)
    output_folder(path.parent)
    arr = array.astype(np.uint8) * 255 if array.dtype == bool else array
    image = Image.fromarray(arr)
    try:
        if path.suffix.lower() in (".jpg", ".jpeg"):
            image.save(path, quality=quality)
        else:
            image.save(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the image ({exc.strerror or exc})") from exc
    return path


def limit_size(image: np.ndarray, long_side: int = WORK_LONG_SIDE) -> np.ndarray:
    """Downscale so the long side is at most `long_side` (never upscale)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))
