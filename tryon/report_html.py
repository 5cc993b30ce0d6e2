"""The evaluation report as one self-contained page, and the pieces the Batch tab shows of it.

`metrics.html` must work when mailed or opened offline: plotly.js is embedded once (it ships inside the
plotly package), thumbnails are small JPEGs inlined as data URIs, and nothing is fetched. Its parts are
the table with 95 % intervals and costs, the comparisons in words, the bar charts, the FID-vs-N curve with
FID∞, and a qualitative grid: person, garment and every backend's result side by side, for every pair of a
small run or for the best, median and worst pairs (by per-pair LPIPS averaged over the backends) of a large one.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tryon.costs import UNKNOWN
from tryon.dataset import VitonFolder
from tryon.errors import InputError
from tryon.imaging import load_image

_text = partial(html.escape, quote=False)  # for text between tags; attribute values keep html.escape
GRID_ALL = 12  # up to this many pairs the grid shows them all; beyond, the best, median and worst
THUMB_HEIGHT = 192
THUMB_QUALITY = 80
NOTHING_TO_COMPARE = "No two backends share at least 3 scored pairs: nothing to compare."

# (header, summary key, scale, decimals); a key with "<key>_ci95" in the summary gets its interval printed.
TABLE_COLUMNS = (("N", "n", 1, 0), ("FID", "fid", 1, 2), ("FID∞", "fid_inf", 1, 2), ("KID ×10³", "kid", 1000, 2),
                 ("N paired", "n_paired", 1, 0), ("LPIPS paired", "lpips_paired", 1, 4),
                 ("SSIM paired", "ssim_paired", 1, 4), ("LPIPS to source", "lpips_source", 1, 4),
                 ("SSIM to source", "ssim_source", 1, 4), ("LPIPS inside", "lpips_inside_mask", 1, 4),
                 ("SSIM inside", "ssim_inside_mask", 1, 4), ("LPIPS outside", "lpips_outside_mask", 1, 4),
                 ("SSIM outside", "ssim_outside_mask", 1, 4), ("s / image", "seconds_per_image", 1, 2),
                 ("peak MB", "peak_memory_mb", 1, 0), ("device", "device", 1, 0), ("dtype", "dtype", 1, 0),
                 ("offload", "offload", 1, 0))


def _cell(summary: dict[str, Any], key: str, scale: float, decimals: int) -> str:
    value = summary.get(key)
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    text = f"{value * scale:.{decimals}f}"
    interval = summary.get(f"{key}_ci95")
    if interval:
        text += f" [{interval[0] * scale:.{decimals}f}, {interval[1] * scale:.{decimals}f}]"
    return text


def summary_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per backend, formatted: `value [95 % interval]` where there is one, '–' where a
    metric does not apply, 'unknown' for costs without an infer.json record, and missing/extra counts."""
    headers = ["backend", *(c[0] for c in TABLE_COLUMNS), "missing", "extra"]
    rows = []
    for name, summary in report["backends"].items():
        cells = [_cell(summary, key, scale, decimals) for _, key, scale, decimals in TABLE_COLUMNS]
        rows.append([name, *cells, str(len(summary.get("missing", []))), str(len(summary.get("extra", [])))])
    return headers, rows


def comparison_lines(report: dict[str, Any]) -> list[str]:
    """The paired comparisons in words, one line each (see `tryon.comparisons.describe`)."""
    return [c["text"] for c in report.get("comparisons", [])]


def report_notes(report: dict[str, Any]) -> list[str]:
    """Missing weights, small-sample warnings, and which backends' costs are unknown."""
    summaries = report["backends"]
    notes = report.get("notes", []) + [f"{n}: {s['note']}" for n, s in summaries.items() if s.get("note")]
    unknown = [n for n, s in summaries.items() if s.get("seconds_per_image") == UNKNOWN]
    if unknown:
        notes.append(f"cost unknown for {', '.join(unknown)}: no infer.json record beside the results")
    return notes


