"""Batch evaluation: pairing by name, resumable infer, the eval report, and a two-process accelerate run."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.evaluate_job import ShiftBackend, install
from tryon.cli import main
from tryon.evaluate import CSV_COLUMNS, evaluate, expand_results, infer, match_results
from tryon.imaging import load_image, save_image
from tryon.metrics_weights import ALEX, INCEPTION

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "assets" / "examples" / "dataset"
needs_weights = pytest.mark.skipif(
    not (INCEPTION.present() and ALEX.present()),
    reason="metrics weights missing: run `python -m tryon weights fetch metrics` (make test does)",
)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """The example VITON-HD folder (4 people with pose, parse and masks), copied so tests may edit it."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "ds"))


def test_pairing_by_name_survives_shuffled_listings_and_mixed_extensions(tmp_path):
    pairs = [(f"{i:05d}_00.jpg", f"{(i + 1) % 6:05d}_00.jpg") for i in range(6)]
    files = []
    for i, (person, cloth) in enumerate(pairs[:5]):
        name = f"{Path(person).stem}__{Path(cloth).stem}" if i % 2 else Path(person).stem
        files.append(tmp_path / f"{name}{'.png' if i % 3 else '.jpg'}")
    files.append(tmp_path / "stray.png")
    random.Random(3).shuffle(files)
    matching = match_results(files, pairs)
    assert {(p.stem.split("__")[0], person) for p, person in zip(matching.files, matching.people, strict=True)} == {
        (Path(person).stem, person) for person, _ in pairs[:5]}
    assert matching.missing == ["00005_00__00000_00.png"] and matching.extra == ["stray.png"]
    assert not any(matching.paired)
    assert match_results(files, [(p, p) for p, _ in pairs]).paired[0] is True


def test_infer_writes_every_pair_and_resumes(dataset, tmp_path):
    install()
    out = tmp_path / "results"
    ShiftBackend.calls = 0
    summary = infer(dataset, ["shift", "half"], out, progress=False)
    assert summary["generated"] == 8 and ShiftBackend.calls == 4
    names = sorted(p.name for p in (out / "shift").iterdir())
    assert names == ["astronaut-red_tee__astronaut-red_tee.png", "astronaut-striped_tee__astronaut-striped_tee.png",
                     "camera-red_tee__camera-red_tee.png", "camera-striped_tee__camera-striped_tee.png"]
    (out / "half" / names[0]).unlink()
    again = infer(dataset, ["shift", "half"], out, progress=False)
    assert (again["generated"], again["skipped"], ShiftBackend.calls) == (1, 7, 4)
    assert json.loads((out / "infer.json").read_text())["summary"]["skipped"] == 7
    assert len(list((out / "_masks").iterdir())) == 4


def test_infer_unpaired_uses_the_listed_cloths(dataset, tmp_path):
    install()
    pairs = tmp_path / "unpaired.txt"
    pairs.write_text("astronaut-red_tee.jpg camera-striped_tee.jpg\ncamera-red_tee.jpg astronaut-striped_tee.jpg\n")
    assert main(["infer", "--dataset", str(dataset), "--backends", "shift", "--pairs", str(pairs), "--unpaired",
                 "--out", str(tmp_path / "r")]) == 0
    assert sorted(p.name for p in (tmp_path / "r" / "shift").iterdir()) == [
        "astronaut-red_tee__camera-striped_tee.png", "camera-red_tee__astronaut-striped_tee.png"]


def test_eval_scores_both_protocols_without_weights(dataset, tmp_path, monkeypatch):
    """With no weights at all, SSIM still works and the report says which command fetches the rest."""
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "empty"))
    from tryon import metrics

    metrics.lpips_model.cache_clear()
    metrics.inception.cache_clear()
    people = sorted((dataset / "image").iterdir())
    same = tmp_path / "same"
    for path in people[:3]:
        save_image(load_image(path), same / f"{path.stem}.png")  # named after the person, as official scripts do
    report = evaluate(dataset, {"same": same}, tmp_path / "m", progress=False)
    summary = report["backends"]["same"]
    assert summary["n_paired"] == 3 and summary["ssim_paired"] == pytest.approx(1.0, abs=1e-5)
    assert summary["missing"] == ["camera-striped_tee__camera-striped_tee.png"] and "fid" not in summary
    assert any("weights fetch metrics" in note for note in report["notes"])
    metrics.lpips_model.cache_clear()
    metrics.inception.cache_clear()


