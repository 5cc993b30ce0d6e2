"""LPIPS, SSIM, FID and KID as stateful, batched metrics on the runtime's device, with no network at run time.

Conventions (docs/evaluation.md explains why):
- Images are HxWx3 uint8 RGB. A result is compared at its reference's size: untouched when the sizes match,
  otherwise resized (bicubic, antialiased) to the reference's size before any metric sees it.
- LPIPS v0.1 (AlexNet by default, VGG16 optional) on [-1, 1] inputs at native size, with the local backbone
  loaded into `lpips.LPIPS(pnet_rand=True)`; `lpips_masked` averages the same per-layer distance maps over a
  keep-mask (the region a backend should not touch), so an all-true mask gives plain LPIPS.
- SSIM is torchmetrics' (Gaussian 11, sigma 1.5, data_range 1), needs no weights and always works.
- FID/KID use the TF-FID Inception (2048-d pool features) through torchmetrics' `NoTrainInceptionV3` with
  `antialias=False`, i.e. torch-fidelity's TF1-style resize to 299: numbers comparable with the literature.
  Features are kept (KID, the bootstrap interval and the FID-vs-N curve need them); the Fréchet distance is
  computed in float64 through the smaller of the two Gram forms, so small-N bootstraps cost milliseconds.
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
    return model.eval().requires_grad_(False).to(device)


@functools.lru_cache(maxsize=2)
def inception(device: str = "cpu") -> torch.nn.Module:
    """The TF-FID InceptionV3 (2048-d), TF1-style resize, from the local torch-fidelity-format file."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    _require(INCEPTION)
    model = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                               feature_extractor_weights_path=str(INCEPTION.local()), antialias=False)
    # channels_last: ~1.4x faster convolutions on CPU (oneDNN), same float32 results to rounding.
    return model.to(device, memory_format=torch.channels_last)


