"""Batch generation over a dataset's pairs, and scoring of result folders against the dataset.

`infer` runs backends on every pair of a VITON-HD-style folder and writes `OUT/<backend>/<person>__<cloth>.png`
(resumable: existing outputs are skipped). `evaluate` pairs result files with dataset photos **by name**
(never by listing order, the seed's bug), reports missing and extra files, and scores both VITON protocols:
paired (SSIM/LPIPS against the ground-truth photo) and unpaired (FID/KID against the dataset's person photos),
plus the seed's LPIPS to the source photo, overall and outside the try-on mask.

Both scale out with Hugging Face accelerate (`accelerate launch -m tryon infer|eval ...`): each process takes
every k-th pair, rank 0 gathers and writes the summary. A plain `python -m tryon` run is a world of one.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tryon.backends.base import RunOptions, run_backends
from tryon.dataset import IMAGE_EXTENSIONS, VitonFolder, stem
from tryon.errors import InputError, WeightsMissing
from tryon.imaging import load_image, load_mask, save_image
from tryon.runtime import Runtime, default_runtime

MASKS_DIR = "_masks"  # inside an infer output folder: the try-on region of each person, for lpips_outside_mask
CSV_COLUMNS = ("backend", "n", "fid", "fid_ci95_low", "fid_ci95_high", "kid_mean", "kid_std", "kid_subset_size",
               "n_paired", "lpips_paired", "ssim_paired", "lpips_source", "lpips_outside_mask", "small_sample",
               "missing", "extra")


def process_state() -> Any:
    """accelerate's process state: rank and world size under `accelerate launch`, a world of one otherwise.
    Without CUDA, processes meet over gloo (accelerate only picks a CPU backend when told `cpu=True`)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def _gather(items: list[Any]) -> list[Any]:
    """Every process's list, concatenated in rank order (identity for a single process)."""
    if process_state().num_processes == 1:
        return items
    from accelerate.utils import gather_object

    return gather_object(items)


def result_name(person: str, cloth: str) -> str:
    return f"{stem(person)}__{stem(cloth)}.png"


# -- generation ----------------------------------------------------------------------------------------------
def infer(dataset: str | Path, backends: Sequence[str], out: str | Path, pairs_file: str | Path | None = None,
          paired: bool = True, options: RunOptions | None = None, category: str = "upper",
          progress: bool = True, runtime: Runtime | None = None) -> dict[str, Any]:
    """Generate every (pair, backend) result that is not on disk yet; returns (on every rank) the counts.

    Each rank runs on its own accelerate device with `runtime`'s dtype and offload policy."""
    from tqdm import tqdm

    state = process_state()
    folder = VitonFolder(dataset)
    out = Path(out)
    pairs = folder.pairs(pairs_file, paired=paired)
    mine = pairs[state.process_index::state.num_processes]
    rank_runtime = default_runtime(str(state.device))
    if runtime is not None:
        rank_runtime = runtime.with_(device=rank_runtime.device)
    records: list[dict[str, Any]] = []
    for person, cloth in tqdm(mine, desc=f"infer rank {state.process_index}", disable=not progress):
        name = result_name(person, cloth)
        todo = [b for b in backends if not (out / b / name).is_file()]
        if len(todo) < len(backends):
            records.append({"pair": name, "skipped": [b for b in backends if b not in todo]})
        if not todo:
            continue
        sample = folder.load_sample(person, cloth, category, paired=stem(person) == stem(cloth))
        mask_path = out / MASKS_DIR / f"{stem(person)}.png"
        if sample.agnostic_mask is not None and not mask_path.is_file():
            _save_atomic(sample.agnostic_mask, mask_path)
        for result in run_backends(todo, sample, options, rank_runtime):
            if result.ok:
                _save_atomic(result.image, out / result.backend / name)
            records.append({"pair": name, **result.to_record()})
    records = _gather(records)
    summary = {
        "pairs": len(pairs),
        "generated": sum(1 for r in records if r.get("ok")),
        "skipped": sum(len(r.get("skipped", [])) for r in records),
        "failed": [r for r in records if "ok" in r and not r["ok"]],
    }
    if state.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "infer.json").write_text(json.dumps({"summary": summary, "provenance": folder.provenance(pairs),
                                                    "records": records}, indent=2))
    state.wait_for_everyone()
    return summary


def _save_atomic(image: np.ndarray, path: Path) -> None:
    """Write under a temporary name first, so an interrupted run never leaves a truncated result to skip."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    save_image(image, partial)
    partial.replace(path)


# -- pairing results with the dataset by name ---------------------------------------------------------------
@dataclass
class Matching:
    """Result files matched to dataset pairs; `paired` marks pairs whose cloth is the person's own."""

    files: list[Path] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    paired: list[bool] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


