"""The Batch tab: generate and score N pairs of a dataset per backend, and show what metrics.html shows: the
table with 95 % intervals and costs, the comparisons in words, the plots with the FID-vs-N curve and FID∞, and
the qualitative grid; the report files are offered for download.

Only folders under the configured data roots can be chosen (`TRYON_DATA_ROOTS`, separated by the OS path
separator; the bundled examples by default), so the page can never read an arbitrary path on the server.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from tryon.backends.base import backend_names
from tryon.dataset import VitonFolder
from tryon.errors import InputError
from tryon.evaluate import evaluate, infer
from tryon.plots import batch_figure, fid_curve_figure
from tryon.report_html import NOTHING_TO_COMPARE, comparison_lines, grid_html, grid_rows, report_notes, summary_table
from tryon.ui.common import user_errors

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


def data_roots() -> list[Path]:
    configured = os.environ.get("TRYON_DATA_ROOTS")
    roots = [Path(p) for p in configured.split(os.pathsep) if p] if configured else [EXAMPLES]
    return [r.resolve() for r in roots if r.is_dir()]


def datasets() -> list[str]:
    """VITON-HD-style folders (with image/ or test/image/) at most two levels under a data root."""
    found = []
    for root in data_roots():
        for folder in [root, *root.glob("*"), *root.glob("*/*")]:
            if folder.is_dir() and ((folder / "image").is_dir() or (folder / "test" / "image").is_dir()):
                found.append(str(folder))
    return sorted(set(found))


@user_errors
def run_batch(dataset: str | None, backends: list[str] | None, pairs: float = 10, paired: bool = True,
              progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, ...]:
    """Infer and evaluate; returns (bars, FID curve, table, comparisons, grid, report files, notes)."""
    if not dataset or dataset not in datasets():
        raise InputError("choose a dataset folder from the list")
    if not backends:
        raise InputError("choose at least one backend")
    folder = VitonFolder(dataset)
    chosen = folder.pairs(paired=paired)[: max(1, int(pairs))]
    problems = folder.check(chosen)
    if problems:
        raise InputError(f"{len(problems)} file(s) missing, first: {problems[0]}")
    work = Path(tempfile.mkdtemp(prefix="tryon-batch-"))
    pairs_file = work / "pairs.txt"
    pairs_file.write_text("".join(f"{p} {c}\n" for p, c in chosen))
    infer(dataset, backends, work / "results", pairs_file, paired)
    report = evaluate(dataset, {b: work / "results" / b for b in backends}, work / "report", pairs_file, paired)
    assert report is not None  # a single process is rank 0
    headers, rows = summary_table(report)
    files = [str(work / "report" / name) for name in ("metrics.html", "metrics.csv", "metrics.json", "metrics.png")]
    words = "\n".join(f"- {line}" for line in comparison_lines(report) or [NOTHING_TO_COMPARE])
    return (batch_figure(report["backends"]), fid_curve_figure(report["backends"]),
            {"headers": headers, "data": rows}, words, grid_html(grid_rows(report)), files,
            "\n".join(f"- {n}" for n in report_notes(report)))


def build() -> None:
    gr.Markdown("Generate results for the first N pairs of a dataset with each backend, then score them: FID and "
                "KID against the dataset's person photos, LPIPS/SSIM against ground truth in the paired protocol. "
                "With N below 1000, FID is biased upwards and not comparable with published numbers; KID is the "
                "better small-sample estimate (see docs/evaluation.md).")
    with gr.Row():
        dataset = gr.Dropdown(datasets(), value=(datasets() or [None])[0], label="Dataset folder", elem_id="dataset")
        backends = gr.CheckboxGroup(backend_names(), value=["warp"], label="Backends")
    with gr.Row():
        pairs = gr.Slider(1, 500, value=4, step=1, label="Number of pairs")
        paired = gr.Checkbox(True, label="Paired protocol (each person with their own garment)")
    run = gr.Button("Run batch", variant="primary", elem_id="run-batch")
    table = gr.Dataframe(label="Results: value [95 % interval], costs from infer.json", interactive=False,
                         elem_id="batch-table")
    comparisons = gr.Markdown(elem_id="batch-comparisons")
    bars = gr.Plot(label="Metrics per backend (N on each bar, 95 % intervals around the estimates)")
    curve = gr.Plot(label="FID against N (the small-sample bias) and FID∞")
    grid = gr.HTML(elem_id="batch-grid")
    files = gr.File(label="metrics.html (the whole report, offline) / .csv / .json / .png", file_count="multiple")
    notes = gr.Markdown()
    run.click(run_batch, [dataset, backends, pairs, paired], [bars, curve, table, comparisons, grid, files, notes],
              api_name="batch", concurrency_limit=1)