# -- per-pair metrics ---------------------------------------------------------------------------------------
def lpips_distances(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor,
                    keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """LPIPS per pair (N,) of [-1, 1] float batches, and the same averaged over `keep` (N,1,H,W float in
    [0, 1]) when given: each layer's distance map is weighted by the keep-mask area-resized to that layer."""
    import lpips

    outs_a, outs_b = model.net(model.scaling_layer(a)), model.net(model.scaling_layer(b))
    plain = torch.zeros(a.shape[0], device=a.device)
    masked = torch.zeros_like(plain) if keep is not None else None
    for k in range(model.L):
        diff = (lpips.normalize_tensor(outs_a[k]) - lpips.normalize_tensor(outs_b[k])) ** 2
        layer = model.lins[k](diff)[:, 0]
        plain += layer.mean(dim=(1, 2))
        if keep is not None and masked is not None:
            weight = F.interpolate(keep, size=layer.shape[-2:], mode="area")[:, 0]
            masked += (layer * weight).sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp_min(1e-8)
    return plain, masked


def ssim_values(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torchmetrics SSIM per pair of [0, 1] float batches (Gaussian 11, sigma 1.5, data_range 1)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    return structural_similarity_index_measure(a, b, data_range=1.0, reduction="none")


class PairedScores:
    """LPIPS and SSIM of results against references (ground truth or source photo), accumulated per pair.

    `update` takes lists of HxWx3 uint8 arrays (results are resized to their reference's size) and optional
    keep-masks (HxW bool at the reference's size, True where the result should equal the reference).
    LPIPS needs the backbone file (WeightsMissing otherwise); `lpips=False` / `ssim=False` skip a metric.
    """

    def __init__(self, net: str = "alex", device: str | None = None, lpips: bool = True, ssim: bool = True,
                 batch_size: int = 8):
        self.device = device or default_device()
        self.model = lpips_model(net, self.device) if lpips else None
        self.ssim = ssim
        self.batch_size = batch_size
        self.records: list[dict[str, float | None]] = []

    def reset(self) -> None:
        self.records = []

    @torch.inference_mode()
    def update(self, results: Sequence[np.ndarray], references: Sequence[np.ndarray],
               keep_masks: Sequence[np.ndarray | None] | None = None) -> list[dict[str, float | None]]:
        keep_masks = list(keep_masks) if keep_masks is not None else [None] * len(results)
        out: list[dict[str, float | None]] = [{} for _ in results]
        for indices in _group_by_size(references).values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                self._score(chunk, results, references, keep_masks, out)
        self.records.extend(out)
        return out

    def _score(self, chunk: list[int], results: Sequence[np.ndarray], references: Sequence[np.ndarray],
               keep_masks: list[np.ndarray | None], out: list[dict[str, float | None]]) -> None:
        ref = torch.stack([to_chw(references[i]) for i in chunk]).to(self.device).float() / 255.0
        res = torch.stack([to_chw(match_size(results[i], references[i].shape[:2])) for i in chunk])
        res = res.to(self.device).float() / 255.0
        ssim = ssim_values(res, ref) if self.ssim else None
        lp, lp_masked = None, None
        if self.model is not None:
            keep = None
            if any(keep_masks[i] is not None for i in chunk):  # pairs without a mask keep everything
                masks = [np.ones(references[i].shape[:2], bool) if keep_masks[i] is None else keep_masks[i]
                         for i in chunk]
                keep = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None].to(self.device)
            lp, lp_masked = lpips_distances(self.model, res * 2 - 1, ref * 2 - 1, keep)
        for j, i in enumerate(chunk):
            masked = lp_masked is not None and keep_masks[i] is not None
            out[i] = {
                "ssim": None if ssim is None else float(ssim[j]),
                "lpips": None if lp is None else float(lp[j]),
                "lpips_masked": float(lp_masked[j]) if masked else None,
            }

    def compute(self) -> dict[str, float | int | None]:
        """Mean and standard deviation per metric over the pairs seen so far, and N."""
        summary: dict[str, float | int | None] = {"n": len(self.records)}
        for key in ("lpips", "ssim", "lpips_masked"):
            values = np.array([r[key] for r in self.records if r.get(key) is not None], dtype=np.float64)
            summary[key] = float(values.mean()) if values.size else None
            summary[f"{key}_std"] = float(values.std()) if values.size else None
        return summary


# -- set-level metrics: Fréchet and kernel distances over features ------------------------------------------
def _as64(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(features), dtype=torch.float64)


def _gaussian(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return features.mean(dim=0), torch.cov(features.T)


class FrechetToReference:
    """FID of result sets (or row subsets / resamples of one) against a fixed reference, in float64.

    tr sqrt(S_r S_f) is taken from the symmetric matrix S_r^1/2 S_f S_r^1/2. With X the centred result
    features (n x d), its non-zero eigenvalues are those of X S_r X^T / (n-1), an n x n matrix: for n <= d (every
    small-sample case) all terms of FID come from the Gram matrices F S_r F^T and F F^T of the results F, so a
    subset or bootstrap resample costs an n x n eigenproblem instead of a d x d non-symmetric one.
    """

    def __init__(self, real: np.ndarray | torch.Tensor):
        real64 = _as64(real)
        if real64.shape[0] < 2:
            raise ValueError("FID needs at least 2 reference samples")
        self.mu, self.sigma = _gaussian(real64)
        self._root: torch.Tensor | None = None

    def prepare(self, fake: np.ndarray | torch.Tensor) -> None:
        """Set the result set whose rows `__call__` selects."""
        self.fake = _as64(fake)
        if self.fake.shape[0] <= self.fake.shape[1]:
            self.gram = self.fake @ self.fake.T
            self.gram_sigma = self.fake @ self.sigma @ self.fake.T
            self.dot_mu = self.fake @ self.mu

    def _sqrt_sigma(self) -> torch.Tensor:
        if self._root is None:
            evals, evecs = torch.linalg.eigh(self.sigma)
            self._root = evecs * evals.clamp_min(0).sqrt() @ evecs.T
        return self._root

    def __call__(self, rows: torch.Tensor | None = None) -> float:
        """FID of the prepared results (or of the given row indices, repeats allowed); clamped at 0."""
        n = self.fake.shape[0] if rows is None else len(rows)
        if n < 2:
            raise ValueError("FID needs at least 2 result samples")
        if self.fake.shape[0] <= self.fake.shape[1]:
            idx = torch.arange(self.fake.shape[0]) if rows is None else rows
            centre = torch.eye(n, dtype=torch.float64) - 1.0 / n
            gram, gram_sigma = self.gram[idx][:, idx], self.gram_sigma[idx][:, idx]
            mean_sq = self.mu @ self.mu - 2 * self.dot_mu[idx].mean() + gram.sum() / n**2
            trace_fake = (centre @ gram @ centre).trace() / (n - 1)
            small = centre @ gram_sigma @ centre / (n - 1)
        else:
            fake = self.fake if rows is None else self.fake[rows]
            mu_f, sigma_f = _gaussian(fake)
            mean_sq, trace_fake = (self.mu - mu_f).square().sum(), sigma_f.trace()
            root = self._sqrt_sigma()
            small = root @ sigma_f @ root
        trace_sqrt = torch.linalg.eigvalsh((small + small.T) / 2).clamp_min(0).sqrt().sum()
        return max(float(mean_sq + self.sigma.trace() + trace_fake - 2 * trace_sqrt), 0.0)


def frechet_distance(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor) -> float:
    """FID between two feature sets (rows are samples), in float64; clamped at 0 (rounding can dip below)."""
    fid = FrechetToReference(real)
    fid.prepare(fake)
    return fid()


def kid_subset_size(n_real: int, n_fake: int, preferred: int = 1000) -> int:
    """KID's subset size: the usual 1000, or all samples of the smaller set when there are fewer."""
    return max(2, min(preferred, n_real, n_fake))


def _poly_mmd(a: torch.Tensor, b: torch.Tensor, degree: int, gamma: float | None, coef: float) -> torch.Tensor:
    """Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3."""
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    k_aa = (a @ a.T * gamma + coef) ** degree
    k_bb = (b @ b.T * gamma + coef) ** degree
    k_ab = (a @ b.T * gamma + coef) ** degree
    m = a.shape[0]
    within = (k_aa.sum() - k_aa.diagonal().sum() + k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_ab.sum() / m**2


def kernel_distance(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, subsets: int = 100,
                    subset_size: int | None = None, degree: int = 3, gamma: float | None = None, coef: float = 1.0,
                    generator: torch.Generator | None = None) -> tuple[float, float, int]:
    """KID mean and (population) std over random subsets, and the subset size used. Subsets are drawn exactly
    as torchmetrics draws them (a `randperm` of the real set, then of the fake set, per subset), so with the
    same generator state the numbers are the same."""
    real_t, fake_t = torch.as_tensor(np.asarray(real)), torch.as_tensor(np.asarray(fake))
    size = subset_size or kid_subset_size(len(real_t), len(fake_t))
    if size > min(len(real_t), len(fake_t)):
        raise ValueError(f"KID subset size {size} exceeds the number of samples ({len(real_t)}, {len(fake_t)})")
    scores = []
    for _ in range(subsets):
        r = real_t[torch.randperm(len(real_t), generator=generator)[:size]]
        f = fake_t[torch.randperm(len(fake_t), generator=generator)[:size]]
        scores.append(_poly_mmd(r, f, degree, gamma, coef))
    stacked = torch.stack(scores)
    return float(stacked.mean()), float(stacked.std(unbiased=False)), size


def fid_bootstrap(fid: FrechetToReference, rounds: int = 200, level: float = 0.95,
                  seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of FID over resamples of the prepared result set (the reference is fixed:
    it is the same for every backend, so the interval shows how much the backend's own N makes FID wobble)."""
    n = fid.fake.shape[0]
    rng = np.random.default_rng(seed)
    values = [fid(torch.from_numpy(rng.integers(0, n, n))) for _ in range(rounds)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def fid_curve(fid: FrechetToReference, points: int = 6, repeats: int = 3, seed: int = 0) -> list[dict[str, float]]:
    """FID of random subsets of the prepared results of growing size n (mean and std over `repeats` draws):
    FID is biased upwards at small n, so the curve shows how far a small-N number is from its large-N limit."""
    n_max = fid.fake.shape[0]
    sizes = sorted({int(round(v)) for v in np.geomspace(min(10, n_max), n_max, points)} - {0, 1})
    rng = np.random.default_rng(seed)
    curve = []
    for n in sizes:
        draws = [fid(torch.from_numpy(rng.choice(n_max, n, replace=False)))
                 for _ in range(1 if n == n_max else repeats)]
        curve.append({"n": n, "fid": float(np.mean(draws)), "fid_std": float(np.std(draws))})
    return curve


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
                out[chunk] = self.model(batch).float().cpu().numpy()
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
    computed elsewhere (another process, the on-disk cache). `compute()` returns FID, its bootstrap interval,
    KID with a subset size adapted to N, the FID-vs-N curve, N, and a small-sample flag.
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

    def compute(self, kid_subsets: int = 100, bootstrap: int = 200, curve: bool = True,
                seed: int = 0) -> dict[str, object]:
        real = np.concatenate(self.real) if self.real else np.zeros((0, 1))
        fake = np.concatenate(self.fake) if self.fake else np.zeros((0, 1))
        n, n_real = len(fake), len(real)
        summary: dict[str, object] = {"n": n, "n_real": n_real, "small_sample": n < SMALL_N}
        if n < 2 or n_real < 2:
            summary["note"] = f"FID/KID need at least 2 images per set (results {n}, reference {n_real})"
            return summary
        generator = torch.Generator().manual_seed(seed)
        kid_mean, kid_std, size = kernel_distance(real, fake, kid_subsets, generator=generator)
        fid = FrechetToReference(real)
        fid.prepare(fake)
        summary.update(fid=fid(), kid_mean=kid_mean, kid_std=kid_std, kid_subset_size=size)
        if bootstrap:
            summary["fid_ci95"] = list(fid_bootstrap(fid, bootstrap, seed=seed))
        if curve:
            summary["fid_curve"] = fid_curve(fid, seed=seed)
        if n < SMALL_N:
            summary["note"] = (f"N={n} < {SMALL_N}: FID is biased upwards at small N and KID is noisy; compare "
                               "only numbers computed at the same N (see the FID-vs-N curve)")
        return summary


# -- the UI's per-result scorer ------------------------------------------------------------------------------
def score_result(image: np.ndarray, person: np.ndarray, ground_truth: np.ndarray | None = None,
                 keep_mask: np.ndarray | None = None, device: str | None = None,
                 net: str = "alex") -> dict[str, float | str | None]:
    """LPIPS and SSIM of one result against the person photo (and the region outside the try-on mask when
    `keep_mask` is given), and against the ground truth when there is one. Metric modules are built once per
    device and reused. Without the LPIPS backbone, the LPIPS entries are None and `note` says how to fetch it.
    """
    device = device or default_device()
    try:
        scorer = PairedScores(net, device)
        note = None
    except WeightsMissing as exc:
        scorer, note = PairedScores(net, device, lpips=False), str(exc)
    source = scorer.update([image], [person], [keep_mask])[0]
    scores: dict[str, float | str | None] = {
        "lpips_source": source["lpips"], "ssim_source": source["ssim"], "lpips_outside_mask": source["lpips_masked"],
    }
    if ground_truth is not None:
        truth = scorer.update([image], [ground_truth])[0]
        scores.update(lpips_gt=truth["lpips"], ssim_gt=truth["ssim"])
    if note:
        scores["note"] = note
    return scores
