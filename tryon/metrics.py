"""LPIPS, SSIM, FID and KID as batched metrics on the runtime's device, with no network at run time.

Conventions (docs/evaluation.md explains why):
- Images are HxWx3 uint8 RGB. A result is compared at its reference's size: untouched when the sizes match,
  otherwise resized (bicubic, antialiased) to the reference's size before any metric sees it.
- LPIPS v0.1 (AlexNet by default, VGG16 optional) on [-1, 1] inputs at native size, with the local backbone
  loaded into `lpips.LPIPS(pnet_rand=True)`. Region scores average the same per-layer distance maps over the
  region outside the try-on mask (what a backend should not touch) and inside it; an all-true mask gives plain
  LPIPS.
- SSIM is torchmetrics' definition (Gaussian 11, sigma 1.5, data_range 1) computed with a separable window;
  it needs no weights and always works. Region SSIM averages the per-pixel SSIM map over the region.
- FID/KID use the TF-FID Inception (2048-d pool features) of torch-fidelity (what torchmetrics'
  `NoTrainInceptionV3(antialias=False)` wraps), with its TF1-style resize to 299: numbers comparable with the
  literature.
  The distances, their intervals, the FID-vs-N curve and FID∞ live in `tryon.feature_distances`.
- Reference (real) features are cached on disk per image, keyed by the sha256 of the file's bytes, so scoring
  a second backend or a second run never recomputes them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tryon.errors import WeightsMissing
from tryon.imaging import load_image
from tryon.metrics_weights import ALEX, ALEX_CONVS, GROUP, INCEPTION, VGG, VGG_CONVS
from tryon.runtime import default_device
from tryon.weights import WeightFile, cache_dir

SMALL_N = 1000  # below this, FID/KID are flagged: their bias and variance make cross-paper comparisons unsafe
FEATURE_TAG = "tf-inception-2048-tf1resize"
# lpips' AlexNet/VGG slices end at these torchvision `features` indices; a conv at index i lives in the first
# slice whose end exceeds i (slice numbers start at 1).
_LPIPS_SLICE_ENDS = {"alex": (2, 5, 8, 10, 12), "vgg": (4, 9, 16, 23, 30)}
_LPIPS_FILES = {"alex": (ALEX, ALEX_CONVS), "vgg": (VGG, VGG_CONVS)}


# -- image plumbing -----------------------------------------------------------------------------------------
def to_chw(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> 3xHxW uint8 tensor."""
    array = np.ascontiguousarray(image)
    return torch.from_numpy(array if array.flags.writeable else array.copy()).permute(2, 0, 1)


