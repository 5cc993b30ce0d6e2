"""The intervals and FID∞ proven by simulation on Gaussian features with known ground truth.

The reference set is one fixed sample (as the dataset's person photos are); results are drawn from a known
Gaussian. The Fréchet distance between the reference's Gaussian and the result distribution is then known in
closed form (FID at infinite N). The quantity the FID interval claims to cover, the expected FID at this N,
is computed by Monte Carlo over thousands of disjoint result sets. Coverage over REPS repetitions must be within
three binomial standard deviations of 95 %.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from tryon.comparisons import BackendScores, compare_backends
from tryon.feature_distances import (
    FrechetToReference,
    KernelToReference,
    fid_curve,
    fid_infinity,
    fid_interval,
    frechet_distance,
    kid_interval,
)
from tryon.intervals import jackknife_se, mean_interval

REPS = 300
TOLERANCE = 3 * np.sqrt(0.95 * 0.05 / REPS)  # three binomial standard deviations: 0.038


@pytest.fixture(autouse=True)
def one_thread():
    """Thousands of tiny linear-algebra calls: on a shared 2-core machine, thread hand-offs cost more than the
    arithmetic, so these simulations run single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class GaussianWorld:
    """A fixed reference sample and a result distribution N(mu, C C^T) in d dimensions."""

    def __init__(self, d: int, shift: float, spread: float, seed: int = 0, n_ref: int = 400):
        self.rng = np.random.default_rng(seed)
        self.reference = self.rng.normal(size=(n_ref, d))
        self.mu = np.full(d, shift)
        self.chol = np.eye(d) + spread * np.tril(self.rng.normal(size=(d, d)), -1)

    def draw(self, n: int) -> np.ndarray:
        return self.rng.normal(size=(n, len(self.mu))) @ self.chol.T + self.mu

    def fid_at_infinity(self) -> float:
        """Closed form: the Fréchet distance between N(reference mean, reference covariance) and the results'."""
        mu_r, cov_r = self.reference.mean(0), np.cov(self.reference, rowvar=False)
        cov = self.chol @ self.chol.T
        root = linalg.sqrtm(cov_r @ cov).real
        return float(((mu_r - self.mu) ** 2).sum() + np.trace(cov_r + cov - 2 * root))

    def expected_fid(self, n: int, sets: int = 8000) -> tuple[float, float]:
        """Monte Carlo mean and standard deviation of FID over `sets` disjoint result sets of size n."""
        values = FrechetToReference(self.reference).prepare(self.draw(n * sets)).batch(
            torch.arange(n * sets).reshape(sets, n)).numpy()
        return float(values.mean()), float(values.std())


def test_fid_batch_equals_scipy_on_subsets_and_resamples():
    world = GaussianWorld(d=6, shift=0.2, spread=0.3)
    for fake in (world.draw(40), world.draw(5)):  # the d x d form and the Gram form
        fid = FrechetToReference(world.reference).prepare(fake)
        rows = torch.tensor([[0, 1, 2, 3], [3, 3, 1, 0], [4, 2, 0, 1]])
        for selection, value in zip(rows, fid.batch(rows), strict=True):
            picked = fake[selection.numpy()]
            expected = frechet_distance(world.reference, picked)
            mu_r, cov_r = world.reference.mean(0), np.cov(world.reference, rowvar=False)
            cov_f = np.cov(picked, rowvar=False)
            scipy_value = ((mu_r - picked.mean(0)) ** 2).sum() + np.trace(
                cov_r + cov_f - 2 * linalg.sqrtm(cov_r @ cov_f).real)
            assert float(value) == pytest.approx(expected, rel=1e-6)
            assert float(value) == pytest.approx(scipy_value, rel=1e-6, abs=1e-8)


def test_jackknife_se_reduces_to_the_textbook_formula_and_the_se_of_a_mean():
    values = np.random.default_rng(3).normal(size=30)
    leave_one_out = (values.sum() - values) / 29
    textbook = np.sqrt(29 / 30 * ((leave_one_out - leave_one_out.mean()) ** 2).sum())
    assert jackknife_se(values.mean(), leave_one_out, [1] * 30, 30) == pytest.approx(textbook)
    mean, se, (low, high) = mean_interval(values)
    assert se == pytest.approx(textbook) and low < mean < high
    # Unequal groups of a mean: still the SE of the mean.
    blocks = np.array_split(np.arange(30), 7)
    leave_out = [np.delete(values, b).mean() for b in blocks]
    assert jackknife_se(values.mean(), leave_out, [len(b) for b in blocks], 30) == pytest.approx(se, rel=0.35)


