"""Batch generation over a dataset's pairs, and scoring of result folders against the dataset.

`infer` runs backends on every pair of a VITON-HD-style folder and writes `OUT/<backend>/<person>__<cloth>.png`
(resumable: existing outputs are skipped). `evaluate` pairs result files with dataset photos **by name** (never by
listing order, the bug of the coursework this project grew from), reports missing and extra files, and scores both
VITON protocols: paired (SSIM/LPIPS against the ground-truth photo) and unpaired (FID/KID against the dataset's
person photos), plus LPIPS/SSIM inside and outside the try-on region, 95 % intervals, FID∞, paired comparisons
between the backends, and each backend's cost from `infer.json` (docs/evaluation.md explains every number).

Both scale out with Hugging Face accelerate (`accelerate launch -m tryon infer|eval ...`): each process takes
every k-th pair, rank 0 gathers and writes the summary. A plain `python -m tryon` run is a world of one.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tryon.backends.base import get_backend, run_backends
from tryon.costs import COST_FIELDS, INFER_LOG, backend_cost, merge_records
from tryon.dataset import IMAGE_EXTENSIONS, VitonFolder, stem
from tryon.errors import InputError, WeightsMissing
from tryon.imaging import load_image, load_mask, save_image
from tryon.runtime import Runtime, default_runtime

MASKS_DIR = "_masks"  # inside an infer output folder: the try-on region of each person, for the region metrics
REGION_METRICS = ("lpips_inside_mask", "ssim_inside_mask", "lpips_outside_mask", "ssim_outside_mask")
INTERVAL_METRICS = ("fid", "kid", "lpips_paired", "ssim_paired")  # each has <metric>_ci95 = [low, high]
CSV_COLUMNS = ("backend", "n", "fid", "fid_ci95_low", "fid_ci95_high", "fid_inf", "kid", "kid_ci95_low",
               "kid_ci95_high", "kid_subset_size", "n_paired", "lpips_paired", "lpips_paired_ci95_low",
               "lpips_paired_ci95_high", "ssim_paired", "ssim_paired_ci95_low", "ssim_paired_ci95_high",
               "lpips_source", "ssim_source", *REGION_METRICS, *COST_FIELDS, "small_sample", "missing", "extra")


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
          paired: bool = True, choices: Mapping[str, Any] | None = None, category: str = "upper",
          progress: bool = True, runtime: Runtime | None = None) -> dict[str, Any]:
    """Generate every (pair, backend) result that is not on disk yet; returns (on every rank) the counts.

    `choices` is what the user set (each backend merges it over its own defaults). Each rank runs on its own
    accelerate device with `runtime`'s dtype and offload policy."""
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
        for result in run_backends(todo, sample, choices, rank_runtime):
            if result.ok:
                _save_atomic(result.image, out / result.backend / name)
            records.append({"pair": name, **result.to_record(), "runtime": _ran_in(result.backend)})
    records = _gather(records)
    summary = {
        "pairs": len(pairs),
        "generated": sum(1 for r in records if r.get("ok")),
        "skipped": sum(len(r.get("skipped", [])) for r in records),
        "failed": [r for r in records if "ok" in r and not r["ok"]],
    }
    if state.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        log = out / INFER_LOG
        log.write_text(json.dumps({"summary": summary, "provenance": folder.provenance(pairs),
                                     "records": merge_records(log, records)}, indent=2))
    state.wait_for_everyone()
    return summary


def _ran_in(backend: str) -> dict[str, str] | None:
    """The concrete device / dtype / offload a backend's last run used (after `auto` planning and any
    out-of-memory fallback), for the cost columns of the report."""
    try:
        runtime = get_backend(backend).runtime
    except InputError:
        return None
    return None if runtime is None else {"device": runtime.device, "dtype": runtime.dtype, "offload": runtime.offload}


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
    cloths: list[str] = field(default_factory=list)
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
        matching.cloths.append(pair[1])
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
@dataclass
class PairItem:
    """One dataset pair and each backend's result file for it."""

    person: str
    cloth: str
    paired: bool
    files: dict[str, Path]

    @property
    def name(self) -> str:
        return result_name(self.person, self.cloth)


