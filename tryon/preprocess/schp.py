"""Human parsing with the SCHP ATR and LIP networks exported to ONNX (as IDM-VTON / OOTDiffusion run them).

Label conventions (SCHP's dataset settings):
- ATR, 18 labels, 512x512 input: 0 bg, 1 hat, 2 hair, 3 sunglasses, 4 upper clothes, 5 skirt, 6 pants,
  7 dress, 8 belt, 9 left shoe, 10 right shoe, 11 face, 12 left leg, 13 right leg, 14 left arm, 15 right arm,
  16 bag, 17 scarf.
- LIP, 20 labels, 473x473 input: 0 bg, 1 hat, 2 hair, 3 glove, 4 sunglasses, 5 upper clothes, 6 dress,
  7 coat, 8 socks, 9 pants, 10 jumpsuits, 11 scarf, 12 skirt, 13 face, 14 left arm, 15 right arm, 16 left leg,
  17 right leg, 18 left shoe, 19 right shoe.
VITON-HD's `image-parse-v3` uses the LIP/CIHP ids except that 10 is the neck (LIP has no neck label). So the
merged map is the LIP parse, with jumpsuits (10) relabelled dress (6, the one-piece garment the backends know)
and the neck (10) taken where ATR sees skin of the face region that LIP does not call face -- the same rule the
IDM-VTON parser uses.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ATR_SIZE, LIP_SIZE = 512, 473
ATR_FACE, LIP_FACE, LIP_JUMPSUITS = 11, 13, 10
VITON_NECK, VITON_DRESS = 10, 6
# SCHP normalises BGR input with these (B, G, R) statistics.
MEAN_BGR = np.array([0.406, 0.456, 0.485], np.float32)
STD_BGR = np.array([0.225, 0.224, 0.229], np.float32)


def square_crop_transform(height: int, width: int, size: int) -> np.ndarray:
    """The 2x3 affine map from the image to a `size` square: the image centred, its longer side fitted, so
    the aspect ratio is kept (SCHP's centre/scale box with aspect ratio 1)."""
    scale = size / max(height, width)
    return np.array([[scale, 0, size / 2 - scale * width / 2], [0, scale, size / 2 - scale * height / 2]],
                    np.float32)


class SCHPNet:
    """One SCHP ONNX network: image -> (labels, H, W) logits at the image's size."""

    def __init__(self, path: str | Path | bytes, size: int, labels: int) -> None:
        self.path, self.size, self.labels = path, size, labels
        self._session = None

    @property
    def session(self):  # noqa: ANN201 - an onnxruntime InferenceSession, opened on first use (hundreds of MB)
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            path = self.path
            self._session = ort.InferenceSession(path if isinstance(path, bytes) else str(path), options,
                                                 providers=["CPUExecutionProvider"])
        return self._session

    @property
    def input_name(self) -> str:
        return self.session.get_inputs()[0].name

    def logits(self, image_rgb: np.ndarray) -> np.ndarray:
        height, width = image_rgb.shape[:2]
        forward = square_crop_transform(height, width, self.size)
        bgr = image_rgb[:, :, ::-1].astype(np.float32) / 255
        crop = cv2.warpAffine(bgr, forward, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        x = ((crop - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[None].astype(np.float32)
        outputs = self.session.run(None, {self.input_name: x})
        # SCHP exports (parsing, fusion, edge) heads; the last one with one channel per label is the fused parse.
        logits = [o for o in outputs if o.ndim == 4 and o.shape[1] == self.labels][-1][0]
        up = cv2.resize(logits.transpose(1, 2, 0), (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        back = cv2.invertAffineTransform(forward)
        restored = cv2.warpAffine(up.reshape(self.size, self.size, -1), back, (width, height),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return restored.reshape(height, width, -1).transpose(2, 0, 1)

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        return self.logits(image_rgb).argmax(0).astype(np.uint8)


def merge_atr_lip(atr: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """LIP parse in VITON-HD `image-parse-v3` ids: jumpsuits -> dress, neck from ATR face minus LIP face."""
    merged = lip.astype(np.uint8).copy()
    merged[lip == LIP_JUMPSUITS] = VITON_DRESS
    merged[(atr == ATR_FACE) & (lip != LIP_FACE)] = VITON_NECK
    return merged


class SCHPParser:
    """The full-quality `ParseEstimator`: SCHP ATR + LIP, merged. Keypoints and silhouette are not needed."""

    name = "schp-atr+lip (onnx)"

    def __init__(self, atr: SCHPNet, lip: SCHPNet) -> None:
        self.atr, self.lip = atr, lip

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, person_mask: np.ndarray) -> np.ndarray:
        return merge_atr_lip(self.atr(image), self.lip(image))


def load_schp() -> SCHPParser | None:
    """Factory for `PARSERS`: None unless both ONNX files are in the weights cache."""
    from tryon.preprocess.weights import SCHP_ATR, SCHP_LIP

    if not (SCHP_ATR.present() and SCHP_LIP.present()):
        return None
    return SCHPParser(SCHPNet(SCHP_ATR.local(), ATR_SIZE, 18), SCHPNet(SCHP_LIP.local(), LIP_SIZE, 20))
