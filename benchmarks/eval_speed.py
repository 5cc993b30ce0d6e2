"""Scoring three backends' result folders: the seed coursework's way against `python -m tryon eval`, as whole
processes (interpreter start-up and imports included), on the same synthetic dataset.

The seed's way (its appendices A and B, with the FID network corrected to the TF-FID Inception so that both
ways compute the same FID): per backend, a fresh FID metric fed every reference photo again and ending in
torchmetrics' 2048 x 2048 eigendecomposition, LPIPS called once per image, and a bar chart per metric. The seed
ran FID and LPIPS as two scripts; here they share one process, which spares the seed's way one start-up.

`tryon eval` is run twice: with an empty reference-feature cache (cold), then with the cache that first run
filled (cached). It computes more than the seed's way: SSIM, KID, intervals, region scores, FID∞, paired
comparisons and the HTML report. Rounds alternate seed / cold / cached, so a drift in the machine's speed hits
all three alike; the table gives the median over rounds of wall time and of CPU time (user + system of the
child, which on a shared machine does not include waiting for a core), and the ratios against the seed's way.
Finally it checks that both ways gave the same FID and LPIPS.

    python benchmarks/eval_speed.py [--n 100] [--backends 3] [--size 512x384] [--rounds 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tryon.imaging import load_image, save_image  # noqa: E402

BATCH = 16
TARGETS = {"cold": 1.5, "cached": 2.0}


def smooth_image(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A low-frequency random colour field with a few blobs: photo-like statistics, no natural content."""
    h, w = size
    base = rng.integers(0, 256, (h // 32, w // 32, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(base).resize((w, h), Image.BICUBIC)).astype(np.int16)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(h // 12, h // 4)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] += rng.integers(-60, 60, 3).astype(np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_data(root: Path, n: int, backends: int, size: tuple[int, int]) -> tuple[Path, dict[str, Path]]:
    """A VITON-HD-style folder (image/, cloth/, test_pairs.txt) and one result folder per backend."""
    rng = np.random.default_rng(0)
    dataset = root / "dataset"
    results = {f"backend{b}": root / "results" / f"backend{b}" for b in range(backends)}
    names = []
    for i in range(n):
        name = f"{i:05d}_00"
        names.append(f"{name}.jpg")
        person = smooth_image(rng, size)
        save_image(person, dataset / "image" / f"{name}.jpg")
        save_image(smooth_image(rng, size), dataset / "cloth" / f"{name}.jpg")
        for b, folder in enumerate(results.values()):
            noise = rng.normal(0, 6 + 6 * b, person.shape)
            save_image(np.clip(person + noise, 0, 255).astype(np.uint8), folder / f"{name}.png")
    (dataset / "test_pairs.txt").write_text("".join(f"{n} {n}\n" for n in names))
    return dataset, results


def seed_way(dataset: Path, results: list[Path], out: Path, device: str) -> None:
    """Child process: per backend, a fresh FID metric fed every reference photo again, LPIPS once per image,
    then the seed's two bar charts; writes {backend: {fid, lpips}} as JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance

    from tryon.metrics import INCEPTION, lpips_model, to_chw

    lpips = lpips_model("alex", device)
    scores = {}
    people = sorted((dataset / "image").iterdir())
    for folder in results:
        fid = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(INCEPTION.local()),
                                       antialias=False).to(device)
        for real in (True, False):
            files = people if real else [folder / f"{p.stem}.png" for p in people]
            for start in range(0, len(files), BATCH):
                batch = [to_chw(load_image(f)) for f in files[start:start + BATCH]]
                fid.update(torch.stack(batch).to(device), real=real)
        values = []
        with torch.no_grad():
            for person in people:
                a = to_chw(load_image(person))[None].float().to(device) / 127.5 - 1
                b = to_chw(load_image(folder / f"{person.stem}.png"))[None].float()
                values.append(float(lpips(b.to(device) / 127.5 - 1, a)))
        scores[folder.name] = {"fid": float(fid.compute()), "lpips": float(np.mean(values))}
    for metric in ("fid", "lpips"):
        plt.figure(figsize=(8, 5))
        plt.bar(list(scores), [s[metric] for s in scores.values()])
        plt.savefig(out.with_name(f"{metric}_results.png"))
        plt.close()
    out.write_text(json.dumps(scores))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="images per backend (and reference photos)")
    parser.add_argument("--backends", type=int, default=3)
    parser.add_argument("--size", default="512x384", help="HEIGHTxWIDTH")
    parser.add_argument("--rounds", type=int, default=1, help="seed / cold / cached rounds; medians are reported")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed-way", nargs="+", metavar="PATH", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.seed_way:
        dataset, *results, out = (Path(p) for p in args.seed_way)
        seed_way(dataset, results, out, args.device)
        return
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="eval-speed-") as name:
        root = Path(name)
        dataset, results = make_data(root, args.n, args.backends, size)  # type: ignore[arg-type]
        times: dict[str, list[tuple[float, float]]] = {"seed": [], "cold": [], "cached": []}
        for r in range(args.rounds):
            env = {**os.environ, "TRYON_FEATURE_CACHE": str(root / f"cache{r}"), "PYTHONPATH": str(ROOT)}
            seed_json = root / f"seed{r}" / "scores.json"
            seed_json.parent.mkdir()
            times["seed"].append(timed([sys.executable, __file__, "--device", args.device, "--seed-way",
                                        str(dataset), *map(str, results.values()), str(seed_json)], env))
            for way in ("cold", "cached"):  # the cold run fills cache{r}; the cached run reuses it
                command = [sys.executable, "-m", "tryon", "eval", "--dataset", str(dataset), "--results",
                           *map(str, results.values()), "--out", str(root / f"{way}{r}")]
                times[way].append(timed(command, env))
        seed_scores = json.loads(seed_json.read_text())
        reports = {way: json.loads((root / f"{way}{args.rounds - 1}" / "metrics.json").read_text())["backends"]
                   for way in ("cold", "cached")}
    print(f"{args.backends} backends x {args.n} images at {size[0]}x{size[1]}, device {args.device}, "
          f"{args.rounds} round(s), whole processes; medians")
    seed_wall = statistics.median(t[0] for t in times["seed"])
    seed_cpu = statistics.median(t[1] for t in times["seed"])
    labels = {"seed": "seed's way: FID per backend (reference recomputed), LPIPS per image",
              "cold": "tryon eval, empty feature cache", "cached": "tryon eval, reference features cached"}
    print(f"| {'run':<66} | {'wall s':>7} | {'vs seed':>7} | {'CPU s':>7} | {'vs seed':>7} | {'target':>6} |")
    print(f"|{'-' * 68}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 8}|")
    for way, runs in times.items():
        wall, cpu = statistics.median(t[0] for t in runs), statistics.median(t[1] for t in runs)
        target = f"{TARGETS[way]:.1f}x" if way in TARGETS else ""
        print(f"| {labels[way]:<66} | {wall:>7.1f} | {seed_wall / wall:>6.2f}x | {cpu:>7.1f} | "
              f"{seed_cpu / cpu:>6.2f}x | {target:>6} |")
    print("\nSame numbers both ways (FID: seed's torchmetrics, then tryon cold / cached; LPIPS to the photo):")
    for backend, seed in seed_scores.items():
        fids = " / ".join(f"{v:.4f}" for v in (seed["fid"], *(reports[w][backend]["fid"] for w in reports)))
        lpips = " / ".join(f"{v:.5f}" for v in (seed["lpips"], *(reports[w][backend]["lpips_paired"]
                                                                  for w in reports)))
        print(f"  {backend}: FID {fids}   LPIPS {lpips}")


if __name__ == "__main__":
    main()