def pair_items(matchings: dict[str, Matching]) -> list[PairItem]:
    """Every pair some backend has a result for, in first-seen order, with all backends' files: scoring goes
    pair by pair, so the source photo is read, and its LPIPS features computed, once for all backends."""
    items: dict[tuple[str, str], PairItem] = {}
    for name, matching in matchings.items():
        for path, person, cloth, paired in zip(matching.files, matching.people, matching.cloths, matching.paired,
                                               strict=True):
            items.setdefault((person, cloth), PairItem(person, cloth, paired, {})).files[name] = path
    return list(items.values())


def _score_shard(folder: VitonFolder, results: dict[str, Path], items: list[PairItem], paired_scores: Any,
                 extractor: Any, bar: Any, batch: int = 8) -> dict[str, list[dict[str, Any]]]:
    """Per-image scores and Inception features of this process's share of the pairs, for every backend, in
    batches of pairs (one LPIPS and one Inception call per batch, not per image)."""
    from tryon.metrics import match_size

    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in results}
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        jobs = []  # (item, backend, result image, source photo, keep mask); one source array per pair
        for item in chunk:
            source = load_image(folder.image_path(item.person))
            keeps: dict[Path, np.ndarray | None] = {}  # per infer output folder (usually one for all backends)
            for name, path in item.files.items():
                # Every metric, FID/KID included, sees a result at its reference's size.
                image = match_size(load_image(path), source.shape[:2])
                parent = results[name].parent
                if parent not in keeps:
                    keeps[parent] = _keep_mask(folder, results[name], item.person, source.shape[:2])
                jobs.append((item, name, image, source, keeps[parent]))
        scores = paired_scores.update([j[2] for j in jobs], [j[3] for j in jobs], [j[4] for j in jobs])
        features = extractor([j[2] for j in jobs]) if extractor is not None else [None] * len(jobs)
        for (item, name, *_), score, feature in zip(jobs, scores, features, strict=True):
            rows[name].append({
                "file": item.files[name].name, "pair": item.name, "person": item.person, "cloth": item.cloth,
                "paired": item.paired, "lpips_source": score["lpips"], "ssim_source": score["ssim"],
                **{f"{metric}_{region}": score[f"{metric}_{region}"] for metric in ("lpips", "ssim")
                   for region in ("inside_mask", "outside_mask")},
                "features": feature})
        bar.update(len(jobs))
    return rows


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def _summarise(rows: list[dict[str, Any]], features: np.ndarray | None, reference: np.ndarray | None,
               matching: Matching, cost: dict[str, Any]) -> dict[str, Any]:
    """One backend's summary. The source photo is the ground truth of a paired result, so paired rows give
    `lpips_paired` / `ssim_paired` and only unpaired rows give `lpips_source` / `ssim_source` (no number twice).
    Inside the try-on region only a ground truth says what is right, so the inside-region scores use paired
    rows; outside it every result should keep the source photo, so the outside-region scores use all rows."""
    from tryon.intervals import mean_interval
    from tryon.metrics import SMALL_N, DistributionScores

    paired = [r for r in rows if r["paired"]]
    unpaired = [r for r in rows if not r["paired"]]
    summary: dict[str, Any] = {"n": len(rows), "n_paired": len(paired)}
    for metric, key in (("lpips_paired", "lpips_source"), ("ssim_paired", "ssim_source")):
        values = [r[key] for r in paired if r.get(key) is not None]
        summary[metric] = float(np.mean(values)) if values else None
        stats = mean_interval(values)
        if stats is not None:
            summary[f"{metric}_se"], summary[f"{metric}_ci95"] = stats[1], stats[2]
    summary.update(lpips_source=_mean(unpaired, "lpips_source"), ssim_source=_mean(unpaired, "ssim_source"),
                   lpips_inside_mask=_mean(paired, "lpips_inside_mask"),
                   ssim_inside_mask=_mean(paired, "ssim_inside_mask"),
                   lpips_outside_mask=_mean(rows, "lpips_outside_mask"),
                   ssim_outside_mask=_mean(rows, "ssim_outside_mask"),
                   missing=matching.missing, extra=matching.extra, **cost)
    if reference is not None and features is not None and rows:
        dist = DistributionScores()
        dist.update_features(reference, real=True)
        dist.update_features(features, real=False)
        summary.update(dist.compute())
    summary["small_sample"] = len(rows) < SMALL_N
    summary["images"] = rows
    return summary


