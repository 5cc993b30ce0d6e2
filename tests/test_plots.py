"""Figures: per-result bars for the UI, batch panels with N and intervals around the estimates, the FID-vs-N
curve with FID∞, PNG export."""

from __future__ import annotations

from tryon.plots import batch_figure, batch_panels, fid_curve_figure, result_bars, save_batch_png

SUMMARIES = {
    "warp": {"n": 50, "n_paired": 50, "fid": 40.0, "fid_ci95": [35.0, 48.0], "kid": 0.02, "kid_ci95": [0.012, 0.028],
             "lpips_paired": 0.2, "lpips_paired_ci95": [0.18, 0.23], "ssim_paired": 0.7, "small_sample": True,
             "lpips_outside_mask": 0.05, "fid_inf": 30.0, "fid_inf_slope": 500.0,
             "fid_curve": [{"n": 10, "fid": 90.0, "fid_std": 5.0}, {"n": 50, "fid": 40.0, "fid_std": 0.0}]},
    "other": {"n": 40, "n_paired": 0, "fid": 30.0, "fid_ci95": [28.0, 33.0], "kid": 0.01, "kid_ci95": [0.006, 0.014],
              "lpips_paired": None, "ssim_paired": None, "small_sample": True, "fid_curve": []},
}


def test_batch_panels_carry_n_and_intervals_around_the_estimates():
    panels = {p.title: p for p in batch_panels(SUMMARIES)}
    fid = panels["FID ↓"]
    assert fid.labels == ["warp<br>N=50", "other<br>N=40"]
    assert (fid.err_low, fid.err_high) == ([5.0, 2.0], [8.0, 3.0])  # value - low, high - value
    assert panels["KID ↓"].err_low == [0.008, 0.004] and panels["LPIPS paired ↓"].err_high == [0.03]
    assert panels["LPIPS paired ↓"].labels == ["warp<br>N=50"]  # a metric that does not apply is left out
    assert panels["LPIPS outside region ↓"].err_high == [0.0]  # no interval: no bar
    assert "N < 1000" in batch_figure(SUMMARIES).layout.title.text


def test_result_bars_show_region_scores():
    scores = {"warp": {"lpips_source": 0.3, "ssim_source": 0.8, "lpips_outside_mask": None},
              "other": {"lpips_source": 0.1, "ssim_source": 0.9, "lpips_outside_mask": 0.05,
                        "ssim_outside_mask": 0.97, "lpips_inside_mask": 0.4, "ssim_inside_mask": 0.5}}
    figure = result_bars(scores)
    assert [list(t.x) for t in figure.data] == [["warp", "other"], ["warp", "other"], ["other"], ["other"],
                                                ["other"], ["other"]]
    titles = [a.text for a in figure.layout.annotations]
    assert "SSIM outside try-on region ↑" in titles and "LPIPS inside try-on region (vs person)" in titles


def test_curve_draws_fid_infinity_and_png(tmp_path):
    curve = fid_curve_figure(SUMMARIES)
    assert list(curve.data[0].x) == [10, 50] and list(curve.data[0].y) == [90.0, 40.0]
    fit = curve.data[1]  # the fitted line fid_inf + slope / n, reaching towards FID∞ at large N
    assert fit.y[0] == 30.0 + 500.0 / 10 and abs(fit.y[-1] - 30.0) < 0.2
    assert [s.y0 for s in curve.layout.shapes] == [30.0]
    assert "FID∞ 30.00" in curve.layout.annotations[0].text
    png = save_batch_png(SUMMARIES, tmp_path / "m.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