def match_size(result: np.ndarray, reference_hw: tuple[int, int]) -> np.ndarray:
    """The result at the reference's (height, width): the same array when sizes match, else bicubic-resized."""
    if tuple(result.shape[:2]) == tuple(reference_hw):
        return result
    x = to_chw(result)[None].float()
    y = F.interpolate(x, size=tuple(reference_hw), mode="bicubic", antialias=True, align_corners=False)
    return y[0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def _group_by_size(items: Sequence[np.ndarray]) -> dict[tuple[int, int], list[int]]:
    groups: dict[tuple[int, int], list[int]] = {}
    for index, image in enumerate(items):
        groups.setdefault(tuple(image.shape[:2]), []).append(index)
    return groups


def _require(file: WeightFile) -> None:
    if not file.present():
        raise WeightsMissing(f"{file.note}: {file.local()} is missing (run: {GROUP.command})")


# -- models (built once per device and cached: the UI scores every result) ----------------------------------
@functools.lru_cache(maxsize=4)
def lpips_model(net: str = "alex", device: str = "cpu") -> torch.nn.Module:
    """`lpips.LPIPS` v0.1 with the local backbone: constructed with a random backbone (no download), then the
    backbone's conv weights are loaded into the `net.sliceK` modules; the lin layers ship with the package."""
    import lpips

    file, convs = _LPIPS_FILES[net]
    _require(file)
    state = torch.load(file.local(), map_location="cpu", weights_only=True)
    ends = _LPIPS_SLICE_ENDS[net]
    mapped = {}
    for index in convs:
        slice_no = next(i for i, end in enumerate(ends, 1) if index < end)
        for kind in ("weight", "bias"):
            mapped[f"net.slice{slice_no}.{index}.{kind}"] = state[f"features.{index}.{kind}"]
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=` flag
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, pnet_rand=True, pretrained=True, verbose=False)
    result = model.load_state_dict(mapped, strict=False)
    backbone_missing = [k for k in result.missing_keys if k.startswith("net.")]
    if backbone_missing or result.unexpected_keys:
        raise RuntimeError(f"LPIPS backbone keys did not match: {backbone_missing[:3]} {result.unexpected_keys[:3]}")
    # channels_last, as for Inception: oneDNN's convolutions are faster in it on CPU; inputs follow suit.
    return model.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)


@functools.lru_cache(maxsize=2)
def inception(device: str = "cpu") -> torch.nn.Module:
    """The TF-FID InceptionV3 (2048-d), TF1-style resize, from the local torch-fidelity-format file.

    torch-fidelity's own extractor: what torchmetrics' `NoTrainInceptionV3(antialias=False)` wraps, without
    importing torchmetrics (whose text metrics import transformers: seconds of start-up for nothing)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    _require(INCEPTION)
    model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                        feature_extractor_weights_path=str(INCEPTION.local()))
    _fold_batch_norms(model.eval())
    # channels_last: ~1.4x faster convolutions on CPU (oneDNN), same float32 results to rounding.
    return model.requires_grad_(False).to(device, memory_format=torch.channels_last)


@torch.no_grad()
def _fold_batch_norms(model: torch.nn.Module) -> None:
    """Fold every frozen batch norm that follows a bias-free convolution into the convolution's weights and a
    new bias, leaving an identity: the same affine map in one pass instead of two (about 15 % of Inception's
    CPU time), equal to float rounding."""
    for module in model.modules():
        conv, norm = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, torch.nn.Conv2d) and isinstance(norm, torch.nn.BatchNorm2d) and conv.bias is None:
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            conv.weight.mul_(scale[:, None, None, None])
            conv.bias = torch.nn.Parameter(norm.bias - norm.running_mean * scale)
            module.bn = torch.nn.Identity()


# -- per-pair metrics ---------------------------------------------------------------------------------------
REGIONS = ("outside_mask", "inside_mask")  # the kept region (face, hands, background) and the try-on region


def lpips_features(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """LPIPS' unit-normalised backbone activations of a [-1, 1] batch, one tensor per layer: computed once per
    reference photo and compared with every backend's result."""
    import lpips

    scaled = model.scaling_layer(x).contiguous(memory_format=torch.channels_last)
    return [lpips.normalize_tensor(out) for out in model.net(scaled)]


def lpips_distances(model: torch.nn.Module, feats_a: list[torch.Tensor], feats_b: list[torch.Tensor],
                    regions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """LPIPS per pair (N,) from `lpips_features`, and the same averaged over each region (N,R,H,W float
    weights in [0, 1]) as (N,R): each layer's distance map is weighted by the region area-resized to it."""
    plain = torch.zeros(feats_a[0].shape[0], device=feats_a[0].device)
    per_region = None if regions is None else torch.zeros(regions.shape[:2], device=plain.device)
    for k, (a, b) in enumerate(zip(feats_a, feats_b, strict=True)):
        layer = model.lins[k]((a - b) ** 2)[:, 0]
        plain += layer.mean(dim=(1, 2))
        if regions is not None and per_region is not None:
            weight = F.interpolate(regions, size=layer.shape[-2:], mode="area")
            per_region += (layer[:, None] * weight).sum(dim=(2, 3)) / weight.sum(dim=(2, 3)).clamp_min(1e-8)
    return plain, per_region


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32,
                     device: str | torch.device = "cpu") -> torch.Tensor:
    offsets = torch.arange((1 - size) / 2, (1 + size) / 2, 1, dtype=dtype, device=device)
    window = torch.exp(-((offsets / sigma) ** 2) / 2)
    return window / window.sum()


def ssim_map(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """SSIM index per pixel (N,H,W, averaged over channels) of two float batches, torchmetrics' definition
    (Gaussian window 11, sigma 1.5, k1 0.01, k2 0.03, reflect padding, no cropping) with the window applied as
    two 1-D passes: the 11x11 Gaussian is an outer product, so 22 taps per pixel give the same map as 121."""
    n, channels, height, width = a.shape
    pad = 5
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    a, b = (F.pad(x, (pad, pad, pad, pad), mode="reflect") for x in (a, b))
    # (N, 5C, H+10, W+10), one grouped conv per pass. Channels-last: oneDNN's depthwise 11-tap passes then
    # vectorise across the 5C maps, ~4x faster on CPU than the default layout (which loses to one 11x11 pass).
    stack = torch.cat((a, b, a * a, b * b, a * b), dim=1).contiguous(memory_format=torch.channels_last)
    window = _gaussian_window(dtype=a.dtype, device=a.device)
    groups = stack.shape[1]
    stack = F.conv2d(stack, window.view(1, 1, -1, 1).expand(groups, 1, -1, 1), groups=groups)
    stack = F.conv2d(stack, window.view(1, 1, 1, -1).expand(groups, 1, 1, -1), groups=groups)
    mu_a, mu_b, aa, bb, ab = stack.reshape(n, 5, channels, height, width).unbind(dim=1)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    var_a, var_b, cov = (aa - mu_aa).clamp_min(0), (bb - mu_bb).clamp_min(0), ab - mu_ab
    index = ((2 * mu_ab + c1) * (2 * cov + c2)) / ((mu_aa + mu_bb + c1) * (var_a + var_b + c2))
    return index.mean(dim=1)


def ssim_values(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM per pair of [0, 1] float batches; equals torchmetrics' `structural_similarity_index_measure`
    (data_range 1, reduction 'none') to float rounding (tested to 1e-5)."""
    return ssim_map(a, b).mean(dim=(1, 2))


def _region_means(values: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """(N,H,W) map averaged over each of the (N,R,H,W) region weights -> (N,R)."""
    return (values[:, None] * regions).sum(dim=(2, 3)) / regions.sum(dim=(2, 3)).clamp_min(1e-8)


class PairedScores:
    """LPIPS and SSIM of results against references (ground truth or source photo), per pair, overall and
    in each region of the try-on mask.

    `update` takes lists of HxWx3 uint8 arrays (results are resized to their reference's size) and optional
    keep-masks (HxW bool at the reference's size, True where the result should equal the reference). Pairs
    whose reference is the *same array object* share one LPIPS backbone pass for it, so scoring several
    backends against one photo costs one reference pass, not one per backend. LPIPS needs the backbone file
    (WeightsMissing otherwise); `lpips=False` / `ssim=False` skip a metric.
    """

    def __init__(self, net: str = "alex", device: str | None = None, lpips: bool = True, ssim: bool = True,
                 batch_size: int = 8):
        self.device = device or default_device()
        self.model = lpips_model(net, self.device) if lpips else None
        self.ssim = ssim
        self.batch_size = batch_size

    @torch.inference_mode()
    def update(self, results: Sequence[np.ndarray], references: Sequence[np.ndarray],
               keep_masks: Sequence[np.ndarray | None] | None = None) -> list[dict[str, float | None]]:
        """Per pair: `lpips`, `ssim`, and `lpips_<region>` / `ssim_<region>` for both REGIONS (None without a
        mask or without the metric)."""
        keep_masks = list(keep_masks) if keep_masks is not None else [None] * len(results)
        out: list[dict[str, float | None]] = [{} for _ in results]
        for indices in _group_by_size(references).values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                self._score(chunk, results, references, keep_masks, out)
        return out

    def _score(self, chunk: list[int], results: Sequence[np.ndarray], references: Sequence[np.ndarray],
               keep_masks: list[np.ndarray | None], out: list[dict[str, float | None]]) -> None:
        slots: dict[int, int] = {}  # id(reference array) -> its row in the batch of distinct references
        distinct: list[np.ndarray] = []
        for i in chunk:
            if id(references[i]) not in slots:
                slots[id(references[i])] = len(distinct)
                distinct.append(references[i])
        ref = torch.stack([to_chw(r) for r in distinct]).to(self.device).float() / 255.0
        res = torch.stack([to_chw(match_size(results[i], references[i].shape[:2])) for i in chunk])
        res = res.to(self.device).float() / 255.0
        which = torch.tensor([slots[id(references[i])] for i in chunk], device=self.device)
        masked = [keep_masks[i] is not None for i in chunk]
        regions, empty = None, torch.zeros(len(chunk), len(REGIONS), dtype=torch.bool)
        if any(masked):  # pairs without a mask get an all-kept placeholder and report None
            keeps = [np.ones(references[i].shape[:2], bool) if keep_masks[i] is None else keep_masks[i]
                     for i in chunk]
            keep = torch.from_numpy(np.stack(keeps).astype(np.float32))[:, None].to(self.device)
            regions = torch.cat((keep, 1 - keep), dim=1)
            empty = (regions.sum(dim=(2, 3)) == 0).cpu()  # a region with no pixels has no score
        scores: dict[str, torch.Tensor] = {}
        if self.ssim:
            values = ssim_map(res, ref[which])
            scores["ssim"] = values.mean(dim=(1, 2))
            if regions is not None:
                scores["ssim_regions"] = _region_means(values, regions)
        if self.model is not None:
            ref_feats = [f[which] for f in lpips_features(self.model, ref * 2 - 1)]
            scores["lpips"], lp_regions = lpips_distances(self.model, lpips_features(self.model, res * 2 - 1),
                                                          ref_feats, regions)
            if lp_regions is not None:
                scores["lpips_regions"] = lp_regions
        for j, i in enumerate(chunk):
            row: dict[str, float | None] = {}
            for metric in ("lpips", "ssim"):
                row[metric] = float(scores[metric][j]) if metric in scores else None
                for r, region in enumerate(REGIONS):
                    table = scores.get(f"{metric}_regions")
                    scored = table is not None and masked[j] and not empty[j, r]
                    row[f"{metric}_{region}"] = float(table[j, r]) if scored else None
            out[i] = row


# -- Inception features, with the on-disk reference cache ---------------------------------------------------
class FeatureCache:
    """Inception features per image file, keyed by the sha256 of the file's bytes (not its name or mtime), so
    renamed or copied datasets hit the cache and an edited file never reuses stale features."""

    def __init__(self, root: Path | None = None, tag: str = FEATURE_TAG):
        default = os.environ.get("TRYON_FEATURE_CACHE") or cache_dir() / "features"
        self.root = Path(root or default) / tag

    @staticmethod
    def key(path: Path) -> str:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._file(key)
        return np.load(path) if path.is_file() else None

    def put(self, key: str, features: np.ndarray) -> None:
        path = self._file(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{id(self)}.partial.npy")
        np.save(partial, features.astype(np.float32))
        partial.replace(path)


class InceptionFeatures:
    """2048-d TF-FID Inception features of uint8 images, batched by size, on the given device."""

    def __init__(self, device: str | None = None, batch_size: int = 16, cache: FeatureCache | None = None):
        self.device = device or default_device()
        self.model = inception(self.device)
        self.batch_size = batch_size
        self.cache = cache if cache is not None else FeatureCache()

    @torch.inference_mode()
    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(images), 2048), dtype=np.float32)
        for indices in _group_by_size(images).values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                batch = torch.stack([to_chw(images[i]) for i in chunk]).to(self.device)
                batch = batch.contiguous(memory_format=torch.channels_last)
                out[chunk] = self.model(batch)[0].float().cpu().numpy()
        return out

    def of_files(self, paths: Iterable[Path], cached: bool = True) -> np.ndarray:
        """Features of image files; with `cached`, read from / written to the content-keyed cache."""
        paths = list(paths)
        keys = [FeatureCache.key(p) for p in paths] if cached else [None] * len(paths)
        found = [self.cache.get(k) if k else None for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        if todo:
            fresh = self([load_image(paths[i]) for i in todo])
            for i, row in zip(todo, fresh, strict=True):
                found[i] = row
                if keys[i]:
                    self.cache.put(keys[i], row)
        return np.stack(found) if found else np.zeros((0, 2048), dtype=np.float32)


@dataclass
class DistributionScores:
    """FID and KID between a reference set and a result set, accumulated as features.

    `update(images, real=...)` extracts features (needs the Inception file); `update_features` takes features
    computed elsewhere (another process, the on-disk cache). `compute()` returns FID and KID with their
    jackknife intervals, the FID-vs-N curve with FID∞, N, and a small-sample flag.
    """

    device: str | None = None
    real: list[np.ndarray] = field(default_factory=list)
    fake: list[np.ndarray] = field(default_factory=list)

    @functools.cached_property
    def extractor(self) -> InceptionFeatures:
        return InceptionFeatures(self.device)

    def update(self, images: Sequence[np.ndarray], real: bool) -> None:
        self.update_features(self.extractor(images), real)

    def update_features(self, features: np.ndarray, real: bool) -> None:
        features = np.asarray(features, dtype=np.float32)
        (self.real if real else self.fake).append(features.reshape(len(features), -1))

    def reset(self, real: bool = False) -> None:
        self.fake = []
        if real:
            self.real = []

    def compute(self, curve: bool = True, seed: int = 0) -> dict[str, object]:
        from tryon.feature_distances import (
            FrechetToReference,
            KernelToReference,
            fid_curve,
            fid_infinity,
            fid_interval,
            kid_interval,
        )

        real = np.concatenate(self.real) if self.real else np.zeros((0, 1))
        fake = np.concatenate(self.fake) if self.fake else np.zeros((0, 1))
        n, n_real = len(fake), len(real)
        summary: dict[str, object] = {"n": n, "n_real": n_real, "small_sample": n < SMALL_N}
        if n < 3 or n_real < 2:
            summary["note"] = f"FID/KID need at least 3 results and 2 reference images (have {n} and {n_real})"
            return summary
        fid = FrechetToReference(real).prepare(fake)
        summary.update(fid_interval(fid, seed=seed))
        summary.update(kid_interval(KernelToReference(real).prepare(fake)))
        if curve:
            summary["fid_curve"] = fid_curve(fid, seed=seed)
            summary.update(fid_infinity(summary["fid_curve"]) or {"fid_inf": None})
        if n < SMALL_N:
            summary["note"] = (f"N={n} < {SMALL_N}: FID is biased upwards at small N; compare only numbers computed "
                               "at the same N (see the FID-vs-N curve and FID∞)")
        return summary


# -- the UI's per-result scorer ------------------------------------------------------------------------------
def score_result(image: np.ndarray, person: np.ndarray, ground_truth: np.ndarray | None = None,
                 keep_mask: np.ndarray | None = None, device: str | None = None,
                 net: str = "alex") -> dict[str, float | str | None]:
    """LPIPS and SSIM of one result against the person photo, inside and outside the try-on region when
    `keep_mask` is given, and against the ground truth when there is one. A ground truth equal to the person
    photo (the paired protocol) is not scored twice. Metric modules are built once per device and reused.
    Without the LPIPS backbone, the LPIPS entries are None and `note` says how to fetch it.
    """
    device = device or default_device()
    try:
        scorer = PairedScores(net, device)
        note = None
    except WeightsMissing as exc:
        scorer, note = PairedScores(net, device, lpips=False), str(exc)
    source = scorer.update([image], [person], [keep_mask])[0]
    scores: dict[str, float | str | None] = {"lpips_source": source["lpips"], "ssim_source": source["ssim"]}
    scores.update({f"{m}_{r}": source[f"{m}_{r}"] for m in ("lpips", "ssim") for r in REGIONS})
    if ground_truth is not None:
        same = ground_truth.shape == person.shape and np.array_equal(ground_truth, person)
        truth = source if same else scorer.update([image], [ground_truth])[0]
        scores.update(lpips_gt=truth["lpips"], ssim_gt=truth["ssim"])
    if note:
        scores["note"] = note
    return scores
