"""metrics.html: one self-contained offline page (plotly.js once, JPEG thumbnails, no fetches), with the table
of intervals, comparisons in words, the FID-vs-N curve with FID∞, the qualitative grid, and costs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np

from tryon.costs import UNKNOWN, backend_cost, merge_records
from tryon.evaluate import result_name, write_report
from tryon.imaging import save_image
from tryon.report_html import grid_rows, report_page, summary_table

BACKENDS = ("ladi-vton", "pasta-gan", "warp")


def _dataset(root: Path, n: int, size: tuple[int, int] = (512, 384)) -> tuple[Path, list[str]]:
    """A VITON-HD folder with n people and garments, and three backends' result folders. The images are random
    noise (incompressible: the worst case for the page's size), five distinct ones copied to every pair."""
    rng = np.random.default_rng(0)
    noise = [save_image(rng.integers(0, 256, (*size, 3), dtype=np.uint8), root / "noise" / f"{k}.png")
             for k in range(2 + len(BACKENDS))]
    names = [f"{i:05d}_00.jpg" for i in range(n)]
    for name in names:
        targets = [root / "ds" / "image" / name, root / "ds" / "cloth" / name,
                   *(root / "results" / b / result_name(name, name) for b in BACKENDS)]
        for source, target in zip(noise, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)  # a .png under a .jpg name still loads: PIL reads the content
    (root / "ds" / "test_pairs.txt").write_text("".join(f"{p} {p}\n" for p in names))
    return root / "ds", names


def _report(root: Path, names: list[str]) -> dict:
    rng = np.random.default_rng(1)
    backends = {}
    for b, backend in enumerate(BACKENDS):
        images = [{"file": result_name(p, p), "pair": result_name(p, p), "person": p, "cloth": p, "paired": True,
                   "lpips_source": float(0.1 + 0.1 * b + rng.random() * 0.05), "ssim_source": 0.8}
                  for p in names]
        backends[backend] = {
            "results_dir": str(root / "results" / backend), "n": len(names), "n_paired": len(names),
            "fid": 30.0 + b, "fid_ci95": [28.0 + b, 32.0 + b], "fid_inf": 25.0 + b, "fid_inf_slope": 400.0,
            "kid": 0.011, "kid_ci95": [0.009, 0.013], "lpips_paired": 0.2, "lpips_paired_ci95": [0.19, 0.21],
            "ssim_paired": 0.8, "ssim_outside_mask": 0.93,
            "fid_curve": [{"n": n, "fid": 25.0 + b + 400 / n, "fid_std": 1.0} for n in (20, 50, len(names))],
            "seconds_per_image": 4.2 if b == 0 else UNKNOWN, "peak_memory_mb": 2900.0 if b == 0 else UNKNOWN,
            "device": "cuda" if b == 0 else UNKNOWN, "dtype": "fp16" if b == 0 else UNKNOWN,
            "offload": "none" if b == 0 else UNKNOWN, "missing": [], "extra": [], "images": images}
    comparison = {"a": "ladi-vton", "b": "pasta-gan", "metric": "lpips_paired", "difference": -0.031,
                  "ci95_low": -0.044, "ci95_high": -0.018, "n": len(names),
                  "text": "ladi-vton's paired LPIPS is lower than pasta-gan's by 0.031 (95 % CI 0.018–0.044)"}
    return {"dataset": str(root / "ds"), "protocol": "paired", "n_reference": len(names), "notes": [],
            "backends": backends, "comparisons": [comparison]}


def test_report_page_is_self_contained_and_small_for_100_pairs_and_3_backends(tmp_path):
    _, names = _dataset(tmp_path, 100)
    report = _report(tmp_path, names)
    written = write_report(report, tmp_path / "out")
    page = (tmp_path / "out" / "metrics.html").read_text(encoding="utf-8")
    assert (tmp_path / "out" / "metrics.html").stat().st_size < 10 * 2**20
    assert page.count("plotly.js v") == 1  # the library embedded once, for both figures
    assert not re.findall(r"<script[^>]*\bsrc=", page) and not re.findall(r"<(?:img|link)[^>]*(?:src|href)=.http",
                                                                           page)
    assert "ladi-vton's paired LPIPS is lower than pasta-gan's by 0.031 (95 % CI 0.018–0.044)" in page
    assert "30.00 [28.00, 32.00]" in page and "FID∞" in page and "11.00 [9.00, 13.00]" in page  # KID x 10^3
    # The grid: best, median and worst of 100 pairs, each with person, garment and three results.
    assert [m for m in re.findall(r"<td>(best|median|worst): ", page)] == ["best", "median", "worst"]
    assert page.count("data:image/jpeg;base64,") == 3 * (2 + len(BACKENDS))
    assert "cost unknown for pasta-gan, warp" in page
    assert json.loads(written[0].read_text())["comparisons"][0]["difference"] == -0.031


def test_small_runs_show_every_pair_in_the_grid_and_rank_large_ones_by_lpips(tmp_path):
    _, names = _dataset(tmp_path, 4, size=(64, 48))
    report = _report(tmp_path, names)
    rows = grid_rows(report)
    assert [r.label for r in rows] == [result_name(p, p) for p in names]
    assert all(set(r.results) == set(BACKENDS) and all(r.results.values()) for r in rows)
    (tmp_path / "results" / "warp" / result_name(names[0], names[0])).unlink()
    report["backends"]["warp"]["images"] = report["backends"]["warp"]["images"][1:]
    first = grid_rows(report)[0]
    assert first.results["warp"] is None and "missing" in report_page(report)
    # Many pairs: the per-pair LPIPS averaged over backends picks the best, median and worst.
    many = [f"{i:05d}_00.jpg" for i in range(20)]
    report = _report(tmp_path, many)
    for backend in BACKENDS:
        for i, row in enumerate(report["backends"][backend]["images"]):
            row["lpips_source"] = (7 * i % 20) / 100  # a shuffle of 0.00 .. 0.19: pair 0 best, 17 worst
    assert [r.label for r in grid_rows(report)] == [f"best: {result_name(many[0], many[0])}",
                                                    f"median: {result_name(many[10], many[10])}",
                                                    f"worst: {result_name(many[17], many[17])}"]


def test_summary_table_prints_intervals_dashes_and_unknown_costs(tmp_path):
    report = _report(tmp_path, ["00000_00.jpg"])
    headers, rows = summary_table(report)
    row = dict(zip(headers, rows[0], strict=True))
    assert row["backend"] == "ladi-vton" and row["FID"] == "30.00 [28.00, 32.00]" and row["FID∞"] == "25.00"
    assert row["LPIPS inside"] == "–" and row["SSIM outside"] == "0.9300"
    assert (row["s / image"], row["peak MB"], row["device"], row["dtype"]) == ("4.20", "2900", "cuda", "fp16")
    assert dict(zip(headers, rows[1], strict=True))["s / image"] == UNKNOWN


def test_costs_come_from_infer_json_and_survive_a_resumed_infer(tmp_path):
    folder = tmp_path / "results" / "ladi-vton"
    folder.mkdir(parents=True)
    record = {"backend": "ladi-vton", "ok": True, "peak_memory_mb": 3000.0,
              "runtime": {"device": "cuda:0", "dtype": "fp16", "offload": "model"}}
    first = [{**record, "pair": f"p{i}.png", "seconds": float(s)} for i, s in enumerate((3, 5, 4))]
    log = tmp_path / "results" / "infer.json"
    log.write_text(json.dumps({"records": first}))
    second = [{**record, "pair": "p2.png", "seconds": 10.0, "peak_memory_mb": 3500.0,
               "runtime": {"device": "cuda:0", "dtype": "fp32", "offload": "none"}},
              {"pair": "p0.png", "skipped": ["ladi-vton"]}]
    log.write_text(json.dumps({"records": merge_records(log, second)}))
    cost = backend_cost(folder, ["p0.png", "p1.png", "p2.png"])
    assert cost == {"seconds_per_image": 5.0, "peak_memory_mb": 3500.0, "device": "cuda:0", "dtype": "fp16 / fp32",
                    "offload": "model / none", "timed_images": 3}
    assert backend_cost(folder, ["p0.png"])["seconds_per_image"] == 3.0  # only the scored files count
    assert backend_cost(tmp_path / "results" / "other", ["p0.png"])["device"] == UNKNOWN
    log.write_text("not json")
    assert backend_cost(folder, ["p0.png"])["peak_memory_mb"] == UNKNOWN