def thumbnail(path: Path, height: int = THUMB_HEIGHT) -> str:
    """A JPEG data URI of the image scaled to `height` pixels (about 10 KB at 192 px)."""
    image = Image.fromarray(load_image(path))
    width = max(1, round(image.width * height / image.height))
    buffer = io.BytesIO()
    image.resize((width, height), Image.LANCZOS).save(buffer, "JPEG", quality=THUMB_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class GridRow:
    """One pair of the qualitative grid: why it is shown, its photos, and each backend's result and LPIPS."""

    label: str
    person: Path | None
    garment: Path | None
    results: dict[str, Path | None] = field(default_factory=dict)
    lpips: dict[str, float | None] = field(default_factory=dict)


def grid_rows(report: dict[str, Any]) -> list[GridRow]:
    """Every pair when there are at most GRID_ALL, else the best, median and worst pair by the per-pair LPIPS
    averaged over the backends that scored it (pairs without any LPIPS rank by SSIM, inverted)."""
    try:
        folder = VitonFolder(report["dataset"])
    except InputError:
        return []
    by_pair: dict[str, dict[str, dict[str, Any]]] = {}
    for name, summary in report["backends"].items():
        for row in summary.get("images", []):
            by_pair.setdefault(row["pair"], {})[name] = row
    if not by_pair:
        return []

    def badness(rows: dict[str, dict[str, Any]]) -> float:
        lp = [r["lpips_source"] for r in rows.values() if r.get("lpips_source") is not None]
        ss = [r["ssim_source"] for r in rows.values() if r.get("ssim_source") is not None]
        return float(np.mean(lp)) if lp else (1 - float(np.mean(ss)) if ss else 0.0)

    pairs = list(by_pair)
    if len(pairs) <= GRID_ALL:
        chosen = [(p, p) for p in pairs]
    else:
        ranked = sorted(pairs, key=lambda p: badness(by_pair[p]))
        chosen = [(f"best: {ranked[0]}", ranked[0]), (f"median: {ranked[len(ranked) // 2]}", ranked[len(ranked) // 2]),
                  (f"worst: {ranked[-1]}", ranked[-1])]
    grid = []
    for label, pair in chosen:
        rows = by_pair[pair]
        first = next(iter(rows.values()))
        grid.append(GridRow(label, _existing(folder.image_path, first["person"]),
                            _existing(folder.cloth_path, first["cloth"])))
        for name, summary in report["backends"].items():
            row = rows.get(name)
            grid[-1].results[name] = Path(summary["results_dir"]) / row["file"] if row else None
            grid[-1].lpips[name] = row.get("lpips_source") if row else None
    return grid


def _existing(find: Any, name: str) -> Path | None:
    try:
        return find(name)
    except InputError:
        return None


def grid_html(rows: list[GridRow]) -> str:
    """The qualitative grid as an HTML table of inlined thumbnails (works in a file and in Gradio's gr.HTML)."""
    if not rows:
        return "<p>No results to show.</p>"
    backends = list(rows[0].results)
    head = "".join(f"<th>{_text(h)}</th>" for h in ["pair", "person", "garment", *backends])
    body = []
    for row in rows:
        cells = [f"<td>{_text(row.label)}</td>"]
        for path, caption in [(row.person, "person"), (row.garment, "garment"),
                              *((row.results[b], _lpips_caption(row.lpips[b])) for b in backends)]:
            image = f"<img src='{thumbnail(path)}' alt='{html.escape(caption)}'>" if path else "<i>missing</i>"
            cells.append(f"<td>{image}<br><small>{_text(caption)}</small></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _lpips_caption(value: float | None) -> str:
    return "" if value is None else f"LPIPS {value:.3f}"


def table_html(report: dict[str, Any]) -> str:
    headers, rows = summary_table(report)
    head = "".join(f"<th>{_text(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_text(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='metrics'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:1400px}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;text-align:center}table.grid img{height:160px}
.notes{color:#555;font-size:13px}"""


def report_page(report: dict[str, Any]) -> str:
    """The whole self-contained metrics.html."""
    from tryon.plots import batch_figure, fid_curve_figure

    summaries = report["backends"]
    lines = comparison_lines(report) or [NOTHING_TO_COMPARE]
    parts = [
        "<h1>Try-on evaluation</h1>",
        f"<p>Dataset <code>{_text(str(report.get('dataset', '')))}</code>, {report.get('protocol', '')} "
        f"protocol, {report.get('n_reference', 0)} reference photos. Brackets: 95 % intervals "
        "(docs/evaluation.md explains every number).</p>",
        table_html(report),
        "<h2>Comparisons</h2><ul>" + "".join(f"<li>{_text(line)}</li>" for line in lines) + "</ul>",
        batch_figure(summaries).to_html(full_html=False, include_plotlyjs=True),
        fid_curve_figure(summaries).to_html(full_html=False, include_plotlyjs=False),
        "<h2>Qualitative grid</h2>", grid_html(grid_rows(report)),
        "<div class='notes'>" + "".join(f"<p>{_text(n)}</p>" for n in report_notes(report)) + "</div>",
    ]
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Try-on evaluation</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")