def match_results(results: Sequence[Path], pairs: Sequence[tuple[str, str]]) -> Matching:
    """Match result files to (person, cloth) pairs by file stem, whatever the listing order or extension.

    A result is named `PERSON__CLOTH` (what `infer` writes) or just `PERSON` (what most official scripts
    write; it then stands for that person's pair). Files matching no pair are `extra`; pairs without a file
    are `missing`.
    """
    by_stem: dict[str, tuple[str, str]] = {}
    by_person: dict[str, list[tuple[str, str]]] = {}
    for person, cloth in pairs:
        by_stem[f"{stem(person)}__{stem(cloth)}"] = (person, cloth)
        by_person.setdefault(stem(person), []).append((person, cloth))
    matching, seen = Matching(), set()
    for path in sorted(results, key=lambda p: p.name):
        key = path.stem
        pair = by_stem.get(key)
        if pair is None and len(by_person.get(key, [])) == 1:
            pair = by_person[key][0]
        if pair is None or pair in seen:
            matching.extra.append(path.name)
            continue
        seen.add(pair)
        matching.files.append(path)
        matching.people.append(pair[0])
        matching.paired.append(stem(pair[0]) == stem(pair[1]))
    matching.missing = [result_name(p, c) for p, c in pairs if (p, c) not in seen]
    return matching


def expand_results(specs: Sequence[str]) -> dict[str, Path]:
    """`NAME=DIR` or `DIR` (named after the folder); a folder of backend folders (an infer output) expands."""
    found: dict[str, Path] = {}
    for spec in specs:
        name, _, folder = spec.rpartition("=") if "=" in spec else ("", "", spec)
        path = Path(folder)
        if not path.is_dir():
            raise InputError(f"{path}: results folder not found")
        if not name and not list_images(path):
            subs = [p for p in sorted(path.iterdir()) if p.is_dir() and p.name != MASKS_DIR and list_images(p)]
            if not subs:
                raise InputError(f"{path}: no result images (.jpg/.png) and no backend folders with images")
            found.update({p.name: p for p in subs})
        else:
            found[name or path.name] = path
    return found


def _keep_mask(folder: VitonFolder, results_dir: Path, person: str, size: tuple[int, int]) -> np.ndarray | None:
    """Where a result should equal the source photo: outside the dataset's agnostic mask, or else outside the
    mask `infer` stored next to the results; None when neither exists."""
    for candidate in (folder.data / "agnostic-mask" / f"{stem(person)}_mask.png",
                      results_dir.parent / MASKS_DIR / f"{stem(person)}.png"):
        if candidate.is_file():
            return ~load_mask(candidate, size)
    return None


# -- scoring -------------------------------------------------------------------------------------------------
def _score_shard(folder: VitonFolder, results_dir: Path, items: list[tuple[Path, str, bool]],
                 paired_scores: Any, extractor: Any, bar: Any, batch: int = 16) -> list[dict[str, Any]]:
    """Per-image scores and Inception features of this process's share of one backend's results, in batches
    (one LPIPS and one Inception call per batch, not per image)."""
    from tryon.metrics import match_size

    rows = []
    for start in range(0, len(items), batch):
        bar.update(min(batch, len(items) - start))
        chunk = items[start:start + batch]
        sources = [load_image(folder.image_path(person)) for _, person, _ in chunk]
        # Every metric, FID/KID included, sees a result at its reference's size.
        images = [match_size(load_image(path), src.shape[:2]) for (path, _, _), src in zip(chunk, sources, strict=True)]
        keeps = [_keep_mask(folder, results_dir, person, src.shape[:2]) for (_, person, _), src in
                 zip(chunk, sources, strict=True)]
        scores = paired_scores.update(images, sources, keeps)
        features = extractor(images) if extractor is not None else [None] * len(chunk)
        for (path, person, paired), score, feature in zip(chunk, scores, features, strict=True):
            rows.append({"file": path.name, "person": person, "paired": paired, "lpips_source": score["lpips"],
                         "ssim_source": score["ssim"], "lpips_outside_mask": score["lpips_masked"],
                         "features": feature})
    return rows


