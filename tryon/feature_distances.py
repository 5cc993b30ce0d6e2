"""FID and KID of result features against a fixed reference set, with their intervals, the FID-vs-N curve and FID∞.

The reference (the dataset's person photos) is the same for every backend, so it is held fixed: all
uncertainty here comes from the backend's own N results, and every number is a function of which result rows
it sees. Both classes therefore evaluate whole batches of row selections at once (subsets, jackknife
leave-outs, bootstrap resamples with repeats): one batched eigenproblem instead of a Python loop.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from tryon.intervals import LEVEL, interval, jackknife_se

JACKKNIFE_GROUPS = 20  # FID's leave-a-block-out groups: 20 FIDs per interval, 19 degrees of freedom
_BATCH_ELEMENTS = 2**25  # float64 elements per batched chunk (256 MB): bounds memory whatever N and d


def _as64(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(features), dtype=torch.float64)


def _chunks(rows: torch.Tensor, per_row: int) -> list[torch.Tensor]:
    size = max(1, _BATCH_ELEMENTS // max(per_row, 1))
    return list(rows.split(size))


class FrechetToReference:
    """FID of selections of one result set against a fixed reference, in float64.

    tr sqrt(S_r S_f) is taken from the symmetric matrix S_r^1/2 S_f S_r^1/2. With X the centred result rows
    (n x d), its non-zero eigenvalues are those of X S_r X^T / (n-1), an n x n matrix: for n <= d (every
    small-sample case) all terms come from the Gram matrices F S_r F^T and F F^T of the results F, so a subset,
    leave-out or resample costs an n x n eigenproblem instead of a d x d one.
    """

    def __init__(self, real: np.ndarray | torch.Tensor):
        real64 = _as64(real)
        if real64.shape[0] < 2:
            raise ValueError("FID needs at least 2 reference samples")
        self.mu = real64.mean(dim=0)
        self.sigma = torch.cov(real64.T).reshape(real64.shape[1], real64.shape[1])

    @functools.cached_property
    def root(self) -> torch.Tensor:
        """S_r^1/2, only needed once N exceeds d (a 2048 x 2048 eigendecomposition costs seconds)."""
        evals, evecs = torch.linalg.eigh(self.sigma)
        return evecs * evals.clamp_min(0).sqrt() @ evecs.T

    def prepare(self, fake: np.ndarray | torch.Tensor) -> FrechetToReference:
        """Set the result rows that later calls select from."""
        self.fake = _as64(fake)
        self.gram_form = self.fake.shape[0] <= self.fake.shape[1]
        if self.gram_form:
            self.gram = self.fake @ self.fake.T
            self.gram_sigma = self.fake @ self.sigma @ self.fake.T
            self.dot_mu = self.fake @ self.mu
        return self

    @property
    def n(self) -> int:
        return self.fake.shape[0]

    def __call__(self, rows: torch.Tensor | None = None) -> float:
        """FID of all prepared rows, or of one selection of row indices (repeats allowed); clamped at 0."""
        selection = torch.arange(self.n) if rows is None else torch.as_tensor(rows)
        return float(self.batch(selection[None])[0])

    def batch(self, rows: torch.Tensor) -> torch.Tensor:
        """FID of each row selection in a (B, n) index tensor (repeats allowed), as a (B,) float64 tensor."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        n = rows.shape[1]
        if n < 2:
            raise ValueError("FID needs at least 2 result samples")
        d = self.fake.shape[1]
        per_row = 3 * n * n if self.gram_form else n * d + 2 * d * d
        return torch.cat([self._batch(chunk) for chunk in _chunks(rows, per_row)])

    def _batch(self, rows: torch.Tensor) -> torch.Tensor:
        n = rows.shape[1]
        if self.gram_form:
            pick = rows[:, :, None], rows[:, None, :]
            gram, gram_sigma = self.gram[pick], self.gram_sigma[pick]
            mean_sq = self.mu @ self.mu - 2 * self.dot_mu[rows].mean(dim=1) + gram.sum(dim=(1, 2)) / n**2
            trace_fake = (gram.diagonal(dim1=1, dim2=2).sum(dim=1) - gram.sum(dim=(1, 2)) / n) / (n - 1)
            small = (gram_sigma - gram_sigma.mean(dim=1, keepdim=True) - gram_sigma.mean(dim=2, keepdim=True)
                     + gram_sigma.mean(dim=(1, 2), keepdim=True)) / (n - 1)
        else:
            fake = self.fake[rows]
            mu_f = fake.mean(dim=1)
            centred = fake - mu_f[:, None]
            sigma_f = centred.transpose(1, 2) @ centred / (n - 1)
            mean_sq = (self.mu - mu_f).square().sum(dim=1)
            trace_fake = sigma_f.diagonal(dim1=1, dim2=2).sum(dim=1)
            small = self.root @ sigma_f @ self.root
        trace_sqrt = torch.linalg.eigvalsh((small + small.transpose(1, 2)) / 2).clamp_min(0).sqrt().sum(dim=1)
        return (mean_sq + self.sigma.trace() + trace_fake - 2 * trace_sqrt).clamp_min(0)