@pytest.mark.parametrize(("d", "n", "shift", "spread"), [(8, 60, 0.3, 0.3), (32, 20, 0.2, 0.2)])
def test_fid_interval_covers_the_expected_fid_at_this_n(d, n, shift, spread):
    """(8, 60) takes the d x d path, (32, 20) the Gram path (N < d, as for Inception features)."""
    world = GaussianWorld(d, shift, spread, seed=d)
    target, true_sd = world.expected_fid(n)
    assert target > world.fid_at_infinity()  # the small-N bias the interval does not remove
    fid = FrechetToReference(world.reference)
    covered, ses = 0, []
    for rep in range(REPS):
        result = fid_interval(fid.prepare(world.draw(n)), seed=rep)
        low, high = result["fid_ci95"]
        assert low <= result["fid"] <= high  # the estimate always lies inside its interval
        covered += low <= target <= high
        ses.append(result["fid_se"])
    assert abs(covered / REPS - 0.95) <= TOLERANCE
    assert 0.8 < np.mean(ses) / true_sd < 1.3  # the width is right, not merely wide


def _polynomial(gamma: float, e1: np.ndarray, e2: np.ndarray, e3: np.ndarray) -> np.ndarray:
    """E[(gamma s + 1)^3] from the first three moments of s."""
    return gamma**3 * e3 + 3 * gamma**2 * e2 + 3 * gamma * e1 + 1


def expected_kid(world: GaussianWorld) -> float:
    """KID's expectation in closed form (it is unbiased, so the same at every N) for the cubic kernel
    k(x, y) = (x.y / d + 1)^3, from Gaussian moments: for a fixed x, s = x.y is N(x.mu, x^T S x); for two
    independent results, E[s] = |mu|^2, E[s^2] = |mu|^4 + 2 mu^T S mu + tr(S^2), and
    E[s^3] = |mu|^6 + 3 |mu|^2 mu^T S mu + 3 (|mu|^2 (mu^T S mu + tr(S^2)) + 2 mu^T S^2 mu)."""
    x, mu = world.reference, world.mu
    cov = world.chol @ world.chol.T
    gamma = 1.0 / x.shape[1]
    m, v = x @ mu, np.einsum("ij,jk,ik->i", x, cov, x)
    cross = _polynomial(gamma, m, m**2 + v, m**3 + 3 * m * v).mean()
    a, b, t2, q = mu @ mu, mu @ cov @ mu, np.trace(cov @ cov), mu @ cov @ cov @ mu
    within = _polynomial(gamma, a, a**2 + 2 * b + t2, a**3 + 3 * a * b + 3 * (a * (b + t2) + 2 * q))
    return float(KernelToReference(x).within_real + within - 2 * cross)


def test_kid_leave_one_out_is_the_kid_without_that_row():
    world = GaussianWorld(d=5, shift=0.3, spread=0.2)
    fake = world.draw(12)
    kid = KernelToReference(world.reference).prepare(fake)
    closed = kid.leave_one_out().numpy()
    brute = [KernelToReference(world.reference).prepare(np.delete(fake, i, axis=0))() for i in range(12)]
    assert np.allclose(closed, brute, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [10, 40])
def test_kid_interval_covers_the_expected_kid_and_is_never_degenerate(n):
    """d = 32: KID of low-dimensional Gaussians is strongly skewed at small N (the cubic kernel of a few
    coordinates is heavy-tailed; at d = 8 the symmetric interval covers about 91 %), while Inception's 2048
    averaged coordinates make x.y / d concentrate and the skew fade, as it already has at d = 32."""
    world = GaussianWorld(d=32, shift=0.25, spread=0.3, seed=5)
    target = expected_kid(world)
    large = KernelToReference(world.reference)
    assert np.mean([large.prepare(world.draw(2000))() for _ in range(4)]) == pytest.approx(target, rel=0.03)
    kid = KernelToReference(world.reference)
    covered, values, ses = 0, [], []
    for _ in range(REPS):
        result = kid_interval(kid.prepare(world.draw(n)))
        low, high = result["kid_ci95"]
        assert low < result["kid"] < high and result["kid_subset_size"] == n
        covered += low <= target <= high
        values.append(result["kid"])
        ses.append(result["kid_se"])
    assert abs(covered / REPS - 0.95) <= TOLERANCE
    assert min(ses) > 0.05 * np.std(values)  # never the seed's 2e-7 at N = subset size
    assert 0.8 < np.mean(ses) / np.std(values) < 1.4


