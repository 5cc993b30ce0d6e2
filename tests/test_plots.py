"""Figures: per-result bars for the UI, batch panels with N and error bars, the FID-vs-N curve, PNG export."""

from __future__ import annotations

from tryon.plots import batch_figure, batch_panels, fid_curve_figure, result_bars, save_batch_png

SUMMARIES = {
    "warp": {"n": 50, "n_paired": 50, "fid": 40.0, "fid_ci95": [35.0, 48.0], "kid_mean": 0.02, "kid_std": 0.004,
             "lpips_paired": 0.2, "ssim_paired": 0.7, "small_sample": True,
             "fid_curve": [{"n": 10, "fid": 90.0, "fid_std": 5.0}, {"n": 50, "fid": 40.0, "fid_std": 0.0}]},
    "other": {"n": 40, "n_paired": 0, "fid": 30.0, "fid_ci95": [28.0, 33.0], "kid_mean": 0.01, "kid_std": 0.002,
              "lpips_paired": None, "ssim_paired": None, "small_sample": True, "fid_curve": []},
}


def test_batch_panels_carry_n_and_asymmetric_intervals():
    panels = {p.title: p for p in batch_panels(SUMMARIES)}
    fid = panels["FID ↓"]
    assert fid.labels == ["warp<br>N=50", "other<br>N=40"]
    assert (fid.err_low, fid.err_high) == ([5.0, 2.0], [8.0, 3.0])
    assert panels["KID ↓"].err_high == [0.004, 0.002]
    assert panels["LPIPS paired ↓"].labels == ["warp<br>N=50"]  # a metric that does not apply is left out
    assert "N < 1000" in batch_figure(SUMMARIES).layout.title.text


def test_result_bars_and_curve_and_png(tmp_path):
    scores = {"warp": {"lpips_source": 0.3, "ssim_source": 0.8, "lpips_outside_mask": None},
              "other": {"lpips_source": 0.1, "ssim_source": 0.9, "lpips_outside_mask": 0.05}}
    figure = result_bars(scores)
    assert [list(t.x) for t in figure.data] == [["warp", "other"], ["warp", "other"], ["other"]]
    curve = fid_curve_figure(SUMMARIES)
    assert list(curve.data[0].x) == [10, 50] and list(curve.data[0].y) == [90.0, 40.0]
    png = save_batch_png(SUMMARIES, tmp_path / "m.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
