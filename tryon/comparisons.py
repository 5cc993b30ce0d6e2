"""Which backend is better, with a paired-bootstrap interval on each difference, and the answer in words.

Two backends scored on the same pairs are compared on those pairs only. Each bootstrap round resamples the
pairs with replacement and scores *both* backends on the same resampled pairs, so what the two have in common
(hard people, easy garments) cancels in the difference; that is why a paired interval is much narrower than
two separate ones. The interval is difference ± 1.96 · SE, with SE the standard deviation of the resampled
differences: resamples that repeat images bias FID and KID upwards, which shifts the resampled values but
hardly their spread, so the interval stays centred on the observed difference and covers the expected
difference at this N (checked by simulation in `tests/test_comparisons.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch

from tryon.feature_distances import FrechetToReference, KernelToReference
from tryon.intervals import LEVEL, normal_quantile

# metric -> (words, lower is better, decimals)
METRICS = {"fid": ("FID", True, 2), "kid": ("KID", True, 4), "lpips_paired": ("paired LPIPS", True, 3),
           "ssim_paired": ("paired SSIM", False, 3)}
MIN_PAIRS = 3


@dataclass
class BackendScores:
    """One backend's per-pair scores in a fixed row order: the pair each row is, its Inception features (None
    without the Inception weights), its LPIPS and SSIM against the ground truth, and whether it is paired
    (only paired rows have a ground truth)."""

    name: str
    pairs: list[str]
    features: np.ndarray | None
    lpips: list[float | None]
    ssim: list[float | None]
    paired: list[bool]


def rounds_for(n: int, dims: int) -> int:
    """Bootstrap rounds: 500, or 100 once every resampled FID needs an eigendecomposition larger than 500 x 500
    (min(N, d) squared: about 2 s at 2000, e.g. the full VITON-HD test split); 100 rounds still give the SE to
    about 7 %."""
    return 500 if min(n, dims) <= 500 else 100


class _Resampled:
    """Each backend's statistics on one set of common pairs and on the same bootstrap resamples of them."""

    def __init__(self, reference: np.ndarray | None, pairs: list[str], rounds: int, seed: int):
        self.pairs = pairs
        n = len(pairs)
        rng = np.random.default_rng([seed, n])
        self.draws = torch.from_numpy(rng.integers(0, n, (rounds, n)))
        self.counts = torch.stack([torch.bincount(d, minlength=n) for d in self.draws]).double()
        self.fid = FrechetToReference(reference) if reference is not None else None
        self.kid = KernelToReference(reference) if reference is not None else None

    def values(self, scores: BackendScores) -> dict[str, tuple[float, np.ndarray]]:
        """metric -> (estimate on all common pairs, estimates on each resample)."""
        index = {p: i for i, p in enumerate(scores.pairs)}
        rows = [index[p] for p in self.pairs]
        out: dict[str, tuple[float, np.ndarray]] = {}
        if scores.features is not None and self.fid is not None and self.kid is not None:
            features = scores.features[rows]
            self.fid.prepare(features)
            out["fid"] = (self.fid(), self.fid.batch(self.draws).numpy())
            self.kid.prepare(features)
            out["kid"] = (self.kid(), self.kid.batch(self.counts).numpy())
        paired = np.array([scores.paired[r] for r in rows], dtype=np.float64)
        for metric, per_pair in (("lpips_paired", scores.lpips), ("ssim_paired", scores.ssim)):
            values = np.array([np.nan if per_pair[r] is None else per_pair[r] for r in rows], dtype=np.float64)
            usable = paired * ~np.isnan(values)
            if usable.sum() < MIN_PAIRS:
                continue
            values = np.nan_to_num(values) * usable
            weights = self.counts.numpy() * usable
            with np.errstate(invalid="ignore", divide="ignore"):  # a resample may miss every paired row
                resampled = (weights @ values) / weights.sum(axis=1)
            out[metric] = (float(values.sum() / usable.sum()), resampled)
        return out


def compare_backends(backends: list[BackendScores], reference: np.ndarray | None, seed: int = 0,
                     rounds: int | None = None, level: float = LEVEL) -> list[dict[str, Any]]:
    """Every pair of backends (a, b) with at least MIN_PAIRS pairs in common: for FID, KID, paired LPIPS and
    paired SSIM, `difference` = a - b on the common pairs with its paired-bootstrap interval, and `text`, the
    same in words."""
    comparisons: list[dict[str, Any]] = []
    cache: dict[tuple[str, tuple[str, ...]], dict[str, tuple[float, np.ndarray]]] = {}
    samplers: dict[tuple[str, ...], _Resampled] = {}
    dims = reference.shape[1] if reference is not None else 0
    z = normal_quantile(level)
    for a, b in combinations(backends, 2):
        common = tuple(sorted(set(a.pairs) & set(b.pairs)))
        if len(common) < MIN_PAIRS:
            continue
        if common not in samplers:  # the same resamples for every comparison on these pairs
            samplers[common] = _Resampled(reference, list(common), rounds or rounds_for(len(common), dims), seed)
        sampler = samplers[common]
        for scores in (a, b):
            if (scores.name, common) not in cache:
                cache[scores.name, common] = sampler.values(scores)
        va, vb = cache[a.name, common], cache[b.name, common]
        for metric in METRICS:
            if metric not in va or metric not in vb:
                continue
            difference = va[metric][0] - vb[metric][0]
            resampled = va[metric][1] - vb[metric][1]
            se = float(np.nanstd(resampled, ddof=1))
            item = {"a": a.name, "b": b.name, "metric": metric, "difference": difference,
                    "ci95_low": difference - z * se, "ci95_high": difference + z * se, "se": se,
                    "n": len(common), "rounds": len(resampled)}
            item["text"] = describe(item)
            comparisons.append(item)
    return comparisons


def describe(item: dict[str, Any]) -> str:
    """One comparison in words, e.g. "ladi-vton's paired LPIPS is lower than pasta-gan's by 0.031 (95 % CI
    0.018–0.044) at N = 60: ladi-vton is better", or "no FID difference detectable ... at N = 60"."""
    label, lower_better, decimals = METRICS[item["metric"]]
    a, b, diff, low, high, n = (item[k] for k in ("a", "b", "difference", "ci95_low", "ci95_high", "n"))

    def fmt(value: float) -> str:
        return f"{value:.{decimals}f}"

    if low <= 0 <= high:
        return (f"no {label} difference detectable between {a} and {b} at N = {n} "
                f"({a} − {b} = {fmt(diff)}, 95 % CI {fmt(low)} to {fmt(high)})")
    lower = diff < 0
    size, ci = (-diff, (-high, -low)) if lower else (diff, (low, high))
    better = a if lower == lower_better else b
    return (f"{a}'s {label} is {'lower' if lower else 'higher'} than {b}'s by {fmt(size)} "
            f"(95 % CI {fmt(ci[0])}–{fmt(ci[1])}) at N = {n}: {better} is better")