def test_fid_infinity_recovers_the_closed_form_distance():
    """Chong & Forsyth's extrapolation removes FID's 1/N bias: averaged over repetitions, FID∞ lands on the
    closed-form distance while FID at N stays measurably above it."""
    world = GaussianWorld(d=16, shift=0.1, spread=0.1, seed=11)
    truth = world.fid_at_infinity()
    fid = FrechetToReference(world.reference)
    inf, raw = [], []
    for rep in range(60):
        fid.prepare(world.draw(400))
        curve = fid_curve(fid, seed=rep)
        assert curve[0]["n"] == 80 and curve[-1]["n"] == 400 and curve[-1]["fid_std"] == 0
        fit = fid_infinity(curve)
        assert fit is not None and fit["fid_inf_slope"] > 0
        inf.append(fit["fid_inf"])
        raw.append(fid())
    se_inf, se_raw = np.std(inf) / np.sqrt(len(inf)), np.std(raw) / np.sqrt(len(raw))
    bias = np.mean(raw) - truth
    assert bias > 10 * se_raw  # FID at N = 400 is biased upwards ...
    assert abs(np.mean(inf) - truth) < 3 * se_inf < 0.25 * bias  # ... FID∞ is not
    assert fid_infinity(curve[:2]) is None


class PairedWorld:
    """Two backends on the same pairs: a shared per-pair latent (the person) plus each backend's own noise and
    shift, so their features and scores are correlated across pairs, as real backends' are."""

    def __init__(self, d: int = 8, seed: int = 7):
        self.rng = np.random.default_rng(seed)
        self.d = d
        self.reference = self.rng.normal(size=(400, d))
        self.lpips_gap = -0.02  # a's per-pair LPIPS is lower by 0.02 on average: the true difference

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        latent = self.rng.normal(size=(n, self.d))
        a = 0.8 * latent + 0.6 * self.rng.normal(size=(n, self.d)) + 0.3
        b = 0.8 * latent * np.r_[1.6, np.ones(self.d - 1)] + 0.6 * self.rng.normal(size=(n, self.d))
        hardness = self.rng.gamma(4, 0.05, n)
        lp_b = hardness + self.rng.normal(0, 0.02, n)
        lp_a = hardness + self.lpips_gap + self.rng.normal(0, 0.02, n)
        return a, b, lp_a, lp_b


def test_paired_bootstrap_covers_the_true_differences():
    """The true FID difference at this N comes from Monte Carlo over 6000 disjoint sets of pairs, the LPIPS
    difference is built in. The bootstrap errs on the wide side for FID at small N (resampled FIDs carry a
    second-order variance term that the paired difference does not cancel; about +15 % SE at N = 50), so
    coverage must be at least nominal within tolerance and the SE at most 30 % too large."""
    world, n = PairedWorld(), 50
    sets = 6000
    a, b, _, _ = world.draw(n * sets)
    rows = torch.arange(n * sets).reshape(sets, n)
    fid_gap = (FrechetToReference(world.reference).prepare(a).batch(rows)
               - FrechetToReference(world.reference).prepare(b).batch(rows)).numpy()
    truth = {"fid": (float(fid_gap.mean()), float(fid_gap.std())),
             "lpips_paired": (world.lpips_gap, 0.02 * np.sqrt(2 / n))}
    assert abs(truth["fid"][0]) > 1.5 * truth["fid"][1]  # a real difference to find
    covered, ses = dict.fromkeys(truth, 0), {m: [] for m in truth}
    for rep in range(REPS):
        fa, fb, lp_a, lp_b = world.draw(n)
        pairs = [f"p{i}" for i in range(n)]
        scores = [BackendScores("a", pairs, fa, list(lp_a), [None] * n, [True] * n),
                  BackendScores("b", pairs[::-1], fb[::-1], list(lp_b[::-1]), [None] * n, [True] * n)]
        found = {c["metric"]: c for c in compare_backends(scores, world.reference, seed=rep, rounds=300)}
        assert set(found) == {"fid", "kid", "lpips_paired"}  # no SSIM given, so none compared
        for metric, (target, _) in truth.items():
            c = found[metric]
            assert c["ci95_low"] <= c["difference"] <= c["ci95_high"] and c["n"] == n
            covered[metric] += c["ci95_low"] <= target <= c["ci95_high"]
            ses[metric].append(c["se"])
    for metric, (_, true_sd) in truth.items():
        assert 0.95 - TOLERANCE <= covered[metric] / REPS <= 0.995, metric
        assert 0.85 < np.mean(ses[metric]) / true_sd < 1.3, metric
