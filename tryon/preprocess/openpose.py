"""OpenPose body (COCO-18) keypoints: the estimator the official backends' training data was made with.

The network is the CMU body model (a VGG-19 front and six two-branch refinement stages: branch L1 predicts 38
part-affinity-field channels, branch L2 19 heatmaps) in the layout of the widely mirrored `body_pose_model.pth`
(lllyasviel/Annotators). The decoding is the standard one: heatmaps and PAFs averaged over scales, peaks of
the smoothed heatmaps, limb candidates scored by the line integral of the PAF, greedy assembly into people.
Of the people found, the one whose keypoints span the largest area is returned, since a try-on photo is of
one person and bystanders are small.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from tryon.errors import PERSON_PHOTO, InputError, PhotoProblem
from tryon.preprocess.pose import MediaPipePose, PoseResult

# Limbs as (joint a, joint b) in COCO-18 order, and the PAF channel pair (x, y) that encodes each limb.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17),
)
PAF_CHANNELS: tuple[tuple[int, int], ...] = (
    (12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7), (8, 9),
    (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27),
)
PEAK_THRESHOLD = 0.1  # heatmap value a joint candidate must exceed
PAF_THRESHOLD = 0.05  # PAF alignment a sample on a limb must exceed
SCALES = (0.5, 1.0, 1.5, 2.0)
BOX_SIZE = 368  # the network's training height; scales are relative to it
STRIDE = 8


# -- network ------------------------------------------------------------------------------------------------
def _convs(spec: list[tuple[str, int, int, int]], last_relu: bool) -> nn.Sequential:
    """Named conv layers (name, in, out, kernel) with ReLUs, and 2x2 max-pools where the name says pool."""
    layers: dict[str, nn.Module] = {}
    for i, (name, cin, cout, k) in enumerate(spec):
        if name.startswith("pool"):
            layers[name] = nn.MaxPool2d(2, 2)
            continue
        layers[name] = nn.Conv2d(cin, cout, k, padding=k // 2)
        if last_relu or i < len(spec) - 1:
            layers[f"{name}_relu"] = nn.ReLU(inplace=True)
    return nn.Sequential(OrderedDict(layers))


class BodyPoseNet(nn.Module):
    """VGG-19 front (to conv4_4_CPM, 128 channels at 1/8 size), then 6 stages of (PAF, heatmap) branches."""

    def __init__(self) -> None:
        super().__init__()
        front = [
            ("conv1_1", 3, 64, 3), ("conv1_2", 64, 64, 3), ("pool1_stage1", 0, 0, 2),
            ("conv2_1", 64, 128, 3), ("conv2_2", 128, 128, 3), ("pool2_stage1", 0, 0, 2),
            ("conv3_1", 128, 256, 3), ("conv3_2", 256, 256, 3), ("conv3_3", 256, 256, 3), ("conv3_4", 256, 256, 3),
            ("pool3_stage1", 0, 0, 2),
            ("conv4_1", 256, 512, 3), ("conv4_2", 512, 512, 3),
            ("conv4_3_CPM", 512, 256, 3), ("conv4_4_CPM", 256, 128, 3),
        ]
        self.model0 = _convs(front, last_relu=True)
        for branch, out in (("L1", 38), ("L2", 19)):
            first = [(f"conv5_{i}_CPM_{branch}", 128, 128, 3) for i in (1, 2, 3)]
            first += [(f"conv5_4_CPM_{branch}", 128, 512, 1), (f"conv5_5_CPM_{branch}", 512, out, 1)]
            setattr(self, f"model1_{branch[1]}", _convs(first, last_relu=False))
            for t in range(2, 7):
                spec = [(f"Mconv1_stage{t}_{branch}", 128 + 38 + 19, 128, 7)]
                spec += [(f"Mconv{i}_stage{t}_{branch}", 128, 128, 7) for i in (2, 3, 4, 5)]
                spec += [(f"Mconv6_stage{t}_{branch}", 128, 128, 1), (f"Mconv7_stage{t}_{branch}", 128, out, 1)]
                setattr(self, f"model{t}_{branch[1]}", _convs(spec, last_relu=False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """BGR image scaled to [-0.5, 0.5] -> (PAFs (B, 38, h/8, w/8), heatmaps (B, 19, h/8, w/8))."""
        features = self.model0(x)
        paf, heat = self.model1_1(features), self.model1_2(features)
        for t in range(2, 7):
            joined = torch.cat([paf, heat, features], 1)
            paf, heat = getattr(self, f"model{t}_1")(joined), getattr(self, f"model{t}_2")(joined)
        return paf, heat

    @classmethod
    def from_pretrained(cls, path: str | Path) -> BodyPoseNet:
        """Load `body_pose_model.pth` strictly. The mirrored file names layers without their block prefix
        (`conv1_1.weight`, not `model0.conv1_1.weight`); layer names are unique, so either form is accepted."""
        return cls.from_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    @classmethod
    def full_key(cls, key: str) -> str:
        """A layer key of the mirrored file (`conv1_1.weight`) -> ours (`model0.conv1_1.weight`)."""
        return _keys_by_layer().get(key, key)

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> BodyPoseNet:
        net = cls()
        net.load_state_dict({cls.full_key(key): value for key, value in state.items()}, strict=True)
        return net.eval()


@lru_cache(maxsize=1)
def _keys_by_layer() -> dict[str, str]:
    with torch.device("meta"):
        keys = BodyPoseNet().state_dict()
    return {key.split(".", 1)[1]: key for key in keys}


# -- decoding -----------------------------------------------------------------------------------------------
def find_peaks(heatmaps: np.ndarray, threshold: float = PEAK_THRESHOLD) -> list[np.ndarray]:
    """Per joint, (n, 3) candidates (x, y, score): local maxima of the smoothed heatmap above `threshold`."""
    peaks = []
    for j in range(18):
        smooth = gaussian_filter(heatmaps[:, :, j], sigma=3)
        padded = np.pad(smooth, 1)
        centre = padded[1:-1, 1:-1]
        is_peak = (
            (centre >= padded[:-2, 1:-1]) & (centre >= padded[2:, 1:-1])
            & (centre >= padded[1:-1, :-2]) & (centre >= padded[1:-1, 2:]) & (smooth > threshold)
        )
        ys, xs = np.nonzero(is_peak)
        peaks.append(np.stack([xs, ys, heatmaps[ys, xs, j]], 1).astype(np.float32) if len(xs) else np.zeros((0, 3)))
    return peaks


def _limb_score(paf_x: np.ndarray, paf_y: np.ndarray, a: np.ndarray, b: np.ndarray, height: int) -> float | None:
    """Mean PAF alignment along a -> b (10 samples), with a penalty for limbs longer than half the image;
    None when fewer than 80% of the samples agree with the field."""
    vec = b[:2] - a[:2]
    norm = float(np.hypot(*vec))
    if norm < 1e-6:
        return None
    xs = np.rint(np.linspace(a[0], b[0], 10)).astype(int)
    ys = np.rint(np.linspace(a[1], b[1], 10)).astype(int)
    samples = paf_x[ys, xs] * vec[0] / norm + paf_y[ys, xs] * vec[1] / norm
    score = float(samples.mean()) + min(0.5 * height / norm - 1, 0.0)
    if (samples > PAF_THRESHOLD).sum() <= 0.8 * len(samples) or score <= 0:
        return None
    return score


def assemble_people(peaks: list[np.ndarray], pafs: np.ndarray, height: int) -> list[np.ndarray]:
    """Greedy PAF assembly: each limb's best-scoring disjoint candidate pairs join or merge people.

    Returns (18, 3) keypoints (x, y, heatmap score; 0 where missing) per person with at least 4 joints and a
    mean score of at least 0.4, the standard OpenPose filter."""
    ids = [np.arange(len(p)) + sum(len(q) for q in peaks[:j]) for j, p in enumerate(peaks)]
    flat = np.concatenate([p for p in peaks if len(p)] or [np.zeros((0, 3))])
    people: list[dict] = []  # {"parts": 18 global candidate ids (-1 missing), "score": float}
    for (ja, jb), (cx, cy) in zip(LIMBS, PAF_CHANNELS, strict=True):
        candidates = []
        for ia, pa in zip(ids[ja], peaks[ja], strict=True):
            for ib, pb in zip(ids[jb], peaks[jb], strict=True):
                score = _limb_score(pafs[:, :, cx], pafs[:, :, cy], pa, pb, height)
                if score is not None:
                    candidates.append((score + pa[2] + pb[2], score, int(ia), int(ib)))
        used_a, used_b = set(), set()
        for _, score, ia, ib in sorted(candidates, reverse=True):
            if ia in used_a or ib in used_b:
                continue
            used_a.add(ia), used_b.add(ib)
            owners = [p for p in people if p["parts"][ja] == ia or p["parts"][jb] == ib]
            if not owners:
                parts = np.full(18, -1)
                parts[ja], parts[jb] = ia, ib
                people.append({"parts": parts, "score": flat[ia, 2] + flat[ib, 2] + score})
            elif len(owners) == 1 or np.any((owners[0]["parts"] >= 0) & (owners[1]["parts"] >= 0)):
                owner = owners[0]
                if owner["parts"][jb] != ib:
                    owner["parts"][jb] = ib
                    owner["score"] += flat[ib, 2] + score
            else:  # two disjoint partial people joined by this limb: merge them
                keep, gone = owners
                keep["parts"] = np.maximum(keep["parts"], gone["parts"])
                keep["score"] += gone["score"] + score
                people.remove(gone)
    result = []
    for person in people:
        count = int((person["parts"] >= 0).sum())
        if count < 4 or person["score"] / count < 0.4:
            continue
        keypoints = np.zeros((18, 3), np.float32)
        found = person["parts"] >= 0
        keypoints[found] = flat[person["parts"][found]]
        result.append(keypoints)
    return result


def largest_person(people: list[np.ndarray]) -> np.ndarray | None:
    """The person whose visible keypoints have the largest bounding box."""
    def area(k: np.ndarray) -> float:
        seen = k[k[:, 2] > 0]
        return float(np.ptp(seen[:, 0]) * np.ptp(seen[:, 1])) if len(seen) else 0.0

    return max(people, key=area) if people else None


def network_maps(
    net: BodyPoseNet, image_rgb: np.ndarray, scales: tuple[float, ...] = SCALES
) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (H, W, 19) and PAFs (H, W, 38) at image size, averaged over scales of the 368-pixel box."""
    height, width = image_rgb.shape[:2]
    bgr = image_rgb[:, :, ::-1].astype(np.float32)
    heat_sum = np.zeros((height, width, 19), np.float32)
    paf_sum = np.zeros((height, width, 38), np.float32)
    for scale in scales:
        factor = scale * BOX_SIZE / height
        resized = cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        h, w = resized.shape[:2]
        padded = np.full((-(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE, 3), 128, np.float32)
        padded[:h, :w] = resized
        x = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)[None] / 256 - 0.5))
        with torch.inference_mode():
            paf, heat = net(x.to(next(net.parameters()).dtype))
        for maps, total in ((heat, heat_sum), (paf, paf_sum)):
            up = cv2.resize(maps[0].float().numpy().transpose(1, 2, 0), None, fx=STRIDE, fy=STRIDE,
                            interpolation=cv2.INTER_CUBIC)
            total += cv2.resize(up[:h, :w], (width, height), interpolation=cv2.INTER_CUBIC).reshape(total.shape)
    return heat_sum / len(scales), paf_sum / len(scales)


