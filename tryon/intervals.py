"""Standard errors and 95 % intervals for the evaluation's numbers (docs/evaluation.md, "Intervals").

Every interval here is `estimate ± q · SE`, so the estimate always lies inside it, and it covers the *expected
value of the same statistic at the same N*: "if this backend produced another N results for these pairs, its
number would average here". For FID that is the expected FID at this N, which is biased upwards against the
infinite-N value (the FID-vs-N curve and FID∞ address that bias; an interval cannot).

Why the jackknife and not the percentile bootstrap of the coursework this project grew from: a resample with
replacement repeats about a third of the images, and repeated images shrink the feature covariance, so bootstrap
FIDs sit above the estimate and the percentile interval can exclude it. Leaving blocks out never duplicates
anything; by the Efron-Stein inequality the jackknife variance errs on the large side, and `tests/test_intervals.py`
checks its coverage by simulation. """

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LEVEL = 0.95


def t_quantile(df: int, level: float = LEVEL) -> float:
    """The two-sided Student-t quantile (1.96 as df grows): a jackknife over g groups has g - 1 degrees of
    freedom, so few groups get a wider interval."""
    from scipy.special import stdtrit

    return float(stdtrit(max(df, 1), 0.5 + level / 2))


def normal_quantile(level: float = LEVEL) -> float:
    """The two-sided standard normal quantile (1.96 for 95 %)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def jackknife_se(estimate: float, leave_out: Sequence[float], removed: Sequence[int], n: int) -> float:
    """Delete-a-group jackknife standard error for groups of possibly unequal size (Busing, Meijer and van der
    Leeden 1999): `leave_out[j]` is the statistic without group j, which held `removed[j]` of the n samples.
    With equal groups this is the textbook ((g - 1) / g) * sum (theta_j - mean)^2."""
    values = np.asarray(leave_out, dtype=np.float64)
    sizes = np.asarray(removed, dtype=np.float64)
    g = len(values)
    if g < 2:
        raise ValueError("a jackknife needs at least 2 groups")
    h = n / sizes
    pseudo = h * estimate - (h - 1) * values
    corrected = g * estimate - ((1 - sizes / n) * values).sum()
    return float(np.sqrt(((pseudo - corrected) ** 2 / (h - 1)).sum() / g))


def interval(estimate: float, se: float, df: int, level: float = LEVEL) -> list[float]:
    """[estimate - q se, estimate + q se] with the t quantile for `df` degrees of freedom."""
    half = t_quantile(df, level) * se
    return [estimate - half, estimate + half]


def mean_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, list[float]] | None:
    """Mean, standard error and t interval of per-pair scores (LPIPS, SSIM): the jackknife of a mean is exactly
    this classical interval. None with fewer than 2 values."""
    array = np.asarray(values, dtype=np.float64)
    if array.size < 2:
        return None
    mean, se = float(array.mean()), float(array.std(ddof=1) / np.sqrt(array.size))
    return mean, se, interval(mean, se, array.size - 1, level)
