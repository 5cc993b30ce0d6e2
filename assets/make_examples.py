"""Rebuild assets/examples/: public-domain people from scikit-image and drawn garment product photos.

People: `astronaut.png` (NASA, public domain) and `camera.png` (CC0), both shipped in the scikit-image wheel.
Garments are drawn here (flat colours, stripes, a print) on an off-white background, the way product photos
are shot. Each person x garment is written with `python -m tryon prepare`'s code path, so the folder is a
normal VITON-HD-style dataset. Run from the repository root: `python -m assets.make_examples`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from tryon.dataset import PAIRS_FILE, prepare_to_folder
from tryon.imaging import save_image

OUT = Path(__file__).parent / "examples"
BACKGROUND = (246, 244, 240)


def _canvas(h: int = 1024, w: int = 768) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    img[:] = BACKGROUND
    return img


def tshirt(colour: tuple[int, int, int], stripes: tuple[int, int, int] | None = None) -> np.ndarray:
    img = _canvas()
    body = np.array([[234, 170], [330, 130], [438, 130], [534, 170], [700, 300], [640, 400], [560, 340],
                     [560, 900], [208, 900], [208, 340], [128, 400], [68, 300]], np.int32)
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(mask, [body], 1)
    cv2.ellipse(mask, (384, 130), (56, 40), 0, 0, 180, 0, -1)  # neckline
    img[mask > 0] = colour
    if stripes is not None:
        for y in range(180, 900, 60):
            band = mask.copy()
            band[: y] = 0
            band[y + 24 :] = 0
            img[band > 0] = stripes
    return img


def trousers(colour: tuple[int, int, int]) -> np.ndarray:
    img = _canvas()
    shape = np.array([[224, 100], [544, 100], [580, 960], [410, 960], [384, 360], [358, 960], [188, 960]], np.int32)
    cv2.fillPoly(img, [shape], colour)
    return img


def dress(colour: tuple[int, int, int], print_colour: tuple[int, int, int]) -> np.ndarray:
    img = _canvas()
    shape = np.array([[300, 100], [468, 100], [500, 380], [640, 960], [128, 960], [268, 380]], np.int32)
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(mask, [shape], 1)
    img[mask > 0] = colour
    rng = np.random.RandomState(7)
    for _ in range(60):
        x, y = int(rng.randint(150, 620)), int(rng.randint(150, 940))
        if mask[y, x]:
            cv2.circle(img, (x, y), 12, print_colour, -1)
    return img


GARMENTS = {
    "red_tee": ("upper", tshirt((196, 32, 48))),
    "striped_tee": ("upper", tshirt((30, 60, 140), stripes=(235, 235, 235))),
    "denim_trousers": ("lower", trousers((52, 84, 130))),
    "dotted_dress": ("dress", dress((40, 120, 80), (250, 220, 90))),
}
PEOPLE = {"astronaut": data.astronaut(), "camera": np.repeat(data.camera()[..., None], 3, axis=2)}


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    raw = OUT / "photos"
    for name, image in PEOPLE.items():
        save_image(image, raw / f"person_{name}.jpg")
    for name, (_, image) in GARMENTS.items():
        save_image(image, raw / f"garment_{name}.jpg")
    for person in PEOPLE:
        for garment, (category, _) in GARMENTS.items():
            if category == "upper":
                prepare_to_folder(raw / f"person_{person}.jpg", raw / f"garment_{garment}.jpg", OUT / "dataset",
                                  f"{person}-{garment}", category)
    print(f"wrote {OUT} ({len((OUT / 'dataset' / PAIRS_FILE).read_text().splitlines())} pairs)")


if __name__ == "__main__":
    main()