class OpenPoseBody:
    """OpenPose body keypoints; the silhouette comes from the embedded segmentation (OpenPose has none)."""

    name = "openpose-body (COCO-18, body_pose_model.pth)"

    def __init__(self, net: BodyPoseNet, scales: tuple[float, ...] = SCALES) -> None:
        self.net, self.scales = net, scales
        self.silhouette = MediaPipePose()

    def keypoints(self, image: np.ndarray) -> np.ndarray:
        heat, paf = network_maps(self.net, image, self.scales)
        person = largest_person(assemble_people(find_peaks(heat), paf, image.shape[0]))
        if person is None:
            raise PhotoProblem(PERSON_PHOTO, "no person found (OpenPose found no body)")
        return person

    def __call__(self, image: np.ndarray) -> PoseResult:
        keypoints = self.keypoints(image)
        try:
            mask = self.silhouette(image).person_mask
        except InputError:
            mask = np.zeros(image.shape[:2], bool)
        return PoseResult(keypoints, mask, self.name)


def load_openpose() -> OpenPoseBody | None:
    """Factory for `POSE_ESTIMATORS`: None when `body_pose_model.pth` is not in the weights cache."""
    from tryon.preprocess.weights import OPENPOSE_BODY

    return OpenPoseBody(BodyPoseNet.from_pretrained(OPENPOSE_BODY.local())) if OPENPOSE_BODY.present() else None