@needs_weights
def test_eval_report_with_real_weights(dataset, tmp_path, capsys, monkeypatch):
    from tryon import metrics

    install()
    results = tmp_path / "results"
    infer(dataset, ["shift", "half"], results, progress=False)
    (results / "shift" / "extra-file.jpg").write_bytes((results / "_masks" / "camera-red_tee.png").read_bytes())
    passes = []
    backbone = metrics.lpips_features
    monkeypatch.setattr(metrics, "lpips_features", lambda model, x: passes.append(len(x)) or backbone(model, x))
    assert main(["eval", "--dataset", str(dataset), "--results", str(results), "--out", str(tmp_path / "m")]) == 0
    assert passes == [4, 8]  # each person photo's LPIPS pass serves both backends, then the 8 results
    report = json.loads((tmp_path / "m" / "metrics.json").read_text())
    shift, half = report["backends"]["shift"], report["backends"]["half"]
    assert report["n_reference"] == 4 and shift["n"] == 4 and shift["extra"] == ["extra-file.jpg"]
    # `half` is the person photo downsampled: resized back to the reference's size it stays close to it.
    assert half["ssim_paired"] > 0.8 and half["lpips_paired"] < 0.3
    # Paired results: the source photo is the ground truth, so no separate (identical) "to source" numbers.
    assert shift["lpips_source"] is None and shift["ssim_source"] is None
    # `shift` only touches the try-on region: outside it SSIM stays near 1 and LPIPS (deep receptive fields
    # still see the border) well below LPIPS inside it.
    assert shift["ssim_outside_mask"] > 0.95 > shift["ssim_inside_mask"]
    assert shift["lpips_outside_mask"] < 0.7 * shift["lpips_paired"] < shift["lpips_inside_mask"]
    assert shift["fid"] > half["fid"] >= 0 and shift["kid_subset_size"] == 4 and shift["small_sample"] is True
    for summary in (shift, half):
        low, high = summary["fid_ci95"]
        assert low <= summary["fid"] <= high and summary["kid_ci95"][0] < summary["kid"] < summary["kid_ci95"][1]
    # Costs from infer.json: the stand-ins ran on this CPU in fp32.
    assert shift["device"] == "cpu" and shift["dtype"] == "fp32" and shift["timed_images"] == 4
    assert shift["seconds_per_image"] >= 0 and shift["peak_memory_mb"] > 0
    metrics_compared = {c["metric"] for c in report["comparisons"]}
    assert metrics_compared == {"fid", "kid", "lpips_paired", "ssim_paired"}
    assert all(c["a"] == "half" and c["b"] == "shift" and c["n"] == 4 for c in report["comparisons"])
    lpips = next(c for c in report["comparisons"] if c["metric"] == "lpips_paired")
    assert lpips["difference"] == pytest.approx(half["lpips_paired"] - shift["lpips_paired"])
    rows = list(csv.DictReader(open(tmp_path / "m" / "metrics.csv")))
    assert [r["backend"] for r in rows] == ["half", "shift"] and set(CSV_COLUMNS) <= set(rows[0])
    assert float(rows[1]["fid"]) == pytest.approx(shift["fid"]) and rows[1]["device"] == "cpu"
    assert float(rows[1]["fid_ci95_low"]) == pytest.approx(shift["fid_ci95"][0])
    for name in ("metrics.html", "metrics.png"):
        assert (tmp_path / "m" / name).stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "N=4 < 1000" in printed and lpips["text"] in printed


@needs_weights
def test_two_processes_with_accelerate(dataset, tmp_path):
    """`accelerate launch` with two CPU processes: each generates its shard; rank 0 gathers and scores.

    accelerate's `--cpu` flag starts a single process unless MPI is set up, so this uses its torchrun path
    (`--multi_gpu`) with CUDA hidden: the processes then meet over gloo, as they would on a CPU-only machine.
    """
    cache = tmp_path / "features"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRYON_FEATURE_CACHE": str(cache), "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": ""}
    launcher = Path(sys.executable).parent / "accelerate"
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "tests" / "evaluate_job.py"),
           str(dataset), str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = sorted((tmp_path / f"rank{i}.txt").read_text() for i in range(2))
    assert ranks == ["2 8", "2 8"]  # both ranks see the gathered total
    assert len(list((tmp_path / "results" / "shift").iterdir())) == 4
    report = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    assert report["n_reference"] == 4 and report["backends"]["shift"]["n"] == 4
    assert sorted(r["file"] for r in report["backends"]["half"]["images"]) == sorted(
        p.name for p in (tmp_path / "results" / "half").iterdir())
    # Reference features, one per distinct photo content (two example people share one photo).
    contents = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (dataset / "image").iterdir()}
    assert len(list(cache.rglob("*.npy"))) == len(contents) == 2
    assert np.isfinite(report["backends"]["shift"]["fid"])


def test_expand_results_reads_name_dir_and_infer_folders(tmp_path):
    for backend in ("a", "b"):
        save_image(np.zeros((8, 8, 3), np.uint8), tmp_path / "r" / backend / "x.png")
    save_image(np.zeros((8, 8), bool), tmp_path / "r" / "_masks" / "x.png")
    assert expand_results([str(tmp_path / "r")]) == {"a": tmp_path / "r" / "a", "b": tmp_path / "r" / "b"}
    assert expand_results([f"mine={tmp_path / 'r' / 'a'}"]) == {"mine": tmp_path / "r" / "a"}
    assert main(["eval", "--dataset", str(tmp_path), "--results", str(tmp_path / "nope"), "--out", "x"]) == 2