def frechet_distance(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor) -> float:
    """FID between two feature sets (rows are samples), in float64; clamped at 0 (rounding can dip below)."""
    return FrechetToReference(real).prepare(fake)()


def fid_interval(fid: FrechetToReference, groups: int = JACKKNIFE_GROUPS, level: float = LEVEL,
                 seed: int = 0) -> dict[str, Any]:
    """FID with its jackknife standard error and interval over the prepared results.

    The results are split into `groups` random blocks (one block per result when N <= groups); FID without
    each block gives the delete-a-group jackknife SE, and the interval is FID ± t(groups - 1) · SE, clamped at
    0 from below. It covers the *expected FID at this N* against the same reference (see `tryon.intervals`).
    """
    n = fid.n
    estimate = fid()
    g = min(groups, n)
    blocks = np.array_split(np.random.default_rng(seed).permutation(n), g)
    leave_out, removed = np.zeros(g), np.array([len(b) for b in blocks])
    for size in sorted(set(removed)):  # equal-length leave-outs share one batched call
        which = [j for j in range(g) if removed[j] == size]
        keep = torch.stack([torch.from_numpy(np.setdiff1d(np.arange(n), blocks[j])) for j in which])
        leave_out[which] = fid.batch(keep).numpy()
    se = jackknife_se(estimate, leave_out, removed, n)
    low, high = interval(estimate, se, g - 1, level)
    return {"fid": estimate, "fid_se": se, "fid_ci95": [max(low, 0.0), high], "fid_jackknife_groups": g}