def _summarise(rows: list[dict[str, Any]], reference: np.ndarray | None, matching: Matching) -> dict[str, Any]:
    from tryon.metrics import DistributionScores

    def mean(key: str, only_paired: bool = False) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None and (r["paired"] or not only_paired)]
        return float(np.mean(values)) if values else None

    paired_rows = [r for r in rows if r["paired"]]
    summary: dict[str, Any] = {
        "n": len(rows), "n_paired": len(paired_rows),
        "lpips_paired": mean("lpips_source", True) if paired_rows else None,
        "ssim_paired": mean("ssim_source", True) if paired_rows else None,
        "lpips_source": mean("lpips_source"), "ssim_source": mean("ssim_source"),
        "lpips_outside_mask": mean("lpips_outside_mask"),
        "missing": matching.missing, "extra": matching.extra,
    }
    features = [r.pop("features") for r in rows]
    if reference is not None and rows:
        dist = DistributionScores()
        dist.update_features(reference, real=True)
        dist.update_features(np.stack(features), real=False)
        summary.update(dist.compute())
    summary["small_sample"] = len(rows) < 1000
    summary["images"] = rows
    return summary


def evaluate(dataset: str | Path, results: dict[str, Path], out: str | Path, pairs_file: str | Path | None = None,
             paired: bool = True, device: str | None = None, progress: bool = True,
             ssim: bool = True) -> dict[str, Any] | None:
    """Score result folders against a dataset; rank 0 writes metrics.json, metrics.csv and the plots and
    returns the report (other ranks return None). Missing weights drop only the metrics that need them;
    `ssim=False` skips SSIM (at 512x384 on CPU it costs about as much as LPIPS)."""
    from tqdm import tqdm

    from tryon.metrics import InceptionFeatures, PairedScores

    state = process_state()
    device = device or str(state.device)  # under accelerate: this process's GPU
    folder = VitonFolder(dataset)
    pairs = folder.pairs(pairs_file, paired=paired)
    notes = []
    try:
        paired_scores = PairedScores(device=device, ssim=ssim)
    except WeightsMissing as exc:  # SSIM still works without weights
        notes.append(str(exc))
        paired_scores = PairedScores(device=device, lpips=False, ssim=ssim)
    extractor = None
    try:
        extractor = InceptionFeatures(device)
    except WeightsMissing as exc:
        notes.append(str(exc))
    reference = None
    if extractor is not None:
        people = [folder.image_path(p) for p in folder.people()]
        reference = np.concatenate(_gather([extractor.of_files(people[state.process_index::state.num_processes])]))
    report: dict[str, Any] = {"dataset": str(folder.root), "protocol": "paired" if paired else "unpaired",
                              "n_reference": 0 if reference is None else len(reference), "notes": notes,
                              "provenance": folder.provenance(pairs), "backends": {}}
    for name, results_dir in results.items():
        matching = match_results(list_images(results_dir), pairs)
        items = list(zip(matching.files, matching.people, matching.paired, strict=True))
        mine = items[state.process_index::state.num_processes]
        with tqdm(total=len(mine), desc=f"eval {name} rank {state.process_index}", disable=not progress) as bar:
            rows = _gather(_score_shard(folder, results_dir, mine, paired_scores, extractor, bar))
        if state.is_main_process:
            report["backends"][name] = _summarise(rows, reference, matching)
    if state.is_main_process:
        write_report(report, Path(out))
    state.wait_for_everyone()
    return report if state.is_main_process else None


def csv_row(name: str, summary: dict[str, Any]) -> dict[str, Any]:
    """One metrics.csv row; empty cells where a metric does not apply or could not be computed."""
    ci = summary.get("fid_ci95") or [None, None]
    row = {**{k: summary.get(k) for k in CSV_COLUMNS}, "backend": name, "fid_ci95_low": ci[0],
           "fid_ci95_high": ci[1], "missing": len(summary.get("missing", [])), "extra": len(summary.get("extra", []))}
    return {k: "" if v is None or (isinstance(v, float) and math.isnan(v)) else v for k, v in row.items()}


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """metrics.json, metrics.csv and the plots (HTML via plotly, PNG via matplotlib) into `out`."""
    from tryon.plots import batch_figure, fid_curve_figure, save_batch_png

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "metrics.json", out / "metrics.csv", out / "metrics.html", out / "metrics.png"]
    written[0].write_text(json.dumps(report, indent=2, default=_json_default))
    with open(written[1], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for name, summary in report["backends"].items():
            writer.writerow(csv_row(name, summary))
    summaries = report["backends"]
    # One self-contained page (plotly.js embedded once): the results folder is viewable offline.
    parts = [batch_figure(summaries).to_html(full_html=False, include_plotlyjs=True),
             fid_curve_figure(summaries).to_html(full_html=False, include_plotlyjs=False)]
    written[2].write_text(f"<html><head><meta charset='utf-8'><title>metrics</title></head><body>{''.join(parts)}"
                          "</body></html>")
    save_batch_png(summaries, written[3])
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