def evaluate(dataset: str | Path, results: dict[str, Path], out: str | Path, pairs_file: str | Path | None = None,
             paired: bool = True, device: str | None = None, progress: bool = True,
             ssim: bool = True) -> dict[str, Any] | None:
    """Score result folders against a dataset; rank 0 writes metrics.json, metrics.csv, metrics.html and
    metrics.png and returns the report (other ranks return None). Missing weights drop only the metrics that
    need them; `ssim=False` skips SSIM."""
    from tqdm import tqdm

    from tryon.comparisons import BackendScores, compare_backends
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
                              "provenance": folder.provenance(pairs), "backends": {}, "comparisons": []}
    matchings = {name: match_results(list_images(results_dir), pairs) for name, results_dir in results.items()}
    mine = pair_items(matchings)[state.process_index::state.num_processes]
    with tqdm(total=sum(len(i.files) for i in mine), desc=f"eval rank {state.process_index}",
              disable=not progress) as bar:
        shard = _score_shard(folder, results, mine, paired_scores, extractor, bar)
    gathered = {name: _gather(shard[name]) for name in results}
    if state.is_main_process:
        scored = []
        for name, rows in gathered.items():
            features = np.stack([r.pop("features") for r in rows]) if extractor is not None and rows else None
            cost = backend_cost(results[name], [r["file"] for r in rows])
            report["backends"][name] = {"results_dir": str(results[name]),
                                        **_summarise(rows, features, reference, matchings[name], cost)}
            scored.append(BackendScores(name, [r["pair"] for r in rows], features,
                                        [r["lpips_source"] for r in rows], [r["ssim_source"] for r in rows],
                                        [r["paired"] for r in rows]))
        report["comparisons"] = compare_backends(scored, reference)
        write_report(report, Path(out))
    state.wait_for_everyone()
    return report if state.is_main_process else None


def csv_row(name: str, summary: dict[str, Any]) -> dict[str, Any]:
    """One metrics.csv row; empty cells where a metric does not apply or could not be computed."""
    row = {**{k: summary.get(k) for k in CSV_COLUMNS}, "backend": name, "missing": len(summary.get("missing", [])),
           "extra": len(summary.get("extra", []))}
    for metric in INTERVAL_METRICS:
        row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"] = summary.get(f"{metric}_ci95") or [None, None]
    return {k: "" if v is None or (isinstance(v, float) and math.isnan(v)) else v for k, v in row.items()}


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """metrics.json, metrics.csv, metrics.html (one self-contained page: table, comparisons in words, FID-vs-N
    curve, qualitative grid) and metrics.png (matplotlib) into `out`."""
    from tryon.plots import save_batch_png
    from tryon.report_html import report_page

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "metrics.json", out / "metrics.csv", out / "metrics.html", out / "metrics.png"]
    written[0].write_text(json.dumps(report, indent=2, default=_json_default))
    with open(written[1], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for name, summary in report["backends"].items():
            writer.writerow(csv_row(name, summary))
    written[2].write_text(report_page(report), encoding="utf-8")
    save_batch_png(report["backends"], written[3])
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