def fid_curve(fid: FrechetToReference, points: int = 8, repeats: int = 5, seed: int = 0) -> list[dict[str, float]]:
    """FID of random subsets (without replacement) of growing size n, mean and std over `repeats` draws.

    Sizes are evenly spaced in 1/n from n = max(N/5, 10) to N, the spacing FID∞'s straight-line fit wants;
    starting lower reaches into the small-n bend where FID is no longer linear in 1/n (simulations: FID∞ then
    undershoots by twice as much). The last point is the full set, drawn once.
    """
    n_max = fid.n
    low = min(n_max, max(n_max // 5, 10))
    sizes = sorted({int(round(1 / v)) for v in np.linspace(1 / low, 1 / n_max, points)} - {0, 1})
    rng = np.random.default_rng(seed)
    curve = []
    for n in sizes:
        draws = 1 if n == n_max else repeats
        rows = torch.from_numpy(np.stack([rng.permutation(n_max)[:n] for _ in range(draws)]))
        values = fid.batch(rows).numpy()
        curve.append({"n": n, "fid": float(values.mean()), "fid_std": float(values.std())})
    return curve


def fid_infinity(curve: list[dict[str, float]]) -> dict[str, float] | None:
    """FID∞ (Chong and Forsyth, CVPR 2020): FID's small-N bias is close to linear in 1/N, so a least-squares
    line through (1/n, FID_n) extrapolated to 1/n = 0 estimates FID at infinite N. None with fewer than 3
    sizes. Returns the intercept `fid_inf` and the slope `fid_inf_slope` (FID_n ≈ fid_inf + slope / n)."""
    if len(curve) < 3:
        return None
    inverse = np.array([1 / p["n"] for p in curve])
    values = np.array([p["fid"] for p in curve])
    slope, intercept = np.polyfit(inverse, values, 1)
    return {"fid_inf": float(intercept), "fid_inf_slope": float(slope)}


class KernelToReference:
    """KID of selections of one result set against a fixed reference: the unbiased MMD^2 with the cubic
    polynomial kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018), over *all* results and all reference
    rows, i.e. the complete U-statistic rather than an average over random subsets. It has the same expectation
    as torchmetrics' subset average, a smaller variance, and a leave-one-out (jackknife) variance in closed form.

    A selection is given as counts per result row (a (B, n) tensor: 1s for the full set, 0 for a left-out row,
    bootstrap counts for a resample); repeated rows count as distinct samples, exactly as a resample would.
    """

    def __init__(self, real: np.ndarray | torch.Tensor, degree: int = 3, gamma: float | None = None,
                 coef: float = 1.0):
        self.real = _as64(real)
        m = self.real.shape[0]
        if m < 2:
            raise ValueError("KID needs at least 2 reference samples")
        self.degree, self.coef = degree, coef
        self.gamma = 1.0 / self.real.shape[1] if gamma is None else gamma
        k_rr = self.kernel(self.real, self.real)
        self.within_real = float((k_rr.sum() - k_rr.diagonal().sum()) / (m * (m - 1)))

    def kernel(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a @ b.T * self.gamma + self.coef) ** self.degree

    def prepare(self, fake: np.ndarray | torch.Tensor) -> KernelToReference:
        fake64 = _as64(fake)
        self.k_ff = self.kernel(fake64, fake64)
        self.to_real = self.kernel(self.real, fake64).mean(dim=0)  # mean kernel value to the reference, per row
        return self

    @property
    def n(self) -> int:
        return self.k_ff.shape[0]

    def __call__(self) -> float:
        return float(self.batch(torch.ones(1, self.n, dtype=torch.float64))[0])

    def batch(self, counts: torch.Tensor) -> torch.Tensor:
        """KID of each selection in a (B, n) tensor of per-row counts, as a (B,) float64 tensor."""
        counts = torch.as_tensor(counts, dtype=torch.float64)
        m = counts.sum(dim=1)
        pairs = ((counts @ self.k_ff) * counts).sum(dim=1) - counts @ self.k_ff.diagonal()
        return self.within_real + pairs / (m * (m - 1)) - 2 * (counts @ self.to_real) / m

    def leave_one_out(self) -> torch.Tensor:
        """KID without each result row in turn, in closed form (no n x n batch)."""
        n, k = self.n, self.k_ff
        total, rows, diag = k.sum(), k.sum(dim=1), k.diagonal()
        pairs = total - diag.sum() - 2 * (rows - diag)
        cross = (self.to_real.sum() - self.to_real) / (n - 1)
        return self.within_real + pairs / ((n - 1) * (n - 2)) - 2 * cross


def kid_interval(kid: KernelToReference, level: float = LEVEL) -> dict[str, Any]:
    """KID with its delete-one jackknife SE and interval KID ± t(N - 1) · SE (needs N >= 3). It covers the
    expected KID of N results against the same reference; KID is unbiased, so that is also its infinite-N
    value. The SE is 0 only if every result's features are identical: never degenerate for N >= 3."""
    n = kid.n
    estimate = kid()
    se = jackknife_se(estimate, kid.leave_one_out().numpy(), np.ones(n, dtype=int), n)
    return {"kid": estimate, "kid_se": se, "kid_ci95": interval(estimate, se, n - 1, level), "kid_subset_size": n}
