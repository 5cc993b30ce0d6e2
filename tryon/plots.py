"""Figures of the metrics: plotly for the UI and HTML reports, matplotlib for PNG files.

Plotly's PNG export needs kaleido plus a Chrome binary, which a Space or CI runner may lack, so PNGs are drawn
with matplotlib from the same panel data (`batch_panels`) the plotly figures use: one source of numbers,
two renderers. Every batch bar is labelled with its N, because FID at different N is not comparable, and its
error bar is the 95 % interval around the estimate (`tryon.intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# (summary key, title); lower is better for all but SSIM.
BATCH_METRICS = (("fid", "FID ↓"), ("kid", "KID ↓"), ("lpips_paired", "LPIPS paired ↓"),
                 ("ssim_paired", "SSIM paired ↑"), ("lpips_source", "LPIPS to source (unpaired) ↓"),
                 ("ssim_source", "SSIM to source (unpaired) ↑"), ("lpips_inside_mask", "LPIPS inside region ↓"),
                 ("ssim_inside_mask", "SSIM inside region ↑"), ("lpips_outside_mask", "LPIPS outside region ↓"),
                 ("ssim_outside_mask", "SSIM outside region ↑"))
RESULT_METRICS = (("lpips_source", "LPIPS to person ↓"), ("ssim_source", "SSIM to person ↑"),
                  ("lpips_outside_mask", "LPIPS outside try-on region ↓"),
                  ("ssim_outside_mask", "SSIM outside try-on region ↑"),
                  ("lpips_inside_mask", "LPIPS inside try-on region (vs person)"),
                  ("ssim_inside_mask", "SSIM inside try-on region (vs person)"),
                  ("lpips_gt", "LPIPS to ground truth ↓"), ("ssim_gt", "SSIM to ground truth ↑"))


@dataclass
class Panel:
    """One bar chart: a metric across backends, with asymmetric error bars (0 where there is none)."""

    title: str
    labels: list[str]
    values: list[float]
    err_low: list[float]
    err_high: list[float]


def _errors(key: str, summary: dict[str, Any], value: float) -> tuple[float, float]:
    """Distances from the bar's top to its 95 % interval's ends: the interval is drawn around the estimate."""
    if summary.get(f"{key}_ci95"):
        low, high = summary[f"{key}_ci95"]
        return max(value - low, 0.0), max(high - value, 0.0)
    return 0.0, 0.0


def batch_panels(summaries: dict[str, dict[str, Any]]) -> list[Panel]:
    """Per-backend summaries (evaluate's report['backends']) -> one panel per metric that any backend has."""
    panels = []
    for key, title in BATCH_METRICS:
        have = [(name, s) for name, s in summaries.items() if s.get(key) is not None]
        if not have:
            continue
        n_key = "n_paired" if key in ("lpips_paired", "ssim_paired") else "n"
        errors = [_errors(key, s, s[key]) for _, s in have]
        panels.append(Panel(title, [f"{name}<br>N={s.get(n_key, '?')}" for name, s in have],
                            [float(s[key]) for _, s in have], [e[0] for e in errors], [e[1] for e in errors]))
    return panels


def _bar_grid(panels: list[Panel], title: str) -> go.Figure:
    cols = min(3, max(1, len(panels)))
    rows = max(1, -(-len(panels) // cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[p.title for p in panels] or [""])
    for i, panel in enumerate(panels):
        fig.add_trace(go.Bar(x=panel.labels, y=panel.values, showlegend=False,
                             error_y={"type": "data", "symmetric": False, "array": panel.err_high,
                                      "arrayminus": panel.err_low, "visible": any(panel.err_high)}),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(title=title, height=320 * rows, margin={"t": 80})
    return fig


def result_bars(scores: dict[str, dict[str, Any]]) -> go.Figure:
    """The UI's per-result chart: backend -> `tryon.metrics.score_result` dict, one panel per metric."""
    panels = []
    for key, title in RESULT_METRICS:
        have = [(name, s[key]) for name, s in scores.items() if s.get(key) is not None]
        if have:
            zeros = [0.0] * len(have)
            panels.append(Panel(title, [n for n, _ in have], [float(v) for _, v in have], zeros, zeros))
    return _bar_grid(panels, "Per-result metrics")


def batch_figure(summaries: dict[str, dict[str, Any]]) -> go.Figure:
    """FID, KID, paired LPIPS and SSIM with their 95 % intervals, and the region scores, per backend, labelled
    with N."""
    from tryon.metrics import SMALL_N

    small = [name for name, s in summaries.items() if s.get("small_sample")]
    title = "Batch metrics" + (f" — N < {SMALL_N} for {', '.join(small)}: biased, compare at equal N" if small else "")
    return _bar_grid(batch_panels(summaries), title)


def _extrapolation(summary: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """FID∞'s fitted line fid_inf + slope / n, sampled from the smallest curve size to 100x the largest."""
    curve = summary.get("fid_curve") or []
    if summary.get("fid_inf") is None or not curve:
        return None
    sizes = [float(v) for v in np.geomspace(curve[0]["n"], 100 * curve[-1]["n"], 30)]
    return sizes, [summary["fid_inf"] + summary["fid_inf_slope"] / n for n in sizes]


def fid_curve_figure(summaries: dict[str, dict[str, Any]]) -> go.Figure:
    """FID against the number of results it was computed from (the small-N bias made visible), the fitted
    line in 1/N and FID∞, the value it extrapolates to at infinite N."""
    fig = go.Figure()
    colours = plotly.colors.qualitative.Plotly
    for i, (name, summary) in enumerate(summaries.items()):
        colour = colours[i % len(colours)]
        curve = summary.get("fid_curve") or []
        errors = {"type": "data", "array": [p["fid_std"] for p in curve]}
        fig.add_trace(go.Scatter(x=[p["n"] for p in curve], y=[p["fid"] for p in curve], name=name,
                                 mode="lines+markers", error_y=errors, line={"color": colour}))
        line = _extrapolation(summary)
        if line is not None:
            fig.add_trace(go.Scatter(x=line[0], y=line[1], mode="lines", name=f"{name}: fit in 1/N",
                                     line={"color": colour, "dash": "dot"}, showlegend=False))
            fig.add_hline(y=summary["fid_inf"], line={"color": colour, "dash": "dash", "width": 1},
                          annotation_text=f"{name} FID∞ {summary['fid_inf']:.2f}", annotation_position="top right")
    fig.update_layout(title="FID vs N (random subsets of the results); dashed: FID∞", xaxis_title="N results",
                      yaxis_title="FID", xaxis_type="log")
    return fig


def save_batch_png(summaries: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """The batch panels and the FID-vs-N curve as one PNG, drawn with matplotlib (no browser needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = batch_panels(summaries)
    count = len(panels) + 1
    cols = min(4, count)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax, panel in zip(flat, panels, strict=False):
        labels = [label.replace("<br>", "\n") for label in panel.labels]
        ax.bar(labels, panel.values, yerr=[panel.err_low, panel.err_high], capsize=4, color="#4c72b0")
        ax.set_title(panel.title)
        ax.tick_params(axis="x", labelsize=8)
    curve_ax = flat[len(panels)]
    for name, summary in summaries.items():
        curve = summary.get("fid_curve") or []
        if curve:
            drawn = curve_ax.errorbar([p["n"] for p in curve], [p["fid"] for p in curve],
                                      yerr=[p["fid_std"] for p in curve], marker="o", capsize=3, label=name)
            line = _extrapolation(summary)
            if line is not None:
                colour = drawn[0].get_color()
                curve_ax.plot(*line, linestyle=":", color=colour)
                curve_ax.axhline(summary["fid_inf"], linestyle="--", linewidth=1, color=colour)
    curve_ax.set_xscale("log")
    curve_ax.set_title("FID vs N (dashed: FID∞)")
    curve_ax.set_xlabel("N results")
    if curve_ax.has_data():
        curve_ax.legend(fontsize=8)
    for ax in flat[count:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
